//! Reminders, expiry and completion with a controlled clock, across simulated restarts.
//!
//! A "restart" stops the `SessionActor`'s thread and loads a fresh actor from the same
//! store, which is exactly what a new process does at start-up (the store's own
//! durability across processes is covered by `tests/process.rs`).

use actix::{Actor, Addr, Arbiter};
use chrono::{Duration, TimeZone, Utc};
use mentorq::actors::session::{
    ChangeSession, ChangeSettings, Ping, PublishAvailability, RequestSession, SessionActor,
};
use mentorq::clock::ManualClock;
use mentorq::domain::event::EventBody;
use mentorq::domain::schedule::{Session, SessionChange, SessionLength, SessionStatus, SettingsChange};
use mentorq::domain::ticket::Person;
use mentorq::domain::user::{Role, Roles};
use mentorq::domain::{Timestamp, UserId};
use mentorq::store::Store;
use std::sync::Arc;

const MENTOR: UserId = UserId(7);
const MENTEE: UserId = UserId(12);

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 7, 0).unwrap()
}

/// The session under test starts at 14:00.
fn start() -> Timestamp {
    Utc.with_ymd_and_hms(2030, 1, 10, 14, 0, 0).unwrap()
}

fn person(id: UserId, roles: &[Role]) -> Person {
    Person {
        id,
        email: format!("u{id}@example.org"),
        name: format!("User {id}"),
        roles: Roles::from_iter(roles.iter().copied()),
    }
}

struct Harness {
    store: Store,
    clock: ManualClock,
    actor: Addr<SessionActor>,
    arbiter: Arbiter,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let clock = ManualClock::new(t0());
        let (actor, arbiter) = start_actor(&store, &clock);
        Harness {
            store,
            clock,
            actor,
            arbiter,
            _dir: dir,
        }
    }

    /// Stops the actor (as a crash would) and loads a new one from the store.
    fn restart(&mut self) {
        // The old actor must be gone before the new one loads, as with a real process.
        let old = std::mem::replace(&mut self.arbiter, Arbiter::new());
        old.stop();
        old.join().unwrap();
        let (actor, arbiter) = start_actor(&self.store, &self.clock);
        std::mem::replace(&mut self.arbiter, arbiter).stop();
        self.actor = actor;
    }

    /// A confirmed 30-minute session at 14:00.
    async fn confirmed_session(&self) -> Session {
        confirmed_session(&self.actor).await
    }

    async fn requested_session(&self) -> Session {
        requested_session(&self.actor).await
    }

    /// Moves the clock to `minutes` before the start and lets the actor catch up.
    async fn at_minutes_before(&self, minutes: i64) {
        self.clock.set(start() - Duration::minutes(minutes));
        self.actor.send(Ping).await.unwrap();
    }

    /// Every reminder in the event log: (to, minutes before).
    fn reminders(&self) -> Vec<(UserId, u8)> {
        self.store
            .events_from(0)
            .filter_map(|e| match e.unwrap().body {
                EventBody::SessionReminder {
                    to, minutes_before, ..
                } => Some((to, minutes_before)),
                _ => None,
            })
            .collect()
    }

    fn last_status(&self) -> Option<SessionStatus> {
        self.store
            .events_from(0)
            .filter_map(|e| match e.unwrap().body {
                EventBody::SessionUpdated(s) => Some(s.status),
                _ => None,
            })
            .last()
    }
}

/// A confirmed 30-minute session at 14:00, booked through `actor`.
async fn confirmed_session(actor: &Addr<SessionActor>) -> Session {
    let session = requested_session(actor).await;
    actor
        .send(ChangeSession {
            by: person(MENTOR, &[Role::Mentor]),
            id: session.id,
            change: SessionChange::Confirm,
        })
        .await
        .unwrap()
        .unwrap()
}

/// A pending 30-minute session at 14:00: the mentor's availability, then the request.
async fn requested_session(actor: &Addr<SessionActor>) -> Session {
    let chunks = actor
        .send(PublishAvailability {
            by: person(MENTOR, &[Role::Mentor]),
            start: start(),
            end: start() + Duration::minutes(30),
        })
        .await
        .unwrap()
        .unwrap();
    actor
        .send(RequestSession {
            by: person(MENTEE, &[]),
            chunk: chunks[0].id,
            length: SessionLength::parse(30).unwrap(),
            topic: String::new(),
        })
        .await
        .unwrap()
        .unwrap()
}

fn start_actor(store: &Store, clock: &ManualClock) -> (Addr<SessionActor>, Arbiter) {
    let actor =
        SessionActor::load(store.clone(), Arc::new(clock.clone()), "https://m/{token}".into()).unwrap();
    let arbiter = Arbiter::new();
    let addr = SessionActor::start_in_arbiter(&arbiter.handle(), move |_| actor);
    (addr, arbiter)
}

