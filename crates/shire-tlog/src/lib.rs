//! Shire's transparency log, as a library that does no I/O: RFC 6962 hashing,
//! inclusion and consistency proofs over a storage trait, C2SP signed-note
//! checkpoints with witness cosignatures, C2SP tlog-tiles, and the client's
//! rollback/fork rule.
//!
//! The tree algorithms are Cloudflare's `tlog_tiles` (a port of Go's
//! `golang.org/x/mod/sumdb/tlog`) and notes are `signed_note` (Go's
//! `sumdb/note`); this crate wraps them in Shire's types, bounds every input
//! and turns their failures into typed errors.
//!
//! # Storing a log (server)
//!
//! A log of `n` entries is its entries plus [`stored_hash_count`]`(n)` stored
//! hashes, each keyed by its stored hash index. To append entry `n`:
//!
//! 1. `let new = hashes_to_append(n, &entry_bytes, &store)?` (reads at most
//!    `log2(n)` earlier hashes through [`HashStore`]);
//! 2. in **one** transaction with the event itself, write the entry under key
//!    `n` and `new[i]` under key [`append_start_index`]`(n) + i`, and set the
//!    log size to `n + 1`;
//! 3. after the transaction is durable, sign a new checkpoint with
//!    [`sign_checkpoint`]`(origin, n + 1, tree_hash(n + 1, &store)?, key)`.
//!
//! With big-endian `u64` keys, sled iterates both trees in index order. A
//! crash before the commit leaves neither event nor entry nor hashes.
//!
//! A server should serialize appends (one writer), so the earlier hashes
//! `hashes_to_append` reads, which never change, may be read outside the
//! transaction that then writes the new ones.
//!
//! # On the wire
//!
//! - Checkpoint: the note text of [`sign_checkpoint`] as `text/plain`, verified
//!   with [`open_checkpoint`]; witnesses append lines with [`cosign()`].
//! - Proofs: `{"index", "size", "hashes": [base64]}` (inclusion) and
//!   `{"from", "size", "hashes": [base64]}` (consistency); [`Hash`](struct@Hash)
//!   (de)serializes as standard base64, so `Vec<Hash>` is the `hashes` field.
//! - Tiles: [`TileId::parse`] the path, then [`tile_data`] for the current size,
//!   served as `application/octet-stream`, immutable.
//!
//! # Reading it (client)
//!
//! [`open_checkpoint`] verifies a checkpoint against the pinned node key,
//! [`CheckpointTracker`] refuses rollbacks and forks given a consistency proof,
//! [`verify_inclusion`] checks an entry against a verified root, and
//! [`MemoryLog`] recomputes a whole tree from downloaded entries.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod cosign;
pub mod frontier;
pub mod hash;
pub mod memory;
pub mod names;
pub mod store;
pub mod tile;
pub mod tracker;
pub mod tree;

pub use checkpoint::{
    note_verifier_key, open_checkpoint, parse_note_verifier_key, sign_checkpoint, Checkpoint,
    CheckpointError,
};
pub use cosign::{
    cosign, cosign_at, count_cosignatures, parse_witness_verifier_key, verified_cosigners,
    witness_verifier_key,
};
pub use frontier::Frontier;
pub use hash::{leaf_hash, node_hash, Hash, HashParseError, EMPTY_ROOT, HASH_LEN};
pub use memory::MemoryLog;
pub use names::{NameError, Origin, WitnessName};
pub use store::{
    append_start_index, stored_hash_count, stored_hash_index, EntryStore, HashStore, StoreError,
};
pub use tile::{
    decode_entry_bundle, encode_entry_bundle, entry_bundle, hash_tile, tile_data, TileError,
    TileId, TileKind, MAX_BUNDLE_ENTRY_LEN, TILE_HEIGHT, TILE_WIDTH,
};
pub use tracker::{Advance, CheckpointTracker, TrackerError, TreeHead};
pub use tree::{
    consistency_proof, hashes_to_append, hashes_to_append_for_leaf, inclusion_proof, tree_hash,
    verify_consistency, verify_inclusion, TreeError, MAX_PROOF_LEN, MAX_TREE_SIZE,
};
