//! `QueueActor`: the only writer of tickets, feedback, the queue's settings and
//! announcements.
//!
//! Everything is kept in memory (loaded at start), so reads never touch the disk.
//! Positions in the queue are derived from the set of OPEN tickets, ordered by id
//! (ids are handed out in creation order, and an unclaimed ticket keeps its id and so
//! its original place).

use super::{after_barrier, commit_then, next_id, Reply};
use crate::clock::SharedClock;
use crate::domain::event::EventBody;
use crate::domain::feedback::{give_feedback, Feedback, FeedbackError, NewFeedback};
use crate::domain::queue::{
    estimate_wait, leaderboard, service_seconds, stats, Announcement, LeaderboardRow, QueueSettings, Stats,
};
use crate::domain::ticket::{apply_change, NewTicket, Person, Status, Ticket, TicketChange, TicketError};
use crate::domain::user::Role;
use crate::domain::{TicketId, Timestamp, UserId};
use crate::store::{Batch, Store, StoreError};
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("No such ticket.")]
    NotFound,
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error("The queue is closed{0}")]
    QueueClosed(String),
    #[error("You already have {0} active ticket(s); close or cancel one first.")]
    TooManyActive(u32),
    #[error(transparent)]
    Feedback(#[from] FeedbackError),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// How long a mentor counts as online after their last action, until live connections
/// say who is online.
pub const PRESENCE_WINDOW_MINUTES: i64 = 15;

/// A ticket as a viewer sees it: with its place in the queue and its wait while OPEN.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketView {
    pub ticket: Ticket,
    pub position: Option<usize>,
    pub estimated_wait_seconds: Option<f64>,
}

/// The queue as a whole (`GET /api/queue/`).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSummary {
    pub settings: QueueSettings,
    pub open_count: usize,
    pub claimed_count: usize,
    pub mentors_online: usize,
    pub estimated_wait_seconds: Option<f64>,
}

pub struct QueueActor {
    store: Store,
    clock: SharedClock,
    max_active: u32,
    tickets: BTreeMap<TicketId, Ticket>,
    /// OPEN tickets in queue order.
    open: BTreeSet<TicketId>,
    claimed_count: usize,
    feedback: BTreeMap<TicketId, Feedback>,
    settings: QueueSettings,
    announcements: Vec<Announcement>,
    next_ticket: u64,
    next_announcement: u64,
    /// Mentors' last actions, for "mentors online".
    mentor_seen: HashMap<UserId, Timestamp>,
}

const NEXT_TICKET: &str = "next_id.tickets";
const NEXT_ANNOUNCEMENT: &str = "next_id.announcements";
const SETTINGS: &str = "queue.settings";
/// How many announcements `GET /api/announcements/` returns.
pub const ANNOUNCEMENTS_SHOWN: usize = 50;

impl QueueActor {
    pub fn load(store: Store, clock: SharedClock, max_active: u32) -> Result<QueueActor, StoreError> {
        let tickets: Vec<Ticket> = store.load_all()?;
        let feedback: Vec<Feedback> = store.load_all()?;
        let announcements: Vec<Announcement> = store.load_all()?;
        let next_ticket = next_id(&store, NEXT_TICKET, tickets.last().map(|t| t.id.0))?;
        let next_announcement = next_id(&store, NEXT_ANNOUNCEMENT, announcements.last().map(|a| a.id))?;
        let settings = store.meta(SETTINGS)?.unwrap_or_default();
        let open = tickets
            .iter()
            .filter(|t| t.status == Status::Open)
            .map(|t| t.id)
            .collect();
        let claimed_count = tickets.iter().filter(|t| t.status == Status::Claimed).count();
        Ok(QueueActor {
            store,
            clock,
            max_active,
            tickets: tickets.into_iter().map(|t| (t.id, t)).collect(),
            open,
            claimed_count,
            feedback: feedback.into_iter().map(|f| (f.ticket, f)).collect(),
            settings,
            announcements,
            next_ticket,
            next_announcement,
            mentor_seen: HashMap::new(),
        })
    }

    /// Notes that a mentor acted now (the presence approximation).
    fn saw(&mut self, by: &Person) {
        if by.roles.has(Role::Mentor) {
            self.mentor_seen.insert(by.id, self.clock.now());
        }
    }

    fn mentors_online(&self) -> usize {
        let since = self.clock.now() - chrono::Duration::minutes(PRESENCE_WINDOW_MINUTES);
        self.mentor_seen.values().filter(|t| **t > since).count()
    }

