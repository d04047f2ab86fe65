//! [`MemoryLog`]: a whole log held in memory, for tests, benchmarks and
//! clients that recompute a tree from all its entries (`shire log verify`).

use crate::hash::Hash;
use crate::store::{EntryStore, HashStore, StoreError};
use crate::tree::{self, TreeError};

/// A log kept in two vectors: the stored hashes (indexed by stored hash index)
/// and the entries. Appending follows exactly the path a server takes with
/// its database, through [`tree::hashes_to_append`].
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    hashes: Vec<Hash>,
    entries: Vec<Vec<u8>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log holding `entries` in order.
    pub fn from_entries<I, E>(entries: I) -> Result<Self, TreeError>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<[u8]>,
    {
        let mut log = Self::new();
        for entry in entries {
            log.append(entry.as_ref())?;
        }
        Ok(log)
    }

    /// Appends one entry and returns its index.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, TreeError> {
        let n = self.size();
        let new = tree::hashes_to_append(n, entry, &*self)?;
        self.hashes.extend(new);
        self.entries.push(entry.to_vec());
        Ok(n)
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Root hash of the whole log.
    pub fn root(&self) -> Result<Hash, TreeError> {
        tree::tree_hash(self.size(), self)
    }

    /// Root hash of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        tree::tree_hash(size, self)
    }

    /// Entry `index`, if the log has it.
    pub fn entry(&self, index: u64) -> Option<&[u8]> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(Vec::as_slice)
    }

    /// Inclusion proof of entry `index` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        tree::inclusion_proof(index, size, self)
    }

    /// Consistency proof from the first `old` entries to the first `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, TreeError> {
        tree::consistency_proof(old, new, self)
    }

    /// All stored hashes, by stored hash index.
    pub fn stored_hashes(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashStore for MemoryLog {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.hashes.get(u))
                    .copied()
                    .ok_or(StoreError::MissingHash(i))
            })
            .collect()
    }
}

impl EntryStore for MemoryLog {
    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        (start..end)
            .map(|i| {
                self.entry(i)
                    .map(<[u8]>::to_vec)
                    .ok_or(StoreError::MissingEntry(i))
            })
            .collect()
    }
}
