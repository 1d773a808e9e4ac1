//! The JSON shapes of API.md, built from domain types. Only `http` knows them.

use crate::domain::event::EventBody;
use crate::domain::schedule::{Chunk, Session};
use crate::domain::user::{DeviceSession, User};
use crate::domain::Timestamp;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// RFC 3339 in UTC with `Z`, to the second.
pub fn ts(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: u64,
    pub email: String,
    pub name: String,
    /// Always includes `hacker`.
    pub roles: Vec<String>,
    pub slack_id: Option<String>,
    pub phone: Option<String>,
    pub created: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.0,
            email: u.email.clone(),
            name: u.name.clone(),
            roles: u.roles.names().into_iter().map(String::from).collect(),
            slack_id: u.slack_id.clone(),
            phone: u.phone.clone(),
            created: ts(&u.created),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access: String,
    pub refresh: String,
    pub user: UserView,
    pub is_mentor: bool,
    pub is_organizer: bool,
    pub is_director: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSessionView {
    pub id: u64,
    pub device: String,
    pub created: String,
    pub last_used: String,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

impl DeviceSessionView {
    pub fn new(s: &DeviceSession, current: crate::domain::DeviceSessionId) -> Self {
        DeviceSessionView {
            id: s.id.0,
            device: s.device.clone(),
            created: ts(&s.created),
            last_used: ts(&s.last_used),
            current: s.id == current,
        }
    }
}

use crate::domain::board::TicketView;
use crate::domain::feedback::Feedback;
use crate::domain::queue::Announcement;
use crate::domain::queue::{Queue, QueueSummary};

/// A ticket in HackRU mentorq's field names. It borrows the ticket's text: a list of a
/// thousand tickets is serialised without copying each field first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketJson<'a> {
    pub id: u64,
    /// `<base>/api/tickets/{id}/`.
    pub url: String,
    pub owner_email: &'a str,
    /// The owner's name; "Anonymous" for an anonymous ticket, but to its owner and
    /// managers.
    pub owner: &'a str,
    pub anonymous: bool,
    pub title: &'a str,
    pub comment: &'a str,
    pub contact: &'a str,
    pub location: &'a str,
    /// OPEN, CLAIMED, CLOSED or CANCELLED.
    pub status: &'static str,
    /// The mentor's name, or "".
    pub mentor: &'a str,
    pub mentor_email: &'a str,
    pub created_datetime: String,
    pub claimed_datetime: Option<String>,
    pub closed_datetime: Option<String>,
    /// False while the owner is away (the ticket keeps its place), and once it ended.
    pub active: bool,
    /// 1-based place among OPEN tickets; null unless OPEN.
    pub position: Option<usize>,
    /// null unless OPEN, and when no mentor is online.
    pub estimated_wait_seconds: Option<f64>,
    /// "" or the feedback's absolute URL.
    pub feedback: String,
    /// The queue's id (1 unless asked otherwise).
    pub queue: u64,
    /// Its topics, each one of its queue's tags.
    pub tags: &'a [String],
    /// How many of its queue's available mentors have one of its tags as a skill;
    /// null for a ticket without tags.
    pub matching_mentors: Option<usize>,
}

impl<'a> TicketJson<'a> {
    /// The ticket as shown with absolute URLs under `base` (no trailing slash). An
    /// anonymous ticket must already be [`TicketView::seen_by`] its reader.
    pub fn new(v: &'a TicketView, base: &str) -> Self {
        let t = &v.ticket;
        TicketJson {
            id: t.id.0,
            url: format!("{base}/api/tickets/{}/", t.id.0),
            owner_email: &t.owner_email,
            owner: &t.owner_name,
            anonymous: t.anonymous,
            title: &t.title,
            comment: &t.comment,
            contact: &t.contact,
            location: &t.location,
            status: t.status.as_str(),
            mentor: t.mentor.as_ref().map_or("", |m| m.name.as_str()),
            mentor_email: t.mentor.as_ref().map_or("", |m| m.email.as_str()),
            created_datetime: ts(&t.created),
            claimed_datetime: t.claimed.as_ref().map(ts),
            closed_datetime: t.closed.as_ref().map(ts),
            active: t.active && t.status.is_active(),
            position: v.position,
            estimated_wait_seconds: v.estimated_wait_seconds,
            feedback: if t.has_feedback {
                format!("{base}/api/feedback/{}/", t.id.0)
            } else {
                String::new()
            },
            queue: t.queue.0,
            tags: &t.tags,
            matching_mentors: v.matching_mentors,
        }
    }
}

/// A queue's settings: what `queue.created` and `queue.updated` carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSettingsJson {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub open: bool,
    pub message: String,
    pub tags: Vec<String>,
    pub cooldown_seconds: u32,
    pub archived: bool,
}

impl From<&Queue> for QueueSettingsJson {
    fn from(q: &Queue) -> Self {
        QueueSettingsJson {
            id: q.id.0,
            name: q.name.clone(),
            description: q.description.clone(),
            open: q.open,
            message: q.message.clone(),
            tags: q.tags.clone(),
            cooldown_seconds: q.cooldown_seconds,
            archived: q.archived,
        }
    }
}

