//! Actors own the state. Each keeps its aggregates in memory (loaded from the store at
//! start), is the only writer of its trees, and answers a command only once the change
//! is durable.
//!
//! Architecture Invariant: only actors change state. HTTP handlers and WebSocket
//! connections send messages; they never write to the store themselves. And nothing
//! un-durable is visible: reads go through [`Settled`], refusals through
//! [`after_barrier`].

pub mod capacity;
pub mod idempotency;
pub mod queue;
pub mod session;
pub mod users;

use crate::domain::Timestamp;
use crate::store::{Batch, Commit, Store, StoreError};
use actix::ResponseFuture;

/// The answer to a command: resolves once its change is durable.
pub type Reply<T, E> = ResponseFuture<Result<T, E>>;

/// Commits `batch`; on success runs `apply` (the in-memory change) and answers `value`
/// once the batch is durable. On a storage error memory is left untouched.
pub(crate) fn commit_then<T, E>(
    store: Store,
    batch: Batch,
    now: Timestamp,
    apply: impl FnOnce(&Commit) -> T,
) -> Reply<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    match store.commit(batch, now) {
        Ok(commit) => {
            let value = apply(&commit);
            Box::pin(async move {
                commit.durable().await?;
                Ok(value)
            })
        }
        Err(e) => Box::pin(async move { Err(e.into()) }),
    }
}

/// Answers `result` once everything committed so far is durable. Used for answers
/// decided from memory that may hold changes not yet on disk (a refusal because of a
/// claim that a crash could still take back must not be sent before that claim is safe).
pub(crate) fn after_barrier<T, E>(store: &Store, result: Result<T, E>) -> Reply<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let settled = store.settled();
    Box::pin(async move {
        settled.await?;
        result
    })
}

/// A read, answered only once everything applied before it was decided is durable:
/// at once when nothing is in flight, else after the next sync. Every read a client
/// sees goes through this, so nobody is shown a change that a crash could take back.
pub struct Settled<M>(pub M);

impl<M> actix::Message for Settled<M>
where
    M: actix::Message,
    M::Result: Send,
{
    type Result = Result<M::Result, StoreError>;
}

/// Lets `$actor` (which has a `store` field) answer [`Settled`] reads of any message
/// it handles.
macro_rules! settled_reads {
    ($actor:ty) => {
        impl<M> actix::Handler<$crate::actors::Settled<M>> for $actor
        where
            Self: actix::Handler<M>,
            M: actix::Message + Send + 'static,
            M::Result: Send + 'static,
        {
            type Result = actix::ResponseFuture<Result<M::Result, $crate::store::StoreError>>;

            fn handle(&mut self, msg: $crate::actors::Settled<M>, ctx: &mut Self::Context) -> Self::Result {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let response = <Self as actix::Handler<M>>::handle(self, msg.0, ctx);
                actix::dev::MessageResponse::handle(response, ctx, Some(tx));
                // Taken after the read was decided, so it covers what the read saw.
                let settled = self.store.settled();
                Box::pin(async move {
                    settled.await?;
                    rx.await.map_err(|_| $crate::store::StoreError::Poisoned)
                })
            }
        }
    };
}
pub(crate) use settled_reads;

/// Reads the next id for `name`: the stored counter, but never below `max + 1`.
pub(crate) fn next_id(store: &Store, name: &str, max: Option<u64>) -> Result<u64, StoreError> {
    let stored: Option<u64> = store.meta(name)?;
    Ok(stored.unwrap_or(1).max(max.map_or(1, |m| m + 1)))
}
