//! The Hub: receives every committed event after it is durable, keeps a projection of
//! the state built from those events alone, and pushes to the connected clients.
//!
//! Because the projection is built only from durable events, a snapshot "as of `seq`"
//! is exactly that: it never shows a change a crash could take back, and the events
//! after it follow without a gap or a repeat. The Hub handles one message at a time, so
//! registering a client and replaying its missed events cannot interleave with a push.
//!
//! Each event is serialised and framed once; the same bytes go to every client allowed
//! to see it. Each client has a bounded [`Outbox`] that its connection drains as its
//! socket accepts data. A client that stops reading fills it; the next frame finds it
//! full, and the client is dropped and told 4008 after what was already queued.

use super::outbox::{Outbox, Refused};
use super::protocol::{self, Frame, Snapshot};
use crate::actors::queue::{QueueActor, QueueSummary, SetMentorsOnline, SETTINGS};
use crate::actors::users::Revoked;
use crate::clock::SharedClock;
use crate::domain::board::{Board, TicketView};
use crate::domain::event::{Audience, Event, EventBody};
use crate::domain::queue::{Announcement, QueueSettings};
use crate::domain::schedule::Session;
use crate::domain::ticket::Ticket;
use crate::domain::user::{Role, Roles};
use crate::domain::{DeviceSessionId, SessionId, TicketId, UserId};
use crate::store::{Store, StoreError};
use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// How many closed or cancelled tickets a snapshot carries.
pub const SNAPSHOT_ENDED: usize = 50;
/// How many announcements a snapshot carries.
pub const SNAPSHOT_ANNOUNCEMENTS: usize = 50;

/// Close codes of API.md.
pub const CLOSE_REVOKED: u16 = 4001;
pub const CLOSE_LAGGING: u16 = 4008;

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

struct Client {
    user: UserId,
    roles: Roles,
    device: DeviceSessionId,
    outbox: Outbox,
}

impl Client {
    fn may_see(&self, audience: &Audience) -> bool {
        match audience {
            Audience::Everyone => true,
            Audience::StaffAnd(users) => self.roles.is_staff() || users.contains(&self.user),
            Audience::ManagersAnd(users) => self.roles.is_manager() || users.contains(&self.user),
            Audience::Users(users) => users.contains(&self.user),
        }
    }
}

pub struct Hub {
    store: Store,
    clock: SharedClock,
    queue: Addr<QueueActor>,
    // The projection of the durable event stream.
    board: Board,
    settings: QueueSettings,
    announcements: VecDeque<Announcement>,
    sessions: HashMap<SessionId, Session>,
    /// The newest event applied (and pushed).
    last_seq: u64,
    // The connections.
    clients: HashMap<ClientId, Client>,
    by_user: HashMap<UserId, HashSet<ClientId>>,
    /// Open connections per mentor; its length is "mentors online".
    mentors: HashMap<UserId, usize>,
    /// The position and wait last sent for each OPEN ticket.
    positions: HashMap<TicketId, (usize, Option<f64>)>,
    next_client: ClientId,
}

impl Hub {
    /// Builds the projection from the store, which at start-up holds only durable state.
    pub fn load(store: Store, clock: SharedClock, queue: Addr<QueueActor>) -> Result<Hub, StoreError> {
        let tickets: Vec<Ticket> = store.load_all()?;
        let mut announcements: Vec<Announcement> = store.load_all()?;
        let keep_from = announcements.len().saturating_sub(SNAPSHOT_ANNOUNCEMENTS);
        let announcements = announcements.drain(keep_from..).collect();
        let sessions: Vec<Session> = store.load_all()?;
        let mut hub = Hub {
            settings: store.meta(SETTINGS)?.unwrap_or_default(),
            last_seq: store.next_seq() - 1,
            board: Board::new(tickets),
            announcements,
            sessions: sessions.into_iter().map(|s| (s.id, s)).collect(),
            store,
            clock,
            queue,
            clients: HashMap::new(),
            by_user: HashMap::new(),
            mentors: HashMap::new(),
            positions: HashMap::new(),
            next_client: 1,
        };
        hub.positions = hub
            .board
            .open_positions(0)
            .into_iter()
            .map(|(id, _, p, w)| (id, (p, w)))
            .collect();
        Ok(hub)
    }