/// A queue with its live counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueJson {
    #[serde(flatten)]
    pub settings: QueueSettingsJson,
    pub open_count: usize,
    pub claimed_count: usize,
    pub mentors_online: usize,
    /// The wait a ticket opened now would have; null with no mentor online.
    pub estimated_wait_seconds: Option<f64>,
}

impl From<&QueueSummary> for QueueJson {
    fn from(q: &QueueSummary) -> Self {
        QueueJson {
            settings: QueueSettingsJson::from(&q.queue),
            open_count: q.open_count,
            claimed_count: q.claimed_count,
            mentors_online: q.mentors_online,
            estimated_wait_seconds: q.estimated_wait_seconds,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnouncementJson {
    pub id: u64,
    pub text: String,
    /// The poster's name.
    pub author: String,
    pub created: String,
}

impl From<&Announcement> for AnnouncementJson {
    fn from(a: &Announcement) -> Self {
        AnnouncementJson {
            id: a.id,
            text: a.text.clone(),
            author: a.author.clone(),
            created: ts(&a.created),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackJson {
    pub ticket: u64,
    pub ticket_url: String,
    pub rating: u8,
    pub comments: String,
    pub mentor_email: String,
    pub created: String,
}

impl FeedbackJson {
    /// The feedback with its ticket's absolute URL under `base`.
    pub fn new(f: &Feedback, base: &str) -> Self {
        FeedbackJson {
            ticket: f.ticket.0,
            ticket_url: format!("{base}/api/tickets/{}/", f.ticket.0),
            rating: f.rating.get(),
            comments: f.comments.clone(),
            mentor_email: f.mentor_email.clone(),
            created: ts(&f.created),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkJson {
    pub id: u64,
    /// The mentor's user id.
    pub mentor: u64,
    pub start_time: String,
    pub end_time: String,
    /// OPEN, REQUESTED or BOOKED.
    pub status: String,
}

impl From<&Chunk> for ChunkJson {
    fn from(c: &Chunk) -> Self {
        ChunkJson {
            id: c.id.0,
            mentor: c.mentor.0,
            start_time: ts(&c.start),
            end_time: ts(&c.end),
            status: c.status.as_str().to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionJson {
    pub id: u64,
    pub mentor: u64,
    pub mentor_name: String,
    pub mentee: u64,
    pub mentee_name: String,
    /// The chunk ids the session holds.
    pub availability: Vec<u64>,
    pub start_time: String,
    pub end_time: String,
    /// 30 or 60.
    pub session_length: i64,
    /// PENDING, CONFIRMED, COMPLETED, EXPIRED or CANCELLED.
    pub status: String,
    pub topic: String,
    pub meeting_url: Option<String>,
}

impl From<&Session> for SessionJson {
    fn from(s: &Session) -> Self {
        SessionJson {
            id: s.id.0,
            mentor: s.mentor.0,
            mentor_name: s.mentor_name.clone(),
            mentee: s.mentee.0,
            mentee_name: s.mentee_name.clone(),
            availability: s.chunks.iter().map(|c| c.0).collect(),
            start_time: ts(&s.start),
            end_time: ts(&s.end),
            session_length: s.length.minutes(),
            status: s.status.as_str().to_string(),
            topic: s.topic.clone(),
            meeting_url: s.meeting_url.clone(),
        }
    }
}

/// A view as a JSON value.
pub fn value(view: impl serde::Serialize) -> Value {
    serde_json::to_value(view).expect("views serialise to JSON")
}

/// The `data` of an event (pushed, replayed and exported alike): a function of the
/// stored event alone, so a replayed event is byte-for-byte the event pushed live.
pub fn event_data(body: &EventBody, base: &str) -> Value {
    value(EventData(body, base))
}

/// [`event_data`] as a serializer input, written straight to bytes without building a
/// `Value` first (what every pushed frame and webhook body does, per event).
pub struct EventData<'a>(pub &'a EventBody, pub &'a str);

impl Serialize for EventData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let EventData(body, base) = *self;
        match body {
            EventBody::TicketCreated(v) | EventBody::TicketUpdated(v) => {
                TicketJson::new(v, base).serialize(s)
            }
            EventBody::QueueCreated(q) | EventBody::QueueUpdated(q) => {
                QueueSettingsJson::from(q).serialize(s)
            }
            EventBody::AnnouncementPosted(a) => AnnouncementJson::from(a).serialize(s),
            EventBody::FeedbackCreated(f) | EventBody::FeedbackUpdated(f) => {
                FeedbackJson::new(f, base).serialize(s)
            }
            EventBody::AvailabilityUpdated { chunks, deleted } => json!({
                "chunks": chunks.iter().map(ChunkJson::from).collect::<Vec<_>>(),
                "deleted": deleted.iter().map(|c| c.0).collect::<Vec<_>>(),
            })
            .serialize(s),
            EventBody::SessionUpdated(v) => SessionJson::from(v).serialize(s),
            EventBody::SessionReminder {
                session,
                minutes_before,
                ..
            } => json!({ "session": SessionJson::from(session), "minutes_before": minutes_before })
                .serialize(s),
        }
    }
}
