//! Group commit: one flush and one fdatasync for every change that arrived together.
//!
//! sled's `flush()` writes its log with `sync_file_range` on Linux, which does not
//! flush the disk's write cache (sled issue #1452), so an acknowledged change could
//! still be lost in a power cut. After the flush we therefore `fdatasync` sled's data
//! file ourselves. One fdatasync costs a few milliseconds, so it is shared: a single
//! thread takes every change queued since its last sync, syncs once, then publishes the
//! batch's events and wakes the waiters. While it syncs, new changes queue up and form
//! the next batch, so the batch grows exactly as fast as the load does.

use super::{EventSink, StoreError};
use crate::domain::event::Event;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::oneshot;

/// A change waiting for the disk.
pub(super) struct Pending {
    pub events: Vec<Arc<Event>>,
    /// The number [`Store::commit`](super::Store::commit) gave the change (a barrier
    /// carries the newest number so far); once synced it becomes the durable watermark.
    pub number: u64,
}

type Waiter = (Pending, oneshot::Sender<Result<(), ()>>);

/// A flush + fdatasync slower than this is logged: it delays every change in its batch.
const SLOW_SYNC: std::time::Duration = std::time::Duration::from_millis(50);

pub(super) struct Committer {
    /// `None` only while dropping.
    queue: Option<mpsc::Sender<Waiter>>,
    /// Joined on drop, so that when the last `Store` handle is gone the database is
    /// closed and its folder free for the next process (a CLI command, a restart).
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set when a sync failed: memory is then ahead of the disk, so no further change
    /// may be acknowledged. The process keeps serving reads and reports not ready.
    poisoned: Arc<AtomicBool>,
    /// The number of the newest change known to be on disk.
    durable: Arc<AtomicU64>,
    /// While set, syncs wait: fault injection for tests of "nothing un-durable is
    /// visible" (a sync that is slow to come back).
    hold: Arc<(Mutex<bool>, Condvar)>,
}

impl Committer {
    pub fn start(
        db: sled::Db,
        data_file: File,
        sink: Arc<Mutex<Option<EventSink>>>,
    ) -> Result<Committer, StoreError> {
        let (queue, receiver) = mpsc::channel::<Waiter>();
        let poisoned = Arc::new(AtomicBool::new(false));
        let durable = Arc::new(AtomicU64::new(0));
        let hold: Arc<(Mutex<bool>, Condvar)> = Arc::default();
        let shared = Shared {
            poisoned: poisoned.clone(),
            durable: durable.clone(),
            hold: hold.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("mentorq-commit".into())
            .spawn(move || run(db, data_file, receiver, sink, shared))?;
        Ok(Committer {
            queue: Some(queue),
            thread: Some(thread),
            poisoned,
            durable,
            hold,
        })
    }

    /// The number of the newest change known to be on disk.
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Holds every sync until [`Committer::release`].
    pub fn hold(&self) {
        *self.hold.0.lock().expect("hold lock") = true;
    }

    pub fn release(&self) {
        *self.hold.0.lock().expect("hold lock") = false;
        self.hold.1.notify_all();
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub fn enqueue(&self, pending: Pending) -> Result<oneshot::Receiver<Result<(), ()>>, StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let (tx, rx) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or(StoreError::Poisoned)?;
        queue.send((pending, tx)).map_err(|_| StoreError::Poisoned)?;
        Ok(rx)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop after it has synced what was queued.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the commit thread shares with the store's handles.
struct Shared {
    poisoned: Arc<AtomicBool>,
    durable: Arc<AtomicU64>,
    hold: Arc<(Mutex<bool>, Condvar)>,
}

fn run(
    db: sled::Db,
    data_file: File,
    receiver: mpsc::Receiver<Waiter>,
    sink: Arc<Mutex<Option<EventSink>>>,
    shared: Shared,
) {
    let Shared {
        poisoned,
        durable,
        hold,
    } = shared;
    let mut batch: Vec<Waiter> = Vec::new();
    // Ends when every `Store` handle (and so every sender) is gone.
    while let Ok(first) = receiver.recv() {
        {
            let (held, released) = &*hold;
            let mut held = held.lock().expect("hold lock");
            while *held {
                held = released.wait(held).expect("hold lock");
            }
        }
        batch.push(first);
        batch.extend(receiver.try_iter());
        let started = std::time::Instant::now();
        let synced = db
            .flush()
            .map_err(StoreError::from)
            .and_then(|_| data_file.sync_data().map_err(StoreError::from));
        let took = started.elapsed();
        metrics::histogram!(crate::telemetry::COMMIT_DURATION).record(took.as_secs_f64());
        metrics::histogram!(crate::telemetry::COMMIT_BATCH).record(batch.len() as f64);
        if took > SLOW_SYNC {
            // Every acknowledgement and push in the batch waited this long.
            tracing::warn!(
                millis = took.as_millis() as u64,
                changes = batch.len(),
                "slow sync"
            );
        }
        match synced {
            Ok(()) => {
                let newest = batch.iter().map(|(p, _)| p.number).max().unwrap_or(0);
                durable.fetch_max(newest, Ordering::AcqRel);
                let events: Vec<Arc<Event>> =
                    batch.iter().flat_map(|(p, _)| p.events.iter().cloned()).collect();
                if !events.is_empty() {
                    if let Some(sink) = sink.lock().expect("sink lock").as_ref() {
                        sink(&events);
                    }
                }
                for (_, waiter) in batch.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, "could not make changes durable; refusing further writes");
                poisoned.store(true, Ordering::Release);
                for (_, waiter) in batch.drain(..) {
                    let _ = waiter.send(Err(()));
                }
            }
        }
    }
}
