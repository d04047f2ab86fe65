//! [`Frontier`]: the right edge of a log's tree, enough to extend it entry by
//! entry and compute its root without holding its entries or its other
//! hashes. A client that replays a log keeps one between runs, so it
//! downloads and checks only the entries added since (a "compact range").

use crate::hash::Hash;
use crate::store::{stored_hash_index, HashStore, StoreError};
use crate::tree::{self, TreeError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The roots of the largest perfect subtrees of a tree of `size` entries, by
/// stored hash index: at most 64 hashes, whatever the size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    size: u64,
    hashes: BTreeMap<u64, Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries the tree holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the next entry.
    pub fn append(&mut self, entry: &[u8]) -> Result<(), TreeError> {
        let n = self.size;
        let new = tree::hashes_to_append(n, entry, &*self)?;
        let start = crate::store::append_start_index(n);
        for (i, h) in (start..).zip(new) {
            self.hashes.insert(i, h);
        }
        self.size = n + 1;
        let keep = edge(self.size);
        self.hashes.retain(|i, _| keep.contains(i));
        Ok(())
    }

    /// The tree's root hash.
    pub fn root(&self) -> Result<Hash, TreeError> {
        tree::tree_hash(self.size, self)
    }
}

/// Stored hash indexes of the perfect subtrees a tree of `size` entries
/// decomposes into, largest (leftmost) first.
fn edge(size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1u64 << level) != 0 {
            out.push(stored_hash_index(level, start >> level));
            start += 1u64 << level;
        }
    }
    out
}

impl HashStore for Frontier {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        indexes
            .iter()
            .map(|i| {
                self.hashes
                    .get(i)
                    .copied()
                    .ok_or(StoreError::MissingHash(*i))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryLog;

    #[test]
    fn a_frontier_extends_like_the_whole_tree_and_stays_small() {
        let mut log = MemoryLog::new();
        let mut f = Frontier::new();
        assert_eq!(f.root().unwrap(), log.root().unwrap());
        for i in 0..1100u32 {
            let e = format!("entry {i}");
            log.append(e.as_bytes()).unwrap();
            f.append(e.as_bytes()).unwrap();
            assert_eq!(f.root().unwrap(), log.root().unwrap(), "size {}", i + 1);
            assert_eq!(f.hashes.len(), (i + 1).count_ones() as usize);
        }
        // It survives a round trip through its stored form.
        let back: Frontier = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }
}
