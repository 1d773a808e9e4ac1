//! `QueueActor`: the only writer of tickets, feedback, the queues and announcements.
//!
//! Everything is kept in memory (loaded at start), so reads never touch the disk.
//! Positions in a queue are derived from its set of OPEN tickets, ordered by id (ids
//! are handed out in creation order, and an unclaimed ticket keeps its id and so its
//! original place).
//!
//! It keeps a [`Capacity`] of the mentors (connections from the Hub, staffing and
//! confirmed sessions from the `SessionActor`), evaluated at its clock's `now` for
//! every estimate, and releases the claims of mentors who showed no sign of life for
//! `queue.claim_release_seconds`: before handling any message (so a test that moves a
//! manual clock sees the release on its next request) and on a one-second tick.

use super::capacity::{MentorConnection, SignOfLife, StaffingChanged};
use super::{after_barrier, commit_then, next_id, Reply};
use crate::clock::SharedClock;
use crate::domain::board::{Board, TicketView};
use crate::domain::capacity::{claim_lapses_at, Available, Capacity, MentorStatus, Staffing};
use crate::domain::event::EventBody;
use crate::domain::feedback::{
    correct_feedback, give_feedback, Feedback, FeedbackCorrection, FeedbackError, NewFeedback,
};
pub use crate::domain::queue::QueueSummary;
use crate::domain::queue::{
    blank_queue, cooldown_until, leaderboard, stats, Announcement, LeaderboardRow, Queue, QueueFields,
    QueueRuleError, QueueSettings, Stats, FIRST_QUEUE,
};
use crate::domain::ticket::{
    apply_change, release_stale_claim, NewTicket, Person, Status, Ticket, TicketChange, TicketError,
};
use crate::domain::validate::FieldErrors;
use crate::domain::{QueueId, TicketId, Timestamp, UserId};
use crate::store::{Batch, Store, StoreError};
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("No such ticket.")]
    NotFound,
    #[error("No such queue.")]
    NoSuchQueue,
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error("{0}")]
    QueueClosed(String),
    #[error("You already have {0} active ticket(s); close or cancel one first.")]
    TooManyActive(u32),
    #[error("Your last ticket in this queue was closed moments ago; you can open another in {0} seconds.")]
    Cooldown(u64),
    #[error("Some fields are not valid.")]
    Validation(FieldErrors),
    #[error(transparent)]
    Rule(#[from] QueueRuleError),
    #[error(transparent)]
    Feedback(#[from] FeedbackError),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// How the queues behave (from `[queue]` in the config).
#[derive(Clone, Copy, Debug)]
pub struct QueueRules {
    pub max_active: u32,
    /// Seconds without a sign of life after which a mentor's claims are released;
    /// 0 = never.
    pub claim_release_seconds: u64,
}

pub struct QueueActor {
    store: Store,
    clock: SharedClock,
    rules: QueueRules,
    board: Board,
    feedback: BTreeMap<TicketId, Feedback>,
    queues: BTreeMap<QueueId, Queue>,
    announcements: Vec<Announcement>,
    next_ticket: u64,
    next_announcement: u64,
    next_queue: u64,
    capacity: Capacity,
    /// Each mentor's last sign of life: their last authenticated request or the end of
    /// their last connection, whichever is later.
    last_sign: HashMap<UserId, Timestamp>,
    /// When this actor started: nobody's claim lapses earlier than the timeout after it.
    started: Timestamp,
    /// The earliest moment a claim may lapse, as last computed (`None`: no claim can).
    next_release: Option<Timestamp>,
}

const NEXT_TICKET: &str = "next_id.tickets";
const NEXT_ANNOUNCEMENT: &str = "next_id.announcements";
const NEXT_QUEUE: &str = "next_id.queues";
/// Where the first release kept its one queue's settings in the meta tree.
pub const SETTINGS: &str = "queue.settings";
/// How many announcements `GET /api/announcements/` returns.
pub const ANNOUNCEMENTS_SHOWN: usize = 50;
/// How often lapsed claims are looked for when no message arrives.
const RELEASE_TICK: std::time::Duration = std::time::Duration::from_secs(1);

impl QueueActor {
    pub fn load(
        store: Store,
        clock: SharedClock,
        rules: QueueRules,
        staffing: Vec<(UserId, Staffing)>,
    ) -> Result<QueueActor, StoreError> {
        // Reads by this actor wait only for its own changes to be durable.
        let store = store.for_writer();
        let tickets: Vec<Ticket> = store.load_all()?;
        let feedback: Vec<Feedback> = store.load_all()?;
        let announcements: Vec<Announcement> = store.load_all()?;
        let mut queues: BTreeMap<QueueId, Queue> = store
            .load_all::<Queue>()?
            .into_iter()
            .map(|q| (q.id, q))
            .collect();
        if let std::collections::btree_map::Entry::Vacant(slot) = queues.entry(FIRST_QUEUE) {
            // A new store, or one the first release wrote: queue 1 from its settings.
            let settings: QueueSettings = store.meta(SETTINGS)?.unwrap_or_default();
            slot.insert(Queue::first(settings));
        }
        let next_ticket = next_id(&store, NEXT_TICKET, tickets.last().map(|t| t.id.0))?;
        let next_announcement = next_id(&store, NEXT_ANNOUNCEMENT, announcements.last().map(|a| a.id))?;
        let next_queue = next_id(&store, NEXT_QUEUE, queues.keys().last().map(|q| q.0))?;
        let started = clock.now();
        let mut actor = QueueActor {
            store,
            clock,
            rules,
            board: Board::new(tickets),
            feedback: feedback.into_iter().map(|f| (f.ticket, f)).collect(),
            queues,
            announcements,
            next_ticket,
            next_announcement,
            next_queue,
            capacity: Capacity::new(staffing),
            last_sign: HashMap::new(),
            started,
            next_release: None,
        };
        actor.plan_releases();
        Ok(actor)
    }

    /// What the real-time projection starts from: every ticket, every queue and the
    /// announcements (oldest first), as loaded.
    pub fn projection_seed(&self) -> (Vec<Ticket>, Vec<Queue>, Vec<Announcement>) {
        (
            self.board.tickets().cloned().collect(),
            self.queues.values().cloned().collect(),
            self.announcements.clone(),
        )
    }

    fn available(&self) -> Available {
        self.capacity.available(self.clock.now())
    }

    fn view(&self, ticket: &Ticket) -> TicketView {
        self.board.view(ticket, &self.available())
    }

    fn summary(&self, queue: &Queue) -> QueueSummary {
        QueueSummary::of(&self.board, queue, &self.available())
    }

    fn visible(&self, id: TicketId, by: &Person) -> Result<&Ticket, QueueError> {
        self.board
            .get(id)
            .filter(|t| t.visible_to(by.id, by.roles))
            .ok_or(QueueError::NotFound)
    }

    fn managers_only(by: &Person, what: &'static str) -> Result<(), QueueError> {
        if by.roles.is_manager() {
            Ok(())
        } else {
            Err(QueueError::PermissionDenied(what))
        }
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
        let view = self.board.view_if_put(&ticket, &self.available());
        let body = if created {
            EventBody::TicketCreated(view.clone())
        } else {
            EventBody::TicketUpdated(view.clone())
        };
        batch.put(&ticket).event(body);
        commit_then(self.store.clone(), batch, now, |_| {
            self.board.put(ticket);
            self.plan_releases();
            view
        })
    }

    /// A mentor's last sign of life (never before this actor started).
    fn last_sign_of(&self, mentor: UserId) -> Timestamp {
        self.last_sign
            .get(&mentor)
            .copied()
            .unwrap_or(self.started)
            .max(self.started)
    }

    /// When the claim on `ticket` lapses, if it can.
    fn lapses_at(&self, ticket: &Ticket) -> Option<Timestamp> {
        let mentor = ticket.mentor.as_ref()?.id;
        claim_lapses_at(
            self.capacity.is_connected(mentor),
            self.last_sign_of(mentor),
            self.rules.claim_release_seconds,
        )
    }

    /// Recomputes the earliest moment a claim may lapse (after a claim, a sign of
    /// life or a connection changed).
    fn plan_releases(&mut self) {
        self.next_release = self.board.claimed().filter_map(|t| self.lapses_at(t)).min();
    }

    /// Releases every claim that has lapsed by now: back to OPEN at its original place,
    /// with its `ticket.updated` event, made by time (nobody waits for the commit).
    fn release_lapsed(&mut self) {
        let now = self.clock.now();
        if self.next_release.is_none_or(|t| t > now) {
            return;
        }
        let lapsed: Vec<Ticket> = self
            .board
            .claimed()
            .filter(|t| self.lapses_at(t).is_some_and(|at| at <= now))
            .filter_map(release_stale_claim)
            .collect();
        for ticket in lapsed {
            let view = self.board.view_if_put(&ticket, &self.available());
            let mut batch = Batch::new();
            batch.put(&ticket).event(EventBody::TicketUpdated(view));
            match self.store.commit(batch, now) {
                Ok(_) => {
                    tracing::info!(ticket = %ticket.id, "released a stale claim");
                    self.board.put(ticket);
                }
                Err(error) => tracing::error!(%error, ticket = %ticket.id, "could not release a stale claim"),
            }
        }
        self.plan_releases();
    }

    fn queue(&self, id: QueueId) -> Result<&Queue, QueueError> {
        self.queues.get(&id).ok_or(QueueError::NoSuchQueue)
    }

    /// Commits a new or changed queue with its event.
    fn commit_queue(&mut self, queue: Queue, created: bool, by: &Person) -> Reply<QueueSummary, QueueError> {
        let mut batch = Batch::new();
        batch.by(by.id);
        batch.put(&queue);
        if created {
            batch.meta(NEXT_QUEUE, &(queue.id.0 + 1));
            batch.event(EventBody::QueueCreated(queue.clone()));
        } else {
            batch.event(EventBody::QueueUpdated(queue.clone()));
        }
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            let summary = self.summary(&queue);
            self.queues.insert(queue.id, queue);
            summary
        })
    }
}

