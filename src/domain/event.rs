//! Events: one per committed change, numbered by a global gap-free `seq`.
//!
//! Events are past tense and carry the changed object whole, so a subscriber never has
//! to ask for it. Who may see an event is decided by [`Event::audience`], the same
//! rule REST applies.

use super::board::TicketView;
use super::feedback::Feedback;
use super::queue::{Announcement, Queue};
use super::schedule::{Chunk, Session};
use super::user::Roles;
use super::ChunkId;
use super::{QueueId, Timestamp, UserId};

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub seq: u64,
    pub at: Timestamp,
    /// Who caused it; `None` for a change made by time (a session ending, a reminder).
    pub by: Option<UserId>,
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventBody {
    /// The ticket with its position and wait as of the change.
    TicketCreated(TicketView),
    TicketUpdated(TicketView),
    QueueCreated(Queue),
    /// A queue's settings changed (open/closed, message, name, tags, archived…).
    QueueUpdated(Queue),
    AnnouncementPosted(Announcement),
    FeedbackCreated(Feedback),
    /// A feedback corrected by the ticket's owner within its day.
    FeedbackUpdated(Feedback),
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

/// Which queues' ticket events (and `position` messages) a connection receives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription(pub Option<std::collections::BTreeSet<QueueId>>);

impl Subscription {
    /// Every queue (the default).
    pub fn all() -> Subscription {
        Subscription(None)
    }

    pub fn includes(&self, queue: QueueId) -> bool {
        self.0.as_ref().is_none_or(|q| q.contains(&queue))
    }

    /// Whether a connection with this subscription is sent `body` (if its audience
    /// admits the reader).
    pub fn admits(&self, body: &EventBody) -> bool {
        body.narrowed_to().is_none_or(|q| self.includes(q))
    }
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
    /// Staff who are not managers, but not these users.
    MentorsExcept(Vec<UserId>),
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
            Audience::MentorsExcept(users) => {
                roles.is_staff() && !roles.is_manager() && !users.contains(&user)
            }
        }
    }
}

impl Event {
    /// What each part of the event's audience is sent: the event itself, except that
    /// an anonymous ticket's event goes whole to its owner and managers and, without
    /// the owner's name, to the other mentors. The audiences never overlap, so every
    /// reader gets exactly one.
    pub fn deliveries(&self) -> Vec<(Audience, std::borrow::Cow<'_, Event>)> {
        use std::borrow::Cow;
        let (EventBody::TicketCreated(view) | EventBody::TicketUpdated(view)) = &self.body else {
            return vec![(self.body.audience(), Cow::Borrowed(self))];
        };
        if !view.ticket.anonymous {
            return vec![(self.body.audience(), Cow::Borrowed(self))];
        }
        let owner = view.ticket.owner;
        let hidden = view.clone().without_owner_name();
        let body = match self.body {
            EventBody::TicketCreated(_) => EventBody::TicketCreated(hidden),
            _ => EventBody::TicketUpdated(hidden),
        };
        vec![
            (Audience::ManagersAnd(vec![owner]), Cow::Borrowed(self)),
            (
                Audience::MentorsExcept(vec![owner]),
                Cow::Owned(Event { body, ..self.clone() }),
            ),
        ]
    }
}

impl EventBody {
    /// The wire name of the event (`kind` in API.md).
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::TicketCreated(_) => "ticket.created",
            EventBody::TicketUpdated(_) => "ticket.updated",
            EventBody::QueueCreated(_) => "queue.created",
            EventBody::QueueUpdated(_) => "queue.updated",
            EventBody::AnnouncementPosted(_) => "announcement",
            EventBody::FeedbackCreated(_) => "feedback.created",
            EventBody::FeedbackUpdated(_) => "feedback.updated",
            EventBody::AvailabilityUpdated { .. } => "availability.updated",
            EventBody::SessionUpdated(_) => "session.updated",
            EventBody::SessionReminder { .. } => "session.reminder",
        }
    }

    /// The queue a connection must be subscribed to for this event: ticket events
    /// only. Every other event reaches every connection its audience admits.
    pub fn narrowed_to(&self) -> Option<QueueId> {
        match self {
            EventBody::TicketCreated(v) | EventBody::TicketUpdated(v) => Some(v.ticket.queue),
            _ => None,
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            EventBody::TicketCreated(t) | EventBody::TicketUpdated(t) => {
                Audience::StaffAnd(vec![t.ticket.owner])
            }
            EventBody::QueueCreated(_) | EventBody::QueueUpdated(_) | EventBody::AnnouncementPosted(_) => {
                Audience::Everyone
            }
            EventBody::FeedbackCreated(f) | EventBody::FeedbackUpdated(f) => {
                Audience::ManagersAnd(vec![f.mentor])
            }
            // Mentees browse availability, so everyone sees it.
            EventBody::AvailabilityUpdated { .. } => Audience::Everyone,
            EventBody::SessionUpdated(s) => Audience::Users(vec![s.mentor, s.mentee]),
            EventBody::SessionReminder { to, .. } => Audience::Users(vec![*to]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{test_person, NewTicket};
    use crate::domain::user::Role;
    use crate::domain::TicketId;

    fn event_for(anonymous: bool) -> Event {
        let owner = test_person(1, &[]);
        let ticket = NewTicket::parse(Some("t"), Some("l"), None, None, None)
            .unwrap()
            .anonymous_if(Some(anonymous), None)
            .into_ticket(TicketId(1), &owner, chrono::Utc::now());
        Event {
            seq: 1,
            at: chrono::Utc::now(),
            by: Some(owner.id),
            body: EventBody::TicketCreated(TicketView {
                ticket,
                position: Some(1),
                estimated_wait_seconds: None,
                matching_mentors: None,
            }),
        }
    }

    /// The owner name each reader would be sent, or None if the event is not for them.
    fn shown(event: &Event, who: u64, roles: &[Role]) -> Vec<String> {
        let roles = Roles::from_iter(roles.iter().copied());
        event
            .deliveries()
            .into_iter()
            .filter(|(audience, _)| audience.admits(UserId(who), roles))
            .map(|(_, e)| match &e.body {
                EventBody::TicketCreated(v) => v.ticket.owner_name.clone(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn every_reader_gets_exactly_one_version_of_an_anonymous_tickets_event() {
        let event = event_for(true);
        assert_eq!(shown(&event, 1, &[]), ["User 1"], "the owner");
        assert_eq!(shown(&event, 2, &[]), Vec::<String>::new(), "another participant");
        assert_eq!(shown(&event, 3, &[Role::Mentor]), ["Anonymous"], "a mentor");
        assert_eq!(shown(&event, 4, &[Role::Organizer]), ["User 1"], "a manager");
        assert_eq!(
            shown(&event, 5, &[Role::Mentor, Role::Director]),
            ["User 1"],
            "a mentor who manages"
        );
        assert_eq!(shown(&event_for(false), 3, &[Role::Mentor]), ["User 1"]);
        assert_eq!(
            event_for(false).deliveries().len(),
            1,
            "one framing when nothing is hidden"
        );
    }
}
