//! The only module that knows sled and bincode.
//!
//! Layout on disk: one sled tree per aggregate (`users`, `tickets`, …), keys are
//! big-endian ids so a tree iterates in id order, values are versioned records
//! (see [`records`]). Every change is one sled transaction that writes the aggregate's
//! records, the id counters and the change's events together, so a crash keeps all of
//! a change or none of it. What a record looks like on disk is [`records`]' business:
//! each tree has its own versioned record types, apart from the domain's.
//!
//! Durability: [`Store::commit`] applies the transaction and hands back a [`Commit`]
//! whose [`Commit::durable`] resolves only after sled's flush *and* an fdatasync of
//! sled's data file (see [`commit`] for why both, and for the group commit that shares
//! one fdatasync between all writes that arrive together). Callers acknowledge a change
//! only after that.

pub mod backup;
mod commit;
mod records;

use crate::domain::event::{Event, EventBody};
use crate::domain::{Timestamp, UserId};
use commit::{Committer, Pending};
pub use records::{MetaValue, Record};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The trees of the database, one per aggregate plus bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TreeName {
    Users,
    DeviceSessions,
    Tickets,
    Feedback,
    Announcements,
    Idempotency,
    MentorProfiles,
    Chunks,
    Sessions,
    NotificationSettings,
    /// Small named values: id counters, the queue's settings, the event counter.
    Meta,
    /// The event log, keyed by `seq`.
    Events,
    /// The help queues (desks), by id.
    Queues,
}

impl TreeName {
    pub const ALL: [TreeName; 13] = [
        TreeName::Users,
        TreeName::DeviceSessions,
        TreeName::Tickets,
        TreeName::Feedback,
        TreeName::Announcements,
        TreeName::Idempotency,
        TreeName::MentorProfiles,
        TreeName::Chunks,
        TreeName::Sessions,
        TreeName::NotificationSettings,
        TreeName::Meta,
        TreeName::Events,
        TreeName::Queues,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            TreeName::Users => "users",
            TreeName::DeviceSessions => "device_sessions",
            TreeName::Tickets => "tickets",
            TreeName::Feedback => "feedback",
            TreeName::Announcements => "announcements",
            TreeName::Idempotency => "idempotency",
            TreeName::MentorProfiles => "mentor_profiles",
            TreeName::Chunks => "chunks",
            TreeName::Sessions => "sessions",
            TreeName::NotificationSettings => "notification_settings",
            TreeName::Meta => "meta",
            TreeName::Events => "events",
            TreeName::Queues => "queues",
        }
    }
}

/// What can go wrong in the store. Every variant is an operator's problem, never a
/// client's: the HTTP layer answers 500 and logs the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data folder {0} is in use by another mentorq process (stop the server first)")]
    Locked(PathBuf),
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("record in tree `{tree}` could not be decoded: {detail}")]
    Decode { tree: &'static str, detail: String },
    #[error("the store could not make a change durable and stopped accepting writes")]
    Poisoned,
}

/// The key under which the global event counter is kept in [`TreeName::Meta`].
const SEQ_KEY: &str = "seq";

/// One write: a tree, a key, and the new value (`None` removes the key).
type Write = (TreeName, Vec<u8>, Option<Vec<u8>>);

/// A set of writes and events that become durable together.
#[derive(Default)]
pub struct Batch {
    writes: Vec<Write>,
    events: Vec<EventBody>,
    /// Who the change is for the audit trail; `None` for a change made by time.
    by: Option<UserId>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes (or replaces) a record.
    pub fn put<R: Record>(&mut self, record: &R) -> &mut Self {
        self.writes.push((R::TREE, record.key(), Some(record.encode())));
        self
    }

    /// Removes the record of type `R` with this key.
    pub fn remove<R: Record>(&mut self, key: Vec<u8>) -> &mut Self {
        self.writes.push((R::TREE, key, None));
        self
    }

    /// Stores a named counter or setting in the meta tree.
    pub fn meta<T: MetaValue>(&mut self, key: &str, value: &T) -> &mut Self {
        self.writes
            .push((TreeName::Meta, key.as_bytes().to_vec(), Some(value.encode())));
        self
    }

