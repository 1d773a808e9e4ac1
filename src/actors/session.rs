//! `SessionActor`: the only writer of mentor profiles, availability chunks, sessions,
//! notification settings and reminder state.
//!
//! Time-driven changes (expiry, completion, reminders) come from an agenda of wake-up
//! times. The actor works through everything due before handling any message, and on one
//! timer set for the agenda's first entry, always at the clock's `now`: a test moves a
//! manual clock and the next request sees the world as of that moment, with no sleeping.

use super::capacity::StaffingChanged;
use super::{after_barrier, commit_then, next_id, Reply};
use crate::clock::SharedClock;
use crate::domain::capacity::Staffing;
use crate::domain::event::EventBody;
use crate::domain::schedule::{
    change_session, cut_into_chunks, due_reminders, may_list_every_session, may_mentor, next_wake, overlaps,
    plan_booking, status_by_time, Chunk, ChunkStatus, MentorProfile, NotificationSettings, ScheduleError,
    Session, SessionChange, SessionChangeError, SessionLength, SessionStatus, SettingsChange,
};
use crate::domain::ticket::Person;
use crate::domain::validate::FieldErrors;
use crate::domain::{ChunkId, SessionId, Timestamp, UserId};
use crate::store::{Batch, Record, Store, StoreError};
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Rule(#[from] ScheduleError),
    #[error("Some fields are not valid.")]
    Validation(FieldErrors),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<SessionChangeError> for SessionError {
    fn from(e: SessionChangeError) -> Self {
        match e {
            SessionChangeError::Fields(fields) => SessionError::Validation(fields),
            SessionChangeError::Rule(rule) => SessionError::Rule(rule),
        }
    }
}

impl From<FieldErrors> for SessionError {
    fn from(e: FieldErrors) -> Self {
        SessionError::Validation(e)
    }
}

pub struct SessionActor {
    store: Store,
    clock: SharedClock,
    meeting_url_template: String,
    profiles: BTreeMap<UserId, MentorProfile>,
    chunks: BTreeMap<ChunkId, Chunk>,
    sessions: BTreeMap<SessionId, Session>,
    settings: HashMap<UserId, NotificationSettings>,
    /// (when, session): the next moment time alone changes each session.
    agenda: BTreeSet<(Timestamp, SessionId)>,
    /// The timer set for the agenda's first entry.
    wake: Option<SpawnHandle>,
    next_chunk: u64,
    next_session: u64,
    /// Those who evaluate mentor capacity (the `QueueActor`, the Hub): told of every
    /// change to a mentor's staffing or confirmed sessions.
    listeners: Vec<Recipient<StaffingChanged>>,
}

const NEXT_CHUNK: &str = "next_id.chunks";
const NEXT_SESSION: &str = "next_id.sessions";

impl SessionActor {
    pub fn load(
        store: Store,
        clock: SharedClock,
        meeting_url_template: String,
    ) -> Result<SessionActor, StoreError> {
        // Reads by this actor wait only for its own changes to be durable.
        let store = store.for_writer();
        let profiles: Vec<MentorProfile> = store.load_all()?;
        let chunks: Vec<Chunk> = store.load_all()?;
        let sessions: Vec<Session> = store.load_all()?;
        let settings: Vec<(UserId, NotificationSettings)> = store.load_all()?;
        let next_chunk = next_id(&store, NEXT_CHUNK, chunks.last().map(|c| c.id.0))?;
        let next_session = next_id(&store, NEXT_SESSION, sessions.last().map(|s| s.id.0))?;
        let now = clock.now();
        let agenda = sessions.iter().filter_map(|s| settle_now(s, now)).collect();
        Ok(SessionActor {
            store,
            clock,
            meeting_url_template,
            profiles: profiles.into_iter().map(|p| (p.user, p)).collect(),
            chunks: chunks.into_iter().map(|c| (c.id, c)).collect(),
            sessions: sessions.into_iter().map(|s| (s.id, s)).collect(),
            settings: settings.into_iter().collect(),
            agenda,
            wake: None,
            next_chunk,
            next_session,
            listeners: Vec::new(),
        })
    }

    /// Tells `listeners` of every staffing change from now on.
    pub fn with_listeners(mut self, listeners: Vec<Recipient<StaffingChanged>>) -> Self {
        self.listeners = listeners;
        self
    }

    /// Every mentor's staffing as loaded: those with a profile or a confirmed session.
    pub fn staffing_seed(&self) -> Vec<(UserId, Staffing)> {
        let mentors: BTreeSet<UserId> = self
            .profiles
            .keys()
            .copied()
            .chain(self.sessions.values().map(|s| s.mentor))
            .collect();
        mentors.into_iter().map(|m| (m, self.staffing_of(m))).collect()
    }

    /// The capacity model's view of `mentor` now.
    fn staffing_of(&self, mentor: UserId) -> Staffing {
        match self.profiles.get(&mentor) {
            Some(p) => p.staffing(self.sessions.values()),
            None => Staffing {
                sessions: crate::domain::schedule::confirmed_spans(mentor, self.sessions.values()),
                ..Staffing::default()
            },
        }
    }

    /// `reply`, but once it succeeded (the change is durable) and before it is
    /// answered, tells the listeners `mentor`'s staffing as it is now in memory.
    fn telling<T: Send + 'static>(
        &self,
        reply: Reply<T, SessionError>,
        mentor: UserId,
    ) -> Reply<T, SessionError> {
        let listeners = self.listeners.clone();
        let message = StaffingChanged {
            user: mentor,
            staffing: self.staffing_of(mentor),
        };
        Box::pin(async move {
            let result = reply.await;
            if result.is_ok() {
                for listener in &listeners {
                    listener.do_send(message.clone());
                }
            }
            result
        })
    }

    /// What the real-time projection starts from: every session, as loaded.
    pub fn projection_seed(&self) -> Vec<Session> {
        self.sessions.values().cloned().collect()
    }

    fn settings_of(&self, user: UserId) -> NotificationSettings {
        self.settings.get(&user).copied().unwrap_or_default()
    }

    /// Works through every session whose wake-up time has come: expiry, completion,
    /// reminders. Each change is committed like any other (its events on the global
    /// sequence); nobody waits for these commits.
    fn run_agenda(&mut self) {
        let now = self.clock.now();
        while let Some(&(when, id)) = self.agenda.first() {
            if when > now {
                break;
            }
            self.agenda.pop_first();
            // `settle` re-queues the session strictly after `now`, so this ends.
            self.settle(id, now);
        }
    }

    /// Brings one session up to date with the time `now`.
    fn settle(&mut self, id: SessionId, now: Timestamp) {
        let Some(mut session) = self.sessions.get(&id).cloned() else {
            return;
        };
        let mut batch = Batch::new();
        let due = due_reminders(&session, |u| self.settings_of(u), now);
        for (to, minutes_before) in &due {
            session.reminders_sent.push((*to, *minutes_before));
            batch.event(EventBody::SessionReminder {
                session: session.clone(),
                to: *to,
                minutes_before: *minutes_before,
            });
        }
        let status = status_by_time(&session, now);
        let mut released = Vec::new();
        if status != session.status {
            session.status = status;
            if status == SessionStatus::Expired {
                released = self.set_chunks(&session.chunks, ChunkStatus::Open);
            }
            batch.event(EventBody::SessionUpdated(session.clone()));
            for chunk in &released {
                batch.put(chunk);
            }
            if !released.is_empty() {
                batch.event(EventBody::AvailabilityUpdated {
                    chunks: released.clone(),
                    deleted: Vec::new(),
                });
            }
        }
        if let Some(entry) = wake_entry(&session, now) {
            self.agenda.insert(entry);
        }
        if batch.is_empty() {
            return;
        }
        batch.put(&session);
        match self.store.commit(batch, now) {
            Ok(_) => {
                let mentor = session.mentor;
                self.sessions.insert(id, session);
                for chunk in released {
                    self.chunks.insert(chunk.id, chunk);
                }
                let message = StaffingChanged {
                    user: mentor,
                    staffing: self.staffing_of(mentor),
                };
                for listener in &self.listeners {
                    listener.do_send(message.clone());
                }
            }
            Err(error) => tracing::error!(%error, session = %id, "could not record a time-driven change"),
        }
    }

    /// Sets the one timer for the agenda's first entry (replacing any other), so the
    /// actor wakes when time next changes a session and not before. A message that
    /// finds something due settles it first anyway (`settle_first!`); the timer is what
    /// makes a reminder go out when nobody is asking.
    fn rearm(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.wake.take() {
            ctx.cancel_future(handle);
        }
        if let Some(&(when, _)) = self.agenda.first() {
            let delay = sleep_before(when, self.clock.now());
            self.wake = Some(ctx.run_later(delay, |actor, ctx| {
                actor.wake = None;
                actor.run_agenda();
                actor.rearm(ctx);
            }));
        }
    }

    /// The chunks with ids `ids` set to `status` (not yet stored).
    fn set_chunks(&self, ids: &[ChunkId], status: ChunkStatus) -> Vec<Chunk> {
        ids.iter()
            .filter_map(|id| self.chunks.get(id))
            .map(|c| Chunk { status, ..c.clone() })
            .collect()
    }

    fn meeting_url(&self) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.meeting_url_template.replace("{token}", &token)
    }
}

