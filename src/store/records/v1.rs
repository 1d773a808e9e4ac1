//! Version 1 of every record: the shapes the first release wrote (it serialised the
//! domain types themselves through serde, so these mirror them field for field and
//! variant for variant; bincode writes neither names nor tags, only order).
//!
//! Never change a type here: a new field is a new version beside this one, with an
//! upgrade from it (see `records/mod.rs`). `tests/api/old_data.rs` opens a folder the
//! first release wrote.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type Time = DateTime<Utc>;

#[derive(Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    /// `Roles`' bit set.
    pub roles: u8,
    pub slack_id: Option<String>,
    pub phone: Option<String>,
    pub created: Time,
}

#[derive(Serialize, Deserialize)]
pub struct DeviceSession {
    pub id: u64,
    pub user: u64,
    pub device: String,
    pub created: Time,
    pub last_used: Time,
    pub generation: u64,
    pub expires: Time,
    pub revoked: bool,
    pub external_token: Option<String>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
pub enum TicketStatus {
    Open,
    Claimed,
    Closed,
    Cancelled,
}

#[derive(Serialize, Deserialize)]
pub struct MentorRef {
    pub id: u64,
    pub email: String,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub struct Ticket {
    pub id: u64,
    pub owner: u64,
    pub owner_email: String,
    pub owner_name: String,
    pub title: String,
    pub comment: String,
    pub contact: String,
    pub location: String,
    pub status: TicketStatus,
    pub mentor: Option<MentorRef>,
    pub created: Time,
    pub claimed: Option<Time>,
    pub closed: Option<Time>,
    pub first_claimed: Option<Time>,
    pub claimants: Vec<MentorRef>,
    pub last_changed_by: u64,
    pub has_feedback: bool,
}

/// A ticket with its place and wait as of an event.
#[derive(Serialize, Deserialize)]
pub struct TicketView {
    pub ticket: Ticket,
    pub position: Option<u64>,
    pub estimated_wait_seconds: Option<f64>,
}

#[derive(Serialize, Deserialize)]
pub struct Feedback {
    pub ticket: u64,
    pub owner: u64,
    pub rating: u8,
    pub comments: String,
    pub mentor: u64,
    pub mentor_email: String,
    pub mentor_name: String,
    pub created: Time,
}

#[derive(Serialize, Deserialize)]
pub struct Announcement {
    pub id: u64,
    pub text: String,
    pub author: String,
    pub author_id: u64,
    pub created: Time,
}

/// Kept in the meta tree under `queue.settings`.
#[derive(Serialize, Deserialize)]
pub struct QueueSettings {
    pub open: bool,
    pub message: String,
}

#[derive(Serialize, Deserialize)]
pub struct StoredResponse {
    pub user: u64,
    pub key: String,
    pub route: String,
    pub status: u16,
    pub body: Vec<u8>,
    pub created: Time,
}

#[derive(Serialize, Deserialize)]
pub struct MentorProfile {
    pub user: u64,
    pub name: String,
    pub about_me: String,
    pub skills: Vec<String>,
    pub team_number: Option<i64>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
pub enum ChunkStatus {
    Open,
    Requested,
    Booked,
}

#[derive(Serialize, Deserialize)]
pub struct Chunk {
    pub id: u64,
    pub mentor: u64,
    pub mentor_name: String,
    pub start: Time,
    pub end: Time,
    pub status: ChunkStatus,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
pub enum SessionStatus {
    Pending,
    Confirmed,
    Completed,
    Expired,
    Cancelled,
}

#[derive(Serialize, Deserialize)]
pub struct Session {
    pub id: u64,
    pub mentor: u64,
    pub mentor_name: String,
    pub mentee: u64,
    pub mentee_name: String,
    pub chunks: Vec<u64>,
    pub start: Time,
    pub end: Time,
    /// Minutes: 30 or 60.
    pub length: u8,
    pub status: SessionStatus,
    pub topic: String,
    pub meeting_url: Option<String>,
    pub cancel_reason: Option<String>,
    pub reminders_sent: Vec<(u64, u8)>,
}

/// Keyed by the user, whose id is also the first field.
#[derive(Serialize, Deserialize)]
pub struct NotificationSettings {
    pub user: u64,
    pub session_requested: bool,
    pub session_confirmed: bool,
    pub session_cancelled: bool,
    pub fifteen_minute_alert: bool,
    pub sixty_minute_alert: bool,
}

#[derive(Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: Time,
    pub body: EventBody,
}

#[derive(Serialize, Deserialize)]
pub enum EventBody {
    TicketCreated(TicketView),
    TicketUpdated(TicketView),
    QueueUpdated(QueueSettings),
    AnnouncementPosted(Announcement),
    FeedbackCreated(Feedback),
    AvailabilityUpdated {
        chunks: Vec<Chunk>,
        deleted: Vec<u64>,
    },
    SessionUpdated(Session),
    SessionReminder {
        session: Session,
        to: u64,
        minutes_before: u8,
    },
}