super::settled_reads!(QueueActor);

impl Actor for QueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(RELEASE_TICK, |actor, _| actor.release_lapsed());
    }
}

/// Every message that reads or changes tickets first releases lapsed claims.
macro_rules! release_first {
    ($self:ident) => {
        $self.release_lapsed();
    };
}

impl Handler<MentorConnection> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: MentorConnection, _: &mut Context<Self>) {
        release_first!(self);
        self.capacity.set_connected(msg.user, msg.connected);
        if !msg.connected {
            let sign = self.last_sign.entry(msg.user).or_insert(msg.at);
            *sign = (*sign).max(msg.at);
        }
        self.plan_releases();
    }
}

impl Handler<StaffingChanged> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: StaffingChanged, _: &mut Context<Self>) {
        self.capacity.set_staffing(msg.user, msg.staffing);
    }
}

impl Handler<SignOfLife> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: SignOfLife, _: &mut Context<Self>) {
        let now = self.clock.now();
        let sign = self.last_sign.entry(msg.0).or_insert(now);
        *sign = (*sign).max(now);
        if self
            .board
            .claimed()
            .any(|t| t.mentor.as_ref().is_some_and(|m| m.id == msg.0))
        {
            self.plan_releases();
        }
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

impl QueueActor {
    /// The rules a new ticket must pass before it is made: its queue exists and takes
    /// tickets, its tags are the queue's, the caller's limit and cooldown.
    fn admit(&self, by: &Person, new: &mut NewTicket) -> Result<(), QueueError> {
        let Some(queue) = self.queues.get(&new.queue) else {
            let mut errors = FieldErrors::new();
            errors.add("queue", format!("there is no queue {}", new.queue));
            return Err(QueueError::Validation(errors));
        };
        new.tags = queue.match_tags(&new.tags).map_err(QueueError::Validation)?;
        if let Some(why) = queue.refuses_tickets() {
            return Err(QueueError::QueueClosed(why));
        }
        let active = self.board.active_count_of(by.id);
        if active >= self.rules.max_active as usize {
            return Err(QueueError::TooManyActive(self.rules.max_active));
        }
        if !by.roles.is_manager() {
            let now = self.clock.now();
            if let Some(until) = cooldown_until(queue, self.board.owned_by(by.id), now) {
                let seconds = (until - now).num_milliseconds().max(1);
                return Err(QueueError::Cooldown(((seconds + 999) / 1000) as u64));
            }
        }
        Ok(())
    }
}

impl Handler<OpenTicket> for QueueActor {
    type Result = Reply<TicketView, QueueError>;

