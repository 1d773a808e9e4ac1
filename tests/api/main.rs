//! Black-box tests: the real application on port 0, spoken to over HTTP.

mod auth;
mod calendar;
mod compat;
mod contract;
mod durability;
mod email;
mod export;
mod feedback;
mod helpers;
mod idempotency;
mod lcs;
mod old_data;
mod page;
mod queue;
mod queues;
mod realtime;
mod scheduling;
#[path = "../support/mod.rs"]
mod support;
mod tickets;
mod users;
mod webhooks;
