//! The node's transparency log in sled: every accepted event is appended here,
//! inside the same transaction as the state change it records, together with
//! the Merkle tree hashes it adds.
//!
//! - `log_entries`: index (u64 big-endian) → `LogEvent::to_bytes()`, never
//!   re-serialised (the leaf hash is over exactly these bytes);
//! - `log_hashes`: stored-hash index (u64 big-endian) → 32-byte hash, the
//!   dense numbering of `shire_tlog` (`stored_hash_count(n)` hashes for `n`
//!   entries);
//! - the size in the meta tree under [`LOG_SIZE`].
//!
//! [`append`] reads the size, the earlier hashes it needs and writes the entry,
//! the new hashes and the new size all through the event's own [`Tx`]. sled
//! runs the closure of a transaction again on a conflict, and every read it
//! made comes from that same attempt, so hashes can never be computed from a
//! stale size; the size key serialises appends. The log and the state can never
//! disagree, also across `kill -9`: an event is in the log (entry and hashes)
//! if and only if its change is stored.
//!
//! Reading for the API goes through [`LogView`], which implements
//! `shire_tlog::HashStore` and `EntryStore` over the trees, always for a size
//! at most [`super::db::Db::durable_log_size`]. [`check`] is the startup check.

use super::db::{abort, Db, Tx, TxResult, T};
use super::error::StoreError as Error;
use shire_core::event::LogEvent;
use shire_tlog::{EntryStore, Hash, HashStore, StoreError, TreeError, MAX_BUNDLE_ENTRY_LEN};
use sled::transaction::ConflictableTransactionError;
use std::cell::RefCell;

/// Meta-tree key of the number of entries in the log.
pub const LOG_SIZE: &[u8] = b"log_size";

/// The error for an event whose entry a tlog-tiles bundle cannot carry.
fn too_large(len: usize) -> Error {
    Error::EntryTooLarge {
        len,
        max: MAX_BUNDLE_ENTRY_LEN,
    }
}

/// Refuses, before any transaction, an event whose entry would be longer than
/// a log entry may be.
pub fn check_entry_size(event: &LogEvent) -> Result<(), Error> {
    let len = event.to_bytes().len();
    if len > MAX_BUNDLE_ENTRY_LEN {
        return Err(too_large(len));
    }
    Ok(())
}

/// Stored hashes read through a transaction, so that what `hashes_to_append`
/// sees belongs to the same attempt as the size it extends. A transaction
/// error (a conflict) is kept aside and handed back to sled unchanged.
struct TxHashes<'a, 'b> {
    tx: &'a Tx<'b>,
    failure: RefCell<Option<ConflictableTransactionError<Error>>>,
}

impl HashStore for TxHashes<'_, '_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let keys: Vec<Vec<u8>> = indexes.iter().map(|i| i.to_be_bytes().to_vec()).collect();
        let got = match self.tx.get_many_raw(T::LogHashes, &keys) {
            Ok(got) => got,
            Err(e) => {
                *self.failure.borrow_mut() = Some(e);
                return Err(StoreError::Backend("transaction read failed".into()));
            }
        };
        indexes
            .iter()
            .zip(got)
            .map(|(&i, v)| match v {
                Some(v) => Hash::from_slice(&v).map_err(StoreError::backend),
                None => Err(StoreError::MissingHash(i)),
            })
            .collect()
    }
}

/// Appends `event` to the log with its Merkle hashes; returns its index.
pub fn append(tx: &Tx<'_>, event: &LogEvent) -> TxResult<u64> {
    let index = tx.get_u64(T::Meta, LOG_SIZE)?;
    let bytes = event.to_bytes();
    if bytes.len() > MAX_BUNDLE_ENTRY_LEN {
        return abort(too_large(bytes.len()));
    }
    let store = TxHashes {
        tx,
        failure: RefCell::new(None),
    };
    let new = match shire_tlog::hashes_to_append(index, &bytes, &store) {
        Ok(new) => new,
        Err(e) => {
            if let Some(failure) = store.failure.take() {
                return Err(failure);
            }
            return abort(match e {
                TreeError::EntryTooLarge(len) => too_large(len),
                other => Error::Corrupt(format!(
                    "cannot extend the transparency log at entry {index}: {other}"
                )),
            });
        }
    };
    let start = shire_tlog::append_start_index(index);
    for (i, h) in (start..).zip(new.iter()) {
        tx.put_raw(T::LogHashes, &i.to_be_bytes(), h.0.to_vec())?;
    }
    tx.put_raw(T::LogEntries, &index.to_be_bytes(), bytes)?;
    tx.put_u64(T::Meta, LOG_SIZE, index + 1)?;
    Ok(index)
}