    /// The mean service time over the most recently closed tickets.
    fn service_seconds(&self) -> f64 {
        let mut closed: Vec<&Ticket> = self
            .tickets
            .values()
            .rev()
            .filter(|t| t.service_seconds().is_some())
            .take(crate::domain::queue::SERVICE_SAMPLE * 4)
            .collect();
        closed.sort_by_key(|t| std::cmp::Reverse(t.closed));
        service_seconds(closed.into_iter())
    }

    fn wait_at(&self, position: usize) -> Option<f64> {
        estimate_wait(
            position,
            self.claimed_count,
            self.mentors_online(),
            self.service_seconds(),
        )
    }

    fn view(&self, ticket: &Ticket) -> TicketView {
        let position = (ticket.status == Status::Open).then(|| self.open.range(..ticket.id).count() + 1);
        TicketView {
            ticket: ticket.clone(),
            position,
            estimated_wait_seconds: position.and_then(|p| self.wait_at(p)),
        }
    }

    fn summary(&self) -> QueueSummary {
        QueueSummary {
            settings: self.settings.clone(),
            open_count: self.open.len(),
            claimed_count: self.claimed_count,
            mentors_online: self.mentors_online(),
            estimated_wait_seconds: self.wait_at(self.open.len() + 1),
        }
    }

    fn visible(&self, id: TicketId, by: &Person) -> Result<&Ticket, QueueError> {
        self.tickets
            .get(&id)
            .filter(|t| t.visible_to(by.id, by.roles))
            .ok_or(QueueError::NotFound)
    }

    /// Replaces a ticket in memory, keeping the derived sets right.
    fn put_ticket(&mut self, ticket: Ticket) {
        if let Some(old) = self.tickets.get(&ticket.id) {
            if old.status == Status::Claimed {
                self.claimed_count -= 1;
            }
        }
        if ticket.status == Status::Claimed {
            self.claimed_count += 1;
        }
        if ticket.status == Status::Open {
            self.open.insert(ticket.id);
        } else {
            self.open.remove(&ticket.id);
        }
        self.tickets.insert(ticket.id, ticket);
    }
}

impl Actor for QueueActor {
    type Context = Context<Self>;
}

/// Answers at once; for readiness checks.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping;

impl Handler<Ping> for QueueActor {
    type Result = ();
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}

#[derive(Message)]
#[rtype(result = "Result<TicketView, QueueError>")]
pub struct OpenTicket {
    pub by: Person,
    pub new: NewTicket,
}

impl Handler<OpenTicket> for QueueActor {
    type Result = Reply<TicketView, QueueError>;

    fn handle(&mut self, msg: OpenTicket, _: &mut Context<Self>) -> Self::Result {
        self.saw(&msg.by);
        if !self.settings.open {
            let message = &self.settings.message;
            let detail = if message.is_empty() {
                ".".to_string()
            } else {
                format!(": {message}")
            };
            return after_barrier(&self.store, Err(QueueError::QueueClosed(detail)));
        }
        let active = self
            .tickets
            .values()
            .filter(|t| t.owner == msg.by.id && t.status.is_active())
            .count();
        if active >= self.max_active as usize {
            return after_barrier(&self.store, Err(QueueError::TooManyActive(self.max_active)));
        }
        let now = self.clock.now();
        let ticket = msg.new.into_ticket(TicketId(self.next_ticket), &msg.by, now);
        let mut batch = Batch::new();
        batch
            .put(&ticket)
            .meta(NEXT_TICKET, &(ticket.id.0 + 1))
            .event(EventBody::TicketCreated(ticket.clone()));
        commit_then(self.store.clone(), batch, now, |_| {
            self.next_ticket += 1;
            self.put_ticket(ticket.clone());
            self.view(&ticket)
        })
    }
}

/// Tickets the viewer may see, in creation order.
#[derive(Message)]
#[rtype(result = "Vec<TicketView>")]
pub struct ListTickets {
    pub by: Person,
    /// Only these statuses (all when `None`).
    pub statuses: Option<Vec<Status>>,
    /// Only tickets the viewer owns.
    pub mine: bool,
}

impl Handler<ListTickets> for QueueActor {
    type Result = MessageResult<ListTickets>;