/// The longest the actor sleeps, even when its next entry is further away: timers run
/// on the monotonic clock, so a step of the wall clock (NTP, a suspended VM) is noticed
/// within this long.
const LONGEST_SLEEP: Duration = Duration::from_secs(300);

/// How long to sleep at `now` to wake at `when` (at once if it has passed).
fn sleep_before(when: Timestamp, now: Timestamp) -> Duration {
    (when - now).to_std().unwrap_or(Duration::ZERO).min(LONGEST_SLEEP)
}

/// The agenda entry for a session after it was settled at `now`: its next wake-up
/// strictly after `now`, if time will change anything more.
fn wake_entry(session: &Session, now: Timestamp) -> Option<(Timestamp, SessionId)> {
    next_wake(session, now).map(|t| (t, session.id))
}

/// The agenda entry for a session that has just changed (or was just loaded): settle
/// it at once, so anything already due (a late reminder) goes out now.
fn settle_now(session: &Session, now: Timestamp) -> Option<(Timestamp, SessionId)> {
    session.status.is_live().then_some((now, session.id))
}

super::settled_reads!(SessionActor);

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Late reminders and expiries from while the server was down go out now.
        self.run_agenda();
        self.rearm(ctx);
    }
}

/// Every message first brings the sessions up to date with the clock.
macro_rules! settle_first {
    ($self:ident) => {
        $self.run_agenda();
    };
}

