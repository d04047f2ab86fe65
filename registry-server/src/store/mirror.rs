//! The mirrors of peers' logs: each origin's entries and stored hashes
//! (`mirror_entries`, `mirror_hashes`, under `origin \0 index`), its progress
//! ([`MirrorRecord`] in `mirrors`), its key registry and accounts
//! (`mirror_keys`, `mirror_accounts`) and which organisations it is home of
//! (`mirror_orgs`). Mirrored releases and packages live in the ordinary trees
//! with `origin` set, so search, package pages and downloads serve them as
//! they are.
//!
//! [`Store::mirror_view`] shows an origin's state to the follower, which
//! checks a batch against it with the ledger before fetching artifacts;
//! [`Store::commit_mirror_batch`] then applies the batch in ONE transaction,
//! asking the ledger again about every entry (what a local request changed
//! meanwhile counts) and writing only what it accepts, with the entries,
//! their hashes and the mirror's progress. A batch is applied entirely or not
//! at all, and exactly once: the progress moves in the same transaction.

use super::db::{abort, Db, T};
use super::error::StoreError;
use super::view::{okey, LedgerView, LogRef};
use super::write::{self, Artifact};
use super::Store;
use serde::{Deserialize, Serialize};
use shire_core::event::LogEvent;
use shire_core::ledger::{Change, Ledger, LedgerError};
use shire_core::{Digest, OrgName};
use shire_tlog::{Hash, HashStore, StoreError as HashError};
use std::collections::BTreeMap;

/// Progress of one mirrored origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRecord {
    /// Entries mirrored (and applied).
    pub size: u64,
    /// Size of the last origin checkpoint fully mirrored.
    pub checkpoint_size: u64,
    /// Its root hash.
    pub checkpoint_root: Option<Hash>,
    /// That checkpoint exactly as the origin signed it.
    pub checkpoint: Option<String>,
    /// The same note with this node's cosignature, when it witnesses the origin.
    pub cosigned: Option<String>,
}

/// What a node keeps about one followed peer beyond its origin's mirror
/// record, so its status survives a restart: when it last synced, and why
/// it was stopped (a stopped peer stays stopped until an operator resumes it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The last pass that succeeded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// Why and when the peer was stopped, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
}

/// A peer stopped for a fault: the fault and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    /// What the peer did.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
}

/// The key of a peer's record in the meta tree.
fn peer_key(name: &str) -> Vec<u8> {
    format!("peer:{name}").into_bytes()
}

/// One verified batch of an origin's entries, ready to apply.
pub struct MirrorBatch<'a> {
    /// Index of the first entry.
    pub start: u64,
    /// The entries' bytes.
    pub entries: &'a [Vec<u8>],
    /// Their new stored hashes (from stored hash index `append_start_index(start)` on).
    pub hashes: &'a [Hash],
    /// The inspected artifacts of the batch's releases, by digest.
    pub artifacts: &'a BTreeMap<Digest, Artifact>,
    /// The mirror record after this batch.
    pub record: &'a MirrorRecord,
}

impl Store {
    /// The mirror record of `origin` (default when nothing is mirrored yet).
    pub fn mirror_record(&self, origin: &str) -> Result<MirrorRecord, StoreError> {
        Ok(self
            .db
            .get(T::Mirrors, origin.as_bytes())?
            .unwrap_or_default())
    }

    /// The record kept about the peer named `name` (empty when none is).
    pub fn peer_record(&self, name: &str) -> Result<PeerRecord, StoreError> {
        Ok(self.db.get(T::Meta, &peer_key(name))?.unwrap_or_default())
    }

    /// Changes the record kept about the peer named `name`.
    pub fn update_peer_record(
        &self,
        name: &str,
        f: impl Fn(&mut PeerRecord),
    ) -> Result<PeerRecord, StoreError> {
        self.writable()?;
        self.db.transact(|tx| {
            let mut rec: PeerRecord = tx.get(T::Meta, &peer_key(name))?.unwrap_or_default();
            f(&mut rec);
            tx.put(T::Meta, &peer_key(name), &rec)?;
            Ok(rec)
        })
    }