    fn handle(&mut self, msg: ListTickets, _: &mut Context<Self>) -> Self::Result {
        self.saw(&msg.by);
        let staff = msg.by.roles.is_staff();
        let (service, mentors) = (self.service_seconds(), self.mentors_online());
        let mut position = 0;
        let mut views = Vec::new();
        for t in self.tickets.values() {
            if t.status == Status::Open {
                position += 1;
            }
            let wanted = (staff && !msg.mine) || t.owner == msg.by.id;
            let status_ok = msg.statuses.as_ref().is_none_or(|s| s.contains(&t.status));
            if wanted && status_ok {
                let position = (t.status == Status::Open).then_some(position);
                views.push(TicketView {
                    ticket: t.clone(),
                    position,
                    estimated_wait_seconds: position
                        .and_then(|p| estimate_wait(p, self.claimed_count, mentors, service)),
                });
            }
        }
        MessageResult(views)
    }
}

#[derive(Message)]
#[rtype(result = "Result<TicketView, QueueError>")]
pub struct GetTicket {
    pub by: Person,
    pub id: TicketId,
}

impl Handler<GetTicket> for QueueActor {
    type Result = Result<TicketView, QueueError>;

    fn handle(&mut self, msg: GetTicket, _: &mut Context<Self>) -> Self::Result {
        self.saw(&msg.by);
        let ticket = self.visible(msg.id, &msg.by)?;
        Ok(self.view(ticket))
    }
}

#[derive(Message)]
#[rtype(result = "Result<TicketView, QueueError>")]
pub struct ChangeTicket {
    pub by: Person,
    pub id: TicketId,
    pub change: TicketChange,
}

impl Handler<ChangeTicket> for QueueActor {
    type Result = Reply<TicketView, QueueError>;

    fn handle(&mut self, msg: ChangeTicket, _: &mut Context<Self>) -> Self::Result {
        self.saw(&msg.by);
        let now = self.clock.now();
        let applied = self
            .visible(msg.id, &msg.by)
            .and_then(|t| Ok(apply_change(t, &msg.by, &msg.change, now)?));
        let applied = match applied {
            Ok(applied) => applied,
            Err(e) => return after_barrier(&self.store, Err(e)),
        };
        if !applied.changed {
            let view = self.view(&applied.ticket);
            return after_barrier(&self.store, Ok(view));
        }
        let ticket = applied.ticket;
        let mut batch = Batch::new();
        batch.put(&ticket).event(EventBody::TicketUpdated(ticket.clone()));
        commit_then(self.store.clone(), batch, now, |_| {
            self.put_ticket(ticket.clone());
            self.view(&ticket)
        })
    }
}

#[derive(Message)]
#[rtype(result = "QueueSummary")]
pub struct GetQueue {
    pub by: Person,
}

impl Handler<GetQueue> for QueueActor {
    type Result = MessageResult<GetQueue>;

    fn handle(&mut self, msg: GetQueue, _: &mut Context<Self>) -> Self::Result {
        self.saw(&msg.by);
        MessageResult(self.summary())
    }
}

/// Opens or closes the queue and sets its message (managers).
#[derive(Message)]
#[rtype(result = "Result<QueueSummary, QueueError>")]
pub struct SetQueue {
    pub by: Person,
    pub settings: QueueSettings,
}

impl Handler<SetQueue> for QueueActor {
    type Result = Reply<QueueSummary, QueueError>;

    fn handle(&mut self, msg: SetQueue, _: &mut Context<Self>) -> Self::Result {
        if !msg.by.roles.is_manager() {
            return after_barrier(
                &self.store,
                Err(QueueError::PermissionDenied(
                    "Only organizers and directors may change the queue.",
                )),
            );
        }
        if msg.settings == self.settings {
            return after_barrier(&self.store, Ok(self.summary()));
        }
        let mut batch = Batch::new();
        batch
            .meta(SETTINGS, &msg.settings)
            .event(EventBody::QueueUpdated(msg.settings.clone()));
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.settings = msg.settings;
            self.summary()
        })
    }
}

/// Posts an announcement to everyone (managers).
#[derive(Message)]
#[rtype(result = "Result<Announcement, QueueError>")]
pub struct PostAnnouncement {
    pub by: Person,
    pub text: String,
}

impl Handler<PostAnnouncement> for QueueActor {
    type Result = Reply<Announcement, QueueError>;