#[derive(Message)]
#[rtype(result = "Result<MentorProfile, SessionError>")]
pub struct PutProfile {
    pub by: Person,
    pub about_me: Option<String>,
    pub skills: Option<Vec<String>>,
    pub team_number: Option<i64>,
    /// The queues staffed (already checked to exist); `None` for every queue.
    pub queues: Option<BTreeSet<crate::domain::QueueId>>,
}

impl Handler<PutProfile> for SessionActor {
    type Result = Reply<MentorProfile, SessionError>;

    fn handle(&mut self, msg: PutProfile, _: &mut Context<Self>) -> Self::Result {
        if !may_mentor(msg.by.roles) {
            let e = ScheduleError::Forbidden("Only mentors have a mentor profile.");
            return after_barrier(&self.store, Err(e.into()));
        }
        let mut profile = match MentorProfile::parse(
            msg.by.id,
            &msg.by.name,
            msg.about_me.as_deref(),
            msg.skills.as_deref(),
            msg.team_number,
        ) {
            Ok(p) => p,
            Err(e) => return Box::pin(async move { Err(e.into()) }),
        };
        profile.queues = msg.queues;
        // Presence is set on its own route; a profile edit keeps it.
        profile.away = self.profiles.get(&msg.by.id).is_some_and(|p| p.away);
        self.put_profile(profile, msg.by.id)
    }
}

impl SessionActor {
    fn put_profile(&mut self, profile: MentorProfile, by: UserId) -> Reply<MentorProfile, SessionError> {
        let mut batch = Batch::new();
        batch.by(by);
        batch.put(&profile);
        let mentor = profile.user;
        let reply = commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.profiles.insert(profile.user, profile.clone());
            profile
        });
        self.telling(reply, mentor)
    }
}

/// A mentor's presence status: `away` (true) or `available`.
#[derive(Message)]
#[rtype(result = "Result<MentorProfile, SessionError>")]
pub struct SetPresence {
    pub by: Person,
    pub away: bool,
}

impl Handler<SetPresence> for SessionActor {
    type Result = Reply<MentorProfile, SessionError>;

