//! writes: durable ticket creation, then claim and close, over REST at concurrency 1, 16
//! and 64; acknowledged operations per second and p50/p99 latency of each write.
//!
//! `cargo bench --bench writes` (`MENTORQ_BENCH_SECONDS`, default 5 per run;
//! `MENTORQ_BENCH_CONCURRENCY`, default `1,16,64`).

mod common;

use common::*;
use serde_json::json;
use std::time::Instant;

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let seconds: u64 = env_number("MENTORQ_BENCH_SECONDS", 5);
    println!(
        "writes: {} | {seconds} s per run, runs per level: {}",
        machine(),
        runs()
    );
    println!(
        "{:>5} {:>3} {:>10} {:>9} {:>9} {:>9}",
        "conc", "run", "acks/s", "p50 ms", "p99 ms", "max ms"
    );
    let levels = env_list("MENTORQ_BENCH_CONCURRENCY", "1,16,64");
    for concurrency in levels {
        let (mut rates, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        for run in 1..=runs() {
            let fresh = fresh_server(&[]).await;
            let (server, client, director) = (&fresh.server, &fresh.client, &fresh.director);
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let started = Instant::now();
            let workers: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (client, base, director) = (client.clone(), server.base.clone(), director.clone());
                    tokio::spawn(async move {
                        let mut latencies = Vec::new();
                        let timed =
                            |lat: &mut Vec<f64>, t: Instant| lat.push(t.elapsed().as_secs_f64() * 1e3);
                        while Instant::now() < deadline {
                            let t = Instant::now();
                            let ticket = post(
                                &client,
                                format!("{base}/api/tickets/"),
                                Some(&director),
                                json!({"title": "bench", "location": "bench"}),
                            )
                            .await;
                            timed(&mut latencies, t);
                            let path = format!("{base}/api/tickets/{}/", ticket["id"]);
                            for status in ["CLAIMED", "CLOSED"] {
                                let t = Instant::now();
                                let r = client
                                    .patch(&path)
                                    .bearer_auth(&director)
                                    .json(&json!({ "status": status }))
                                    .send()
                                    .await
                                    .unwrap();
                                assert!(r.status().is_success());
                                let _ = r.bytes().await;
                                timed(&mut latencies, t);
                            }
                        }
                        latencies
                    })
                })
                .collect();
            let mut latencies = Vec::new();
            for w in workers {
                latencies.extend(w.await.unwrap());
            }
            let elapsed = started.elapsed().as_secs_f64();
            latencies.sort_by(f64::total_cmp);
            let rate = latencies.len() as f64 / elapsed;
            let (p50, p99) = (pct(&latencies, 50.0), pct(&latencies, 99.0));
            println!(
                "{concurrency:>5} {run:>3} {rate:>10.0} {p50:>9.2} {p99:>9.2} {:>9.2}",
                pct(&latencies, 100.0)
            );
            rates.push(rate);
            p50s.push(p50);
            p99s.push(p99);
        }
        println!(
            "{concurrency:>5} med {:>10.0} {:>9.2} {:>9.2}   (medians of {} runs)",
            median(&mut rates),
            median(&mut p50s),
            median(&mut p99s),
            runs()
        );
    }
}