    /// Names who made this change: every event of the batch records them.
    pub fn by(&mut self, user: UserId) -> &mut Self {
        self.by = Some(user);
        self
    }

    /// Appends an event; it gets the next `seq` when the batch is committed.
    pub fn event(&mut self, body: EventBody) -> &mut Self {
        self.events.push(body);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty()
    }
}

/// A change that has been applied but may not be durable yet.
#[must_use = "a change must not be acknowledged before it is durable"]
pub struct Commit {
    /// The change's events with their `seq`.
    pub events: Vec<Arc<Event>>,
    durable: tokio::sync::oneshot::Receiver<Result<(), ()>>,
}

impl Commit {
    /// Resolves once the change (and everything committed before it) is on disk.
    pub async fn durable(self) -> Result<Vec<Arc<Event>>, StoreError> {
        match self.durable.await {
            Ok(Ok(())) => Ok(self.events),
            _ => Err(StoreError::Poisoned),
        }
    }
}

/// Receives every committed event, in `seq` order, after it is durable.
pub type EventSink = Box<dyn Fn(&[Arc<Event>]) + Send + Sync>;

/// 16 random bytes naming something once and for all, shown as hex. A store has two,
/// both made at its first start and kept inside the database:
/// - its **id** ([`Store::id`]): kept by any copy or backup of the folder. Tokens name
///   it, so a token minted for one store is refused by every other one.
/// - its **epoch** ([`Store::epoch`]): the identity of its event history. A restore from
///   a backup makes a new one, so a client's `since` from another history is never
///   resumed into this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomId(pub [u8; 16]);

impl std::fmt::Display for RandomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

const STORE_ID_KEY: &str = "store_id";
const EPOCH_KEY: &str = "epoch";

/// The handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// The number of the newest change committed through this handle (and its clones):
    /// what a read by its owner can have seen. See [`Store::for_writer`].
    written: Arc<std::sync::atomic::AtomicU64>,
}

