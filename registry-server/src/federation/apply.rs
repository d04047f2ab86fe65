//! Checking a batch of an origin's log entries before it is applied.
//!
//! The rules are the ledger's (`shire_core::ledger`), with the peer's
//! `home_of` patterns as the organisations its log may be home of.
//! [`check_batch`] runs them outside any transaction, entry by entry over
//! the mirror's state plus what the batch's earlier entries established (an
//! [`Overlay`]), and lists the artifacts the batch's releases need. The
//! follower then fetches and checks those artifacts, and
//! `Store::commit_mirror_batch` asks the ledger again, inside the one
//! transaction that writes the batch.

use super::config::PeerConfig;
use crate::store::{Store, StoreError};
use shire_core::event::LogEvent;
use shire_core::ledger::{Change, Ledger, LedgerError, Overlay};
use shire_core::Digest;

/// Why a pass over a peer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The peer is down or answered with a server error: retry later.
    Transient(String),
    /// The peer served something that fails a check: stop following it.
    Fatal(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Transient(m) | Fault::Fatal(m) => f.write_str(m),
        }
    }
}

/// A storage error met while following: a refused entry is the peer's
/// fault; anything else is this node's, to retry.
pub fn store_fault(peer: &PeerConfig, e: StoreError) -> Fault {
    match e {
        StoreError::RefusedEntry { index, rule } => Fault::Fatal(format!(
            "peer {}: entry {index} of {} breaks a rule: {rule}",
            peer.name, peer.origin
        )),
        other => Fault::Transient(format!("storing what {} served: {other}", peer.name)),
    }
}

/// Checks entries `start..` of `peer.origin`'s log (their bytes, in order)
/// with the ledger and returns the artifacts their releases need, in order,
/// and those the batch takes down.
pub fn check_batch(
    store: &Store,
    peer: &PeerConfig,
    start: u64,
    entries: &[Vec<u8>],
) -> Result<BatchArtifacts, Fault> {
    let origin = peer.origin.as_str();
    let may_home = |o: &shire_core::OrgName| peer.is_home_of(o);
    let name = peer.log_name();
    let ledger = Ledger::peer(origin, &name, &may_home);
    let view = store.mirror_view(origin);
    let mut overlay = Overlay::new(&view, origin);
    let mut artifacts = BatchArtifacts::default();
    for (i, bytes) in entries.iter().enumerate() {
        let index = start + i as u64;
        let event = LogEvent::from_bytes(bytes).map_err(|e| {
            Fault::Fatal(format!(
                "peer {}: entry {index} is not a log event: {e}",
                peer.name
            ))
        })?;
        let change = match ledger.apply(&overlay, index, &event) {
            Ok(c) => c,
            Err(LedgerError::Rule(rule)) => {
                return Err(store_fault(peer, StoreError::RefusedEntry { index, rule }))
            }
            Err(LedgerError::View(e)) => return Err(store_fault(peer, e)),
        };
        match &change {
            Change::Released(r) => artifacts.fetch.push(r.release.subject.digest),
            // Taken down later in the same batch: the origin no longer has
            // the bytes, and this node must not keep them.
            Change::TakenDown(t) => {
                let d = t.release.subject.digest;
                artifacts.fetch.retain(|x| *x != d);
                artifacts.taken_down.push(d);
            }
            _ => {}
        }
        overlay.commit(&change);
    }
    Ok(artifacts)
}

/// What a checked batch needs from the peer's artifacts.
#[derive(Debug, Default)]
pub struct BatchArtifacts {
    /// Artifacts of the batch's releases to fetch and inspect.
    pub fetch: Vec<Digest>,
    /// Artifacts the batch takes down: never fetched; erased if held.
    pub taken_down: Vec<Digest>,
}
