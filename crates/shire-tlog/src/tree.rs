//! The Merkle tree over a [`HashStore`]: what to store when appending, tree
//! roots, inclusion and consistency proofs, and the pure checks a client runs
//! on proofs it receives. RFC 6962 §2.1 throughout; the algorithms are
//! `tlog_tiles`' (Go's `sumdb/tlog`), wrapped with bounds checks and typed errors.

use crate::hash::{self, Hash, EMPTY_ROOT};
use crate::store::{HashStore, Reader, StoreError};
use crate::tile::MAX_BUNDLE_ENTRY_LEN;

/// Largest tree size this crate computes over: far beyond any real log, and
/// small enough that no stored hash index overflows.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Most hashes a valid inclusion or consistency proof can hold for a tree of
/// at most [`MAX_TREE_SIZE`] entries; longer proofs are refused unread.
pub const MAX_PROOF_LEN: usize = 2 * 64;

/// Why a tree hash or proof could not be computed, or why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The entry index is not below the tree size.
    #[error("entry {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// Entry index asked for.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The older size is larger than the newer one.
    #[error("a tree of size {old} cannot be a prefix of a tree of size {new}")]
    SizesOutOfOrder {
        /// The older (smaller) size.
        old: u64,
        /// The newer (larger) size.
        new: u64,
    },
    /// The tree size is beyond [`MAX_TREE_SIZE`].
    #[error("tree size {0} is larger than any log this node supports")]
    TooLarge(u64),
    /// The entry is longer than an entry bundle can carry (65535 bytes).
    #[error(
        "log entry of {0} bytes is longer than the 65535 bytes a tlog-tiles entry bundle can hold"
    )]
    EntryTooLarge(usize),
    /// The inclusion proof does not lead from the leaf to the root.
    #[error(
        "inclusion proof for entry {index} does not match the root of the tree of size {size}"
    )]
    BadInclusionProof {
        /// Entry index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The consistency proof does not tie the two roots together.
    #[error("consistency proof from size {old} to size {new} does not match the two roots")]
    BadConsistencyProof {
        /// Older tree size.
        old: u64,
        /// Newer tree size.
        new: u64,
    },
    /// The proof is longer than any valid proof.
    #[error("proof of {0} hashes is longer than any valid proof")]
    ProofTooLong(usize),
    /// The store could not supply a stored hash.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// tlog_tiles refused the computation for a reason not covered above.
    #[error("tree computation failed: {0}")]
    Internal(String),
}

fn check_size(size: u64) -> Result<(), TreeError> {
    if size > MAX_TREE_SIZE {
        Err(TreeError::TooLarge(size))
    } else {
        Ok(())
    }
}

/// Turns a failed tlog_tiles call into our error, preferring the store's own
/// error when the store was what failed.
fn tlog_failure<S: HashStore + ?Sized>(reader: &Reader<'_, S>, e: tlog_tiles::Error) -> TreeError {
    match reader.take_failure() {
        Some(store) => TreeError::Store(store),
        None => TreeError::Internal(e.to_string()),
    }
}

/// The new stored hashes to write when appending entry number `n` (0-based) to
/// a log of `n` entries: the entry's leaf hash, then the root of every subtree
/// it completes. Write `result[i]` at stored hash index
/// [`crate::append_start_index`]`(n) + i`, in the same transaction as the entry.
///
/// Reads at most `log2(n)` earlier hashes. Refuses entries longer than
/// [`MAX_BUNDLE_ENTRY_LEN`] bytes, which C2SP entry bundles cannot carry.
pub fn hashes_to_append<S: HashStore + ?Sized>(
    n: u64,
    entry: &[u8],
    store: &S,
) -> Result<Vec<Hash>, TreeError> {
    if entry.len() > MAX_BUNDLE_ENTRY_LEN {
        return Err(TreeError::EntryTooLarge(entry.len()));
    }
    hashes_to_append_for_leaf(n, &hash::leaf_hash(entry), store)
}