    fn handle(&mut self, msg: SetPresence, _: &mut Context<Self>) -> Self::Result {
        if !may_mentor(msg.by.roles) {
            let e = ScheduleError::Forbidden("Only mentors have a presence status.");
            return after_barrier(&self.store, Err(e.into()));
        }
        let current = match self.profiles.get(&msg.by.id) {
            Some(p) => p.clone(),
            None => MentorProfile::parse(msg.by.id, &msg.by.name, None, None, None)
                .expect("an empty profile is valid"),
        };
        if current.away == msg.away && self.profiles.contains_key(&msg.by.id) {
            return after_barrier(&self.store, Ok(current));
        }
        let profile = MentorProfile {
            away: msg.away,
            ..current
        };
        self.put_profile(profile, msg.by.id)
    }
}

/// Mentors with every one of `skills`, among `mentors` (those holding the role now),
/// each with their next open chunks.
#[derive(Message)]
#[rtype(result = "Vec<(MentorProfile, Vec<Chunk>)>")]
pub struct SearchMentors {
    pub skills: Vec<String>,
    pub mentors: Vec<UserId>,
    pub open_chunks: usize,
}

impl Handler<SearchMentors> for SessionActor {
    type Result = MessageResult<SearchMentors>;

    fn handle(&mut self, msg: SearchMentors, _: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        let now = self.clock.now();
        let found = msg
            .mentors
            .iter()
            .filter_map(|id| self.profiles.get(id))
            .filter(|p| p.has_skills(&msg.skills))
            .map(|p| {
                let mut open: Vec<Chunk> = self
                    .chunks
                    .values()
                    .filter(|c| c.mentor == p.user && c.status == ChunkStatus::Open && c.start > now)
                    .cloned()
                    .collect();
                open.sort_by_key(|c| c.start);
                open.truncate(msg.open_chunks);
                (p.clone(), open)
            })
            .collect();
        MessageResult(found)
    }
}

#[derive(Message)]
#[rtype(result = "Result<Vec<Chunk>, SessionError>")]
pub struct PublishAvailability {
    pub by: Person,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Handler<PublishAvailability> for SessionActor {
    type Result = Reply<Vec<Chunk>, SessionError>;

    fn handle(&mut self, msg: PublishAvailability, _: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        if !may_mentor(msg.by.roles) {
            let e = ScheduleError::Forbidden("Only mentors publish availability.");
            return after_barrier(&self.store, Err(e.into()));
        }
        let now = self.clock.now();
        let ranges = match cut_into_chunks(msg.start, msg.end, now) {
            Ok(r) => r,
            Err(e) => return Box::pin(async move { Err(e.into()) }),
        };
        let clash = self
            .chunks
            .values()
            .filter(|c| c.mentor == msg.by.id)
            .any(|c| ranges.iter().any(|(s, e)| overlaps(c.start, c.end, *s, *e)));
        if clash {
            return after_barrier(&self.store, Err(ScheduleError::AvailabilityOverlaps.into()));
        }
        let created: Vec<Chunk> = ranges
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| Chunk {
                id: ChunkId(self.next_chunk + i as u64),
                mentor: msg.by.id,
                mentor_name: msg.by.name.clone(),
                start,
                end,
                status: ChunkStatus::Open,
            })
            .collect();
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        for chunk in &created {
            batch.put(chunk);
        }
        let next = self.next_chunk + created.len() as u64;
        batch
            .meta(NEXT_CHUNK, &next)
            .event(EventBody::AvailabilityUpdated {
                chunks: created.clone(),
                deleted: Vec::new(),
            });
        commit_then(self.store.clone(), batch, now, |_| {
            self.next_chunk = next;
            for chunk in &created {
                self.chunks.insert(chunk.id, chunk.clone());
            }
            created
        })
    }
}

/// Chunks in time order, filtered.
#[derive(Message)]
#[rtype(result = "Vec<Chunk>")]
pub struct ListAvailability {
    pub mentor: Option<UserId>,
    /// Keep chunks overlapping `[from, to)`; without `from`, only chunks not yet ended.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub status: Option<ChunkStatus>,
}

impl Handler<ListAvailability> for SessionActor {
    type Result = MessageResult<ListAvailability>;

