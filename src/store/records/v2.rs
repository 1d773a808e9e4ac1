//! Version 2 of the records that changed since version 1; every other record is still
//! at version 1 and reused from there.
//!
//! - `Ticket`: `anonymous` (shown as "Anonymous" but to its owner and managers) and
//!   `active` (false while its owner is away). A version-1 ticket is neither anonymous
//!   nor away.
//! - `Event`: ticket events carry version-2 tickets, and `FeedbackUpdated` (a
//!   feedback corrected within its day) is new.
//!
//! Never change a type here either: the next change is a `v3` beside it.

use super::v1;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Ticket {
    /// Every field version 1 had, in its order.
    pub base: v1::Ticket,
    pub anonymous: bool,
    pub active: bool,
}

#[derive(Serialize, Deserialize)]
pub struct TicketView {
    pub ticket: Ticket,
    pub position: Option<u64>,
    pub estimated_wait_seconds: Option<f64>,
}

#[derive(Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: v1::Time,
    pub body: EventBody,
}

#[derive(Serialize, Deserialize)]
pub enum EventBody {
    TicketCreated(TicketView),
    TicketUpdated(TicketView),
    QueueUpdated(v1::QueueSettings),
    AnnouncementPosted(v1::Announcement),
    FeedbackCreated(v1::Feedback),
    FeedbackUpdated(v1::Feedback),
    AvailabilityUpdated {
        chunks: Vec<v1::Chunk>,
        deleted: Vec<u64>,
    },
    SessionUpdated(v1::Session),
    SessionReminder {
        session: v1::Session,
        to: u64,
        minutes_before: u8,
    },
}
