//! Backups: every record of the store as of one point in commit order, in one file, and
//! the restore that builds a data folder from it.
//!
//! The file is `MAGIC`, the `seq` of the newest event it holds (8 bytes, big-endian),
//! then one entry per record — the tree's name (1-byte length, then UTF-8), the key and
//! the value (each a 4-byte big-endian length, then the bytes) — and last the SHA-256 of
//! everything before it. The generated signing secret travels as an entry of the pseudo
//! tree `jwt_secret`, so device sessions and refresh tokens survive a restore. A restore
//! keeps the store id (tokens name it) and makes a new epoch: the restored history is
//! another one, and clients resuming from the old server get a snapshot.

use super::{RandomId, Store, StoreError, TreeName, EPOCH_KEY};
use bytes::{BufMut, Bytes, BytesMut};
use sha2::{Digest, Sha256};
use std::path::Path;

const MAGIC: &[u8] = b"mentorq backup 1\n";
const SECRET: &str = "jwt_secret";

/// The store's records as of one point in commit order.
pub struct Snapshot {
    seq: u64,
    entries: Vec<(&'static str, sled::IVec, sled::IVec)>,
}

impl Store {
    /// Takes a [`Snapshot`]: no change is applied while the records are gathered (they
    /// are shared, not copied, so this is short), and none that was applied is missed.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut entries = Vec::new();
        let seq = {
            let next_seq = self.inner.next_seq.lock().map_err(|_| StoreError::Poisoned)?;
            for tree in TreeName::ALL {
                for pair in self.tree(tree).iter() {
                    let (key, value) = pair?;
                    entries.push((tree.name(), key, value));
                }
            }
            *next_seq - 1
        };
        match std::fs::read(self.path().join(SECRET)) {
            Ok(secret) => entries.push((SECRET, sled::IVec::default(), secret.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Snapshot { seq, entries })
    }
}

impl Snapshot {
    /// The `seq` of the newest event the snapshot holds.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The backup file, a piece at a time (about 64 KiB each), the checksum last.
    pub fn into_pieces(self) -> impl Iterator<Item = Bytes> + Send {
        let mut hasher = Sha256::new();
        let mut head = BytesMut::from(MAGIC);
        head.put_u64(self.seq);
        hasher.update(&head);
        let mut entries = self.entries.into_iter().peekable();
        let mut first = Some(head.freeze());
        let mut done = false;
        std::iter::from_fn(move || {
            if let Some(head) = first.take() {
                return Some(head);
            }
            if done {
                return None;
            }
            let mut piece = BytesMut::new();
            while piece.len() < 64 * 1024 {
                let Some((tree, key, value)) = entries.next() else {
                    break;
                };
                piece.put_u8(tree.len() as u8);
                piece.put_slice(tree.as_bytes());
                piece.put_u32(key.len() as u32);
                piece.put_slice(&key);
                piece.put_u32(value.len() as u32);
                piece.put_slice(&value);
            }
            hasher.update(&piece);
            if entries.peek().is_none() {
                piece.put_slice(&hasher.clone().finalize());
                done = true;
            }
            Some(piece.freeze())
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0} is not empty: restore into a new or empty folder")]
    NotEmpty(std::path::PathBuf),
    #[error("this is not a mentorq backup")]
    NotABackup,
    #[error("the backup is damaged or incomplete (its checksum does not match)")]
    Damaged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds a data folder at `dir` (absent or empty) from the backup `file`; answers the
/// `seq` it holds. Nothing is written unless the whole file checks out.
pub fn restore(file: &[u8], dir: &Path) -> Result<u64, RestoreError> {
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(RestoreError::NotEmpty(dir.to_path_buf()));
    }
    if !file.starts_with(MAGIC) {
        return Err(RestoreError::NotABackup);
    }
    if file.len() < MAGIC.len() + 8 + 32 {
        return Err(RestoreError::Damaged);
    }
    let (content, checksum) = file.split_at(file.len() - 32);
    if Sha256::digest(content)[..] != *checksum {
        return Err(RestoreError::Damaged);
    }
    let mut rest = &content[MAGIC.len()..];
    let seq = u64::from_be_bytes(take(&mut rest, 8)?.try_into().expect("8 bytes"));
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let name_len = usize::from(take(&mut rest, 1)?[0]);
        let tree = std::str::from_utf8(take(&mut rest, name_len)?).map_err(|_| RestoreError::Damaged)?;
        let key_len = u32::from_be_bytes(take(&mut rest, 4)?.try_into().expect("4 bytes")) as usize;
        let key = take(&mut rest, key_len)?;
        let value_len = u32::from_be_bytes(take(&mut rest, 4)?.try_into().expect("4 bytes")) as usize;
        let value = take(&mut rest, value_len)?;
        entries.push((tree, key, value));
    }
    std::fs::create_dir_all(dir).map_err(StoreError::from)?;
    let db = sled::Config::new()
        .path(dir.join("sled"))
        .open()
        .map_err(StoreError::from)?;
    for (tree, key, value) in entries {
        if tree == SECRET {
            write_secret(dir, value)?;
        } else {
            db.open_tree(tree)
                .map_err(StoreError::from)?
                .insert(key, value)
                .map_err(StoreError::from)?;
        }
    }
    let mut epoch = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut epoch);
    let meta = db.open_tree(TreeName::Meta.name()).map_err(StoreError::from)?;
    meta.insert(EPOCH_KEY, super::MetaValue::encode(&RandomId(epoch)))
        .map_err(StoreError::from)?;
    db.flush().map_err(StoreError::from)?;
    Ok(seq)
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], RestoreError> {
    if rest.len() < n {
        return Err(RestoreError::Damaged);
    }
    let (taken, left) = rest.split_at(n);
    *rest = left;
    Ok(taken)
}

fn write_secret(dir: &Path, secret: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(dir.join(SECRET))?;
    file.write_all(secret)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EventBody;
    use crate::store::Batch;

    fn backup_of(store: &Store) -> Vec<u8> {
        store
            .snapshot()
            .unwrap()
            .into_pieces()
            .flat_map(|b| b.to_vec())
            .collect()
    }

    #[test]
    fn a_restored_folder_holds_every_record_the_same_id_and_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a")).unwrap();
        std::fs::write(store.path().join(SECRET), "s".repeat(40)).unwrap();
        let mut batch = Batch::new();
        batch
            .meta("x", &7u64)
            .event(EventBody::QueueUpdated(crate::domain::queue::Queue::first(
                Default::default(),
            )));
        let _ = store.commit(batch, chrono::Utc::now()).unwrap();
        let file = backup_of(&store);
        let (id, epoch) = (store.id(), store.epoch());
        drop(store);

        let target = dir.path().join("b");
        assert_eq!(restore(&file, &target).unwrap(), 1);
        let restored = Store::open(&target).unwrap();
        assert_eq!(restored.meta::<u64>("x").unwrap(), Some(7));
        assert_eq!(restored.next_seq(), 2);
        assert_eq!(restored.events_from(0).count(), 1);
        assert_eq!(restored.id(), id);
        assert_ne!(restored.epoch(), epoch);
        assert_eq!(
            std::fs::read_to_string(target.join(SECRET)).unwrap(),
            "s".repeat(40)
        );
        let again = restore(&file, &target).unwrap_err();
        assert!(matches!(again, RestoreError::NotEmpty(_)), "{again}");
    }

    #[test]
    fn a_damaged_or_truncated_backup_is_refused_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a")).unwrap();
        let file = backup_of(&store);
        let mut altered = file.clone();
        let middle = altered.len() / 2;
        altered[middle] ^= 1;
        for (bad, what) in [(&altered[..], "altered"), (&file[..file.len() - 1], "truncated")] {
            let target = dir.path().join(what);
            let refused = restore(bad, &target).unwrap_err();
            assert!(matches!(refused, RestoreError::Damaged), "{what}: {refused}");
            assert!(!target.exists(), "{what}: nothing written");
        }
        let refused = restore(b"hello", &dir.path().join("c")).unwrap_err();
        assert!(matches!(refused, RestoreError::NotABackup));
    }
}
