//! startup: time from starting the binary to `/readyz` answering 200, with 100,000
//! tickets and 1,000,000 retained events in the data folder.
//!
//! `cargo bench --bench startup`. The data folder is built once through the store
//! (the same records the server writes), then the server is started `runs()` times.

mod common;

use common::*;
use mentorq::domain::board::TicketView;
use mentorq::domain::event::EventBody;
use mentorq::domain::ticket::{NewTicket, Person};
use mentorq::domain::user::Roles;
use mentorq::domain::{TicketId, UserId};
use mentorq::store::{Batch, Store};
use std::time::Instant;

const TICKETS: u64 = 100_000;
const EVENTS: u64 = 1_000_000;

fn build(data: &std::path::Path) {
    let store = Store::open(data).unwrap();
    store.retain_events(EVENTS).unwrap();
    let owner = Person {
        id: UserId(1),
        email: "owner@example.org".into(),
        name: "Owner".into(),
        roles: Roles::default(),
    };
    let now = chrono::Utc::now();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut last = None;
    let per_batch = 1000u64;
    for b in 0..(EVENTS / per_batch) {
        let mut batch = Batch::new();
        for i in 0..per_batch {
            let n = b * per_batch + i;
            let id = TicketId(n % TICKETS + 1);
            let mut ticket = NewTicket::parse(
                Some("A realistic title"),
                Some("Room 101"),
                Some("Some details"),
                None,
                None,
            )
            .unwrap()
            .into_ticket(id, &owner, now);
            if n < TICKETS {
                batch.put(&ticket);
            } else {
                ticket.status = mentorq::domain::ticket::Status::Cancelled;
            }
            let view = TicketView {
                ticket,
                position: None,
                estimated_wait_seconds: None,
                matching_mentors: None,
            };
            batch.event(if n < TICKETS {
                EventBody::TicketCreated(view)
            } else {
                EventBody::TicketUpdated(view)
            });
        }
        if b == 0 {
            batch.meta("next_id.tickets", &(TICKETS + 1));
        }
        last = Some(store.commit(batch, now).unwrap());
    }
    runtime.block_on(last.unwrap().durable()).unwrap();
    runtime.block_on(store.close()).unwrap();
}

fn main() {
    println!(
        "startup: {} | {TICKETS} tickets, {EVENTS} retained events, runs: {}",
        machine(),
        runs()
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = Instant::now();
    build(&data);
    println!("built the data folder in {:.1} s", t.elapsed().as_secs_f64());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(measure(&data));
}

async fn measure(data: &std::path::Path) {
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    for run in 1..=runs() {
        let started = Instant::now();
        let server = start_server(data, &[("MENTORQ__REALTIME__RETAIN_EVENTS", "1000000")]);
        let listening = started.elapsed().as_secs_f64();
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ready = started.elapsed().as_secs_f64();
        println!("run {run}: listening after {listening:.3} s, ready after {ready:.3} s");
        times.push(ready);
        drop(server);
    }
    println!("ready in {:.3} s (median of {} runs)", median(&mut times), runs());
}
