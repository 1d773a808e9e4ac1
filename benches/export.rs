//! export: the server's peak memory while it streams a 100,000-ticket CSV export, and how
//! long the export takes. The tickets are written first over REST (64 at a time).
//!
//! `cargo bench --bench export` (`MENTORQ_BENCH_TICKETS`, default 100000).

mod common;

use common::*;
use serde_json::json;
use std::time::Instant;

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let tickets: usize = env_number("MENTORQ_BENCH_TICKETS", 100_000);
    println!("export: {} | {tickets} tickets, runs: {}", machine(), runs());
    println!(
        "{:>3} {:>14} {:>16} {:>14} {:>10} {:>12}",
        "run", "before KiB", "peak before KiB", "peak after KiB", "MiB", "seconds"
    );
    let mut growths = Vec::new();
    for run in 1..=runs() {
        let fresh = fresh_server(&[]).await;
        let (server, client, director) = (&fresh.server, &fresh.client, &fresh.director);
        let per_worker = tickets / 64;
        join_all_workers(64, |_| {
            let (client, base, director) = (client.clone(), server.base.clone(), director.clone());
            async move {
                for n in 0..per_worker {
                    post(
                        &client,
                        format!("{base}/api/tickets/"),
                        Some(&director),
                        json!({"title": format!("ticket {n}, with a comma"), "location": "Room 1"}),
                    )
                    .await;
                }
            }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = rss_kib(server.pid);
        let peak_before = hwm_kib(server.pid);
        let started = Instant::now();
        let mut response = client
            .get(format!("{}/api/export/tickets.csv", server.base))
            .bearer_auth(director)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let mut bytes = 0usize;
        while let Some(chunk) = response.chunk().await.unwrap() {
            bytes += chunk.len();
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak_after = hwm_kib(server.pid);
        println!(
            "{run:>3} {before:>14} {peak_before:>16} {peak_after:>14} {:>10.1} {seconds:>12.2}",
            bytes as f64 / 1_048_576.0
        );
        growths.push(peak_after.saturating_sub(peak_before.max(before)) as f64);
    }
    println!(
        "med peak growth during the export: {:.0} KiB (median of {} runs)",
        median(&mut growths),
        runs()
    );
}

async fn join_all_workers<F, Fut>(n: usize, work: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(work(i))).collect();
    for h in handles {
        h.await.unwrap();
    }
}
