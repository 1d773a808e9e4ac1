//! Events: one per committed change, numbered by a global gap-free `seq`.
//!
//! Events are past tense and carry the changed object whole, so a subscriber never has
//! to ask for it. Who may see an event is decided by [`Event::audience`], the same
//! rule REST applies.

use super::feedback::Feedback;
use super::queue::{Announcement, QueueSettings};
use super::ticket::Ticket;
use super::{Timestamp, UserId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: Timestamp,
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventBody {
    TicketCreated(Ticket),
    TicketUpdated(Ticket),
    QueueUpdated(QueueSettings),
    AnnouncementPosted(Announcement),
    FeedbackCreated(Feedback),
}

/// Who an event is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Staff, plus these users.
    StaffAnd(Vec<UserId>),
    /// Managers, plus these users.
    ManagersAnd(Vec<UserId>),
}

impl EventBody {
    /// The wire name of the event (`kind` in API.md).
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::TicketCreated(_) => "ticket.created",
            EventBody::TicketUpdated(_) => "ticket.updated",
            EventBody::QueueUpdated(_) => "queue.updated",
            EventBody::AnnouncementPosted(_) => "announcement",
            EventBody::FeedbackCreated(_) => "feedback.created",
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            EventBody::TicketCreated(t) | EventBody::TicketUpdated(t) => {
                Audience::StaffAnd(vec![t.owner])
            }
            EventBody::QueueUpdated(_) | EventBody::AnnouncementPosted(_) => Audience::Everyone,
            EventBody::FeedbackCreated(f) => Audience::ManagersAnd(vec![f.mentor]),
        }
    }
}
