//! The fan-out measurement shared by `fanout` and `slow_consumers`: N subscribed staff
//! clients, one writer creating tickets over REST, and for every event the latency from
//! just before the REST request to each client's receipt.

use super::*;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

pub struct Plan {
    /// What each event is: a new ticket, or an edit of one existing ticket (which
    /// keeps the server's state the same size however long the bench runs).
    pub edits: bool,
    /// Clients that read everything.
    pub readers: usize,
    /// Clients that never read (slow consumers).
    pub stalled: usize,
    pub events: usize,
    /// Pause between one event's full delivery and the next request.
    pub pause: Duration,
    /// With more than 1, readers are spread over this many queues (reader `r`
    /// subscribes to queue `1 + r % queues`) and event `i` goes to queue
    /// `1 + i % queues`: each event reaches `readers / queues` of them.
    pub queues: usize,
}

pub struct Outcome {
    /// Every delivery latency, in milliseconds, sorted.
    pub latencies: Vec<f64>,
    /// Per event, the latency of its last recipient (ms), sorted.
    pub last_recipient: Vec<f64>,
    pub missing: u64,
    pub duplicated: u64,
    /// Server RSS samples (KiB) taken while events flowed.
    pub rss: Vec<u64>,
    pub connect_seconds: f64,
    /// The server's CPU time (user + system) from the first event's request to the
    /// last delivery, in seconds.
    pub server_cpu_seconds: f64,
    /// Deliveries received.
    pub deliveries: u64,
}

/// The index of a `bench-N` ticket title in a ticket event, without parsing JSON.
fn bench_index(text: &str) -> Option<usize> {
    if !text.contains("\"kind\":\"ticket.") {
        return None;
    }
    let at = text.find("\"title\":\"bench-")? + "\"title\":\"bench-".len();
    text[at..].split('"').next()?.parse().ok()
}

pub async fn run(server: &Server, token: &str, plan: &Plan) -> Outcome {
    let start = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..plan.events).map(|_| AtomicU64::new(0)).collect());
    let delivered: Arc<Vec<AtomicU32>> = Arc::new((0..plan.events).map(|_| AtomicU32::new(0)).collect());
    let (stop_tx, stop_rx) = watch::channel(false);
    let connecting = Arc::new(tokio::sync::Semaphore::new(200));
    let ready = Arc::new(AtomicU32::new(0));

    let queues = plan.queues.max(1);
    let client = reqwest::Client::new();
    for q in 2..=queues {
        post(
            &client,
            format!("{}/api/queues/", server.base),
            Some(token),
            json!({"name": format!("bench queue {q}")}),
        )
        .await;
    }
    // How many readers each event's queue has.
    let audience = |i: usize| -> usize {
        if queues == 1 {
            plan.readers
        } else {
            (0..plan.readers).filter(|r| r % queues == i % queues).count()
        }
    };
    let mut readers = Vec::new();
    for r in 0..plan.readers {
        let narrowed = if queues > 1 {
            format!("&queues={}", 1 + r % queues)
        } else {
            String::new()
        };
        let (base, token) = (server.base.clone(), token.to_string());
        let (sent_at, delivered, mut stop, connecting, ready) = (
            sent_at.clone(),
            delivered.clone(),
            stop_rx.clone(),
            connecting.clone(),
            ready.clone(),
        );
        let events = plan.events;
        readers.push(tokio::spawn(async move {
            let permit = connecting.acquire().await.unwrap();
            let mut ws = ws_connect_with(&base, &token, None, &narrowed).await;
            // The snapshot: subscribed.
            let _ = ws.next().await;
            drop(permit);
            ready.fetch_add(1, Ordering::Release);
            let mut seen = vec![false; events];
            let mut latencies = Vec::with_capacity(events);
            let mut duplicated = 0u64;
            // One registration for the whole run, not one per frame.
            let stopped = stop.changed();
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    frame = ws.next() => match frame {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                            if let Some(i) = bench_index(text.as_str()).filter(|i| *i < events) {
                                let now = start.elapsed().as_nanos() as u64;
                                if seen[i] {
                                    duplicated += 1;
                                } else {
                                    seen[i] = true;
                                    latencies.push((i, now.saturating_sub(sent_at[i].load(Ordering::Acquire))));
                                    delivered[i].fetch_add(1, Ordering::AcqRel);
                                }
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    _ = &mut stopped => break,
                }
            }
            (latencies, duplicated)
        }));
    }
    let mut stalled = Vec::new();
    for _ in 0..plan.stalled {
        let ws = ws_connect(&server.base, token, Some(4096)).await;
        stalled.push(ws);
    }
    while (ready.load(Ordering::Acquire) as usize) < plan.readers {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_seconds = start.elapsed().as_secs_f64();

    let edited = if plan.edits {
        let ticket = post(
            &client,
            format!("{}/api/tickets/", server.base),
            Some(token),
            json!({"title": "edited", "location": "bench"}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some(format!("{}/api/tickets/{}/", server.base, ticket["id"]))
    } else {
        None
    };
    let mut rss = vec![rss_kib(server.pid)];
    let mut last_sample = Instant::now();
    let cpu_before = cpu_seconds(server.pid);
    for i in 0..plan.events {
        sent_at[i].store(start.elapsed().as_nanos() as u64, Ordering::Release);
        let title = if edited.is_some() {
            json!({"title": format!("bench-{i}"), "location": "bench"})
        } else {
            json!({"title": format!("bench-{i}"), "location": "bench", "queue": 1 + i % queues})
        };
        match &edited {
            Some(url) => {
                let r = client
                    .patch(url)
                    .bearer_auth(token)
                    .json(&title)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
            }
            None => {
                post(
                    &client,
                    format!("{}/api/tickets/", server.base),
                    Some(token),
                    title,
                )
                .await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while (delivered[i].load(Ordering::Acquire) as usize) < audience(i) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        if last_sample.elapsed() > Duration::from_secs(10) {
            rss.push(rss_kib(server.pid));
            last_sample = Instant::now();
        }
        tokio::time::sleep(plan.pause).await;
    }
    let server_cpu_seconds = cpu_seconds(server.pid) - cpu_before;
    rss.push(rss_kib(server.pid));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(true).unwrap();

    let mut latencies = Vec::new();
    let mut last = vec![0u64; plan.events];
    let mut duplicated = 0;
    let mut received = 0u64;
    for reader in readers {
        let (mine, dups) = reader.await.unwrap();
        duplicated += dups;
        received += mine.len() as u64;
        for (i, nanos) in mine {
            last[i] = last[i].max(nanos);
            latencies.push(nanos as f64 / 1e6);
        }
    }
    drop(stalled);
    latencies.sort_by(f64::total_cmp);
    let mut last_recipient: Vec<f64> = last.iter().map(|n| *n as f64 / 1e6).collect();
    last_recipient.sort_by(f64::total_cmp);
    Outcome {
        latencies,
        last_recipient,
        missing: (0..plan.events).map(|i| audience(i) as u64).sum::<u64>() - received,
        duplicated,
        rss,
        connect_seconds,
        server_cpu_seconds,
        deliveries: received,
    }
}