    fn handle(&mut self, msg: PostAnnouncement, _: &mut Context<Self>) -> Self::Result {
        if !msg.by.roles.is_manager() {
            return after_barrier(
                &self.store,
                Err(QueueError::PermissionDenied(
                    "Only organizers and directors may post announcements.",
                )),
            );
        }
        let now = self.clock.now();
        let announcement = Announcement {
            id: self.next_announcement,
            text: msg.text,
            author: msg.by.name.clone(),
            author_id: msg.by.id,
            created: now,
        };
        let mut batch = Batch::new();
        batch
            .put(&announcement)
            .meta(NEXT_ANNOUNCEMENT, &(announcement.id + 1))
            .event(EventBody::AnnouncementPosted(announcement.clone()));
        commit_then(self.store.clone(), batch, now, |_| {
            self.next_announcement += 1;
            self.announcements.push(announcement.clone());
            announcement
        })
    }
}

/// The latest announcements, newest first.
#[derive(Message)]
#[rtype(result = "Vec<Announcement>")]
pub struct ListAnnouncements;

impl Handler<ListAnnouncements> for QueueActor {
    type Result = MessageResult<ListAnnouncements>;

    fn handle(&mut self, _: ListAnnouncements, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.announcements
                .iter()
                .rev()
                .take(ANNOUNCEMENTS_SHOWN)
                .cloned()
                .collect(),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<Feedback, QueueError>")]
pub struct GiveFeedback {
    pub by: Person,
    pub new: NewFeedback,
}

impl Handler<GiveFeedback> for QueueActor {
    type Result = Reply<Feedback, QueueError>;

    fn handle(&mut self, msg: GiveFeedback, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let Some(ticket) = self.tickets.get(&msg.new.ticket) else {
            return after_barrier(&self.store, Err(QueueError::NotFound));
        };
        let feedback = match give_feedback(ticket, msg.by.id, msg.new, now) {
            Ok(f) => f,
            Err(FeedbackError::NotFound) => return after_barrier(&self.store, Err(QueueError::NotFound)),
            Err(e) => return after_barrier(&self.store, Err(e.into())),
        };
        let mut ticket = ticket.clone();
        ticket.has_feedback = true;
        let mut batch = Batch::new();
        batch
            .put(&feedback)
            .put(&ticket)
            .event(EventBody::FeedbackCreated(feedback.clone()))
            .event(EventBody::TicketUpdated(ticket.clone()));
        commit_then(self.store.clone(), batch, now, |_| {
            self.put_ticket(ticket);
            self.feedback.insert(feedback.ticket, feedback.clone());
            feedback
        })
    }
}

/// Feedback the viewer may see: managers all, anyone else on their own tickets.
#[derive(Message)]
#[rtype(result = "Vec<Feedback>")]
pub struct ListFeedback {
    pub by: Person,
}

impl Handler<ListFeedback> for QueueActor {
    type Result = MessageResult<ListFeedback>;

    fn handle(&mut self, msg: ListFeedback, _: &mut Context<Self>) -> Self::Result {
        let manager = msg.by.roles.is_manager();
        MessageResult(
            self.feedback
                .values()
                .filter(|f| manager || f.owner == msg.by.id)
                .cloned()
                .collect(),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<Feedback, QueueError>")]
pub struct GetFeedback {
    pub by: Person,
    pub ticket: TicketId,
}

impl Handler<GetFeedback> for QueueActor {
    type Result = Result<Feedback, QueueError>;

    fn handle(&mut self, msg: GetFeedback, _: &mut Context<Self>) -> Self::Result {
        self.feedback
            .get(&msg.ticket)
            .filter(|f| msg.by.roles.is_manager() || f.owner == msg.by.id)
            .cloned()
            .ok_or(QueueError::NotFound)
    }
}

#[derive(Message)]
#[rtype(result = "Vec<LeaderboardRow>")]
pub struct GetLeaderboard {
    pub limit: usize,
}

impl Handler<GetLeaderboard> for QueueActor {
    type Result = MessageResult<GetLeaderboard>;

    fn handle(&mut self, msg: GetLeaderboard, _: &mut Context<Self>) -> Self::Result {
        MessageResult(leaderboard(self.feedback.values(), msg.limit))
    }
}

#[derive(Message)]
#[rtype(result = "Result<Stats, QueueError>")]
pub struct GetStats {
    pub by: Person,
}

impl Handler<GetStats> for QueueActor {
    type Result = Result<Stats, QueueError>;

    fn handle(&mut self, msg: GetStats, _: &mut Context<Self>) -> Self::Result {
        if !msg.by.roles.is_manager() {
            return Err(QueueError::PermissionDenied(
                "Only organizers and directors may see statistics.",
            ));
        }
        Ok(stats(self.tickets.values(), self.feedback.values()))
    }
}