/// The log size as a transaction sees it: the index the next entry takes.
pub fn size_in(tx: &Tx<'_>) -> TxResult<u64> {
    tx.get_u64(T::Meta, LOG_SIZE)
}

/// The number of entries committed to the log (durable or not yet: serve
/// [`Db::durable_log_size`] instead).
pub fn size(db: &Db) -> Result<u64, Error> {
    Ok(db
        .get_raw(T::Meta, LOG_SIZE)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// The stored bytes of entry `index`, if it exists.
pub fn entry(db: &Db, index: u64) -> Result<Option<Vec<u8>>, Error> {
    db.get_raw(T::LogEntries, &index.to_be_bytes())
}

/// Read access to the stored log for `shire_tlog`'s proofs, roots and tiles.
/// Only ever asked about a size at most the durable one, whose hashes and
/// entries never change.
#[derive(Clone, Copy)]
pub struct LogView<'a> {
    db: &'a Db,
}

impl<'a> LogView<'a> {
    /// A view of `db`'s log.
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Entries `start..end` (fewer if the log is shorter), by index.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        self.db.visit(
            T::LogEntries,
            &start.to_be_bytes(),
            Some(&end.to_be_bytes()),
            |k, v| {
                let index = <[u8; 8]>::try_from(k)
                    .map(u64::from_be_bytes)
                    .map_err(|_| Error::Corrupt("a log entry key is not 8 bytes".into()))?;
                out.push((index, v.to_vec()));
                Ok(true)
            },
        )?;
        Ok(out)
    }
}

impl HashStore for LogView<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        stored_hashes(self.db, T::LogHashes, indexes, |i| i.to_be_bytes().to_vec())
    }
}

/// The hashes at `indexes` in tree `t`, each stored under `key(index)`: what
/// a [`HashStore`] of this node's log, or of a mirrored one, reads.
pub(super) fn stored_hashes(
    db: &Db,
    t: T,
    indexes: &[u64],
    key: impl Fn(u64) -> Vec<u8>,
) -> Result<Vec<Hash>, StoreError> {
    let keys: Vec<Vec<u8>> = indexes.iter().map(|&i| key(i)).collect();
    let got = db.get_many_raw(t, &keys).map_err(StoreError::backend)?;
    indexes
        .iter()
        .zip(got)
        .map(|(&i, v)| match v {
            Some(v) => Hash::from_slice(&v).map_err(StoreError::backend),
            None => Err(StoreError::MissingHash(i)),
        })
        .collect()
}

impl EntryStore for LogView<'_> {
    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let got = self
            .entries(start, end)
            .map_err(|e| StoreError::Backend(e.to_string().into()))?;
        let mut out = Vec::with_capacity(got.len());
        for (want, (index, bytes)) in (start..end).zip(got) {
            if index != want {
                return Err(StoreError::MissingEntry(want));
            }
            out.push(bytes);
        }
        if (out.len() as u64) < end.saturating_sub(start) {
            return Err(StoreError::MissingEntry(start + out.len() as u64));
        }
        Ok(out)
    }
}

/// The startup check, in `O(log n)` reads (a full scan takes minutes at 10^6
/// entries): the highest stored hash index is `stored_hash_count(size) - 1`
/// (hashes are written densely, so this is their count) and the highest entry
/// index is `size - 1`; the last entry's leaf hash is the stored one; every
/// hash the root needs is there. Returns the size. Anything else means the
/// database was damaged or edited, and the node must not sign checkpoints over
/// it.
pub fn check(db: &Db) -> Result<u64, Error> {
    // Other processes of a shared node may append while it reads: a check is
    // trusted when the size was the same before and after it (appends commit
    // whole, and each moves the size), else it is made again.
    let mut tries = 0;
    loop {
        let before = size(db)?;
        let checked = check_once(db);
        if size(db)? == before || tries >= 20 {
            return checked;
        }
        tries += 1;
    }
}

