//! The client's side of the registry's transparency log (issue 4): which node
//! key it trusts for each registry, the last checkpoint it verified there, and
//! the proofs that tie what the registry says to that checkpoint.
//!
//! - [`node_key`]: the node's C2SP note verifier key, parsed at the edge
//!   (`--node-key`, `GET /api/v1/node`, the stored pin).
//! - [`state`]: `SHIRE_HOME/checkpoints/<registry>.json`, the pin and the last
//!   verified checkpoint of one registry.
//! - [`checkpoint`]: fetching the latest checkpoint, opening it with the pinned
//!   key, and the rollback/fork decision ([`checkpoint::advance`], pure) before
//!   anything is stored ([`checkpoint::sync`]).
//! - [`inclusion`]: the log entries an install relies on (its releases and the
//!   approvals that counted) and their inclusion proofs.
//! - [`audit`]: replaying a whole log, checking every statement's signature
//!   against the keys registered earlier in the same log (`shire log verify`).
//!
//! Extension point for witnesses (federation): [`checkpoint::sync`] opens the
//! note with [`checkpoint::open_note`]; a cosignature requirement belongs
//! there, before the tracker decision.

pub mod audit;
pub mod checkpoint;
pub mod inclusion;
pub mod mirror;
pub mod node_key;
pub mod origins;
pub mod state;

pub use checkpoint::{sync, LogError, VerifiedLog};
pub use inclusion::{InclusionError, LogClaim};
pub use node_key::NodeKey;
pub use state::LogState;

/// Shared fixtures for this module's tests: node keys and signed checkpoints.
#[cfg(test)]
pub(crate) mod testkit {
    use super::NodeKey;
    use ed25519_dalek::SigningKey;
    use shire_tlog::{sign_checkpoint, MemoryLog, Origin};

    /// A fresh node signing key for `origin` and its verifier key.
    pub fn node(origin: &str) -> (SigningKey, NodeKey) {
        let sk = shire_core::KeyPair::generate().dalek().clone();
        let text =
            shire_tlog::note_verifier_key(&Origin::parse(origin).unwrap(), &sk.verifying_key());
        (sk, NodeKey::parse(&text).unwrap())
    }

    /// The checkpoint note of the first `size` entries of `log`.
    pub fn note(sk: &SigningKey, key: &NodeKey, log: &MemoryLog, size: u64) -> String {
        sign_checkpoint(key.origin(), size, &log.root_at(size).unwrap(), sk)
    }
}