    fn handle(&mut self, msg: OpenTicket, _: &mut Context<Self>) -> Self::Result {
        release_first!(self);
        let mut new = msg.new;
        if let Err(e) = self.admit(&msg.by, &mut new) {
            return after_barrier(&self.store, Err(e));
        }
        let now = self.clock.now();
        let ticket = new.into_ticket(TicketId(self.next_ticket), &msg.by, now);
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
    /// Only tickets of this queue.
    pub queue: Option<QueueId>,
    /// Only tickets with any of these tags (case-insensitive); all when empty.
    pub tags: Vec<String>,
}

impl Handler<ListTickets> for QueueActor {
    type Result = MessageResult<ListTickets>;

    fn handle(&mut self, msg: ListTickets, _: &mut Context<Self>) -> Self::Result {
        release_first!(self);
        let by = &msg.by;
        let staff = by.roles.is_staff();
        let wanted = |t: &&Ticket| {
            ((staff && !msg.mine) || t.owner == by.id)
                && msg.statuses.as_ref().is_none_or(|s| s.contains(&t.status))
                && msg.queue.is_none_or(|q| t.queue == q)
                && (msg.tags.is_empty()
                    || t.tags
                        .iter()
                        .any(|tag| msg.tags.iter().any(|w| w.trim().eq_ignore_ascii_case(tag))))
        };
        // Each listed ticket's place is found in O(log n) (`domain::rank`), so a list
        // costs what it lists, not the length of every line.
        let available = self.available();
        let views = self
            .board
            .tickets()
            .filter(wanted)
            .map(|t| self.board.view(t, &available))
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
        release_first!(self);
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
        release_first!(self);
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

/// How many tickets are in each status in each queue, every pair listed (for
/// `/metrics`: counted, nothing sorted).
#[derive(Message)]
#[rtype(result = "Vec<(QueueId, Status, usize)>")]
pub struct CountTickets;

impl Handler<CountTickets> for QueueActor {
    type Result = MessageResult<CountTickets>;

    fn handle(&mut self, _: CountTickets, _: &mut Context<Self>) -> Self::Result {
        let counted = self.board.status_counts();
        MessageResult(
            self.queues
                .keys()
                .flat_map(|q| Status::ALL.iter().map(move |s| (*q, *s)))
                .map(|(q, s)| (q, s, counted.get(&(q, s)).copied().unwrap_or(0)))
                .collect(),
        )
    }
}

/// One queue as a whole (queue 1 for `GET /api/queue/`).
#[derive(Message)]
#[rtype(result = "Result<QueueSummary, QueueError>")]
pub struct GetQueue(pub QueueId);

impl Handler<GetQueue> for QueueActor {
    type Result = Result<QueueSummary, QueueError>;

    fn handle(&mut self, msg: GetQueue, _: &mut Context<Self>) -> Self::Result {
        release_first!(self);
        Ok(self.summary(self.queue(msg.0)?))
    }
}

/// Every queue not archived (with `archived`, those too), by id.
#[derive(Message)]
#[rtype(result = "Vec<QueueSummary>")]
pub struct ListQueues {
    pub archived: bool,
}

impl Handler<ListQueues> for QueueActor {
    type Result = MessageResult<ListQueues>;

    fn handle(&mut self, msg: ListQueues, _: &mut Context<Self>) -> Self::Result {
        release_first!(self);
        let available = self.available();
        MessageResult(
            self.queues
                .values()
                .filter(|q| msg.archived || !q.archived)
                .map(|q| QueueSummary::of(&self.board, q, &available))
                .collect(),
        )
    }
}

/// The ids of every queue, archived ones too (to check ids a client names).
#[derive(Message)]
#[rtype(result = "BTreeSet<QueueId>")]
pub struct QueueIds;

impl Handler<QueueIds> for QueueActor {
    type Result = MessageResult<QueueIds>;

    fn handle(&mut self, _: QueueIds, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.queues.keys().copied().collect())
    }
}

/// Creates a queue (managers).
#[derive(Message)]
#[rtype(result = "Result<QueueSummary, QueueError>")]
pub struct CreateQueue {
    pub by: Person,
    pub fields: QueueFields,
}

impl Handler<CreateQueue> for QueueActor {
    type Result = Reply<QueueSummary, QueueError>;

