//! reconnect_storm: N connected staff clients lose their connections at once — all
//! dropped together (as when a venue's Wi-Fi goes), or the server restarted under them
//! — while a writer keeps opening tickets at 20/s. Each client waits a random 0–2 s and
//! reconnects with `since` and `epoch` (retrying while the server is down, as the board
//! page does). Measured: per reconnect, the time from its first attempt to its `resume`
//! message; snapshots sent instead of a resume; events missing or repeated over each
//! client's whole run; the server's RSS connected, and again 12 s after the last resume.
//!
//! `cargo bench --bench reconnect_storm` (`MENTORQ_BENCH_CLIENTS`, default 10000;
//! `MENTORQ_BENCH_STORMS`, default `drop,restart`; `none` runs the same without a
//! storm, as a control for the RSS figures).

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

fn main() {
    client_runtime().block_on(run());
}

/// What every client task reports when it stops.
#[derive(Default)]
struct Report {
    /// Per reconnect: first attempt → `resume` (or snapshot), in ms.
    reconnects: Vec<f64>,
    snapshots_after_drop: u64,
    missing: u64,
    repeated: u64,
}

/// Shared counters the bench watches while the storm runs.
#[derive(Default)]
struct Progress {
    connected: AtomicUsize,
    resumed: AtomicUsize,
}

/// One client: connects, reads every event checking `seq` runs on by one, and after
/// each loss (or when told to drop) waits 0–2 s and reconnects with `since` + `epoch`.
async fn client(
    base: String,
    token: String,
    seed: u64,
    progress: Arc<Progress>,
    mut drop_now: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
    mut permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Report {
    let mut report = Report::default();
    let mut last: Option<(u64, String)> = None;
    let mut rng = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next_delay = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        Duration::from_millis(rng % 2000)
    };
    let mut first = true;
    drop_now.borrow_and_update();
    loop {
        if !first {
            tokio::time::sleep(next_delay()).await;
        }
        let began = Instant::now();
        let extra = match &last {
            Some((seq, epoch)) => format!("&since={seq}&epoch={epoch}"),
            None => String::new(),
        };
        let mut ws = loop {
            if *stop.borrow() {
                return report;
            }
            match try_ws_connect(&base, &token, None, &extra).await {
                Ok(ws) => break ws,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        // The first message says whether the history was resumed.
        let opened = loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                    break Some(serde_json::from_str::<Value>(text.as_str()).unwrap())
                }
                Ok(Some(Ok(_))) => continue,
                _ => break None,
            }
        };
        let Some(opened) = opened else { continue };
        match opened["type"].as_str() {
            Some("snapshot") => {
                if !first {
                    report.snapshots_after_drop += 1;
                }
                last = Some((
                    opened["seq"].as_u64().unwrap(),
                    opened["epoch"].as_str().unwrap().to_string(),
                ));
                progress.connected.fetch_add(1, Ordering::Relaxed);
                permit.take();
            }
            Some("resume") => {
                report.reconnects.push(began.elapsed().as_secs_f64() * 1e3);
                progress.resumed.fetch_add(1, Ordering::Relaxed);
            }
            _ => panic!("unexpected first message {opened}"),
        }
        first = false;
        // Read until the connection is lost, a drop is ordered, or the bench stops.
        loop {
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                        let text = text.as_str();
                        if !text.starts_with("{\"type\":\"event\"") {
                            continue;
                        }
                        let value: Value = serde_json::from_str(text).unwrap();
                        let seq = value["seq"].as_u64().unwrap();
                        let (seen, _) = last.as_mut().unwrap();
                        if seq <= *seen {
                            report.repeated += 1;
                        } else {
                            report.missing += seq - *seen - 1;
                            *seen = seq;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                _ = drop_now.changed() => break,
                _ = stop.changed() => return report,
            }
        }
        // Dropped without a close handshake.
        drop(ws);
    }
}