    fn handle(&mut self, msg: ListAvailability, _: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        let now = self.clock.now();
        let from = msg.from.unwrap_or(now);
        let mut list: Vec<Chunk> = self
            .chunks
            .values()
            .filter(|c| msg.mentor.is_none_or(|m| c.mentor == m))
            .filter(|c| msg.status.is_none_or(|s| c.status == s))
            .filter(|c| c.end > from && msg.to.is_none_or(|to| c.start < to))
            .cloned()
            .collect();
        list.sort_by_key(|c| (c.start, c.id));
        MessageResult(list)
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct DeleteAvailability {
    pub by: Person,
    pub id: ChunkId,
}

impl Handler<DeleteAvailability> for SessionActor {
    type Result = Reply<(), SessionError>;

    fn handle(&mut self, msg: DeleteAvailability, _: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        let chunk = self.chunks.get(&msg.id);
        let refusal = match chunk {
            None => Some(ScheduleError::NotFound),
            Some(c) if c.mentor != msg.by.id && !msg.by.roles.is_manager() => Some(ScheduleError::Forbidden(
                "Only the chunk's mentor or an organizer may delete it.",
            )),
            Some(c) if c.status != ChunkStatus::Open => Some(ScheduleError::SlotInUse),
            Some(_) => None,
        };
        if let Some(e) = refusal {
            return after_barrier(&self.store, Err(e.into()));
        }
        let key = chunk.map(Record::key).expect("checked above");
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        batch.remove::<Chunk>(key).event(EventBody::AvailabilityUpdated {
            chunks: Vec::new(),
            deleted: vec![msg.id],
        });
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.chunks.remove(&msg.id);
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Session, SessionError>")]
pub struct RequestSession {
    pub by: Person,
    pub chunk: ChunkId,
    pub length: SessionLength,
    pub topic: String,
}

impl Handler<RequestSession> for SessionActor {
    type Result = Reply<Session, SessionError>;

    fn handle(&mut self, msg: RequestSession, ctx: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        let now = self.clock.now();
        let Some(first) = self.chunks.get(&msg.chunk) else {
            return after_barrier(&self.store, Err(ScheduleError::NotFound.into()));
        };
        let planned = plan_booking(
            first,
            msg.length,
            msg.by.id,
            self.chunks.values(),
            self.sessions.values(),
            now,
        );
        let taken = match planned {
            Ok(t) => t,
            Err(e) => return after_barrier(&self.store, Err(e.into())),
        };
        let session = Session {
            id: SessionId(self.next_session),
            mentor: first.mentor,
            mentor_name: first.mentor_name.clone(),
            mentee: msg.by.id,
            mentee_name: msg.by.name.clone(),
            chunks: taken.iter().map(|c| c.id).collect(),
            start: first.start,
            end: taken.last().expect("a booking takes a chunk").end,
            length: msg.length,
            status: SessionStatus::Pending,
            topic: msg.topic,
            meeting_url: None,
            cancel_reason: None,
            reminders_sent: Vec::new(),
        };
        let held = self.set_chunks(&session.chunks, ChunkStatus::Requested);
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        batch.put(&session).meta(NEXT_SESSION, &(session.id.0 + 1));
        for chunk in &held {
            batch.put(chunk);
        }
        batch
            .event(EventBody::SessionUpdated(session.clone()))
            .event(EventBody::AvailabilityUpdated {
                chunks: held.clone(),
                deleted: Vec::new(),
            });
        let reply = commit_then(self.store.clone(), batch, now, |_| {
            self.next_session += 1;
            for chunk in held {
                self.chunks.insert(chunk.id, chunk);
            }
            if let Some(entry) = settle_now(&session, now) {
                self.agenda.insert(entry);
            }
            self.sessions.insert(session.id, session.clone());
            session
        });
        self.rearm(ctx);
        reply
    }
}

#[derive(Message)]
#[rtype(result = "Result<Session, SessionError>")]
pub struct ChangeSession {
    pub by: Person,
    pub id: SessionId,
    pub change: SessionChange,
}

impl Handler<ChangeSession> for SessionActor {
    type Result = Reply<Session, SessionError>;

    fn handle(&mut self, msg: ChangeSession, ctx: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        let now = self.clock.now();
        let Some(current) = self.sessions.get(&msg.id) else {
            return after_barrier(&self.store, Err(ScheduleError::NotFound.into()));
        };
        let status = match change_session(current, msg.by.id, &msg.change, now) {
            Ok(s) => s,
            Err(e) => return after_barrier(&self.store, Err(e.into())),
        };
        let mut session = current.clone();
        let mentor = current.mentor;
        session.status = status;
        let chunk_status = match status {
            SessionStatus::Confirmed => {
                session.meeting_url = Some(self.meeting_url());
                ChunkStatus::Booked
            }
            _ => {
                if let SessionChange::Cancel { reason } = &msg.change {
                    session.cancel_reason = reason.clone();
                }
                ChunkStatus::Open
            }
        };
        let chunks = self.set_chunks(&session.chunks, chunk_status);
        let mut batch = Batch::new();
        batch.by(msg.by.id);
        batch.put(&session);
        for chunk in &chunks {
            batch.put(chunk);
        }
        batch
            .event(EventBody::SessionUpdated(session.clone()))
            .event(EventBody::AvailabilityUpdated {
                chunks: chunks.clone(),
                deleted: Vec::new(),
            });
        let reply = commit_then(self.store.clone(), batch, now, |_| {
            for chunk in chunks {
                self.chunks.insert(chunk.id, chunk);
            }
            self.agenda.retain(|(_, id)| *id != session.id);
            if let Some(entry) = settle_now(&session, now) {
                self.agenda.insert(entry);
            }
            self.sessions.insert(session.id, session.clone());
            session
        });
        self.rearm(ctx);
        // Only a confirmation or a cancellation changes a mentor's capacity, and both
        // come through here (or through time, in `settle`).
        self.telling(reply, mentor)
    }
}

/// Which sessions to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Not yet ended, ascending.
    Upcoming,
    /// Ended, descending.
    Past,
}

#[derive(Message)]
#[rtype(result = "Result<Vec<Session>, SessionError>")]
pub struct ListSessions {
    pub by: Person,
    pub when: When,
    /// Every session, not only the caller's (managers).
    pub all: bool,
}

impl Handler<ListSessions> for SessionActor {
    type Result = Result<Vec<Session>, SessionError>;

    fn handle(&mut self, msg: ListSessions, _: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        if msg.all {
            may_list_every_session(msg.by.roles)?;
        }
        let now = self.clock.now();
        let all = msg.all;
        let mut list: Vec<Session> = self
            .sessions
            .values()
            .filter(|s| all || s.involves(msg.by.id))
            .filter(|s| (s.end > now) == (msg.when == When::Upcoming))
            .cloned()
            .collect();
        list.sort_by_key(|s| (s.start, s.id));
        if msg.when == When::Past {
            list.reverse();
        }
        Ok(list)
    }
}

#[derive(Message)]
#[rtype(result = "NotificationSettings")]
pub struct GetSettings(pub UserId);

impl Handler<GetSettings> for SessionActor {
    type Result = MessageResult<GetSettings>;

    fn handle(&mut self, msg: GetSettings, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.settings_of(msg.0))
    }
}

#[derive(Message)]
#[rtype(result = "Result<NotificationSettings, SessionError>")]
pub struct ChangeSettings {
    pub user: UserId,
    pub change: SettingsChange,
}

/// Merged here, against the settings as they are when the change is handled, so two
/// concurrent changes of different switches both hold.
impl Handler<ChangeSettings> for SessionActor {
    type Result = Reply<NotificationSettings, SessionError>;

    fn handle(&mut self, msg: ChangeSettings, _: &mut Context<Self>) -> Self::Result {
        let settings = msg.change.apply(self.settings_of(msg.user));
        let mut batch = Batch::new();
        batch.by(msg.user);
        batch.put(&(msg.user, settings));
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.settings.insert(msg.user, settings);
            settings
        })
    }
}

/// Answers once the sessions are up to date with the clock; for readiness checks.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping;

impl Handler<Ping> for SessionActor {
    type Result = ();
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {
        settle_first!(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_actor_sleeps_until_its_next_entry_but_never_past_the_longest_sleep() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let at = |seconds: i64| now + chrono::Duration::seconds(seconds);
        assert_eq!(sleep_before(at(90), now), Duration::from_secs(90));
        assert_eq!(sleep_before(at(-5), now), Duration::ZERO, "overdue: at once");
        assert_eq!(sleep_before(at(86_400), now), LONGEST_SLEEP);
    }
}

/// Every session of `user` (as mentor or mentee) with their settings: their calendar.
#[derive(Message)]
#[rtype(result = "(Vec<Session>, NotificationSettings)")]
pub struct CalendarOf(pub UserId);

impl Handler<CalendarOf> for SessionActor {
    type Result = MessageResult<CalendarOf>;

    fn handle(&mut self, msg: CalendarOf, _: &mut Context<Self>) -> Self::Result {
        settle_first!(self);
        let sessions = self
            .sessions
            .values()
            .filter(|s| s.involves(msg.0))
            .cloned()
            .collect();
        MessageResult((sessions, self.settings_of(msg.0)))
    }
}