    fn apply(&mut self, event: &Event) {
        match &event.body {
            EventBody::TicketCreated(v) | EventBody::TicketUpdated(v) => self.board.put(v.ticket.clone()),
            EventBody::QueueUpdated(settings) => self.settings = settings.clone(),
            EventBody::AnnouncementPosted(a) => {
                self.announcements.push_back(a.clone());
                if self.announcements.len() > SNAPSHOT_ANNOUNCEMENTS {
                    self.announcements.pop_front();
                }
            }
            EventBody::SessionUpdated(s) => {
                self.sessions.insert(s.id, s.clone());
            }
            EventBody::FeedbackCreated(_)
            | EventBody::AvailabilityUpdated { .. }
            | EventBody::SessionReminder { .. } => {}
        }
        self.last_seq = event.seq;
    }

    fn mentors_online(&self) -> usize {
        self.mentors.len()
    }

    /// Queues one frame, or drops the client if its outbox is full (it stopped reading).
    fn send(&mut self, id: ClientId, frame: &Frame) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        if let Err(refused) = client.outbox.push(frame) {
            self.refused(id, refused);
        }
    }

    fn refused(&mut self, id: ClientId, refused: Refused) {
        match refused {
            Refused::Full => {
                if let Some(client) = self.clients.get(&id) {
                    tracing::info!(client = id, user = %client.user, "closing a lagging client");
                }
                self.drop_client(id, Some(CLOSE_LAGGING));
            }
            Refused::Ended => self.drop_client(id, None),
        }
    }

    /// Queues `frame` for every client `audience` includes.
    fn broadcast(&mut self, audience: &Audience, frame: &Frame) {
        let mut refusals = Vec::new();
        match audience {
            Audience::Users(users) => {
                for id in users
                    .iter()
                    .flat_map(|u| self.by_user.get(u).into_iter().flatten())
                {
                    if let Some(Err(refused)) = self.clients.get(id).map(|c| c.outbox.push(frame)) {
                        refusals.push((*id, refused));
                    }
                }
            }
            _ => {
                for (id, client) in &self.clients {
                    if client.may_see(audience) {
                        if let Err(refused) = client.outbox.push(frame) {
                            refusals.push((*id, refused));
                        }
                    }
                }
            }
        }
        for (id, refused) in refusals {
            self.refused(id, refused);
        }
    }

    /// Forgets a client; with `close`, its connection closes with that code once it has
    /// written what was already queued (dropping the outbox ends its stream).
    fn drop_client(&mut self, id: ClientId, close: Option<u16>) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        if let Some(ids) = self.by_user.get_mut(&client.user) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_user.remove(&client.user);
            }
        }
        // With a code, the connection closes once it has written what was queued;
        // without, the connection already ended.
        if let Some(code) = close {
            client.outbox.close(Some(close_frame(code)));
        }
        if client.roles.has(Role::Mentor) {
            let count = self.mentors.get_mut(&client.user).map(|c| {
                *c -= 1;
                *c
            });
            if count == Some(0) {
                self.mentors.remove(&client.user);
                self.presence_changed();
            }
        }
    }

    fn presence_changed(&mut self) {
        let n = self.mentors_online();
        self.queue.do_send(SetMentorsOnline(n));
        self.broadcast(&Audience::Everyone, &protocol::presence(n));
        self.refresh_positions();
    }

    /// Sends `position` to the owners of OPEN tickets whose place or wait changed.
    fn refresh_positions(&mut self) {
        let now_open = self.board.open_positions(self.mentors_online());
        let mut still_open = HashSet::with_capacity(now_open.len());
        for (id, owner, position, wait) in now_open {
            still_open.insert(id);
            if self.positions.get(&id) != Some(&(position, wait)) {
                self.positions.insert(id, (position, wait));
                if self.by_user.contains_key(&owner) {
                    self.broadcast(
                        &Audience::Users(vec![owner]),
                        &protocol::position(id, position, wait),
                    );
                }
            }
        }
        self.positions.retain(|id, _| still_open.contains(id));
    }

    fn summary(&self) -> QueueSummary {
        QueueSummary::of(&self.board, &self.settings, self.mentors_online())
    }

    /// The state `user` may see, as of `last_seq`. Its size is bounded by the active
    /// tickets, not by the event's history.
    fn snapshot(&self, user: UserId, roles: Roles) -> Frame {
        let mentors = self.mentors_online();
        let tickets: Vec<TicketView> = if roles.is_staff() {
            self.board
                .active()
                .chain(self.board.recently_ended().take(SNAPSHOT_ENDED))
                .map(|t| self.board.view(t, mentors))
                .collect()
        } else {
            let mine: Vec<&Ticket> = self.board.owned_by(user).collect();
            let mut ended: Vec<&Ticket> = mine.iter().copied().filter(|t| !t.status.is_active()).collect();
            ended.sort_by_key(|t| std::cmp::Reverse((t.closed, t.id)));
            mine.iter()
                .copied()
                .filter(|t| t.status.is_active())
                .chain(ended.into_iter().take(SNAPSHOT_ENDED))
                .map(|t| self.board.view(t, mentors))
                .collect()
        };
        let now = self.clock.now();
        let mut sessions: Vec<&Session> = self
            .sessions
            .values()
            .filter(|s| s.involves(user) && s.end > now)
            .collect();
        sessions.sort_by_key(|s| (s.start, s.id));
        let queue = self.summary();
        protocol::snapshot(Snapshot {
            seq: self.last_seq,
            tickets: tickets.iter().collect(),
            queue: &queue,
            sessions,
            announcements: self.announcements.iter().rev().collect(),
        })
    }

    /// Whether a client that saw up to `since` can be brought up to date from the log.
    fn can_resume(&self, since: u64) -> bool {
        if since > self.last_seq {
            return false;
        }
        if since == self.last_seq {
            return true;
        }
        matches!(self.store.first_retained_seq(), Ok(Some(first)) if first <= since + 1)
    }

    /// Sends the missed events `since+1 ..= last_seq` that the client may see.
    fn replay(&mut self, id: ClientId, since: u64) -> Result<(), StoreError> {
        let Some(client) = self.clients.get(&id) else {
            return Ok(());
        };
        let mut frames = Vec::new();
        for event in self.store.events_from(since + 1) {
            let event = event?;
            if event.seq > self.last_seq {
                break;
            }
            if client.may_see(&event.body.audience()) {
                frames.push(protocol::event(&event));
            }
        }
        for frame in frames {
            self.send(id, &frame);
        }
        Ok(())
    }

    /// The ephemeral facts sent after every snapshot or resume.
    fn send_ephemera(&mut self, id: ClientId, user: UserId) {
        self.send(id, &protocol::presence(self.mentors_online()));
        let mine: Vec<(TicketId, usize, Option<f64>)> = self
            .board
            .owned_by(user)
            .filter_map(|t| self.positions.get(&t.id).map(|(p, w)| (t.id, *p, *w)))
            .collect();
        for (ticket, position, wait) in mine {
            self.send(id, &protocol::position(ticket, position, wait));
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
            self.apply(&event);
            self.broadcast(&event.body.audience(), &protocol::event(&event));
        }
        self.refresh_positions();
    }
}

