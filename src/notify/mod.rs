//! Notifications that reach people away from the page.
//!
//! Each channel is a consumer of the durable event log with its own stored cursor:
//! the event a change causes is committed with the change, so a notification is
//! recorded in the same commit by construction; a background sender reads the log
//! after the sync, delivers, and only then moves its cursor. Nothing here delays a
//! request, and nothing pending lives in memory: what is still to be sent is the part
//! of the log after the cursor.
//!
//! Architecture Invariant: like `http` and `ws`, this is transport. It changes no
//! domain state; the only thing it writes is its own cursor (`Store::record_cursor`).

pub mod webhooks;
