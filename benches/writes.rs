//! writes: durable ticket creation, then claim and close, over REST at concurrency 1, 16
//! and 64; acknowledged operations per second and p50/p99 latency of each write.
//!
//! `cargo bench --bench writes` (`MENTORQ_BENCH_SECONDS`, default 5 per run;
//! `MENTORQ_BENCH_CONCURRENCY`, default `1,16,64`). With `MENTORQ_BENCH_NOTIFY=1` the
//! server also has three webhook endpoints (two answering 200, one down) and e-mail on
//! (Debian's aiosmtpd, started here): every claim e-mails the ticket's owner
//! (`MENTORQ_BENCH_NOTIFY=webhooks` or `=email` for one channel alone). With
//! `MENTORQ_BENCH_OPEN=N` each run starts with N OPEN tickets already waiting (opened
//! untimed), so the cost of a write can be compared across queue lengths.

mod common;

use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    client_runtime().block_on(run());
}

/// A minimal HTTP/1.1 endpoint that answers every request 200 (keep-alive), counting
/// the requests it has answered.
async fn ok_endpoint() -> (u16, Arc<AtomicU64>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicU64::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket);
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if reader.get_mut().write_all(reply).await.is_err() {
                        return;
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    (port, answered)
}

/// Requests answered by the endpoints so far, all together.
fn answered(endpoints: &[Arc<AtomicU64>]) -> u64 {
    endpoints.iter().map(|e| e.load(Ordering::Relaxed)).sum()
}

async fn run() {
    let seconds: u64 = env_number("MENTORQ_BENCH_SECONDS", 5);
    let waiting: usize = env_number("MENTORQ_BENCH_OPEN", 0);
    // `1`: webhooks and e-mail; `webhooks` or `email`: only that channel.
    let channels = std::env::var("MENTORQ_BENCH_NOTIFY").unwrap_or_default();
    let hooks_on = channels == "1" || channels == "webhooks";
    let email_on = channels == "1" || channels == "email";
    let mut extra: Vec<(String, String)> = Vec::new();
    let mut _smtp: Option<(KillOnDrop, tempfile::TempDir)> = None;
    let mut endpoints = Vec::new();
    if hooks_on {
        let ((a, a_count), (b, b_count), down) = (ok_endpoint().await, ok_endpoint().await, free_port());
        endpoints = vec![a_count, b_count];
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let hooks: Vec<String> = [a, b, down]
            .iter()
            .map(|p| format!(r#"{{url = "http://127.0.0.1:{p}/hook", secret = "{secret}"}}"#))
            .collect();
        extra.push(("MENTORQ__WEBHOOKS".into(), format!("[{}]", hooks.join(", "))));
    }
    if email_on {
        let smtp = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{smtp}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("box"))
            .spawn()
            .expect("python3-aiosmtpd");
        _smtp = Some((KillOnDrop(child), maildir));
        std::thread::sleep(Duration::from_millis(500));
        extra.push((
            "MENTORQ__EMAIL__SMTP_URL".into(),
            format!("smtp://127.0.0.1:{smtp}"),
        ));
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    println!(
        "writes: {} | {seconds} s per run, runs per level: {} | {waiting} OPEN tickets waiting | notifications: {}",
        machine(),
        runs(),
        match (hooks_on, email_on) {
            (true, true) => "3 webhooks (1 down) + e-mail",
            (true, false) => "3 webhooks (1 down)",
            (false, true) => "e-mail",
            (false, false) => "none",
        }
    );
    println!(
        "{:>5} {:>3} {:>10} {:>9} {:>9} {:>9} {:>12} {:>12} {:>10} {:>13} {:>9}",
        "conc",
        "run",
        "acks/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "server us/ack",
        "bench cpu %",
        "smtp cpu %",
        "hooks in run",
        "drain s"
    );
    let levels = env_list("MENTORQ_BENCH_CONCURRENCY", "1,16,64");
    for concurrency in levels {
        let (mut rates, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        for run in 1..=runs() {
            let fresh = fresh_server(&extra).await;
            let (server, client, director) = (&fresh.server, &fresh.client, &fresh.director);
            let filling = Instant::now();
            fill(client, &server.base, director, waiting).await;
            if waiting > 0 {
                let queue = get(client, format!("{}/api/queue/", server.base), director).await;
                assert_eq!(queue["open_count"], waiting, "{queue}");
                eprintln!(
                    "opened {waiting} tickets in {:.1} s",
                    filling.elapsed().as_secs_f64()
                );
            }
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let smtp_pid = _smtp.as_ref().map(|(child, _)| child.0.id());
            let cpu_before = (
                cpu_seconds(server.pid),
                cpu_seconds(std::process::id()),
                smtp_pid.map(cpu_seconds).unwrap_or(0.0),
            );
            let hooks_before = answered(&endpoints);
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
            let server_cpu = cpu_seconds(server.pid) - cpu_before.0;
            let bench_cpu = cpu_seconds(std::process::id()) - cpu_before.1;
            let smtp_cpu = smtp_pid.map(cpu_seconds).unwrap_or(0.0) - cpu_before.2;
            // Deliveries trail the writes when the machine is busy (the senders run at a
            // lower priority): the share of a run's webhooks sent during it, and how long
            // the rest took once the writes stopped (until 300 ms pass with none).
            let hooks_in_run = answered(&endpoints) - hooks_before;
            let drained = Instant::now();
            let mut last = (answered(&endpoints), Instant::now());
            while hooks_on && last.1.elapsed() < Duration::from_millis(300) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let now = answered(&endpoints);
                if now != last.0 {
                    last = (now, Instant::now());
                }
            }
            let hooks_total = last.0 - hooks_before;
            let drain = (last.1 - drained).as_secs_f64();
            latencies.sort_by(f64::total_cmp);
            let rate = latencies.len() as f64 / elapsed;
            let (p50, p99) = (pct(&latencies, 50.0), pct(&latencies, 99.0));
            println!(
                "{concurrency:>5} {run:>3} {rate:>10.0} {p50:>9.2} {p99:>9.2} {:>9.2} {:>12.1} {:>12.0} {:>10.0} {:>12.0}% {:>9.2}",
                pct(&latencies, 100.0),
                server_cpu * 1e6 / latencies.len() as f64,
                bench_cpu * 100.0 / elapsed,
                smtp_cpu * 100.0 / elapsed,
                hooks_in_run as f64 * 100.0 / hooks_total.max(1) as f64,
                drain,
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

/// Opens `count` tickets, 64 at a time, and leaves them OPEN.
async fn fill(client: &reqwest::Client, base: &str, token: &str, count: usize) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (client, base, token, next) =
                (client.clone(), base.to_string(), token.to_string(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    let ticket = post(
                        &client,
                        format!("{base}/api/tickets/"),
                        Some(&token),
                        json!({"title": "waiting", "location": "bench"}),
                    )
                    .await;
                    assert_eq!(ticket["status"], "OPEN", "{ticket}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
