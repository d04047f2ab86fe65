//! Storage seen from the log: the [`HashStore`] and [`EntryStore`] traits a
//! server backs with its database (and tests with memory), and the dense
//! "stored hash index" numbering under which hashes are kept.
//!
//! A log of `n` entries keeps [`stored_hash_count`]`(n)` hashes, numbered
//! `0..stored_hash_count(n)` in the order they were appended (Crosby and
//! Wallach's ordering, as Go's checksum database uses): appending entry `n`
//! writes the hashes [`crate::hashes_to_append`] returns at consecutive indexes
//! starting from [`append_start_index`]`(n)`. Stored hashes never change once
//! written, so a store is append-only.

use crate::hash::{self, Hash};
use std::cell::RefCell;

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stored hash that should exist is not in the store.
    #[error("stored hash {0} is missing from the log store")]
    MissingHash(u64),
    /// A log entry that should exist is not in the store.
    #[error("log entry {0} is missing from the log store")]
    MissingEntry(u64),
    /// The store answered with a different number of items than asked for.
    #[error("log store returned {got} items where {want} were asked for")]
    WrongCount {
        /// How many were asked for.
        want: usize,
        /// How many came back.
        got: usize,
    },
    /// The storage backend failed (I/O, corruption, ...).
    #[error("log store failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend's own error.
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// Read access to a log's stored hashes, by stored hash index.
///
/// Implementations must return exactly one hash per requested index, in the
/// order requested, or an error (for example [`StoreError::MissingHash`]).
/// Requests are usually sorted ascending; a batch is at most a few hundred
/// indexes (256 for a tile, about `2·log2(n)` for a proof).
pub trait HashStore {
    /// The hashes stored at `indexes`, in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;
}

impl<T: HashStore + ?Sized> HashStore for &T {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        (**self).read_hashes(indexes)
    }
}

/// Read access to a log's entries (the bytes that were appended), by index.
pub trait EntryStore {
    /// Entries `start..end` in order, exactly `end - start` of them, or an error.
    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;
}

impl<T: EntryStore + ?Sized> EntryStore for &T {
    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        (**self).read_entries(start, end)
    }
}

/// Stored hash index of the hash at tree `level` (0 = leaves), position `n`
/// within that level.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    tlog_tiles::stored_hash_index(level, n)
}

/// Number of stored hashes a log of `size` entries holds.
pub fn stored_hash_count(size: u64) -> u64 {
    tlog_tiles::stored_hash_count(size)
}

/// Stored hash index at which the hashes written when appending entry `n`
/// begin (the leaf hash of entry `n`); equal to `stored_hash_count(n)`.
pub fn append_start_index(n: u64) -> u64 {
    stored_hash_index(0, n)
}

/// Adapts a [`HashStore`] to `tlog_tiles::HashReader`, keeping the store's own
/// error (tlog_tiles' error type cannot carry it) and refusing answers of the
/// wrong length, which tlog_tiles would otherwise panic on.
pub(crate) struct Reader<'a, S: HashStore + ?Sized> {
    store: &'a S,
    failure: RefCell<Option<StoreError>>,
}

impl<'a, S: HashStore + ?Sized> Reader<'a, S> {
    pub(crate) fn new(store: &'a S) -> Self {
        Self {
            store,
            failure: RefCell::new(None),
        }
    }

    /// The store error behind a failed tlog_tiles call, if the store failed.
    pub(crate) fn take_failure(&self) -> Option<StoreError> {
        self.failure.borrow_mut().take()
    }
}

impl<S: HashStore + ?Sized> tlog_tiles::HashReader for Reader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let result = read_exact(self.store, indexes);
        match result {
            Ok(hashes) => Ok(hash::to_tlog(&hashes)),
            Err(e) => {
                *self.failure.borrow_mut() = Some(e);
                Err(tlog_tiles::Error::IndexesNotInTree)
            }
        }
    }
}

/// Reads hashes and checks the store answered exactly what was asked.
pub(crate) fn read_exact<S: HashStore + ?Sized>(
    store: &S,
    indexes: &[u64],
) -> Result<Vec<Hash>, StoreError> {
    let hashes = store.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(StoreError::WrongCount {
            want: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}
