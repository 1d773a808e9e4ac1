//! slow consumers: fan-out at N = 1,000 where 1% of the clients never read, for about
//! two minutes: the other clients' p99 and the server's RSS over time.
//!
//! `cargo bench --bench slow_consumers` (`MENTORQ_BENCH_EVENTS`, default 1200 at one
//! event per 100 ms).

mod common;

use common::*;

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let events: usize = env_number("MENTORQ_BENCH_EVENTS", 1200);
    println!(
        "slow_consumers: {} | 1000 clients of which 10 stalled (and a control with none), {events} ticket edits, runs: {}",
        machine(),
        runs()
    );
    // Every event edits one ticket, so the server's state stays the same size and any
    // growth of its RSS would come from the stalled clients. A control run without
    // stalled clients gives the reference p99.
    let (mut p99s, mut control_p99s) = (Vec::new(), Vec::new());
    for run in 1..=runs() {
        for stalled in [10usize, 0] {
            let fresh = fresh_server(&[("MENTORQ__HTTP__SOCKET_SEND_BUFFER_BYTES", "65536")]).await;
            let (server, token) = (&fresh.server, &fresh.director);
            let plan = fanout::Plan {
                edits: true,
                readers: 1000 - stalled,
                stalled,
                events,
                pause: Duration::from_millis(100),
                queues: 1,
            };
            let out = fanout::run(server, token, &plan).await;
            let p99 = pct(&out.latencies, 99.0);
            println!(
                "run {run}, {stalled} stalled: readers p50 {:.2} ms, p99 {p99:.2} ms, max {:.2} ms, missing {}, dups {}",
                pct(&out.latencies, 50.0),
                pct(&out.latencies, 100.0),
                out.missing,
                out.duplicated
            );
            println!(
                "run {run}, {stalled} stalled: server RSS KiB every ~10 s: {:?}",
                out.rss
            );
            assert_eq!(out.missing, 0);
            assert_eq!(out.duplicated, 0);
            if stalled > 0 {
                p99s.push(p99)
            } else {
                control_p99s.push(p99)
            }
        }
    }
    let (with, without) = (median(&mut p99s), median(&mut control_p99s));
    println!(
        "readers' p99, median of {} runs: {with:.2} ms with stalled clients, {without:.2} ms without ({:.2}x)",
        runs(),
        with / without
    );
}
