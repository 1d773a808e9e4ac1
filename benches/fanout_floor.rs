//! fanout_floor: the same shape as `fanout` with everything but the kernel taken out.
//!
//! A child process holds N plain TCP connections on loopback and, for each of 100
//! "events", writes the same 600-byte message to every connection from one thread (as
//! the Hub's frames are written by the HTTP workers); this process reads them with N
//! tokio tasks and measures each receipt from just before the first write. No HTTP, no
//! WebSocket framing, no JSON, no database: the floor that loopback TCP and task
//! wake-ups set on this machine, against which `fanout` is to be read.
//!
//! `cargo bench --bench fanout_floor` (sizes: `MENTORQ_BENCH_SIZES=1000,5000,10000`).

mod common;

use common::*;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EVENTS: usize = 100;
const MESSAGE: usize = 600;

/// The child: accept `n` connections, then on each line from stdin write one message to
/// every connection (the line carries the event number), and answer "sent".
fn serve(n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let mut sockets = Vec::with_capacity(n);
        for _ in 0..n {
            let (socket, _) = listener.accept().await.unwrap();
            socket.set_nodelay(true).unwrap();
            sockets.push(socket);
        }
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let event: u8 = line.unwrap().trim().parse().unwrap();
            let message = vec![event; MESSAGE];
            for socket in &mut sockets {
                socket.write_all(&message).await.unwrap();
            }
        }
    });
}

fn main() {
    if let Some(n) = std::env::args().skip_while(|a| a != "--serve-floor").nth(1) {
        return serve(n.parse().unwrap());
    }
    client_runtime().block_on(measure());
}

async fn measure() {
    let sizes = env_list("MENTORQ_BENCH_SIZES", "1000,5000,10000");
    println!(
        "fanout_floor: {} | raw loopback TCP, {MESSAGE}-byte messages",
        machine()
    );
    println!(
        "{:>6} {:>3} {:>9} {:>9} {:>9} {:>14} {:>13}",
        "N", "run", "p50 ms", "p99 ms", "max ms", "last p50 ms", "cpu us/deliv"
    );
    for n in sizes {
        let mut p99s = Vec::new();
        for run in 1..=runs() {
            let exe = std::env::current_exe().unwrap();
            let mut child = server_command(exe)
                .args(["--serve-floor", &n.to_string()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut port = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut port)
                .unwrap();
            let port: u16 = port.trim().parse().unwrap();
            let start = Instant::now();
            let sent_at: Arc<Vec<std::sync::atomic::AtomicU64>> = Arc::new(
                (0..EVENTS)
                    .map(|_| std::sync::atomic::AtomicU64::new(0))
                    .collect(),
            );
            let delivered: Arc<Vec<AtomicU32>> = Arc::new((0..EVENTS).map(|_| AtomicU32::new(0)).collect());
            let mut readers = Vec::new();
            for _ in 0..n {
                let socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                let (sent_at, delivered) = (sent_at.clone(), delivered.clone());
                readers.push(tokio::spawn(async move {
                    let mut socket = socket;
                    let mut buf = vec![0u8; MESSAGE];
                    let mut latencies = Vec::with_capacity(EVENTS);
                    for _ in 0..EVENTS {
                        socket.read_exact(&mut buf).await.unwrap();
                        let event = buf[0] as usize;
                        let now = start.elapsed().as_nanos() as u64;
                        latencies.push((event, now - sent_at[event].load(Ordering::Acquire)));
                        delivered[event].fetch_add(1, Ordering::AcqRel);
                    }
                    latencies
                }));
            }
            let mut stdin = child.stdin.take().unwrap();
            // The writer's CPU (user + system, which on loopback includes the receiving
            // side's TCP work) while the messages flow, per delivery.
            let cpu_before = cpu_seconds(child.id());
            for event in 0..EVENTS {
                sent_at[event].store(start.elapsed().as_nanos() as u64, Ordering::Release);
                writeln!(stdin, "{event}").unwrap();
                stdin.flush().unwrap();
                while (delivered[event].load(Ordering::Acquire) as usize) < n {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let cpu = (cpu_seconds(child.id()) - cpu_before) * 1e6 / (n * EVENTS) as f64;
            drop(stdin);
            let mut all = Vec::new();
            let mut last = vec![0u64; EVENTS];
            for r in readers {
                for (event, nanos) in r.await.unwrap() {
                    last[event] = last[event].max(nanos);
                    all.push(nanos as f64 / 1e6);
                }
            }
            let _ = child.wait();
            all.sort_by(f64::total_cmp);
            let mut last: Vec<f64> = last.iter().map(|n| *n as f64 / 1e6).collect();
            last.sort_by(f64::total_cmp);
            let p99 = pct(&all, 99.0);
            println!(
                "{n:>6} {run:>3} {:>9.2} {p99:>9.2} {:>9.2} {:>14.2} {cpu:>13.2}",
                pct(&all, 50.0),
                pct(&all, 100.0),
                pct(&last, 50.0)
            );
            p99s.push(p99);
        }
        println!(
            "{n:>6} med p99 {:>9.2} ms (median of {} runs)",
            median(&mut p99s),
            runs()
        );
    }
}