/// One pass of [`check`], over whatever the database holds as it reads.
fn check_once(db: &Db) -> Result<u64, Error> {
    let damaged = |what: String| {
        Error::Corrupt(format!(
            "the transparency log in this data folder is damaged: {what}; refusing to \
             start (restore the data folder from a backup)"
        ))
    };
    let size = size(db)?;
    let hashes = count_by_last_key(db, T::LogHashes)?;
    let want = shire_tlog::stored_hash_count(size);
    if hashes != want {
        return Err(damaged(format!(
            "it holds {hashes} Merkle hashes where a log of {size} entries has {want}"
        )));
    }
    let entries = count_by_last_key(db, T::LogEntries)?;
    if entries != size {
        return Err(damaged(format!(
            "it holds {entries} entries where its size is {size}"
        )));
    }
    if size == 0 {
        return Ok(0);
    }
    let last = size - 1;
    let bytes = entry(db, last)?.ok_or_else(|| damaged(format!("entry {last} is missing")))?;
    let view = LogView::new(db);
    let stored = view
        .read_hashes(&[shire_tlog::stored_hash_index(0, last)])
        .map_err(|e| damaged(e.to_string()))?;
    if stored.first() != Some(&shire_tlog::leaf_hash(&bytes)) {
        return Err(damaged(format!(
            "entry {last} does not match its stored leaf hash"
        )));
    }
    shire_tlog::tree_hash(size, &view).map_err(|e| damaged(e.to_string()))?;
    Ok(size)
}