    fn handle(&mut self, msg: CreateQueue, _: &mut Context<Self>) -> Self::Result {
        let made =
            Self::managers_only(&msg.by, "Only organizers and directors may create queues.").and_then(|()| {
                let blank = blank_queue(QueueId(self.next_queue));
                Ok(msg.fields.apply(blank, true, self.queues.values())?)
            });
        let queue = match made {
            Ok(q) => q,
            Err(e) => return after_barrier(&self.store, Err(e)),
        };
        // Taken even if the commit fails: ids may skip, never repeat.
        self.next_queue += 1;
        self.commit_queue(queue, true, &msg.by)
    }
}

/// Changes a queue's settings (managers); `PATCH /api/queue/` is this for queue 1.
#[derive(Message)]
#[rtype(result = "Result<QueueSummary, QueueError>")]
pub struct ChangeQueue {
    pub by: Person,
    pub id: QueueId,
    pub fields: QueueFields,
}

impl Handler<ChangeQueue> for QueueActor {
    type Result = Reply<QueueSummary, QueueError>;

    fn handle(&mut self, msg: ChangeQueue, _: &mut Context<Self>) -> Self::Result {
        release_first!(self);
        let changed = Self::managers_only(&msg.by, "Only organizers and directors may change a queue.")
            .and_then(|()| self.queue(msg.id).cloned())
            .and_then(|current| Ok(msg.fields.apply(current, false, self.queues.values())?));
        let queue = match changed {
            Ok(q) => q,
            Err(e) => return after_barrier(&self.store, Err(e)),
        };
        if self.queues.get(&queue.id) == Some(&queue) {
            let summary = self.summary(&queue);
            return after_barrier(&self.store, Ok(summary));
        }
        self.commit_queue(queue, false, &msg.by)
    }
}

/// Each of `mentors`: their status, the queues they staff and their CLAIMED tickets.
#[derive(Message)]
#[rtype(result = "Vec<MentorActivity>")]
pub struct MentorsOnline {
    pub mentors: Vec<UserId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MentorActivity {
    pub user: UserId,
    pub status: MentorStatus,
    pub queues: Option<BTreeSet<QueueId>>,
    pub claimed: Vec<TicketId>,
}

impl Handler<MentorsOnline> for QueueActor {
    type Result = MessageResult<MentorsOnline>;

