//! logins: the server's memory under password load. Peak RSS (VmHWM) while 64 clients
//! send wrong-password logins at once, then RSS at rest after 100 real logins, then the
//! peak of a mixed load: 1,000 live WebSocket clients watching while 64 participants
//! each sign in, open a ticket, list the tickets, cancel it and guess a password wrong,
//! ten times over.
//!
//! `cargo bench --bench logins` (`MENTORQ_BENCH_CLIENTS`, default 64;
//! `MENTORQ_BENCH_GUESSES` per client, default 5).

mod common;

use common::*;
use futures_util::future::join_all;
use serde_json::json;
use std::time::Instant;

fn main() {
    client_runtime().block_on(run());
}

async fn run() {
    let clients: usize = env_number("MENTORQ_BENCH_CLIENTS", 64);
    let guesses: usize = env_number("MENTORQ_BENCH_GUESSES", 5);
    println!(
        "logins: {} | {clients} clients × {guesses} wrong logins, then 100 logins; runs: {}",
        machine(),
        runs()
    );
    println!(
        "{:>3} {:>10} {:>14} {:>12} {:>14} {:>10} {:>16}",
        "run", "start KiB", "peak KiB", "guesses/s", "at rest KiB", "503s", "mixed peak KiB"
    );
    let (mut peaks, mut rests, mut mixed_peaks) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs() {
        let fresh = fresh_server(&[
            ("MENTORQ__AUTH__LOGIN_ATTEMPTS_PER_MINUTE", "1000000"),
            ("MENTORQ__AUTH__ADDRESS_ATTEMPTS_PER_MINUTE", "10000000"),
            ("MENTORQ__AUTH__HASH_QUEUE_TIMEOUT_MS", "600000"),
        ])
        .await;
        let (server, client) = (&fresh.server, &fresh.client);
        let start = rss_kib(server.pid);
        let url = format!("{}/api/auth/token/", server.base);
        let began = Instant::now();
        let attempts = (0..clients).map(|_| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let mut busy = 0;
                for _ in 0..guesses {
                    let body = json!({"email": DIRECTOR, "password": "a wrong guess"});
                    let status = client.post(&url).json(&body).send().await.unwrap().status();
                    assert!(status == 401 || status == 503, "{status}");
                    busy += usize::from(status == 503);
                }
                busy
            }
        });
        let busy: usize = join_all(attempts).await.into_iter().sum();
        let rate = (clients * guesses) as f64 / began.elapsed().as_secs_f64();
        let peak = hwm_kib(server.pid);
        for _ in 0..25 {
            join_all((0..4).map(|_| account(client, &server.base, DIRECTOR))).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rest = rss_kib(server.pid);
        let mixed = mixed_load(&fresh).await;
        println!("{run:>3} {start:>10} {peak:>14} {rate:>12.1} {rest:>14} {busy:>10} {mixed:>16}");
        peaks.push(peak as f64);
        rests.push(rest as f64);
        mixed_peaks.push(mixed as f64);
    }
    println!(
        "med {:>10} {:>14.0} {:>12} {:>14.0} {:>10} {:>16.0}   (median of {} runs)",
        "",
        median(&mut peaks),
        "",
        median(&mut rests),
        "",
        median(&mut mixed_peaks),
        runs()
    );
}

/// The mixed load of the module comment; answers the server's peak RSS in KiB.
async fn mixed_load(fresh: &Fresh) -> u64 {
    use futures_util::StreamExt;
    let (server, client) = (&fresh.server, &fresh.client);
    let base = server.base.clone();
    let mut watchers = Vec::new();
    for _ in 0..1000 {
        let mut ws = ws_connect(&base, &fresh.director, None).await;
        watchers.push(tokio::spawn(
            async move { while let Some(Ok(_)) = ws.next().await {} },
        ));
    }
    let people: Vec<String> = (0..64).map(|n| format!("mixed{n}@example.org")).collect();
    join_all(people.iter().map(|email| account(client, &base, email))).await;
    join_all(people.iter().map(|email| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            for round in 0..10 {
                let (_, token) = account(&client, &base, email).await;
                let ticket = post(
                    &client,
                    format!("{base}/api/tickets/"),
                    Some(&token),
                    json!({"title": format!("round {round}"), "location": "Room 1"}),
                )
                .await;
                let listed = client
                    .get(format!("{base}/api/tickets/"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert!(listed.status().is_success());
                let cancel = client
                    .patch(format!("{base}/api/tickets/{}/", ticket["id"]))
                    .bearer_auth(&token)
                    .json(&json!({"status": "CANCELLED"}))
                    .send()
                    .await
                    .unwrap();
                assert!(cancel.status().is_success(), "{}", cancel.status());
                let guess = json!({"email": email, "password": "a wrong guess"});
                let wrong = client
                    .post(format!("{base}/api/auth/token/"))
                    .json(&guess)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(wrong.status(), 401);
            }
        }
    }))
    .await;
    let peak = hwm_kib(server.pid);
    for watcher in watchers {
        watcher.abort();
    }
    peak
}