/// One more than the highest u64 key of a densely numbered tree (0 if empty).
fn count_by_last_key(db: &Db, t: T) -> Result<u64, Error> {
    match db.last_key(t)? {
        None => Ok(0),
        Some(k) => <[u8; 8]>::try_from(k.as_slice())
            .map(|k| u64::from_be_bytes(k).saturating_add(1))
            .map_err(|_| Error::Corrupt("a transparency-log key is not 8 bytes".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::OrgName;
    use shire_tlog::MemoryLog;

    fn org_event(name: &str) -> LogEvent {
        LogEvent::OrgCreated {
            org: OrgName::parse(name).unwrap(),
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn entries_are_numbered_in_order_and_aborts_leave_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        let a = db.transact(|tx| append(tx, &org_event("a"))).unwrap();
        let b = db.transact(|tx| append(tx, &org_event("b"))).unwrap();
        assert_eq!((a, b), (0, 1));
        let hashes_before = db.tree(T::LogHashes).unwrap().len();
        let r: Result<u64, _> = db.transact(|tx| {
            append(tx, &org_event("c"))?;
            abort(Error::AccountExists("x".into()))
        });
        assert!(r.is_err());
        assert_eq!(size(&db).unwrap(), 2);
        assert_eq!(db.tree(T::LogHashes).unwrap().len(), hashes_before);
        let bytes = entry(&db, 1).unwrap().unwrap();
        assert_eq!(LogEvent::from_bytes(&bytes).unwrap(), org_event("b"));
        assert!(entry(&db, 2).unwrap().is_none());
        assert_eq!(check(&db).unwrap(), 2);
    }

    #[test]
    fn stored_hashes_match_an_independent_in_memory_log() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        let mut memory = MemoryLog::new();
        for i in 0..300 {
            let event = org_event(&format!("org{i}"));
            db.transact(|tx| append(tx, &event)).unwrap();
            memory.append(&event.to_bytes()).unwrap();
            let n = i + 1;
            assert_eq!(
                shire_tlog::tree_hash(n, &LogView::new(&db)).unwrap(),
                memory.root().unwrap(),
                "root at size {n}"
            );
        }
        let stored: Vec<Hash> = db
            .tree(T::LogHashes)
            .unwrap()
            .iter()
            .map(|kv| Hash::from_slice(&kv.unwrap().1).unwrap())
            .collect();
        assert_eq!(stored, memory.stored_hashes());
        let bundle = shire_tlog::TileId::parse("tile/entries/000").unwrap();
        assert_eq!(
            shire_tlog::tile_data(&bundle, 300, &LogView::new(&db), &LogView::new(&db)).unwrap(),
            shire_tlog::tile_data(&bundle, 300, &memory, &memory).unwrap()
        );
    }

    #[test]
    fn concurrent_appends_from_many_threads_build_one_consistent_tree() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let db = db.clone();
                s.spawn(move || {
                    for i in 0..50 {
                        let event = org_event(&format!("t{t}-{i}"));
                        db.transact(|tx| append(tx, &event)).unwrap();
                    }
                });
            }
        });
        assert_eq!(check(&db).unwrap(), 200);
        let entries: Vec<Vec<u8>> = LogView::new(&db).read_entries(0, 200).unwrap();
        let memory = MemoryLog::from_entries(&entries).unwrap();
        assert_eq!(
            shire_tlog::tree_hash(200, &LogView::new(&db)).unwrap(),
            memory.root().unwrap()
        );
    }

    #[tokio::test]
    async fn the_durable_size_counts_only_flushed_entries() {
        let dir = tempfile::tempdir().unwrap();
        let (db, flusher) = Db::open(&dir.path().join("db")).unwrap();
        let task = tokio::spawn(flusher.run());
        db.transact(|tx| append(tx, &org_event("a"))).unwrap();
        // Committed, not yet flushed on our behalf: not served, not signed.
        assert_eq!((size(&db).unwrap(), db.durable_log_size()), (1, 0));
        db.durable().await.unwrap();
        assert_eq!(db.durable_log_size(), 1);
        db.transact(|tx| append(tx, &org_event("b"))).unwrap();
        assert_eq!(db.durable_log_size(), 1);
        db.durable().await.unwrap();
        assert_eq!(db.durable_log_size(), 2);
        drop(db);
        task.await.unwrap();
        // Reopened: what is on disk is durable.
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        assert_eq!(db.durable_log_size(), 2);
    }

    #[test]
    fn oversized_entries_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        let big = LogEvent::Yank {
            name: shire_core::PackageName::parse("a/b").unwrap(),
            version: shire_core::Version::new(1, 0, 0),
            digest: shire_core::Digest::of(b"x"),
            reason: "x".repeat(70_000),
            by: "p".into(),
            at: "t".into(),
        };
        assert!(matches!(
            check_entry_size(&big),
            Err(Error::EntryTooLarge { .. })
        ));
        let r = db.transact(|tx| append(tx, &big));
        assert!(matches!(r, Err(Error::EntryTooLarge { .. })));
        assert_eq!(size(&db).unwrap(), 0);
        assert_eq!(db.tree(T::LogHashes).unwrap().len(), 0);
    }

    #[test]
    fn the_startup_check_refuses_edited_hashes_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        for i in 0..5 {
            db.transact(|tx| append(tx, &org_event(&format!("o{i}"))))
                .unwrap();
        }
        assert_eq!(check(&db).unwrap(), 5);
        let leaf = shire_tlog::stored_hash_index(0, 4).to_be_bytes();
        let good = db.tree(T::LogHashes).unwrap().get(leaf).unwrap().unwrap();
        db.tree(T::LogHashes)
            .unwrap()
            .insert(leaf, vec![7u8; 32])
            .unwrap();
        assert!(check(&db).unwrap_err().to_string().contains("leaf hash"));
        db.tree(T::LogHashes).unwrap().insert(leaf, good).unwrap();
        db.tree(T::LogHashes)
            .unwrap()
            .insert(999u64.to_be_bytes(), vec![0u8; 32])
            .unwrap();
        assert!(check(&db)
            .unwrap_err()
            .to_string()
            .contains("Merkle hashes"));
        db.tree(T::LogHashes)
            .unwrap()
            .remove(999u64.to_be_bytes())
            .unwrap();
        // A subtree hash the root needs is gone (stored hash 6: entries 0..4).
        let node = db
            .tree(T::LogHashes)
            .unwrap()
            .remove(6u64.to_be_bytes())
            .unwrap();
        assert!(check(&db).unwrap_err().to_string().contains("missing"));
        db.tree(T::LogHashes)
            .unwrap()
            .insert(6u64.to_be_bytes(), node.unwrap())
            .unwrap();
        assert_eq!(check(&db).unwrap(), 5);
        // The last entry removed, or replaced.
        let last = db
            .tree(T::LogEntries)
            .unwrap()
            .remove(4u64.to_be_bytes())
            .unwrap();
        assert!(check(&db).unwrap_err().to_string().contains("entries"));
        db.tree(T::LogEntries)
            .unwrap()
            .insert(4u64.to_be_bytes(), last.unwrap())
            .unwrap();
        db.tree(T::LogEntries)
            .unwrap()
            .insert(4u64.to_be_bytes(), org_event("evil").to_bytes())
            .unwrap();
        assert!(check(&db).unwrap_err().to_string().contains("leaf hash"));
    }
}
