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
use crate::actors::queue::{QueueActor, SetMentorsOnline};
use crate::actors::users::Revoked;
use crate::clock::SharedClock;
use crate::domain::event::{Audience, Event};
use crate::domain::projection::{PositionChange, Projection};
use crate::domain::user::{Role, Roles};
use crate::domain::{DeviceSessionId, UserId};
use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason};
use std::collections::{HashMap, HashSet, VecDeque};
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
}

/// An event as pushed: who may see it and its wire bytes.
struct Recent {
    seq: u64,
    audience: Audience,
    frame: Frame,
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
    /// Open connections per mentor; its length is "mentors online".
    mentors: HashMap<UserId, usize>,
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
            mentors: HashMap::new(),
            stamp,
        }
    }

    fn mentors_online(&self) -> usize {
        self.mentors.len()
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

    /// Queues `frame` for every live member `audience` includes.
    fn broadcast(&mut self, audience: &Audience, frame: &Frame) {
        let mut refusals = Vec::new();
        let mut offer = |id: ClientId, member: &Member| {
            if member.live {
                if let Err(refused) = member.outbox.push(frame) {
                    refusals.push((id, refused));
                }
            }
        };
        match audience {
            Audience::Users(users) => {
                for id in users
                    .iter()
                    .flat_map(|u| self.by_user.get(u).into_iter().flatten())
                {
                    if let Some(member) = self.members.get(id) {
                        offer(*id, member);
                    }
                }
            }
            _ => {
                for (id, member) in &self.members {
                    if audience.admits(member.user, member.roles) {
                        offer(*id, member);
                    }
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
        if let Some(code) = close {
            if member.client.try_send(Control::Close(code)).is_err() {
                member.outbox.close(Some(close_frame(code)));
            }
        }
        if member.roles.has(Role::Mentor) {
            let count = self.mentors.get_mut(&member.user).map(|c| {
                *c -= 1;
                *c
            });
            if count == Some(0) {
                self.mentors.remove(&member.user);
                self.presence_changed();
            }
        }
    }

    fn presence_changed(&mut self) {
        let n = self.mentors_online();
        self.queue.do_send(SetMentorsOnline(n));
        self.broadcast(&Audience::Everyone, &protocol::presence(n));
        self.send_positions();
    }

    /// Sends `position` to the owners of OPEN tickets whose place or wait changed.
    fn send_positions(&mut self) {
        for change in self.projection.changed_positions(self.mentors_online()) {
            if self.by_user.contains_key(&change.owner) {
                self.broadcast(&Audience::Users(vec![change.owner]), &protocol::position(&change));
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
            .filter(|r| r.seq > since && r.audience.admits(member.user, member.roles))
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
        let snapshot =
            self.projection
                .snapshot(member.user, member.roles, self.clock.now(), self.mentors_online());
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
        self.send(id, &protocol::presence(self.mentors_online()));
        let mine: Vec<PositionChange> = self.projection.positions_of(user);
        for change in &mine {
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
}

/// Committed, durable events, in `seq` order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish(pub Vec<Arc<Event>>);

impl Handler<Publish> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        for event in msg.0 {
            self.projection.apply(&event);
            metrics::counter!(crate::telemetry::EVENTS, "kind" => event.body.kind()).increment(1);
            for (audience, frame) in protocol::event(&event, &self.stamp.base) {
                self.broadcast(&audience, &frame);
                if self.recent_limit > 0 {
                    if self.recent.len() == self.recent_limit {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(Recent {
                        seq: event.seq,
                        audience,
                        frame,
                    });
                }
            }
        }
        self.send_positions();
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
    pub outbox: Outbox,
    pub client: Recipient<Control>,
}

impl Handler<Join> for Hub {
    type Result = MessageResult<Join>;

    fn handle(&mut self, msg: Join, _: &mut Context<Self>) -> MessageResult<Join> {
        let id = msg.id;
        self.members.insert(
            id,
            Member {
                user: msg.user,
                roles: msg.roles,
                device: msg.device,
                outbox: msg.outbox,
                client: msg.client,
                live: false,
            },
        );
        self.by_user.entry(msg.user).or_default().insert(id);
        let mut presence_changed = false;
        if msg.roles.has(Role::Mentor) {
            let count = self.mentors.entry(msg.user).or_default();
            *count += 1;
            presence_changed = *count == 1;
        }
        // The QueueActor hears of the new count before this member's own frames are
        // queued: a client that reads `presence` and then asks `/api/queue/` sees it.
        // Members that are not yet live (this one) get presence when they go live.
        if presence_changed {
            self.presence_changed();
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
    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        self.drop_member(msg.0, None);
    }
}

/// Closes a user's connections (of one device session, or all) with 4001.
impl Handler<Revoked> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Revoked, _: &mut Context<Self>) {
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
    }
}
