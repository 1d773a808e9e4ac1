//! The Hub: the registry of live connections and the router of committed events.
//!
//! It receives every event after it is durable, applies it to the domain's
//! [`Projection`] (which is all the state it keeps of tickets, the queue, announcements
//! and sessions), serialises and frames it once, and pushes the same bytes into the
//! bounded outbox of every connection allowed to see it. It reads neither the store nor
//! another actor's keys: the projection is seeded at start-up from the owners' durable
//! state, and a reconnecting client that missed more than the Hub's short in-memory
//! window replays the rest from the event log itself (see `client.rs`).
//!
//! The Hub handles one message at a time, so registering a client, sending it a
//! snapshot or the missed events, and going live cannot interleave with a push: there
//! is no gap and no repeat.
//!
//! Per connection the Hub keeps a [`Member`]: the routing key the connection registered
//! (user, roles, device), a handle to its [`ClientActor`](super::client::ClientActor)
//! for control messages, and its outbox for pushed frames, as actix's chat example
//! keeps a `Recipient` per session.

use super::outbox::{Outbox, Refused};
use super::protocol::{self, Frame, Stamp};
use crate::actors::capacity::{MentorConnection, StaffingChanged};
use crate::actors::queue::QueueActor;
use crate::actors::users::Revoked;
use crate::clock::SharedClock;
use crate::domain::capacity::{Available, Capacity};
use crate::domain::event::{Audience, Event, EventBody, Subscription};
use crate::domain::projection::{PositionChange, Projection};
use crate::domain::user::{Role, Roles};
use crate::domain::{DeviceSessionId, QueueId, UserId};
use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Close codes of API.md.
pub const CLOSE_REVOKED: u16 = 4001;
pub const CLOSE_LAGGING: u16 = 4008;

/// How many of the newest events the Hub keeps framed in memory, so that a client that
/// reconnects after a short drop is brought up to date at once, in the same message
/// that registers it. Older gaps are replayed from the store's event log.
pub const RECENT_EVENTS: usize = 512;

pub type ClientId = u64;

/// The close frame for the Hub's own close codes.
pub fn close_frame(code: u16) -> Frame {
    let description = match code {
        CLOSE_LAGGING => "lagging: reconnect with since",
        _ => "session revoked or roles changed",
    };
    Frame::close(Some(CloseReason {
        code: CloseCode::Other(code),
        description: Some(description.to_string()),
    }))
}

/// What the Hub asks of a connection's actor.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum Control {
    /// Close with this code once what is queued is written, and stop.
    Close(u16),
    /// The socket is gone (sent by the connection's own response body): stop.
    Gone,
}

/// One registered connection.
struct Member {
    user: UserId,
    roles: Roles,
    device: DeviceSessionId,
    outbox: Outbox,
    client: Recipient<Control>,
    /// False while the connection replays missed events from the log: pushes wait for
    /// it to catch up, so they cannot overtake the replay.
    live: bool,
    /// The Hub's copy of the queues the connection's actor subscribed it to.
    subscription: Subscription,
}

/// An event as pushed: who may see it, the queue it is narrowed to, its wire bytes.
struct Recent {
    seq: u64,
    audience: Audience,
    queue: Option<QueueId>,
    frame: Frame,
}

/// Staff connections by subscription, so that a ticket event is offered to the staff
/// who receive it and not to every connection: its cost follows its recipients.
#[derive(Default)]
struct StaffIndex {
    /// Subscribed to every queue.
    all: HashSet<ClientId>,
    by_queue: HashMap<QueueId, HashSet<ClientId>>,
}

impl StaffIndex {
    fn add(&mut self, id: ClientId, subscription: &Subscription) {
        match &subscription.0 {
            None => {
                self.all.insert(id);
            }
            Some(queues) => {
                for q in queues {
                    self.by_queue.entry(*q).or_default().insert(id);
                }
            }
        }
    }

    fn remove(&mut self, id: ClientId, subscription: &Subscription) {
        match &subscription.0 {
            None => {
                self.all.remove(&id);
            }
            Some(queues) => {
                for q in queues {
                    if let Some(ids) = self.by_queue.get_mut(q) {
                        ids.remove(&id);
                        if ids.is_empty() {
                            self.by_queue.remove(q);
                        }
                    }
                }
            }
        }
    }