#[actix_web::test]
async fn each_party_gets_each_reminder_once_at_sixty_and_fifteen_minutes() {
    let h = Harness::new();
    h.confirmed_session().await;
    h.at_minutes_before(61).await;
    assert!(h.reminders().is_empty());
    h.at_minutes_before(60).await;
    assert_eq!(h.reminders(), vec![(MENTOR, 60), (MENTEE, 60)]);
    h.at_minutes_before(30).await;
    assert_eq!(h.reminders().len(), 2, "nothing new between the two");
    h.at_minutes_before(15).await;
    assert_eq!(
        h.reminders(),
        vec![(MENTOR, 60), (MENTEE, 60), (MENTOR, 15), (MENTEE, 15)]
    );
    h.at_minutes_before(0).await;
    h.at_minutes_before(-60).await;
    assert_eq!(h.reminders().len(), 4, "never after the start");
    assert_eq!(h.last_status(), Some(SessionStatus::Completed));
    // The audit trail: what time did has no cause; the booking and confirmation do.
    let causes: Vec<(bool, Option<UserId>)> = h
        .store
        .events_from(0)
        .map(|e| e.unwrap())
        .map(|e| (matches!(e.body, EventBody::SessionReminder { .. }), e.by))
        .collect();
    assert!(
        causes
            .iter()
            .filter(|(reminder, _)| *reminder)
            .all(|(_, by)| by.is_none()),
        "{causes:?}"
    );
    assert!(
        causes.iter().any(|(_, by)| *by == Some(MENTEE)),
        "the booking names the mentee: {causes:?}"
    );
}

#[actix_web::test]
async fn pending_and_cancelled_sessions_get_no_reminders() {
    let h = Harness::new();
    h.requested_session().await;
    h.at_minutes_before(14).await;
    assert!(h.reminders().is_empty(), "pending");
    h.at_minutes_before(0).await;
    assert_eq!(h.last_status(), Some(SessionStatus::Expired));

    let h = Harness::new();
    let session = h.confirmed_session().await;
    h.actor
        .send(ChangeSession {
            by: person(MENTEE, &[]),
            id: session.id,
            change: SessionChange::Cancel { reason: None },
        })
        .await
        .unwrap()
        .unwrap();
    h.at_minutes_before(14).await;
    assert!(h.reminders().is_empty(), "cancelled");
}

#[actix_web::test]
async fn a_party_with_the_setting_off_is_not_reminded() {
    let h = Harness::new();
    let off = SettingsChange {
        sixty_minute_alert: Some(false),
        ..Default::default()
    };
    h.actor
        .send(ChangeSettings {
            user: MENTEE,
            change: off,
        })
        .await
        .unwrap()
        .unwrap();
    h.confirmed_session().await;
    h.at_minutes_before(59).await;
    assert_eq!(h.reminders(), vec![(MENTOR, 60)]);
    h.at_minutes_before(14).await;
    assert_eq!(h.reminders(), vec![(MENTOR, 60), (MENTOR, 15), (MENTEE, 15)]);
}

#[actix_web::test]
async fn a_restart_neither_repeats_nor_loses_reminders() {
    let mut h = Harness::new();
    h.confirmed_session().await;
    h.at_minutes_before(59).await;
    assert_eq!(h.reminders().len(), 2);
    h.restart();
    h.at_minutes_before(58).await;
    assert_eq!(h.reminders().len(), 2, "not repeated after the restart");
    h.at_minutes_before(15).await;
    assert_eq!(h.reminders().len(), 4, "the next ones still come");
}

#[actix_web::test]
async fn reminders_missed_during_downtime_are_sent_late_once_before_the_start() {
    let mut h = Harness::new();
    h.confirmed_session().await;
    // Down from 70 to 10 minutes before the start: both reminders were missed.
    h.clock.set(start() - Duration::minutes(10));
    h.restart();
    h.actor.send(Ping).await.unwrap();
    assert_eq!(
        h.reminders(),
        vec![(MENTOR, 60), (MENTEE, 60), (MENTOR, 15), (MENTEE, 15)]
    );
    h.restart();
    h.at_minutes_before(5).await;
    assert_eq!(h.reminders().len(), 4, "late, but once");
}

#[actix_web::test]
async fn no_reminder_is_sent_after_the_start_even_when_missed() {
    let mut h = Harness::new();
    h.confirmed_session().await;
    h.clock.set(start() + Duration::minutes(5));
    h.restart();
    h.actor.send(Ping).await.unwrap();
    assert!(h.reminders().is_empty());
}

/// A clock that runs at real speed from a chosen moment.
struct RunningClock {
    from: Timestamp,
    started: std::time::Instant,
}

impl mentorq::clock::Clock for RunningClock {
    fn now(&self) -> Timestamp {
        self.from + Duration::from_std(self.started.elapsed()).unwrap()
    }
}

#[actix_web::test]
async fn a_reminder_goes_out_at_its_time_with_nobody_asking() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Two seconds before the sixty-minute reminders are due.
    let clock = RunningClock {
        from: start() - Duration::minutes(60) - Duration::seconds(2),
        started: std::time::Instant::now(),
    };
    let actor = SessionActor::load(store.clone(), Arc::new(clock), "https://m/{token}".into()).unwrap();
    let arbiter = Arbiter::new();
    let actor = SessionActor::start_in_arbiter(&arbiter.handle(), move |_| actor);
    confirmed_session(&actor).await;
    let reminders = || {
        store
            .events_from(0)
            .filter(|e| matches!(e.as_ref().unwrap().body, EventBody::SessionReminder { .. }))
            .count()
    };
    assert_eq!(reminders(), 0, "not due yet");
    // No message reaches the actor from here on: only its own timer can wake it.
    let waited = std::time::Instant::now();
    while reminders() < 2 && waited.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(reminders(), 2, "both parties reminded, by the actor's own timer");
    arbiter.stop();
}
