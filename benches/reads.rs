//! reads: `GET /api/tickets/` as staff with 1,000 tickets stored, and `GET /api/queue/`;
//! requests per second and p99 at 32 concurrent keep-alive connections.
//!
//! `cargo bench --bench reads` (`MENTORQ_BENCH_SECONDS`, default 5 per run).

mod common;

use common::*;
use serde_json::json;
use std::time::Instant;

async fn hammer(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    seconds: u64,
    concurrency: usize,
) -> (f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.to_string(), token.to_string());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
                    assert!(r.status().is_success());
                    let _ = r.bytes().await.unwrap();
                    latencies.push(t.elapsed().as_secs_f64() * 1e3);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    latencies.sort_by(f64::total_cmp);
    (
        latencies.len() as f64 / started.elapsed().as_secs_f64(),
        pct(&latencies, 50.0),
        pct(&latencies, 99.0),
    )
}

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let seconds: u64 = env_number("MENTORQ_BENCH_SECONDS", 5);
    let concurrency = 32;
    println!(
        "reads: {} | {seconds} s per run, {concurrency} connections, runs: {}",
        machine(),
        runs()
    );
    let fresh = fresh_server(&[]).await;
    let (server, client, director) = (&fresh.server, &fresh.client, &fresh.director);
    let creates = (0..1000).map(|i| {
        post(client, format!("{}/api/tickets/", server.base), Some(director),
             json!({"title": format!("ticket {i}"), "location": "Room 101", "comment": "A realistic comment of a few words."}))
    });
    futures_util::future::join_all(creates).await;
    println!(
        "{:<22} {:>3} {:>10} {:>9} {:>9}",
        "route", "run", "req/s", "p50 ms", "p99 ms"
    );
    for (name, path) in [
        ("tickets (1000 stored)", "/api/tickets/"),
        ("queue summary", "/api/queue/"),
    ] {
        let url = format!("{}{path}", server.base);
        let (mut rates, mut p99s) = (Vec::new(), Vec::new());
        for run in 1..=runs() {
            let (rate, p50, p99) = hammer(client, &url, director, seconds, concurrency).await;
            println!("{name:<22} {run:>3} {rate:>10.0} {p50:>9.2} {p99:>9.2}");
            rates.push(rate);
            p99s.push(p99);
        }
        println!(
            "{name:<22} med {:>10.0} {:>9} {:>9.2}   (medians of {} runs)",
            median(&mut rates),
            "",
            median(&mut p99s),
            runs()
        );
    }
}