    /// The staff connections that receive `queue`'s ticket events.
    fn of(&self, queue: QueueId) -> impl Iterator<Item = &ClientId> {
        self.all
            .iter()
            .chain(self.by_queue.get(&queue).into_iter().flatten())
    }
}

pub struct Hub {
    projection: Projection,
    clock: SharedClock,
    queue: Addr<QueueActor>,
    /// The newest events, framed, oldest first: at most `recent_limit`.
    recent: VecDeque<Recent>,
    /// `RECENT_EVENTS`, but never more than the store retains (a `since` the log no
    /// longer holds gets a snapshot, as API.md says) nor more than a quarter of an
    /// outbox (they are queued at once).
    recent_limit: usize,
    members: HashMap<ClientId, Member>,
    by_user: HashMap<UserId, HashSet<ClientId>>,
    staff: StaffIndex,
    /// The mentors' connections and staffing: who is available for which queue.
    capacity: Capacity,
    /// Who was available when last looked at, and each visible queue's count then
    /// (what the last `presence` said).
    available: Available,
    presence: BTreeMap<QueueId, usize>,
    /// The timer for the next moment time alone changes who is available.
    wake: Option<SpawnHandle>,
    /// A mentor's last connection was dropped where the Hub could not look again at
    /// who is available (inside a broadcast); it does so at the end of the message.
    capacity_changed: bool,
    /// The base of absolute URLs and the epoch every frame is stamped with.
    stamp: Stamp,
}

/// How a registration (or a finished replay) continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The client is up to date and receives pushes from now on.
    Live,
    /// The client must first replay `from ..= to` from the event log (every event in
    /// it is durable), then report [`CaughtUp`].
    CatchUp { from: u64, to: u64 },
}

impl Hub {
    pub fn new(
        projection: Projection,
        clock: SharedClock,
        queue: Addr<QueueActor>,
        capacity: Capacity,
        retain_events: u64,
        outbox_limit: usize,
        stamp: Stamp,
    ) -> Hub {
        let recent_limit = RECENT_EVENTS
            .min(usize::try_from(retain_events).unwrap_or(usize::MAX))
            .min(outbox_limit / 4);
        Hub {
            projection,
            clock,
            queue,
            recent: VecDeque::with_capacity(recent_limit),
            recent_limit,
            members: HashMap::new(),
            by_user: HashMap::new(),
            staff: StaffIndex::default(),
            capacity,
            available: Available::default(),
            presence: BTreeMap::new(),
            wake: None,
            capacity_changed: false,
            stamp,
        }
    }

    /// Looks again at who is available if a dropped member was a mentor's last
    /// connection.
    fn after_drops(&mut self, ctx: &mut Context<Self>) {
        if std::mem::take(&mut self.capacity_changed) {
            self.refresh_capacity(ctx);
        }
    }

    /// The available mentors of every queue not archived.
    fn presence_counts(&self) -> BTreeMap<QueueId, usize> {
        self.projection
            .visible_queue_ids()
            .map(|q| (q, self.available.in_queue(q)))
            .collect()
    }

    /// Looks again at who is available (after a connection, a staffing change, a
    /// queue change or the passing of time): pushes `presence` if a count changed and
    /// `position` to owners whose wait changed, and sets the timer for the next time
    /// the answer changes by itself.
    fn refresh_capacity(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        let available = self.capacity.available(now);
        let changed = available != self.available;
        self.available = available;
        let counts = self.presence_counts();
        if counts != self.presence {
            self.presence = counts;
            self.broadcast(&Audience::Everyone, None, &protocol::presence(&self.presence));
        }
        if changed {
            self.send_positions();
        }
        if let Some(handle) = self.wake.take() {
            ctx.cancel_future(handle);
        }
        if let Some(next) = self.capacity.next_change(now) {
            // Timers run on the monotonic clock: wake at least every five minutes, so
            // a step of the wall clock is noticed.
            let delay = (next - now)
                .to_std()
                .unwrap_or_default()
                .min(std::time::Duration::from_secs(300));
            self.wake = Some(ctx.run_later(delay, |hub, ctx| {
                hub.wake = None;
                hub.refresh_capacity(ctx);
            }));
        }
    }

