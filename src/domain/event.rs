//! Events: one per committed change, numbered by a global gap-free `seq`.
//!
//! Events are past tense and carry the changed object whole, so a subscriber never has
//! to ask for it. Who may see an event is decided by [`Event::audience`], the same
//! rule REST applies.

use super::board::TicketView;
use super::feedback::Feedback;
use super::queue::{Announcement, QueueSettings};
use super::schedule::{Chunk, Session};
use super::user::Roles;
use super::ChunkId;
use super::{Timestamp, UserId};

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub seq: u64,
    pub at: Timestamp,
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventBody {
    /// The ticket with its position and wait as of the change.
    TicketCreated(TicketView),
    TicketUpdated(TicketView),
    QueueUpdated(QueueSettings),
    AnnouncementPosted(Announcement),
    FeedbackCreated(Feedback),
    /// Chunks created or changing status, and chunks deleted.
    AvailabilityUpdated {
        chunks: Vec<Chunk>,
        deleted: Vec<ChunkId>,
    },
    SessionUpdated(Session),
    /// A reminder for one party of a confirmed session.
    SessionReminder {
        session: Session,
        to: UserId,
        minutes_before: u8,
    },
}

/// Who an event is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Staff, plus these users.
    StaffAnd(Vec<UserId>),
    /// Managers, plus these users.
    ManagersAnd(Vec<UserId>),
    /// Only these users.
    Users(Vec<UserId>),
}

impl Audience {
    /// Whether `user`, holding `roles`, is in the audience: the rule REST applies to
    /// the same objects.
    pub fn admits(&self, user: UserId, roles: Roles) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::StaffAnd(users) => roles.is_staff() || users.contains(&user),
            Audience::ManagersAnd(users) => roles.is_manager() || users.contains(&user),
            Audience::Users(users) => users.contains(&user),
        }
    }
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
            EventBody::AvailabilityUpdated { .. } => "availability.updated",
            EventBody::SessionUpdated(_) => "session.updated",
            EventBody::SessionReminder { .. } => "session.reminder",
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            EventBody::TicketCreated(t) | EventBody::TicketUpdated(t) => {
                Audience::StaffAnd(vec![t.ticket.owner])
            }
            EventBody::QueueUpdated(_) | EventBody::AnnouncementPosted(_) => Audience::Everyone,
            EventBody::FeedbackCreated(f) => Audience::ManagersAnd(vec![f.mentor]),
            // Mentees browse availability, so everyone sees it.
            EventBody::AvailabilityUpdated { .. } => Audience::Everyone,
            EventBody::SessionUpdated(s) => Audience::Users(vec![s.mentor, s.mentee]),
            EventBody::SessionReminder { to, .. } => Audience::Users(vec![*to]),
        }
    }
}
