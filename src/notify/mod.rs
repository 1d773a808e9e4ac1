//! Notifications that reach people away from the page.
//!
//! Each channel is a consumer of the durable event log with its own stored cursor:
//! the event a change causes is committed with the change, so a notification is
//! recorded in the same commit by construction; a background sender reads the log
//! after the sync, delivers, and only then moves its cursor. Nothing here delays a
//! request, and nothing pending lives in memory: what is still to be sent is the part
//! of the log after the cursor.
//!
//! Architecture Invariant: like `http` and `ws`, this is transport. It changes no
//! domain state; the only thing it writes is its own cursor (`Store::record_cursor`).

pub mod email;
pub mod webhooks;

use crate::clock::SharedClock;
use crate::domain::event::Event;
use crate::store::{EventLog, Store};
use std::time::Duration;
use tokio::sync::watch;

/// What every sender shares: the store and its log, the newest durable `seq`, the
/// clock and the base of absolute URLs in payloads.
#[derive(Clone)]
pub struct Wiring {
    pub store: Store,
    pub durable: watch::Receiver<u64>,
    pub clock: SharedClock,
    pub base: std::sync::Arc<str>,
    /// The newest event when the server started: where a channel without a stored
    /// cursor begins (it gets everything after).
    pub start: u64,
}

/// Events read from the log at a time.
const PAGE: usize = 64;

impl Wiring {
    /// The stored cursor `key`, or (for a channel new to this store) the newest event
    /// at start-up, recorded as the cursor.
    async fn cursor(&self, key: &str) -> Result<u64, crate::store::StoreError> {
        match self.store.meta::<u64>(key)? {
            Some(c) => Ok(c),
            None => {
                self.store
                    .record_cursor(key, self.start, self.clock.now())
                    .await?;
                Ok(self.start)
            }
        }
    }

    /// The next durable events after `cursor`, waiting for some; `None` once the
    /// server is stopping. Events the log no longer retains are skipped with a warning.
    async fn next_page(&mut self, log: &EventLog, cursor: &mut u64, channel: &str) -> Option<Vec<Event>> {
        loop {
            let to = *self.durable.borrow_and_update();
            match log.read(*cursor + 1, to, PAGE) {
                Ok(events) if !events.is_empty() => {
                    if events[0].seq > *cursor + 1 {
                        tracing::warn!(
                            channel,
                            from = *cursor + 1,
                            to = events[0].seq - 1,
                            "events no longer retained were skipped"
                        );
                    }
                    return Some(events);
                }
                Ok(_) if to > *cursor => {
                    tracing::warn!(
                        channel,
                        from = *cursor + 1,
                        to,
                        "events no longer retained were skipped"
                    );
                    *cursor = to;
                }
                Ok(_) => self.durable.changed().await.ok()?,
                Err(error) => {
                    tracing::error!(%error, channel, "could not read the event log");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