    /// Queues one frame for a member, or lets it go if its outbox is full.
    fn send(&mut self, id: ClientId, frame: &Frame) {
        let refused = match self.members.get(&id) {
            Some(member) => member.outbox.push(frame).err(),
            None => None,
        };
        if let Some(refused) = refused {
            self.refused(id, refused);
        }
    }

    fn refused(&mut self, id: ClientId, refused: Refused) {
        match refused {
            Refused::Full => {
                if let Some(member) = self.members.get(&id) {
                    tracing::info!(client = id, user = %member.user, "closing a lagging client");
                }
                self.drop_member(id, Some(CLOSE_LAGGING));
            }
            Refused::Ended => self.drop_member(id, None),
        }
    }

    /// Queues `frame` for every live member `audience` includes (and, for an event
    /// narrowed to `queue`, whose subscription includes it).
    fn broadcast(&mut self, audience: &Audience, queue: Option<QueueId>, frame: &Frame) {
        let mut refusals = Vec::new();
        let mut offer = |id: ClientId, member: &Member| {
            if member.live
                && audience.admits(member.user, member.roles)
                && queue.is_none_or(|q| member.subscription.includes(q))
            {
                if let Err(refused) = member.outbox.push(frame) {
                    refusals.push((id, refused));
                }
            }
        };
        let named = |users: &Vec<UserId>| -> Vec<ClientId> {
            users
                .iter()
                .flat_map(|u| self.by_user.get(u).into_iter().flatten())
                .copied()
                .collect()
        };
        match (audience, queue) {
            (Audience::Users(users), _) => {
                for id in named(users) {
                    if let Some(member) = self.members.get(&id) {
                        offer(id, member);
                    }
                }
            }
            // A ticket event: the staff subscribed to its queue, and the named users
            // who are not staff (staff are offered it through the index).
            (
                Audience::StaffAnd(users) | Audience::ManagersAnd(users) | Audience::MentorsExcept(users),
                Some(q),
            ) => {
                for id in self.staff.of(q) {
                    if let Some(member) = self.members.get(id) {
                        offer(*id, member);
                    }
                }
                // Staff named here are offered it through the index or not at all
                // (not subscribed to the queue).
                for id in named(users) {
                    if let Some(member) = self.members.get(&id).filter(|m| !m.roles.is_staff()) {
                        offer(id, member);
                    }
                }
            }
            _ => {
                for (id, member) in &self.members {
                    offer(*id, member);
                }
            }
        }
        for (id, refused) in refusals {
            self.refused(id, refused);
        }
    }