async fn run() {
    let clients: usize = env_number("MENTORQ_BENCH_CLIENTS", 10_000);
    let storms = std::env::var("MENTORQ_BENCH_STORMS").unwrap_or_else(|_| "drop,restart".into());
    println!(
        "reconnect_storm: {} | {clients} clients, writer at 20 tickets/s, reconnect after 0-2 s | runs: {}",
        machine(),
        runs()
    );
    println!(
        "{:>8} {:>3} {:>12} {:>12} {:>12} {:>9} {:>7} {:>8} {:>13} {:>13}",
        "storm",
        "run",
        "resume p50",
        "resume p99",
        "resume max",
        "snapshot",
        "missing",
        "repeated",
        "RSS before",
        "RSS after"
    );
    for storm in storms.split(',') {
        let mut p99s = Vec::new();
        for run in 1..=runs() {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port().to_string();
            let env = [("MENTORQ__HTTP__PORT", port.as_str())];
            let mut server = start_server(dir.path(), &env);
            let client_http = reqwest::Client::new();
            let (_, token) = account(&client_http, &server.base, DIRECTOR).await;
            let base = server.base.clone();

            let progress = Arc::new(Progress::default());
            let (drop_tx, drop_rx) = watch::channel(0u64);
            let (stop_tx, stop_rx) = watch::channel(false);
            // The first connections are made 200 at a time; the storm is not.
            let connecting = Arc::new(tokio::sync::Semaphore::new(200));
            let mut tasks = Vec::with_capacity(clients);
            for i in 0..clients {
                let permit = connecting.clone().acquire_owned().await.unwrap();
                tasks.push(tokio::spawn(client(
                    base.clone(),
                    token.clone(),
                    i as u64 + 1,
                    progress.clone(),
                    drop_rx.clone(),
                    stop_rx.clone(),
                    Some(permit),
                )));
            }
            while progress.connected.load(Ordering::Relaxed) < clients {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }

            // The writer: a ticket every 50 ms for the whole run (failures while the
            // server is down are skipped).
            let written = Arc::new(AtomicU64::new(0));
            let writer = {
                let (base, token, written, mut stop) =
                    (base.clone(), token.clone(), written.clone(), stop_rx.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut tick = tokio::time::interval(Duration::from_millis(50));
                    loop {
                        tokio::select! {
                            _ = tick.tick() => {}
                            _ = stop.changed() => return,
                        }
                        let sent = http
                            .post(format!("{base}/api/tickets/"))
                            .bearer_auth(&token)
                            .json(&json!({"title": "storm", "location": "bench"}))
                            .send()
                            .await;
                        if sent.is_ok_and(|r| r.status().is_success()) {
                            written.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            };
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss_before = rss_kib(server.pid);

            let resumed_before = progress.resumed.load(Ordering::Relaxed);
            match storm {
                "drop" => {
                    drop_tx.send(1).unwrap();
                }
                "restart" => {
                    // A graceful stop and a start on the same folder and port.
                    unsafe {
                        libc::kill(server.pid as i32, libc::SIGTERM);
                    }
                    server.wait();
                    server = start_server(dir.path(), &env);
                }
                // The control: the same run with no storm, for what RSS does meanwhile.
                "none" => tokio::time::sleep(Duration::from_secs(2)).await,
                other => panic!("unknown storm {other}"),
            }
            let storm_began = Instant::now();
            let expected = if storm == "none" { 0 } else { clients };
            while progress.resumed.load(Ordering::Relaxed) - resumed_before < expected {
                assert!(
                    storm_began.elapsed() < Duration::from_secs(120),
                    "only {} of {clients} clients resumed",
                    progress.resumed.load(Ordering::Relaxed) - resumed_before
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Settled: the replays are done and the writer has gone on a while.
            tokio::time::sleep(Duration::from_secs(12)).await;
            let rss_after = rss_kib(server.pid);
            let fds = std::fs::read_dir(format!("/proc/{}/fd", server.pid))
                .map(|d| d.count())
                .unwrap_or(0);
            let metrics = reqwest::get(format!("{}/metrics", server.base))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let open = metrics
                .lines()
                .find(|l| l.starts_with("mentorq_ws_connections "))
                .unwrap_or("mentorq_ws_connections ?")
                .to_string();
            eprintln!("server holds {fds} open files after the storm; {open}");
            stop_tx.send(true).unwrap();
            writer.await.unwrap();
            let mut all = Report::default();
            for t in tasks {
                let r = t.await.unwrap();
                all.reconnects.extend(r.reconnects);
                all.snapshots_after_drop += r.snapshots_after_drop;
                all.missing += r.missing;
                all.repeated += r.repeated;
            }
            all.reconnects.sort_by(f64::total_cmp);
            let p99 = pct(&all.reconnects, 99.0);
            println!(
                "{storm:>8} {run:>3} {:>9.0} ms {:>9.0} ms {:>9.0} ms {:>9} {:>7} {:>8} {:>9} KiB {:>9} KiB   ({} tickets written)",
                pct(&all.reconnects, 50.0),
                p99,
                pct(&all.reconnects, 100.0),
                all.snapshots_after_drop,
                all.missing,
                all.repeated,
                rss_before,
                rss_after,
                written.load(Ordering::Relaxed)
            );
            p99s.push(p99);
        }
        println!(
            "{storm:>8} med resume p99 {:.0} ms (median of {} runs)",
            median(&mut p99s),
            runs()
        );
    }
}
