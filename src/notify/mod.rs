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
/// A channel's cursor is stored at most this often while it keeps delivering...
const STORE_EVERY: Duration = Duration::from_millis(250);
/// ...or once it has delivered this many events since the stored one, whichever is first.
const STORE_AFTER: u64 = 256;

/// A channel's position in the log: the last event it has dealt with, and the one its
/// stored cursor names. What a crash can repeat is what lies between the two: at most
/// [`STORE_AFTER`] events, or [`STORE_EVERY`] of deliveries (receivers dedupe on the
/// stable `webhook-id` / `Message-ID`). Storing it per event would add a commit to
/// every write the channel follows.
pub struct Cursor {
    key: String,
    seq: u64,
    stored: u64,
    stored_at: std::time::Instant,
}

impl Cursor {
    /// The last event dealt with.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Everything through `seq` has been dealt with.
    pub fn passed(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    fn due(&self) -> bool {
        self.seq > self.stored
            && (self.seq - self.stored >= STORE_AFTER || self.stored_at.elapsed() >= STORE_EVERY)
    }
}

impl Wiring {
    /// The stored cursor `key`, or (for a channel new to this store) the newest event
    /// at start-up, recorded as the cursor.
    pub async fn cursor(&self, key: &str) -> Result<Cursor, crate::store::StoreError> {
        let seq = match self.store.meta::<u64>(key)? {
            Some(c) => c,
            None => {
                self.store
                    .record_cursor(key, self.start, self.clock.now())
                    .await?;
                self.start
            }
        };
        Ok(Cursor {
            key: key.to_string(),
            seq,
            stored: seq,
            stored_at: std::time::Instant::now(),
        })
    }

    /// Stores `cursor` if it is due ([`STORE_EVERY`], [`STORE_AFTER`]).
    pub async fn keep(&self, cursor: &mut Cursor) -> Result<(), crate::store::StoreError> {
        if cursor.due() {
            self.store_cursor(cursor).await?;
        }
        Ok(())
    }

    pub async fn store_cursor(&self, cursor: &mut Cursor) -> Result<(), crate::store::StoreError> {
        self.store
            .record_cursor(&cursor.key, cursor.seq, self.clock.now())
            .await?;
        cursor.stored = cursor.seq;
        cursor.stored_at = std::time::Instant::now();
        Ok(())
    }

    /// The next durable events after `cursor`, waiting for some (and storing the
    /// cursor while it waits, once due); `None` once the server is stopping or the
    /// cursor cannot be stored. Events the log no longer retains are skipped with a
    /// warning.
    pub async fn next_page(
        &mut self,
        log: &EventLog,
        cursor: &mut Cursor,
        channel: &str,
    ) -> Option<Vec<Event>> {
        loop {
            let to = *self.durable.borrow_and_update();
            match log.read(cursor.seq + 1, to, PAGE) {
                Ok(events) if !events.is_empty() => {
                    if events[0].seq > cursor.seq + 1 {
                        tracing::warn!(
                            channel,
                            from = cursor.seq + 1,
                            to = events[0].seq - 1,
                            "events no longer retained were skipped"
                        );
                    }
                    return Some(events);
                }
                Ok(_) if to > cursor.seq => {
                    tracing::warn!(
                        channel,
                        from = cursor.seq + 1,
                        to,
                        "events no longer retained were skipped"
                    );
                    cursor.passed(to);
                }
                Ok(_) if cursor.seq > cursor.stored => {
                    let wait = STORE_EVERY.saturating_sub(cursor.stored_at.elapsed());
                    match tokio::time::timeout(wait, self.durable.changed()).await {
                        Ok(changed) => changed.ok()?,
                        Err(_) => {
                            if let Err(error) = self.store_cursor(cursor).await {
                                tracing::error!(%error, channel, "could not record a cursor");
                                return None;
                            }
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(seq: u64, stored: u64, age: Duration) -> Cursor {
        Cursor {
            key: "test.cursor".into(),
            seq,
            stored,
            stored_at: std::time::Instant::now() - age,
        }
    }

    #[test]
    fn a_cursor_is_stored_after_a_while_or_after_many_events_but_never_when_unchanged() {
        assert!(!cursor(10, 10, Duration::from_secs(60)).due(), "nothing new");
        assert!(!cursor(11, 10, Duration::ZERO).due(), "one event, just stored");
        assert!(cursor(11, 10, STORE_EVERY).due(), "one event, stored a while ago");
        assert!(cursor(10 + STORE_AFTER, 10, Duration::ZERO).due(), "many events");
        let mut c = cursor(5, 5, Duration::ZERO);
        c.passed(3);
        assert_eq!(c.seq(), 5, "a cursor never moves back");
    }
}