    /// Forgets a member; with `close`, asks its actor to close with that code (or, if
    /// the actor cannot take the message, closes its outbox directly).
    fn drop_member(&mut self, id: ClientId, close: Option<u16>) {
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        if let Some(ids) = self.by_user.get_mut(&member.user) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_user.remove(&member.user);
            }
        }
        if member.roles.is_staff() {
            self.staff.remove(id, &member.subscription);
        }
        if let Some(code) = close {
            if member.client.try_send(Control::Close(code)).is_err() {
                member.outbox.close(Some(close_frame(code)));
            }
        }
        if member.roles.has(Role::Mentor) && self.capacity.disconnect(member.user) {
            self.queue.do_send(MentorConnection {
                user: member.user,
                connected: false,
                at: self.clock.now(),
            });
            self.capacity_changed = true;
        }
    }

    /// Sends `position` to the owners of OPEN tickets whose place or wait changed.
    fn send_positions(&mut self) {
        for change in self.projection.changed_positions(&self.available) {
            if self.by_user.contains_key(&change.owner) {
                self.broadcast(
                    &Audience::Users(vec![change.owner]),
                    Some(change.queue),
                    &protocol::position(&change),
                );
            }
        }
    }

    /// Whether the in-memory window holds every event after `since`, and few enough of
    /// them to queue at once.
    fn recent_covers(&self, since: u64) -> bool {
        let last = self.projection.last_seq();
        let first = self.recent.front().map_or(last + 1, |r| r.seq);
        first <= since + 1 && last - since <= self.recent_limit as u64
    }

    /// Queues the recent events after `since` that the member may see.
    fn send_recent(&mut self, id: ClientId, since: u64) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let frames: Vec<Frame> = self
            .recent
            .iter()
            .filter(|r| {
                r.seq > since
                    && r.audience.admits(member.user, member.roles)
                    && r.queue.is_none_or(|q| member.subscription.includes(q))
            })
            .map(|r| r.frame.clone())
            .collect();
        for frame in frames {
            self.send(id, &frame);
        }
    }

    fn send_snapshot(&mut self, id: ClientId) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let snapshot = self.projection.snapshot(
            member.user,
            member.roles,
            self.clock.now(),
            &self.available,
            &member.subscription,
        );
        let frame = protocol::snapshot(&snapshot, &self.stamp);
        self.send(id, &frame);
    }

    /// Marks a member live and sends it the ephemeral facts (presence, positions).
    fn go_live(&mut self, id: ClientId) -> Joined {
        let Some(member) = self.members.get_mut(&id) else {
            return Joined::Live;
        };
        member.live = true;
        let user = member.user;
        let subscription = member.subscription.clone();
        self.send(id, &protocol::presence(&self.presence));
        let mine: Vec<PositionChange> = self.projection.positions_of(user);
        for change in mine.iter().filter(|c| subscription.includes(c.queue)) {
            self.send(id, &protocol::position(change));
        }
        Joined::Live
    }

    /// Brings a member that has seen everything up to `since` up to date, or says
    /// what it must replay from the log first.
    fn continue_from(&mut self, id: ClientId, since: u64) -> Joined {
        let last = self.projection.last_seq();
        if since >= last || self.recent_covers(since) {
            self.send_recent(id, since);
            return self.go_live(id);
        }
        Joined::CatchUp {
            from: since + 1,
            to: last,
        }
    }
}

/// The committer reaches the Hub with `do_send`, which never waits for mailbox room:
/// a burst of events is queued, not refused, and the Hub's own work per event is small.
impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.presence = self.presence_counts();
    }
}

/// Committed, durable events, in `seq` order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish(pub Vec<Arc<Event>>);

impl Handler<Publish> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) {
        let mut queues_changed = false;
        for event in msg.0 {
            self.projection.apply(&event);
            metrics::counter!(crate::telemetry::EVENTS, "kind" => event.body.kind()).increment(1);
            let queue = event.body.narrowed_to();
            queues_changed |= matches!(
                event.body,
                EventBody::QueueCreated(_) | EventBody::QueueUpdated(_)
            );
            for (audience, frame) in protocol::event(&event, &self.stamp.base) {
                self.broadcast(&audience, queue, &frame);
                if self.recent_limit > 0 {
                    if self.recent.len() == self.recent_limit {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(Recent {
                        seq: event.seq,
                        audience,
                        queue,
                        frame,
                    });
                }
            }
        }
        if queues_changed {
            // A new or archived queue changes what `presence` lists.
            self.refresh_capacity(ctx);
        }
        self.send_positions();
        self.after_drops(ctx);
    }
}

/// A new connection. The Hub queues a snapshot, or a `resume` and the missed events it
/// holds, then the ephemeral facts; or it answers that the connection must replay a
/// longer gap from the log first.
#[derive(Message)]
#[rtype(result = "Joined")]
pub struct Join {
    pub id: ClientId,
    pub user: UserId,
    pub roles: Roles,
    pub device: DeviceSessionId,
    /// The last `seq` the client saw, if it is resuming.
    pub since: Option<u64>,
    /// The queues asked for in the URL (checked to exist).
    pub subscription: Subscription,
    pub outbox: Outbox,
    pub client: Recipient<Control>,
}

