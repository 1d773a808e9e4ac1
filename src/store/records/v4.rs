//! Version 4 of the records that changed since version 3, and the records new in it.
//!
//! - `Ticket`: `queue` and `tags`. A version-1 or -2 ticket is in queue 1 without tags.
//! - `Queue` (new tree `queues`): the desks. A store without one has queue 1, made
//!   from the first release's `queue.settings` meta value.
//! - `MentorProfile`: `queues` (the queues staffed, `None` for all) and `away`. An
//!   older profile staffs every queue and is available.
//! - `NotificationSettings`: `ticket_claimed` and `email` (both on for older records).
//! - `Event`: ticket events carry version-4 tickets and `matching_mentors`;
//!   `QueueUpdated` carries the whole queue and `QueueCreated` is new. An older
//!   `QueueUpdated` (open and message only) reads as queue 1's.
//!
//! Never change a type here either: the next change is a `v5` beside it.

use super::{v1, v2};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Ticket {
    /// Every field version 2 had, in its order.
    pub base: v2::Ticket,
    pub queue: u64,
    pub tags: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub struct TicketView {
    pub ticket: Ticket,
    pub position: Option<u64>,
    pub estimated_wait_seconds: Option<f64>,
    pub matching_mentors: Option<u64>,
}

#[derive(Serialize, Deserialize)]
pub struct Queue {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub open: bool,
    pub message: String,
    pub tags: Vec<String>,
    pub cooldown_seconds: u32,
    pub archived: bool,
}

#[derive(Serialize, Deserialize)]
pub struct MentorProfile {
    pub base: v1::MentorProfile,
    pub queues: Option<Vec<u64>>,
    pub away: bool,
}

#[derive(Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: v1::Time,
    pub by: Option<u64>,
    pub body: EventBody,
}

#[derive(Serialize, Deserialize)]
pub enum EventBody {
    TicketCreated(TicketView),
    TicketUpdated(TicketView),
    QueueCreated(Queue),
    QueueUpdated(Queue),
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

#[derive(Serialize, Deserialize)]
pub struct NotificationSettings {
    pub base: v1::NotificationSettings,
    pub ticket_claimed: bool,
    pub email: bool,
}