struct Inner {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    /// Held while a batch takes its `seq` numbers, is applied and is queued for the
    /// disk: that is what makes `seq` gap-free on disk and hands batches to the
    /// committer in `seq` order.
    next_seq: Mutex<u64>,
    /// The number of the newest applied change (changed under `next_seq`'s lock).
    applied: std::sync::atomic::AtomicU64,
    committer: Committer,
    sink: Arc<Mutex<Option<EventSink>>>,
    /// How many of the newest events the `events` tree keeps.
    retain_events: std::sync::atomic::AtomicU64,
    path: PathBuf,
    id: RandomId,
    epoch: RandomId,
    /// Our own advisory lock on the data folder, so a second process (a CLI command
    /// next to a running server) is told plainly instead of getting sled's error.
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) the data folder at `path` with a 64 MiB page cache.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, 64 * 1024 * 1024)
    }

    /// Opens the data folder with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(path)?;
        let lock = File::create(path.join("mentorq.lock"))?;
        fs2::FileExt::try_lock_exclusive(&lock).map_err(|_| StoreError::Locked(path.to_path_buf()))?;
        let db = sled::Config::new()
            .path(path.join("sled"))
            // Our own group commit decides when to flush; sled's timer would only
            // add fsyncs the clients do not wait for.
            .flush_every_ms(None)
            .cache_capacity(cache_bytes)
            .open()?;
        let trees = TreeName::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        let data_file = File::options().read(true).open(path.join("sled").join("db"))?;
        let meta = &trees[TreeName::Meta as usize];
        let id = Store::load_or_create_id(meta, STORE_ID_KEY, &db, &data_file)?;
        let epoch = Store::load_or_create_id(meta, EPOCH_KEY, &db, &data_file)?;
        let sink: Arc<Mutex<Option<EventSink>>> = Arc::default();
        let committer = Committer::start(db.clone(), data_file, sink.clone())?;
        let next_seq = match meta.get(SEQ_KEY)? {
            Some(v) => <u64 as MetaValue>::decode(&v)?,
            None => 1,
        };
        Ok(Store {
            written: Arc::default(),
            inner: Arc::new(Inner {
                db,
                trees,
                next_seq: Mutex::new(next_seq),
                applied: std::sync::atomic::AtomicU64::new(0),
                committer,
                sink,
                retain_events: std::sync::atomic::AtomicU64::new(u64::MAX),
                path: path.to_path_buf(),
                id,
                epoch,
                _lock: lock,
            }),
        })
    }

    /// Reads the id kept under `key`, or makes it (durably, before anything else is
    /// written).
    fn load_or_create_id(
        meta: &sled::Tree,
        key: &str,
        db: &sled::Db,
        data_file: &File,
    ) -> Result<RandomId, StoreError> {
        if let Some(bytes) = meta.get(key)? {
            return RandomId::decode(&bytes);
        }
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let id = RandomId(id);
        meta.insert(key, id.encode())?;
        db.flush()?;
        data_file.sync_data()?;
        Ok(id)
    }

    /// This data folder's identity.
    pub fn id(&self) -> RandomId {
        self.inner.id
    }

    /// The identity of this store's event history.
    pub fn epoch(&self) -> RandomId {
        self.inner.epoch
    }

    /// The data folder.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn tree(&self, name: TreeName) -> &sled::Tree {
        &self.inner.trees[name as usize]
    }

    /// Sets where committed events go once they are durable.
    pub fn set_event_sink(&self, sink: EventSink) {
        *self.inner.sink.lock().expect("sink lock") = Some(sink);
    }

    /// Applies `batch` atomically, numbering its events, and queues it for the disk.
    pub fn commit(&self, batch: Batch, now: Timestamp) -> Result<Commit, StoreError> {
        let mut next_seq = self.inner.next_seq.lock().map_err(|_| StoreError::Poisoned)?;
        let by = batch.by;
        let events: Vec<Arc<Event>> = batch
            .events
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                Arc::new(Event {
                    seq: *next_seq + i as u64,
                    at: now,
                    by,
                    body,
                })
            })
            .collect();
        let mut writes = batch.writes;
        if !events.is_empty() {
            let retain = self
                .inner
                .retain_events
                .load(std::sync::atomic::Ordering::Relaxed);
            for event in &events {
                writes.push((
                    TreeName::Events,
                    event.seq.to_be_bytes().to_vec(),
                    Some(event.encode()),
                ));
                // Keep exactly the newest `retain`: each new event retires one.
                if let Some(old) = event.seq.checked_sub(retain).filter(|s| *s > 0) {
                    writes.push((TreeName::Events, old.to_be_bytes().to_vec(), None));
                }
            }
            let after = *next_seq + events.len() as u64;
            writes.push((
                TreeName::Meta,
                SEQ_KEY.as_bytes().to_vec(),
                Some(MetaValue::encode(&after)),
            ));
        }
        self.apply(&writes)?;
        *next_seq += events.len() as u64;
        let number = self
            .inner
            .applied
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
            + 1;
        self.written
            .fetch_max(number, std::sync::atomic::Ordering::AcqRel);
        let durable = self.inner.committer.enqueue(Pending {
            events: events.clone(),
            number,
        })?;
        drop(next_seq);
        Ok(Commit { events, durable })
    }

    /// Resolves once everything committed so far is durable. A refusal that was
    /// decided from state that is not yet durable waits for this before it is sent.
    pub async fn barrier(&self) -> Result<(), StoreError> {
        let receiver = {
            let _order = self.inner.next_seq.lock().map_err(|_| StoreError::Poisoned)?;
            let number = self.inner.applied.load(std::sync::atomic::Ordering::Acquire);
            self.inner.committer.enqueue(Pending {
                events: Vec::new(),
                number,
            })?
        };
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            _ => Err(StoreError::Poisoned),
        }
    }

    /// A handle for one writer (an actor): the same store, but [`Store::settled`] on it
    /// waits only for changes committed through it, which are all its owner's memory
    /// can reflect. A read by the `QueueActor` does not wait for a user's login.
    pub fn for_writer(&self) -> Store {
        Store {
            inner: self.inner.clone(),
            written: Arc::default(),
        }
    }

    /// Resolves once every change committed through this handle is durable: at once
    /// when none is in flight (the common case for reads), else at the next sync. An
    /// actor answers a read decided from memory only after this, so nobody is shown a
    /// change that a crash could take back.
    pub fn settled(&self) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'static {
        use std::sync::atomic::Ordering;
        let pending = self.inner.committer.durable() < self.written.load(Ordering::Acquire);
        let store = self.clone();
        async move {
            if store.is_poisoned() {
                return Err(StoreError::Poisoned);
            }
            if pending {
                store.barrier().await?;
            }
            Ok(())
        }
    }

    /// Fault injection for tests: syncs wait until [`Store::release_syncs`], so changes
    /// are applied but not durable for as long as a test needs.
    #[doc(hidden)]
    pub fn hold_syncs(&self) {
        self.inner.committer.hold();
    }

    #[doc(hidden)]
    pub fn release_syncs(&self) {
        self.inner.committer.release();
    }

    fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut names: Vec<TreeName> = writes.iter().map(|w| w.0).collect();
        names.sort();
        names.dedup();
        let trees: Vec<sled::Tree> = names.iter().map(|n| self.tree(*n).clone()).collect();
        use sled::transaction::{TransactionError, Transactional};
        trees[..]
            .transaction(|views| {
                for (tree, key, value) in writes {
                    let view = &views[names.binary_search(tree).expect("tree listed")];
                    match value {
                        Some(v) => view.insert(key.as_slice(), v.as_slice())?,
                        None => view.remove(key.as_slice())?,
                    };
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })
    }

    /// Every record of type `R`, in key order.
    pub fn load_all<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        self.records().collect()
    }

    /// Every record of type `R`, in key order, read as the iterator goes (for exports
    /// that must not hold a whole tree in memory).
    pub fn records<R: Record>(&self) -> impl Iterator<Item = Result<R, StoreError>> + Send + 'static {
        self.tree(R::TREE).iter().values().map(|v| R::decode(&v?))
    }

    /// A value stored with [`Batch::meta`].
    pub fn meta<T: MetaValue>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.tree(TreeName::Meta)
            .get(key)?
            .map(|v| T::decode(&v))
            .transpose()
    }

    /// The `seq` the next committed event will get.
    pub fn next_seq(&self) -> u64 {
        *self.inner.next_seq.lock().expect("seq lock")
    }

    /// Retained events with `seq >= from`, in order.
    pub fn events_from(&self, from: u64) -> impl Iterator<Item = Result<Event, StoreError>> + '_ {
        self.tree(TreeName::Events)
            .range(from.to_be_bytes()..)
            .values()
            .map(|v| Event::decode(&v?))
    }

    /// Keeps only the newest `keep` events from now on, and trims the log to that now.
    pub fn retain_events(&self, keep: u64) -> Result<(), StoreError> {
        self.inner
            .retain_events
            .store(keep, std::sync::atomic::Ordering::Relaxed);
        let newest = self.next_seq().saturating_sub(1);
        let first_kept = newest.saturating_sub(keep) + 1;
        let events = self.tree(TreeName::Events);
        let mut batch = sled::Batch::default();
        for key in events.range(..first_kept.to_be_bytes()).keys() {
            batch.remove(key?);
        }
        events.apply_batch(batch)?;
        Ok(())
    }

    /// Retained events with `seq` below `before` (all, without it), newest first, read
    /// as the iterator goes.
    pub fn newest_first(&self, before: Option<u64>) -> impl Iterator<Item = Result<Event, StoreError>> {
        let end = before.unwrap_or(u64::MAX);
        self.tree(TreeName::Events)
            .range(..end.to_be_bytes())
            .rev()
            .map(|kv| Event::decode(&kv?.1))
    }

    /// The `seq` of the oldest retained event, if any.
    pub fn first_retained_seq(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .tree(TreeName::Events)
            .first()?
            .map(|(k, _)| u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// Records how far a consumer of the event log (a webhook endpoint) has got: a meta
    /// value, committed in order with everything else and answered once durable.
    pub async fn record_cursor(&self, name: &str, seq: u64, now: Timestamp) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.meta(name, &seq);
        self.commit(batch, now)?.durable().await.map(|_| ())
    }

    /// Flushes everything to disk; used at shutdown.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.barrier().await?;
        self.inner.db.flush()?;
        Ok(())
    }
}

