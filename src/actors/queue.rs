//! `QueueActor`: the only writer of tickets, feedback, the queue's settings and
//! announcements.
//!
//! Everything is kept in memory (loaded at start), so reads never touch the disk.
//! Positions in the queue are derived from the set of OPEN tickets, ordered by id
//! (ids are handed out in creation order, and an unclaimed ticket keeps its id and so
//! its original place).

use super::{after_barrier, commit_then, next_id, Reply};
use crate::clock::SharedClock;
use crate::domain::board::{Board, TicketView};
use crate::domain::event::EventBody;
use crate::domain::feedback::{
    correct_feedback, give_feedback, Feedback, FeedbackCorrection, FeedbackError, NewFeedback,
};
pub use crate::domain::queue::QueueSummary;
use crate::domain::queue::{leaderboard, stats, Announcement, LeaderboardRow, QueueSettings, Stats};
use crate::domain::ticket::{apply_change, NewTicket, Person, Status, Ticket, TicketChange, TicketError};
use crate::domain::{TicketId, Timestamp};
use crate::store::{Batch, Store, StoreError};
use actix::prelude::*;
use std::collections::{BTreeMap, HashMap};

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

pub struct QueueActor {
    store: Store,
    clock: SharedClock,
    max_active: u32,
    board: Board,
    feedback: BTreeMap<TicketId, Feedback>,
    settings: QueueSettings,
    announcements: Vec<Announcement>,
    next_ticket: u64,
    next_announcement: u64,
    /// Mentors with a live connection, as counted by the real-time Hub.
    mentors_online: usize,
}

const NEXT_TICKET: &str = "next_id.tickets";
const NEXT_ANNOUNCEMENT: &str = "next_id.announcements";
/// Where the queue's settings are kept in the meta tree.
pub const SETTINGS: &str = "queue.settings";
/// How many announcements `GET /api/announcements/` returns.
pub const ANNOUNCEMENTS_SHOWN: usize = 50;

impl QueueActor {
    pub fn load(store: Store, clock: SharedClock, max_active: u32) -> Result<QueueActor, StoreError> {
        // Reads by this actor wait only for its own changes to be durable.
        let store = store.for_writer();
        let tickets: Vec<Ticket> = store.load_all()?;
        let feedback: Vec<Feedback> = store.load_all()?;
        let announcements: Vec<Announcement> = store.load_all()?;
        let next_ticket = next_id(&store, NEXT_TICKET, tickets.last().map(|t| t.id.0))?;
        let next_announcement = next_id(&store, NEXT_ANNOUNCEMENT, announcements.last().map(|a| a.id))?;
        let settings = store.meta(SETTINGS)?.unwrap_or_default();
        Ok(QueueActor {
            store,
            clock,
            max_active,
            board: Board::new(tickets),
            feedback: feedback.into_iter().map(|f| (f.ticket, f)).collect(),
            settings,
            announcements,
            next_ticket,
            next_announcement,
            mentors_online: 0,
        })
    }

    /// What the real-time projection starts from: every ticket, the settings and the
    /// announcements (oldest first), as loaded.
    pub fn projection_seed(&self) -> (Vec<Ticket>, QueueSettings, Vec<Announcement>) {
        (
            self.board.tickets().cloned().collect(),
            self.settings.clone(),
            self.announcements.clone(),
        )
    }

    fn view(&self, ticket: &Ticket) -> TicketView {
        self.board.view(ticket, self.mentors_online)
    }

    fn summary(&self) -> QueueSummary {
        QueueSummary::of(&self.board, &self.settings, self.mentors_online)
    }

    fn visible(&self, id: TicketId, by: &Person) -> Result<&Ticket, QueueError> {
        self.board
            .get(id)
            .filter(|t| t.visible_to(by.id, by.roles))
            .ok_or(QueueError::NotFound)
    }

    /// Commits a changed ticket with its event, the ticket's view computed as it will
    /// be once the change applies.
    fn commit_ticket(
        &mut self,
        ticket: Ticket,
        created: bool,
        mut batch: Batch,
        now: Timestamp,
    ) -> Reply<TicketView, QueueError> {
        let view = self.board.view_if_put(&ticket, self.mentors_online);
        let body = if created {
            EventBody::TicketCreated(view.clone())
        } else {
            EventBody::TicketUpdated(view.clone())
        };
        batch.put(&ticket).event(body);
        commit_then(self.store.clone(), batch, now, |_| {
            self.board.put(ticket);
            view
        })
    }
}

super::settled_reads!(QueueActor);

impl Actor for QueueActor {
    type Context = Context<Self>;
}

/// How many mentors are online now (sent by the real-time Hub when it changes).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMentorsOnline(pub usize);