/// A new connection. The Hub answers with its id and sends it a snapshot or the
/// missed events, then the ephemeral facts.
#[derive(Message)]
#[rtype(result = "ClientId")]
pub struct Connect {
    pub user: UserId,
    pub roles: Roles,
    pub device: DeviceSessionId,
    pub since: Option<u64>,
    pub outbox: Outbox,
}

impl Handler<Connect> for Hub {
    type Result = ClientId;

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) -> ClientId {
        let id = self.next_client;
        self.next_client += 1;
        self.clients.insert(
            id,
            Client {
                user: msg.user,
                roles: msg.roles,
                device: msg.device,
                outbox: msg.outbox,
            },
        );
        self.by_user.entry(msg.user).or_default().insert(id);
        let mut presence_changed = false;
        if msg.roles.has(Role::Mentor) {
            let count = self.mentors.entry(msg.user).or_default();
            *count += 1;
            presence_changed = *count == 1;
        }
        match msg.since {
            Some(since) if self.can_resume(since) => {
                self.send(id, &protocol::resume(since + 1, self.last_seq));
                if let Err(error) = self.replay(id, since) {
                    tracing::error!(%error, "could not replay events; sending a snapshot instead");
                    self.send(id, &self.snapshot(msg.user, msg.roles));
                }
            }
            _ => self.send(id, &self.snapshot(msg.user, msg.roles)),
        }
        if presence_changed {
            self.presence_changed();
        }
        self.send_ephemera(id, msg.user);
        id
    }
}

/// A connection ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect(pub ClientId);

impl Handler<Disconnect> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        self.drop_client(msg.0, None);
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
                    .is_none_or(|d| self.clients.get(id).is_some_and(|c| c.device == d))
            })
            .collect();
        for id in ids {
            self.drop_client(id, Some(CLOSE_REVOKED));
        }
    }
}