/// Read access to the retained event log, for replaying what a reconnecting client
/// missed. It reads only: the log is written by [`Store::commit`].
#[derive(Clone)]
pub struct EventLog(Store);

impl EventLog {
    /// Up to `max` retained events from `from` through `to`, in `seq` order. A caller
    /// passes a `to` it knows to be durable (the log may already hold newer events
    /// that are not), and checks the `seq`s: the window may have moved past `from`.
    pub fn read(&self, from: u64, to: u64, max: usize) -> Result<Vec<Event>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        self.0
            .tree(TreeName::Events)
            .range(from.to_be_bytes()..=to.to_be_bytes())
            .values()
            .take(max)
            .map(|v| Event::decode(&v?))
            .collect()
    }

    /// The `seq` of the oldest retained event, if any.
    pub fn first_retained_seq(&self) -> Result<Option<u64>, StoreError> {
        self.0.first_retained_seq()
    }
}

impl Store {
    /// A read-only handle to the event log.
    pub fn event_log(&self) -> EventLog {
        EventLog(self.clone())
    }

    /// Whether a failed sync stopped the store from acknowledging writes.
    pub fn is_poisoned(&self) -> bool {
        self.inner.committer.is_poisoned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_names_index_the_tree_list_in_order() {
        for (i, name) in TreeName::ALL.iter().enumerate() {
            assert_eq!(*name as usize, i, "{name:?}");
        }
    }

    #[test]
    fn a_store_keeps_its_id_and_epoch_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (id, epoch) = {
            let store = Store::open(dir.path()).unwrap();
            (store.id(), store.epoch())
        };
        assert_ne!(id, epoch);
        // sled's background threads may hold the folder's lock for a moment after the
        // last handle is dropped.
        let mut tries = 0;
        let reopened = loop {
            match Store::open(dir.path()) {
                Ok(store) => break store,
                Err(e) if tries < 50 => {
                    tries += 1;
                    eprintln!("reopening: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("the store did not reopen: {e}"),
            }
        };
        assert_eq!((reopened.id(), reopened.epoch()), (id, epoch));
        let other = tempfile::tempdir().unwrap();
        assert_ne!(Store::open(other.path()).unwrap().id(), id);
    }

    #[test]
    fn a_commit_numbers_events_and_becomes_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = chrono::Utc::now();
        let mut batch = Batch::new();
        batch
            .meta("x", &1u64)
            .event(EventBody::QueueUpdated(crate::domain::queue::Queue::first(
                Default::default(),
            )));
        batch.event(EventBody::QueueUpdated(crate::domain::queue::Queue::first(
            Default::default(),
        )));
        let commit = store.commit(batch, now).unwrap();
        let seqs: Vec<u64> = commit.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(commit.durable()).unwrap();
        assert_eq!(store.next_seq(), 3);
        assert_eq!(store.meta::<u64>("x").unwrap(), Some(1));
        assert_eq!(store.events_from(2).count(), 1);
    }

    #[test]
    fn the_event_log_keeps_exactly_the_newest_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = chrono::Utc::now();
        let publish = |n: usize| {
            let mut batch = Batch::new();
            for _ in 0..n {
                batch.event(EventBody::QueueUpdated(crate::domain::queue::Queue::first(
                    Default::default(),
                )));
            }
            let _ = store.commit(batch, now).unwrap();
        };
        publish(5);
        store.retain_events(3).unwrap();
        assert_eq!(store.first_retained_seq().unwrap(), Some(3));
        publish(2);
        let kept: Vec<u64> = store.events_from(0).map(|e| e.unwrap().seq).collect();
        assert_eq!(kept, vec![5, 6, 7]);
    }
}
