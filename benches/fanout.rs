//! fanout: N idle subscribed staff clients, one writer creating 100 tickets over REST;
//! per delivery, the latency from just before the request to the client's receipt.
//!
//! `cargo bench --bench fanout` (sizes: `MENTORQ_BENCH_SIZES=1000,5000,10000`; spread
//! over queues, each client subscribed to one: `MENTORQ_BENCH_QUEUES=10`). Clients
//! connect from 127.0.0.2–127.0.0.9. Also printed: the server's CPU time while the
//! events flowed divided by the deliveries, and the p95 over events of the time until
//! the last client had it (the websocket-shootout's figure).

mod common;

use common::*;

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let sizes = env_list("MENTORQ_BENCH_SIZES", "1000,5000,10000");
    // With more than one, the N clients are spread over that many queues and each
    // event reaches N / queues of them.
    let queues: usize = env_number("MENTORQ_BENCH_QUEUES", 1);
    println!(
        "fanout: {} | runs per size: {} | queues: {queues} (each event reaches N/{queues})",
        machine(),
        runs()
    );
    println!(
        "{:>6} {:>3} {:>9} {:>9} {:>9} {:>14} {:>14} {:>14} {:>7} {:>5} {:>13}",
        "N",
        "run",
        "p50 ms",
        "p99 ms",
        "max ms",
        "last p50 ms",
        "last p95 ms",
        "last max ms",
        "missing",
        "dups",
        "cpu us/deliv"
    );
    for n in sizes {
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        let mut maxes = Vec::new();
        let mut lasts = Vec::new();
        let mut cpus = Vec::new();
        let mut last95s = Vec::new();
        for run in 1..=runs() {
            let fresh = fresh_server(&[]).await;
            let (server, token) = (&fresh.server, &fresh.director);
            let plan = fanout::Plan {
                edits: false,
                readers: n,
                stalled: 0,
                events: 100,
                pause: Duration::from_millis(10),
                queues,
            };
            let out = fanout::run(server, token, &plan).await;
            let (p50, p99, max) = (
                pct(&out.latencies, 50.0),
                pct(&out.latencies, 99.0),
                pct(&out.latencies, 100.0),
            );
            // The server's CPU while the events flowed, per delivery.
            let cpu = out.server_cpu_seconds * 1e6 / out.deliveries.max(1) as f64;
            println!(
                "{n:>6} {run:>3} {p50:>9.2} {p99:>9.2} {max:>9.2} {:>14.2} {:>14.2} {:>14.2} {:>7} {:>5} {cpu:>13.2}",
                pct(&out.last_recipient, 50.0),
                pct(&out.last_recipient, 95.0),
                pct(&out.last_recipient, 100.0),
                out.missing,
                out.duplicated
            );
            cpus.push(cpu);
            assert_eq!(out.missing, 0, "a delivery was lost");
            assert_eq!(out.duplicated, 0, "a delivery was duplicated");
            p50s.push(p50);
            p99s.push(p99);
            maxes.push(max);
            lasts.push(pct(&out.last_recipient, 50.0));
            last95s.push(pct(&out.last_recipient, 95.0));
        }
        println!(
            "{n:>6} med {:>9.2} {:>9.2} {:>9.2} {:>14.2} {:>14.2} {:>44.2}   (medians of {} runs)",
            median(&mut p50s),
            median(&mut p99s),
            median(&mut maxes),
            median(&mut lasts),
            median(&mut last95s),
            median(&mut cpus),
            runs()
        );
    }
}
