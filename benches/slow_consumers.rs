//! slow consumers: fan-out at N = 1,000 where 1% of the clients never read, for about
//! two minutes: the other clients' p99 and the server's RSS over time.
//!
//! `cargo bench --bench slow_consumers` (`MENTORQ_BENCH_EVENTS`, default 1200 at one
//! event per 100 ms).

mod common;

use common::*;

#[tokio::main]
async fn main() {
    raise_fd_limit();
    pin_client();
    let events: usize = std::env::var("MENTORQ_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1200);
    println!(
        "slow_consumers: {} | 990 readers + 10 stalled, {events} events, runs: {}",
        machine(),
        runs()
    );
    let mut p99s = Vec::new();
    for run in 1..=runs() {
        let dir = tempfile::tempdir().unwrap();
        let server = start_server(
            dir.path(),
            &[("MENTORQ__HTTP__SOCKET_SEND_BUFFER_BYTES", "65536")],
        );
        let client = reqwest::Client::new();
        let (_, token) = account(&client, &server.base, DIRECTOR).await;
        let plan = fanout::Plan {
            readers: 990,
            stalled: 10,
            events,
            pause: Duration::from_millis(100),
        };
        let out = fanout::run(&server, &token, &plan).await;
        let p99 = pct(&out.latencies, 99.0);
        println!(
            "run {run}: readers p50 {:.2} ms, p99 {p99:.2} ms, max {:.2} ms, missing {}, dups {}",
            pct(&out.latencies, 50.0),
            pct(&out.latencies, 100.0),
            out.missing,
            out.duplicated
        );
        println!("run {run}: server RSS KiB every ~10 s: {:?}", out.rss);
        assert_eq!(out.missing, 0);
        assert_eq!(out.duplicated, 0);
        p99s.push(p99);
    }
    println!(
        "readers' p99, median of {} runs: {:.2} ms",
        runs(),
        median(&mut p99s)
    );
}
