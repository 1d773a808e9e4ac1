//! memory: server RSS with 10,000 idle authenticated WebSocket clients, minus the RSS
//! before they connected, divided by 10,000.
//!
//! `cargo bench --bench memory` (`MENTORQ_BENCH_CLIENTS`, default 10000).

mod common;

use common::*;
use futures_util::StreamExt;

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let n: usize = env_number("MENTORQ_BENCH_CLIENTS", 10_000);
    println!("memory: {} | {n} idle clients, runs: {}", machine(), runs());
    println!(
        "{:>3} {:>12} {:>12} {:>16}",
        "run", "before KiB", "after KiB", "per client KiB"
    );
    let mut per_client = Vec::new();
    for run in 1..=runs() {
        let fresh = fresh_server(&[]).await;
        let (server, token) = (&fresh.server, &fresh.director);
        // Warm up: one connection, so one-time allocations are not counted per client.
        let mut warm = ws_connect(&server.base, token, None).await;
        let _ = warm.next().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rss_kib(server.pid);
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (base, token, semaphore) = (server.base.clone(), token.clone(), semaphore.clone());
                tokio::spawn(async move {
                    let permit = semaphore.acquire().await.unwrap();
                    let mut ws = ws_connect(&base, &token, None).await;
                    let _ = ws.next().await;
                    drop(permit);
                    ws
                })
            })
            .collect();
        let mut clients = Vec::with_capacity(n);
        for t in tasks {
            clients.push(t.await.unwrap());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(server.pid);
        let each = (after.saturating_sub(before)) as f64 / n as f64;
        println!("{run:>3} {before:>12} {after:>12} {each:>16.1}");
        per_client.push(each);
        drop(clients);
        drop(warm);
    }
    println!(
        "med {:>12} {:>12} {:>16.1}   (median of {} runs)",
        "",
        "",
        median(&mut per_client),
        runs()
    );
}