impl Handler<Join> for Hub {
    type Result = MessageResult<Join>;

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) -> MessageResult<Join> {
        let id = msg.id;
        if msg.roles.is_staff() {
            self.staff.add(id, &msg.subscription);
        }
        self.members.insert(
            id,
            Member {
                user: msg.user,
                roles: msg.roles,
                device: msg.device,
                outbox: msg.outbox,
                client: msg.client,
                live: false,
                subscription: msg.subscription,
            },
        );
        self.by_user.entry(msg.user).or_default().insert(id);
        // The QueueActor hears of the new connection before this member's own frames
        // are queued: a client that reads `presence` and then asks `/api/queue/` sees
        // it. Members that are not yet live (this one) get presence when they go live.
        if msg.roles.has(Role::Mentor) && self.capacity.connect(msg.user) {
            self.queue.do_send(MentorConnection {
                user: msg.user,
                connected: true,
                at: self.clock.now(),
            });
            self.refresh_capacity(ctx);
        }
        let last = self.projection.last_seq();
        let joined = match msg.since {
            Some(since) if since <= last => {
                // When the Hub can bring the client up to date itself, the `resume`
                // goes first; for a longer gap the connection sends it before its replay.
                if since == last || self.recent_covers(since) {
                    self.send(id, &protocol::resume(since + 1, last, &self.stamp));
                }
                self.continue_from(id, since)
            }
            _ => {
                self.send_snapshot(id);
                self.go_live(id)
            }
        };
        self.after_drops(ctx);
        MessageResult(joined)
    }
}

/// A connection finished replaying up to `at` from the log.
#[derive(Message)]
#[rtype(result = "Joined")]
pub struct CaughtUp {
    pub id: ClientId,
    pub at: u64,
}

impl Handler<CaughtUp> for Hub {
    type Result = MessageResult<CaughtUp>;

    fn handle(&mut self, msg: CaughtUp, _: &mut Context<Self>) -> MessageResult<CaughtUp> {
        MessageResult(self.continue_from(msg.id, msg.at))
    }
}

/// A connection cannot replay from the log (its `since` is no longer retained): it
/// gets a snapshot instead and goes live.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendSnapshot(pub ClientId);

impl Handler<SendSnapshot> for Hub {
    type Result = ();
    fn handle(&mut self, msg: SendSnapshot, _: &mut Context<Self>) {
        self.send_snapshot(msg.0);
        self.go_live(msg.0);
    }
}

/// A connection ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave(pub ClientId);

impl Handler<Leave> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.drop_member(msg.0, None);
        self.after_drops(ctx);
    }
}

/// A mentor's staffing or confirmed sessions changed (from the `SessionActor`).
impl Handler<StaffingChanged> for Hub {
    type Result = ();
    fn handle(&mut self, msg: StaffingChanged, ctx: &mut Context<Self>) {
        self.capacity.set_staffing(msg.user, msg.staffing);
        self.refresh_capacity(ctx);
    }
}

/// A connection asks to receive only some queues' ticket events (`None`: all).
#[derive(Message)]
#[rtype(result = "Result<Subscription, ()>")]
pub struct Subscribe {
    pub id: ClientId,
    pub queues: Option<BTreeSet<QueueId>>,
}

impl Handler<Subscribe> for Hub {
    type Result = Result<Subscription, ()>;

    /// Checks the ids, re-files the member, and queues the `subscribed` answer itself,
    /// so that every event after it in the outbox follows the new subscription.
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        let known: BTreeSet<QueueId> = self.projection.queue_ids().collect();
        if let Some(unknown) = msg.queues.iter().flatten().find(|q| !known.contains(q)) {
            let detail = format!("There is no queue {unknown}; the subscription is unchanged.");
            self.send(msg.id, &protocol::error("validation_failed", &detail));
            return Err(());
        }
        let subscription = Subscription(msg.queues);
        let Some(member) = self.members.get_mut(&msg.id) else {
            return Err(());
        };
        let old = std::mem::replace(&mut member.subscription, subscription.clone());
        if member.roles.is_staff() {
            self.staff.remove(msg.id, &old);
            self.staff.add(msg.id, &subscription);
        }
        self.send(msg.id, &protocol::subscribed(&subscription));
        Ok(subscription)
    }
}

/// Closes a user's connections (of one device session, or all) with 4001.
impl Handler<Revoked> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Revoked, ctx: &mut Context<Self>) {
        let ids: Vec<ClientId> = self
            .by_user
            .get(&msg.user)
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| {
                msg.device
                    .is_none_or(|d| self.members.get(id).is_some_and(|m| m.device == d))
            })
            .collect();
        for id in ids {
            self.drop_member(id, Some(CLOSE_REVOKED));
        }
        self.after_drops(ctx);
    }
}
