//! The rules of mentorq as plain Rust: types, validation and state machines.
//!
//! Architecture Invariant: nothing in this module does I/O. There is no actix, no
//! HTTP, no sled and no clock here; functions that depend on time take `now` as an
//! argument. That is what lets the rules be tested exhaustively and quickly.

pub mod board;
pub mod calendar;
pub mod capacity;
pub mod email;
pub mod event;
pub mod feedback;
pub mod idempotency;
pub mod ids;
pub mod projection;
pub mod queue;
pub mod rank;
pub mod schedule;
pub mod ticket;
pub mod user;
pub mod validate;
pub mod webhook;

pub use ids::{ChunkId, DeviceSessionId, QueueId, SessionId, TicketId, UserId};

/// A point in time. Always UTC; rendered as RFC 3339 with `Z`.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
