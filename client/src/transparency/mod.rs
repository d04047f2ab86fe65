//! The client's side of the transparency logs (issues 4 and 11): which node
//! key it trusts for each registry, the last checkpoint it verified there,
//! and its own replay of each log it relies on.
//!
//! - [`node_key`]: the node's C2SP note verifier key, parsed at the edge
//!   (`--node-key`, `GET /api/v1/node`, the stored pin).
//! - [`state`]: `SHIRE_HOME/checkpoints/<registry>.json`, the pin and the last
//!   verified checkpoint of one registry (and of each mirrored origin).
//! - [`checkpoint`]: fetching the latest checkpoint, opening it with the pinned
//!   key, and the rollback/fork decision ([`checkpoint::advance`], pure) before
//!   anything is stored ([`checkpoint::sync`]).
//! - [`origins`], [`mirror`]: the keys and witnesses trusted for other
//!   origins, and the verification of an origin's checkpoint read through a
//!   mirror.
//! - [`replica`]: `SHIRE_HOME/replicas/<log>.json`, each log replayed through
//!   `shire_core::ledger` up to a verified checkpoint, entry by entry, only
//!   the entries added since the last run; [`logs`]: the replicas one command
//!   relies on. Installs and audits take every fact from them.
//! - [`audit`]: `shire log verify`'s bisection for the first entry whose bytes
//!   are not in the signed tree.
//!
//! Extension point for witnesses on the registry's own log:
//! [`checkpoint::sync`] opens the note with [`checkpoint::open_note`]; a
//! cosignature requirement belongs there, before the tracker decision.

pub mod audit;
pub mod bundle;
pub mod checkpoint;
pub mod logs;
pub mod mirror;
pub mod node_key;
pub mod origins;
pub mod replica;
pub mod state;
#[cfg(test)]
pub(crate) mod testlog;

pub use checkpoint::{sync, LogError, VerifiedLog};
pub use logs::Logs;
pub use node_key::NodeKey;
pub use replica::{Logged, Replica, VerifiedHead};
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
