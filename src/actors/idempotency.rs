//! `IdempotencyActor`: the only writer of kept answers to idempotent POSTs.

use super::{commit_then, Reply};
use crate::clock::SharedClock;
use crate::domain::idempotency::StoredResponse;
use crate::domain::UserId;
use crate::store::{Batch, Record, Store, StoreError};
use actix::prelude::*;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

type Key = (UserId, String);

pub struct IdempotencyActor {
    store: Store,
    clock: SharedClock,
    answers: HashMap<Key, StoredResponse>,
    /// Requests running now; a concurrent retry must not run them a second time.
    in_flight: HashSet<Key>,
}

impl IdempotencyActor {
    pub fn load(store: Store, clock: SharedClock) -> Result<IdempotencyActor, StoreError> {
        // Reads by this actor wait only for its own changes to be durable.
        let store = store.for_writer();
        let answers: Vec<StoredResponse> = store.load_all()?;
        Ok(IdempotencyActor {
            answers: answers
                .into_iter()
                .map(|a| ((a.user, a.key.clone()), a))
                .collect(),
            in_flight: HashSet::new(),
            store,
            clock,
        })
    }

    /// Forgets answers older than the retention period.
    fn prune(&mut self) {
        let now = self.clock.now();
        let expired: Vec<Key> = self
            .answers
            .iter()
            .filter(|(_, a)| a.expired(now))
            .map(|(k, _)| k.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        let mut batch = Batch::new();
        for key in &expired {
            if let Some(answer) = self.answers.remove(key) {
                batch.remove::<StoredResponse>(answer.key());
            }
        }
        // Pruning answers nobody: it need not wait for the disk.
        if let Err(error) = self.store.commit(batch, now) {
            tracing::error!(%error, "could not prune idempotency keys");
        }
    }
}

impl Actor for IdempotencyActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.prune();
        ctx.run_interval(Duration::from_secs(3600), |actor, _| actor.prune());
    }
}

/// What to do with an idempotent request.
#[derive(Debug, PartialEq)]
pub enum Begun {
    /// First time: run it, then `Finish` (or `Abandon`).
    Proceed,
    /// Already answered: send this again.
    Replay { status: u16, body: Vec<u8> },
    /// The same key is being processed right now.
    InFlight,
    /// The key was used for another route.
    OtherRoute,
}

#[derive(Message)]
#[rtype(result = "Begun")]
pub struct Begin {
    pub user: UserId,
    pub key: String,
    pub route: String,
}

impl Handler<Begin> for IdempotencyActor {
    type Result = MessageResult<Begin>;

    fn handle(&mut self, msg: Begin, _: &mut Context<Self>) -> Self::Result {
        let key = (msg.user, msg.key);
        let now = self.clock.now();
        MessageResult(match self.answers.get(&key).filter(|a| !a.expired(now)) {
            Some(a) if a.route == msg.route => Begun::Replay {
                status: a.status,
                body: a.body.clone(),
            },
            Some(_) => Begun::OtherRoute,
            None if self.in_flight.contains(&key) => Begun::InFlight,
            None => {
                self.in_flight.insert(key);
                Begun::Proceed
            }
        })
    }
}

/// Keeps the answer of a request that was `Proceed`ed.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct Finish(pub StoredResponse);

impl Handler<Finish> for IdempotencyActor {
    type Result = Reply<(), StoreError>;

    fn handle(&mut self, msg: Finish, _: &mut Context<Self>) -> Self::Result {
        let answer = msg.0;
        let key = (answer.user, answer.key.clone());
        let mut batch = Batch::new();
        batch.put(&answer);
        self.in_flight.remove(&key);
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.answers.insert(key, answer);
        })
    }
}

/// Forgets a request that was `Proceed`ed but whose answer is not worth keeping.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Abandon {
    pub user: UserId,
    pub key: String,
}

impl Handler<Abandon> for IdempotencyActor {
    type Result = ();

    fn handle(&mut self, msg: Abandon, _: &mut Context<Self>) {
        self.in_flight.remove(&(msg.user, msg.key));
    }
}