    fn handle(&mut self, msg: MentorsOnline, _: &mut Context<Self>) -> Self::Result {
        release_first!(self);
        let now = self.clock.now();
        let mut claimed: HashMap<UserId, Vec<TicketId>> = HashMap::new();
        for t in self.board.claimed() {
            if let Some(m) = &t.mentor {
                claimed.entry(m.id).or_default().push(t.id);
            }
        }
        MessageResult(
            msg.mentors
                .into_iter()
                .map(|user| MentorActivity {
                    user,
                    status: self.capacity.status(user, now),
                    queues: self.capacity.staffing_of(user).queues.clone(),
                    claimed: claimed.remove(&user).unwrap_or_default(),
                })
                .collect(),
        )
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
        if let Err(e) = Self::managers_only(&msg.by, "Only organizers and directors may post announcements.")
        {
            return after_barrier(&self.store, Err(e));
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
        let view = self.board.view_if_put(&ticket, &self.available());
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

/// The statistics over every ticket, or one queue's.
#[derive(Message)]
#[rtype(result = "Result<Stats, QueueError>")]
pub struct GetStats {
    pub queue: Option<QueueId>,
}

impl Handler<GetStats> for QueueActor {
    type Result = Result<Stats, QueueError>;

    fn handle(&mut self, msg: GetStats, _: &mut Context<Self>) -> Self::Result {
        // Everyone may read them; what a non-manager is shown is the handler's choice.
        let Some(queue) = msg.queue else {
            return Ok(stats(self.board.tickets(), self.feedback.values()));
        };
        self.queue(queue)?;
        let in_queue = |id: &TicketId| self.board.get(*id).is_some_and(|t| t.queue == queue);
        Ok(stats(
            self.board.tickets().filter(|t| t.queue == queue),
            self.feedback.values().filter(|f| in_queue(&f.ticket)),
        ))
    }
}