impl Handler<SetMentorsOnline> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: SetMentorsOnline, _: &mut Context<Self>) {
        self.mentors_online = msg.0;
    }
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
        if !self.settings.open {
            let message = &self.settings.message;
            let detail = if message.is_empty() {
                ".".to_string()
            } else {
                format!(": {message}")
            };
            return after_barrier(&self.store, Err(QueueError::QueueClosed(detail)));
        }
        let active = self.board.active_count_of(msg.by.id);
        if active >= self.max_active as usize {
            return after_barrier(&self.store, Err(QueueError::TooManyActive(self.max_active)));
        }
        let now = self.clock.now();
        let ticket = msg.new.into_ticket(TicketId(self.next_ticket), &msg.by, now);
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        batch.meta(NEXT_TICKET, &(ticket.id.0 + 1));
        // Taken even if the commit fails: ids may skip, never repeat.
        self.next_ticket += 1;
        self.commit_ticket(ticket, true, batch, now)
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
        let staff = msg.by.roles.is_staff();
        let wanted = |t: &&Ticket| {
            ((staff && !msg.mine) || t.owner == msg.by.id)
                && msg.statuses.as_ref().is_none_or(|s| s.contains(&t.status))
        };
        // Positions are computed once for all OPEN tickets, not once per ticket.
        let positions: HashMap<TicketId, (usize, Option<f64>)> = self
            .board
            .open_positions(self.mentors_online)
            .into_iter()
            .map(|(id, _, position, wait)| (id, (position, wait)))
            .collect();
        let views = self
            .board
            .tickets()
            .filter(wanted)
            .map(|t| {
                let (position, wait) = positions.get(&t.id).copied().unzip();
                TicketView {
                    ticket: t.clone(),
                    position,
                    estimated_wait_seconds: wait.flatten(),
                }
            })
            .collect();
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
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        self.commit_ticket(applied.ticket, false, batch, now)
    }
}

#[derive(Message)]
#[rtype(result = "QueueSummary")]
pub struct GetQueue;

/// How many tickets are in each status (for `/metrics`: counted, nothing sorted).
#[derive(Message)]
#[rtype(result = "Vec<(Status, usize)>")]
pub struct CountTickets;

impl Handler<CountTickets> for QueueActor {
    type Result = MessageResult<CountTickets>;

    fn handle(&mut self, _: CountTickets, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.board.status_counts())
    }
}

impl Handler<GetQueue> for QueueActor {
    type Result = MessageResult<GetQueue>;

    fn handle(&mut self, _: GetQueue, _: &mut Context<Self>) -> Self::Result {
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
        batch.by(msg.by.id);
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
        batch.by(msg.by.id);
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
        let Some(ticket) = self.board.get(msg.new.ticket) else {
            return after_barrier(&self.store, Err(QueueError::NotFound));
        };
        let feedback = match give_feedback(ticket, msg.by.id, msg.new, now) {
            Ok(f) => f,
            Err(FeedbackError::NotFound) => return after_barrier(&self.store, Err(QueueError::NotFound)),
            Err(e) => return after_barrier(&self.store, Err(e.into())),
        };
        let mut ticket = ticket.clone();
        ticket.has_feedback = true;
        let view = self.board.view_if_put(&ticket, self.mentors_online);
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        batch
            .put(&feedback)
            .put(&ticket)
            .event(EventBody::FeedbackCreated(feedback.clone()))
            .event(EventBody::TicketUpdated(view));
        commit_then(self.store.clone(), batch, now, |_| {
            self.board.put(ticket);
            self.feedback.insert(feedback.ticket, feedback.clone());
            feedback
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Feedback, QueueError>")]
pub struct CorrectFeedback {
    pub by: Person,
    pub ticket: TicketId,
    pub correction: FeedbackCorrection,
}

impl Handler<CorrectFeedback> for QueueActor {
    type Result = Reply<Feedback, QueueError>;

    fn handle(&mut self, msg: CorrectFeedback, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let Some(feedback) = self.feedback.get(&msg.ticket) else {
            return after_barrier(&self.store, Err(QueueError::NotFound));
        };
        let corrected = match correct_feedback(feedback, msg.by.id, msg.by.roles, msg.correction, now) {
            Ok(f) => f,
            Err(FeedbackError::NotFound) => return after_barrier(&self.store, Err(QueueError::NotFound)),
            Err(e) => return after_barrier(&self.store, Err(e.into())),
        };
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        batch
            .put(&corrected)
            .event(EventBody::FeedbackUpdated(corrected.clone()));
        commit_then(self.store.clone(), batch, now, |_| {
            self.feedback.insert(corrected.ticket, corrected.clone());
            corrected
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
pub struct GetStats;

impl Handler<GetStats> for QueueActor {
    type Result = Result<Stats, QueueError>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        // Everyone may read them; what a non-manager is shown is the handler's choice.
        Ok(stats(self.board.tickets(), self.feedback.values()))
    }
}