    /// Every mirrored origin with its record.
    pub fn mirror_records(&self) -> Result<Vec<(String, MirrorRecord)>, StoreError> {
        let mut out = Vec::new();
        self.db.visit(T::Mirrors, b"", None, |k, v| {
            out.push((
                String::from_utf8_lossy(k).into_owned(),
                Db::decode(T::Mirrors, v)?,
            ));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Mirrored entry `index` of `origin`'s log.
    pub fn mirror_entry(&self, origin: &str, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_raw(T::MirrorEntries, &okey(origin, &index.to_be_bytes()))
    }

    /// The stored hashes of `origin`'s mirrored log.
    pub fn mirror_hashes<'a>(&'a self, origin: &'a str) -> MirrorHashes<'a> {
        MirrorHashes {
            db: &self.db,
            origin,
        }
    }

    /// The state of `origin`'s log as mirrored here, for the ledger.
    pub fn mirror_view<'a>(
        &'a self,
        origin: &'a str,
    ) -> impl shire_core::ledger::View<Error = StoreError> + 'a {
        LedgerView::new(&self.db, &self.origin, LogRef::Mirror(origin))
    }

    /// Applies a checked batch of `origin`'s log (named `name`, its note
    /// verifier key) under the ledger's rules for a peer that may be home
    /// only of what `may_home` admits, in one transaction with its entries,
    /// hashes and progress.
    pub fn commit_mirror_batch(
        &self,
        origin: &str,
        name: &str,
        may_home: &dyn Fn(&OrgName) -> bool,
        b: &MirrorBatch<'_>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let hash_start = shire_tlog::append_start_index(b.start);
        let own = &*self.origin;
        let threshold = self.threshold;
        let result = self.db.transact(|tx| {
            let before: MirrorRecord = tx.get(T::Mirrors, origin.as_bytes())?.unwrap_or_default();
            if before.size != b.start {
                return abort(StoreError::Mirror(format!(
                    "the mirror of {origin} moved to {} entries meanwhile (expected {})",
                    before.size, b.start
                )));
            }
            for (i, e) in b.entries.iter().enumerate() {
                let idx = b.start + i as u64;
                tx.put_raw(
                    T::MirrorEntries,
                    &okey(origin, &idx.to_be_bytes()),
                    e.clone(),
                )?;
            }
            for (i, h) in b.hashes.iter().enumerate() {
                let idx = hash_start + i as u64;
                tx.put_raw(
                    T::MirrorHashes,
                    &okey(origin, &idx.to_be_bytes()),
                    h.as_bytes().to_vec(),
                )?;
            }
            let ledger = Ledger::peer(origin, name, may_home);
            for (i, bytes) in b.entries.iter().enumerate() {
                let index = b.start + i as u64;
                let event = LogEvent::from_bytes(bytes).or_else(|e| {
                    abort(StoreError::Corrupt(format!(
                        "mirrored entry {index} of {origin} is not a log event: {e}"
                    )))
                })?;
                let view = LedgerView::new(tx, own, LogRef::Mirror(origin));
                let change = match ledger.apply(&view, index, &event) {
                    Ok(c) => c,
                    Err(LedgerError::Rule(rule)) => {
                        return abort(StoreError::RefusedEntry { index, rule })
                    }
                    Err(LedgerError::View(e)) => return Err(e),
                };
                let artifact = match &change {
                    Change::Released(r) => b.artifacts.get(&r.release.subject.digest),
                    _ => None,
                };
                write::write(
                    tx,
                    LogRef::Mirror(origin),
                    &change,
                    index,
                    artifact,
                    threshold,
                )?;
            }
            tx.put(T::Mirrors, origin.as_bytes(), b.record)?;
            Ok(())
        });
        result
    }

    /// Stores the mirror record alone (a new checkpoint with no new entries).
    pub fn save_mirror_record(
        &self,
        origin: &str,
        record: &MirrorRecord,
    ) -> Result<(), StoreError> {
        self.db
            .transact(|tx| tx.put(T::Mirrors, origin.as_bytes(), record))
    }

    /// Whether `org` is an organisation of this node's own.
    pub fn is_local_org(&self, org: &OrgName) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get::<super::records::OrgRecord>(T::Orgs, org.as_str().as_bytes())?
            .is_some())
    }
}

/// The stored hashes of one origin's mirrored log.
pub struct MirrorHashes<'a> {
    db: &'a Db,
    origin: &'a str,
}

impl HashStore for MirrorHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        super::log::stored_hashes(self.db, T::MirrorHashes, indexes, |i| {
            okey(self.origin, &i.to_be_bytes())
        })
    }
}

/// Stored hashes of a mirror plus those of a batch not yet written.
pub struct Overlay<'a> {
    /// What is stored.
    pub base: MirrorHashes<'a>,
    /// Stored hash index of `new[0]`.
    pub start: u64,
    /// Hashes computed for the batch so far.
    pub new: Vec<Hash>,
}

impl HashStore for Overlay<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        indexes
            .iter()
            .map(|&i| {
                if i >= self.start {
                    usize::try_from(i - self.start)
                        .ok()
                        .and_then(|j| self.new.get(j))
                        .copied()
                        .ok_or(HashError::MissingHash(i))
                } else {
                    self.base.read_hashes(&[i]).map(|mut v| v.remove(0))
                }
            })
            .collect()
    }
}
