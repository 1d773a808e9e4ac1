//! mentorq: the mentoring desk of a hackathon in one binary.
//!
//! # Layout
//!
//! - [`domain`]: the rules as plain Rust — tickets, feedback, users, events. No I/O.
//! - [`store`]: sled trees, records versioned per tree (apart from the domain types),
//!   group commit, the event log. The only module that knows sled.
//! - [`actors`]: `UserActor`, `QueueActor`, `SessionActor`, `IdempotencyActor`: each
//!   owns its state in memory and is the only writer of its trees.
//! - [`auth`]: passwords (argon2), tokens (JWT + rotating refresh tokens), the LCS
//!   identity service client.
//! - [`api`]: what both transports share: JSON views, `ApiError`, the `Caller`
//!   extractor, the rate limit, `AppState`.
//! - [`http`]: the REST facade: the route table, handlers, middleware, OpenAPI.
//! - [`ws`]: real time: the Hub (a registry and router over a projection of durable
//!   events) and one `ClientActor` per WebSocket connection.
//! - [`web`]: the live board page served at `/`.
//! - [`config`]: `config.toml` plus `MENTORQ__*` environment overrides.
//! - [`clock`]: time as a dependency.
//! - [`startup`]: builds the whole application; used by `main` and by the tests.

pub mod actors;
pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod notify;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod ws;

pub use startup::Application;