/// Like [`hashes_to_append`], given the entry's leaf hash instead of its bytes
/// (no length check: the caller answers for the entry fitting a bundle).
pub fn hashes_to_append_for_leaf<S: HashStore + ?Sized>(
    n: u64,
    leaf: &Hash,
    store: &S,
) -> Result<Vec<Hash>, TreeError> {
    check_size(n.saturating_add(1))?;
    let reader = Reader::new(store);
    tlog_tiles::stored_hashes_for_record_hash(n, (*leaf).into(), &reader)
        .map(hash::from_tlog)
        .map_err(|e| tlog_failure(&reader, e))
}

/// Root hash of the tree of the first `size` entries (reads at most
/// `1 + log2(size)` stored hashes). The empty tree's root is [`EMPTY_ROOT`].
pub fn tree_hash<S: HashStore + ?Sized>(size: u64, store: &S) -> Result<Hash, TreeError> {
    check_size(size)?;
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let reader = Reader::new(store);
    tlog_tiles::tree_hash(size, &reader)
        .map(Hash::from)
        .map_err(|e| tlog_failure(&reader, e))
}

/// Inclusion proof (RFC 6962 audit path) that entry `index` is in the tree of
/// the first `size` entries, leaf-side sibling first.
pub fn inclusion_proof<S: HashStore + ?Sized>(
    index: u64,
    size: u64,
    store: &S,
) -> Result<Vec<Hash>, TreeError> {
    check_size(size)?;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let reader = Reader::new(store);
    tlog_tiles::prove_record(size, index, &reader)
        .map(hash::from_tlog)
        .map_err(|e| tlog_failure(&reader, e))
}

/// Consistency proof (RFC 6962 §2.1.2) that the tree of the first `old`
/// entries is a prefix of the tree of the first `new` entries. Empty when
/// `old` is 0 or equal to `new`.
pub fn consistency_proof<S: HashStore + ?Sized>(
    old: u64,
    new: u64,
    store: &S,
) -> Result<Vec<Hash>, TreeError> {
    check_size(new)?;
    if old > new {
        return Err(TreeError::SizesOutOfOrder { old, new });
    }
    if old == 0 {
        return Ok(Vec::new());
    }
    let reader = Reader::new(store);
    tlog_tiles::prove_tree(new, old, &reader)
        .map(hash::from_tlog)
        .map_err(|e| tlog_failure(&reader, e))
}

/// Checks that `proof` shows the entry with leaf hash `leaf` (see
/// [`crate::leaf_hash`]) at `index` in the tree of `size` entries with root `root`.
pub fn verify_inclusion(
    proof: &[Hash],
    index: u64,
    size: u64,
    root: &Hash,
    leaf: &Hash,
) -> Result<(), TreeError> {
    check_size(size)?;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(TreeError::ProofTooLong(proof.len()));
    }
    tlog_tiles::check_record(
        &hash::to_tlog(proof),
        size,
        (*root).into(),
        index,
        (*leaf).into(),
    )
    .map_err(|_| TreeError::BadInclusionProof { index, size })
}

/// Checks that `proof` shows the tree of `old_size` entries with root
/// `old_root` to be a prefix of the tree of `new_size` entries with root
/// `new_root`.
///
/// With `old_size == 0` the proof must be empty and `old_root` must be
/// [`EMPTY_ROOT`]; with equal sizes the proof must be empty and the roots equal.
pub fn verify_consistency(
    proof: &[Hash],
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
) -> Result<(), TreeError> {
    check_size(new_size)?;
    if old_size > new_size {
        return Err(TreeError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(TreeError::ProofTooLong(proof.len()));
    }
    let bad = TreeError::BadConsistencyProof {
        old: old_size,
        new: new_size,
    };
    if old_size == 0 {
        return if proof.is_empty() && *old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(bad)
        };
    }
    tlog_tiles::check_tree(
        &hash::to_tlog(proof),
        new_size,
        (*new_root).into(),
        old_size,
        (*old_root).into(),
    )
    .map_err(|_| bad)
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
