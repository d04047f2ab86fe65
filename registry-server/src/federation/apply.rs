//! Applying a verified batch of an origin's log entries to this node.
//!
//! Two steps per batch. [`check_batch`] runs outside any transaction and
//! decides, entry by entry and in log order, whether the peer may say this at
//! all: organisations only under the peer's `home_of` patterns and never one
//! of this node's own; keys only as that origin's log registered them;
//! releases and verdicts only with a valid signature by such a key. Then the
//! follower fetches and checks the artifacts, and [`commit_batch`] writes the
//! entries, their stored hashes, the state changes and the mirror's progress in
//! ONE sled transaction, re-checking inside it what a local request could have
//! changed meanwhile. A batch is thus applied entirely or not at all, and
//! exactly once: the progress counter moves in the same transaction.
//!
//! Storage (trees in [`crate::store::db::T`]): `mirror_entries` and
//! `mirror_hashes` hold each origin's log under `origin \0 index`,
//! `mirrors` its [`MirrorRecord`], `mirror_keys` its key registry
//! ([`MirrorKey`]), `mirror_orgs` which origin is home of which organisation.
//! Mirrored releases and packages live in the ordinary trees with `origin`
//! set, so search, package pages and downloads serve them as they are.

use super::config::PeerConfig;
use crate::error::ApiError;
use crate::store::db::{Db, Tx, TxResult, T};
use crate::store::records::{release_key, PackageRecord, ReleaseRecord, VerdictRecord, YankRecord};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use shire_core::archive::ArchiveSummary;
use shire_core::dsse::Envelope;
use shire_core::event::LogEvent;
use shire_core::statement::{ReleaseStatement, Subject, VerdictStatement};
use shire_core::wire::{ReleaseState, Role};
use shire_core::{Digest, KeyId, OrgName, PackageName, PublicKey, Version};
use shire_tlog::{Hash, HashStore, StoreError};
use std::collections::HashMap;

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

/// A key as an origin's log registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorKey {
    /// Key id.
    pub key_id: KeyId,
    /// The key.
    pub public_key: PublicKey,
    /// The account on the origin.
    pub account: String,
    /// Its organisation.
    pub org: Option<OrgName>,
    /// Its role.
    pub role: Role,
    /// When registered (origin's clock).
    pub at: String,
    /// When a later entry revoked it (origin's clock).
    #[serde(default)]
    pub revoked_at: Option<String>,
}

impl MirrorKey {
    /// Wire form, as served with a mirrored release.
    pub fn key_info(&self) -> shire_core::wire::KeyInfo {
        shire_core::wire::KeyInfo {
            key_id: self.key_id.clone(),
            public_key: self.public_key.clone(),
            account: self.account.clone(),
            org: self.org.clone(),
            role: self.role,
            registered_at: self.at.clone(),
            revoked_at: self.revoked_at.clone(),
        }
    }
}

/// `origin \0 suffix`: the key of an origin's item in a mirror tree.
pub fn okey(origin: &str, suffix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(origin.len() + 1 + suffix.len());
    k.extend_from_slice(origin.as_bytes());
    k.push(0);
    k.extend_from_slice(suffix);
    k
}

/// The mirror record of an origin (default when nothing is mirrored yet).
pub fn mirror_record(db: &Db, origin: &str) -> Result<MirrorRecord, ApiError> {
    Ok(db.get(T::Mirrors, origin.as_bytes())?.unwrap_or_default())
}

/// Every mirrored origin with its record.
pub fn mirror_records(db: &Db) -> Result<Vec<(String, MirrorRecord)>, ApiError> {
    db.tree(T::Mirrors)
        .iter()
        .map(|item| {
            let (k, v) = item?;
            Ok((
                String::from_utf8_lossy(&k).into_owned(),
                Db::decode(T::Mirrors, &v)?,
            ))
        })
        .collect()
}

/// A key as `origin`'s log registered it.
pub fn mirror_key(db: &Db, origin: &str, id: &KeyId) -> Result<Option<MirrorKey>, ApiError> {
    db.get(T::MirrorKeys, &okey(origin, id.as_str().as_bytes()))
}

/// Mirrored entry `index` of `origin`'s log.
pub fn mirror_entry(db: &Db, origin: &str, index: u64) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(db
        .tree(T::MirrorEntries)
        .get(okey(origin, &index.to_be_bytes()))?
        .map(|v| v.to_vec()))
}

/// The stored hashes of one origin's mirrored log, read from sled.
pub struct MirrorHashes<'a> {
    /// The database.
    pub db: &'a Db,
    /// The origin.
    pub origin: &'a str,
}

impl HashStore for MirrorHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let tree = self.db.tree(T::MirrorHashes);
        indexes
            .iter()
            .map(|&i| {
                let v = tree
                    .get(okey(self.origin, &i.to_be_bytes()))
                    .map_err(StoreError::backend)?
                    .ok_or(StoreError::MissingHash(i))?;
                Hash::from_slice(&v).map_err(|_| StoreError::MissingHash(i))
            })
            .collect()
    }
}

/// Stored hashes of the mirror plus those of a batch not yet written.
pub struct Overlay<'a> {
    /// What is stored.
    pub base: MirrorHashes<'a>,
    /// Stored hash index of `new[0]`.
    pub start: u64,
    /// Hashes computed for the batch so far.
    pub new: Vec<Hash>,
}

impl HashStore for Overlay<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        indexes
            .iter()
            .map(|&i| {
                if i >= self.start {
                    usize::try_from(i - self.start)
                        .ok()
                        .and_then(|j| self.new.get(j))
                        .copied()
                        .ok_or(StoreError::MissingHash(i))
                } else {
                    self.base.read_hashes(&[i]).map(|mut v| v.remove(0))
                }
            })
            .collect()
    }
}

/// One entry that passed [`check_batch`], ready to be written.
// A batch holds at most a few hundred steps, briefly: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Step {
    /// An organisation whose home is the origin.
    Org(OrgName),
    /// A key registration.
    KeyAdd(MirrorKey),
    /// A key revocation, and when.
    KeyRevoke(KeyId, String),
    /// A release with a verified signature; `files` and `size` are filled in
    /// once the artifact is fetched and inspected.
    Release {
        /// The verified statement.
        statement: ReleaseStatement,
        /// As logged.
        envelope: Envelope,
        /// The signer.
        key: MirrorKey,
        /// Origin's time.
        at: String,
        /// Artifact size.
        size: u64,
        /// Archive listing.
        files: Option<ArchiveSummary>,
    },
    /// A verdict with a verified signature.
    Verdict {
        /// The verified statement.
        statement: VerdictStatement,
        /// As logged.
        envelope: Envelope,
        /// The signer.
        key: MirrorKey,
        /// Origin's time.
        at: String,
    },
    /// A yank (`reason` set) or un-yank.
    Yank {
        /// Package.
        name: PackageName,
        /// Version.
        version: Version,
        /// Digest.
        digest: Digest,
        /// Reason (None: un-yank).
        reason: Option<String>,
        /// Who.
        by: String,
        /// When.
        at: String,
    },
}

fn fatal(msg: impl Into<String>) -> Fault {
    Fault::Fatal(msg.into())
}

/// Whether `peer` may speak for `org`, given whether `org` is one of this
/// node's own and which origin (if any) already is its home here.
pub fn org_allowed(
    peer: &PeerConfig,
    index: u64,
    org: &OrgName,
    is_local: bool,
    home: Option<&str>,
) -> Result<(), Fault> {
    let not_home = || {
        fatal(format!(
            "entry {index} is for organisation {org}, which peer {} is not home of",
            peer.name
        ))
    };
    if is_local {
        return Err(fatal(format!(
            "entry {index} is for organisation {org}, which is this node's own; peer {} may not change it",
            peer.name
        )));
    }
    if !peer.is_home_of(org) {
        return Err(not_home());
    }
    match home {
        Some(h) if h != peer.origin.as_str() => Err(fatal(format!(
            "entry {index} is for organisation {org}, whose home here is {h}, not {}",
            peer.origin
        ))),
        _ => Ok(()),
    }
}

/// Checks entries `start..` of `peer.origin`'s log (their bytes, in order)
/// against the rules above and returns what to write. Reads the mirror's
/// state; a key or organisation introduced earlier in the same batch counts.
pub fn check_batch(
    store: &Store,
    peer: &PeerConfig,
    start: u64,
    entries: &[Vec<u8>],
) -> Result<Vec<Step>, Fault> {
    let origin = peer.origin.as_str();
    let db = &store.db;
    let local = |e: ApiError| Fault::Transient(format!("reading this node's store: {e}"));
    let mut keys: HashMap<KeyId, MirrorKey> = HashMap::new();
    let mut homes: HashMap<OrgName, String> = HashMap::new();
    let mut steps = Vec::with_capacity(entries.len());
    for (i, bytes) in entries.iter().enumerate() {
        let index = start + i as u64;
        let event = LogEvent::from_bytes(bytes)
            .map_err(|e| fatal(format!("entry {index} is not a log event: {e}")))?;
        let org_check = |org: &OrgName, homes: &HashMap<OrgName, String>| -> Result<(), Fault> {
            let is_local = db
                .tree(T::Orgs)
                .get(org.as_str())
                .map_err(|e| local(e.into()))?
                .is_some();
            let home = match homes.get(org) {
                Some(h) => Some(h.clone()),
                None => db
                    .tree(T::MirrorOrgs)
                    .get(org.as_str())
                    .map_err(|e| local(e.into()))?
                    .map(|v| String::from_utf8_lossy(&v).into_owned()),
            };
            org_allowed(peer, index, org, is_local, home.as_deref())?;
            if home.is_none() {
                return Err(fatal(format!(
                    "entry {index} is about organisation {org}, which {origin}'s log never created"
                )));
            }
            Ok(())
        };
        let key_of = |id: &KeyId, keys: &HashMap<KeyId, MirrorKey>| -> Result<MirrorKey, Fault> {
            let k = match keys.get(id) {
                Some(k) => k.clone(),
                None => mirror_key(db, origin, id)
                    .map_err(local)?
                    .ok_or_else(|| fatal(format!("entry {index} is signed by key {id}, which {origin}'s log never registered")))?,
            };
            if k.revoked_at.is_some() {
                return Err(fatal(format!(
                    "entry {index} is signed by key {id}, revoked earlier in {origin}'s log"
                )));
            }
            Ok(k)
        };
        let step = match event {
            LogEvent::OrgCreated { org, .. } => {
                let is_local = db
                    .tree(T::Orgs)
                    .get(org.as_str())
                    .map_err(|e| local(e.into()))?
                    .is_some();
                let home = match homes.get(&org) {
                    Some(h) => Some(h.clone()),
                    None => db
                        .tree(T::MirrorOrgs)
                        .get(org.as_str())
                        .map_err(|e| local(e.into()))?
                        .map(|v| String::from_utf8_lossy(&v).into_owned()),
                };
                org_allowed(peer, index, &org, is_local, home.as_deref())?;
                if home.is_some() {
                    return Err(fatal(format!(
                        "entry {index} creates organisation {org} a second time"
                    )));
                }
                homes.insert(org.clone(), origin.to_string());
                Step::Org(org)
            }
            LogEvent::KeyRegistered {
                key_id,
                public_key,
                account,
                org,
                role,
                at,
            } => {
                if public_key.key_id() != key_id {
                    return Err(fatal(format!(
                        "entry {index} registers key {key_id} with a key whose id is {}",
                        public_key.key_id()
                    )));
                }
                if let Some(o) = &org {
                    org_check(o, &homes)?;
                }
                let existing = match keys.get(&key_id) {
                    Some(k) => Some(k.clone()),
                    None => mirror_key(db, origin, &key_id).map_err(local)?,
                };
                if existing.is_some() {
                    return Err(fatal(format!(
                        "entry {index} registers key {key_id} a second time"
                    )));
                }
                let k = MirrorKey {
                    key_id: key_id.clone(),
                    public_key,
                    account,
                    org,
                    role,
                    at,
                    revoked_at: None,
                };
                keys.insert(key_id, k.clone());
                Step::KeyAdd(k)
            }
            LogEvent::KeyRevoked { key_id, at } => {
                let mut k = key_of(&key_id, &keys)?;
                if let Some(o) = &k.org {
                    org_check(o, &homes)?;
                }
                k.revoked_at = Some(at.clone());
                keys.insert(key_id.clone(), k);
                Step::KeyRevoke(key_id, at)
            }
            LogEvent::Release {
                envelope,
                key_id,
                at,
            } => {
                let key = key_of(&key_id, &keys)?;
                let st = shire_core::verify::release(&envelope, &key.public_key)
                    .map_err(|e| {
                        fatal(format!(
                            "entry {index}: the release does not verify under key {key_id}: {e}"
                        ))
                    })?
                    .into_inner();
                let org = st.subject.name.org();
                org_check(org, &homes)?;
                if key.role != Role::Publisher || key.org.as_ref() != Some(org) {
                    return Err(fatal(format!("entry {index}: key {key_id} is not a publisher key of {org} in {origin}'s log")));
                }
                Step::Release {
                    statement: st,
                    envelope,
                    key,
                    at,
                    size: 0,
                    files: None,
                }
            }
            LogEvent::Verdict {
                envelope,
                key_id,
                at,
            } => {
                let key = key_of(&key_id, &keys)?;
                let st = shire_core::verify::verdict(&envelope, &key.public_key)
                    .map_err(|e| {
                        fatal(format!(
                            "entry {index}: the verdict does not verify under key {key_id}: {e}"
                        ))
                    })?
                    .into_inner();
                org_check(st.subject.name.org(), &homes)?;
                if key.role != Role::Verifier {
                    return Err(fatal(format!(
                        "entry {index}: key {key_id} is not a verifier key in {origin}'s log"
                    )));
                }
                Step::Verdict {
                    statement: st,
                    envelope,
                    key,
                    at,
                }
            }
            LogEvent::Yank {
                name,
                version,
                digest,
                reason,
                by,
                at,
            } => {
                org_check(name.org(), &homes)?;
                Step::Yank {
                    name,
                    version,
                    digest,
                    reason: Some(reason),
                    by,
                    at,
                }
            }
            LogEvent::Unyank {
                name,
                version,
                digest,
                by,
                at,
            } => {
                org_check(name.org(), &homes)?;
                Step::Yank {
                    name,
                    version,
                    digest,
                    reason: None,
                    by,
                    at,
                }
            }
        };
        steps.push(step);
    }
    Ok(steps)
}

/// What [`commit_batch`] writes besides the steps.
pub struct BatchWrite<'a> {
    /// Index of the first entry.
    pub start: u64,
    /// The entries' bytes.
    pub entries: &'a [Vec<u8>],
    /// Their new stored hashes (from stored hash index `append_start_index(start)` on).
    pub hashes: &'a [Hash],
    /// The checked steps, one per entry.
    pub steps: &'a [Step],
    /// The mirror record after this batch.
    pub record: &'a MirrorRecord,
}

fn peer_fault(msg: String) -> ConflictAbort {
    ConflictAbort::Abort(ApiError::bad_request("peer_fault", msg))
}

type ConflictAbort = sled::transaction::ConflictableTransactionError<ApiError>;

/// Writes one checked batch in one transaction: entries, hashes, state
/// changes, progress. Fails with [`Fault::Fatal`] if a re-check inside the
/// transaction fails, [`Fault::Transient`] on a storage error.
pub fn commit_batch(
    store: &Store,
    origin: &str,
    threshold: u32,
    w: &BatchWrite<'_>,
) -> Result<(), Fault> {
    let hash_start = shire_tlog::append_start_index(w.start);
    let result = store.db.transact(|tx| {
        let before: MirrorRecord = tx.get(T::Mirrors, origin.as_bytes())?.unwrap_or_default();
        if before.size != w.start {
            return Err(peer_fault(format!(
                "the mirror of {origin} moved to {} entries meanwhile (expected {})",
                before.size, w.start
            )));
        }
        for (i, e) in w.entries.iter().enumerate() {
            let idx = w.start + i as u64;
            tx.put_raw(
                T::MirrorEntries,
                &okey(origin, &idx.to_be_bytes()),
                e.clone(),
            )?;
        }
        for (i, h) in w.hashes.iter().enumerate() {
            let idx = hash_start + i as u64;
            tx.put_raw(
                T::MirrorHashes,
                &okey(origin, &idx.to_be_bytes()),
                h.as_bytes().to_vec(),
            )?;
        }
        for (i, step) in w.steps.iter().enumerate() {
            apply_step(tx, origin, w.start + i as u64, step, threshold)?;
        }
        tx.put(T::Mirrors, origin.as_bytes(), w.record)?;
        Ok(())
    });
    result.map_err(|e| match e {
        ApiError::BadRequest {
            code: "peer_fault",
            message,
        } => Fault::Fatal(message),
        other => Fault::Transient(format!("storing mirrored entries: {other}")),
    })
}

/// Stores the mirror record alone (a new checkpoint with no new entries).
pub fn save_record(store: &Store, origin: &str, record: &MirrorRecord) -> Result<(), Fault> {
    store
        .db
        .transact(|tx| tx.put(T::Mirrors, origin.as_bytes(), record))
        .map_err(|e| Fault::Transient(format!("storing the mirror record: {e}")))
}

fn apply_step(tx: &Tx<'_>, origin: &str, index: u64, step: &Step, threshold: u32) -> TxResult<()> {
    let local_org = |org: &OrgName| -> TxResult<()> {
        if tx.contains(T::Orgs, org.as_str().as_bytes())? {
            return Err(peer_fault(format!(
                "entry {index} is for organisation {org}, which is this node's own"
            )));
        }
        Ok(())
    };
    match step {
        Step::Org(org) => {
            local_org(org)?;
            tx.put_raw(
                T::MirrorOrgs,
                org.as_str().as_bytes(),
                origin.as_bytes().to_vec(),
            )?;
        }
        Step::KeyAdd(k) => {
            tx.put(
                T::MirrorKeys,
                &okey(origin, k.key_id.as_str().as_bytes()),
                k,
            )?;
        }
        Step::KeyRevoke(id, at) => {
            let kk = okey(origin, id.as_str().as_bytes());
            if let Some(mut k) = tx.get::<MirrorKey>(T::MirrorKeys, &kk)? {
                k.revoked_at = Some(at.clone());
                tx.put(T::MirrorKeys, &kk, &k)?;
            }
        }
        Step::Release {
            statement: st,
            envelope,
            key,
            at,
            size,
            files,
        } => {
            let name = &st.subject.name;
            let version = &st.subject.version;
            local_org(name.org())?;
            let rkey = release_key(name, version);
            if tx.contains(T::Releases, &rkey)? {
                return Err(peer_fault(format!(
                    "entry {index} publishes {name}@{version}, which this node already holds"
                )));
            }
            let old: Option<PackageRecord> = tx.get(T::Packages, name.to_string().as_bytes())?;
            if let Some(p) = &old {
                if p.origin.as_deref() != Some(origin) {
                    return Err(peer_fault(format!(
                        "entry {index} publishes {name}, which is home on another node here"
                    )));
                }
            }
            let seq = crate::store::add_version(
                tx,
                old.as_ref(),
                name,
                version,
                &st.manifest,
                at,
                Some(origin.to_string()),
            )?;
            if let Some(f) = files {
                tx.put(T::Files, &rkey, f)?;
            }
            let rec = ReleaseRecord {
                name: name.clone(),
                version: version.clone(),
                digest: st.subject.digest,
                size: *size,
                state: ReleaseState::Pending,
                yanked: None,
                published_at: at.clone(),
                envelope: envelope.clone(),
                publisher_key: key.key_id.clone(),
                publisher: key.account.clone(),
                manifest: st.manifest.clone(),
                verdicts: Vec::new(),
                log_index: index,
                seq,
                origin: Some(origin.to_string()),
            };
            tx.put(T::Releases, &rkey, &rec)?;
        }
        Step::Verdict {
            statement: st,
            envelope,
            key,
            at,
        } => {
            let rkey = release_key(&st.subject.name, &st.subject.version);
            let mut rec = mirrored_release(tx, origin, index, &rkey, &st.subject.to_string())?;
            let subject = crate::store::subject_of(&rec);
            if st.subject != subject {
                return Err(peer_fault(format!(
                    "entry {index}: the verdict names digest {}, but {origin}'s release {subject} is {}",
                    st.subject.digest, subject.digest
                )));
            }
            rec.verdicts.push(VerdictRecord {
                envelope: envelope.clone(),
                verdict: st.verdict,
                key_id: key.key_id.clone(),
                account: key.account.clone(),
                org: key.org.clone(),
                at: at.clone(),
                log_index: index,
            });
            rec.state = assess(tx, origin, &rec, &subject, threshold)?;
            tx.put(T::Releases, &rkey, &rec)?;
        }
        Step::Yank {
            name,
            version,
            digest,
            reason,
            by,
            at,
        } => {
            let rkey = release_key(name, version);
            let mut rec = mirrored_release(tx, origin, index, &rkey, &format!("{name}@{version}"))?;
            if rec.digest != *digest {
                return Err(peer_fault(format!(
                    "entry {index}: the yank names digest {digest}, but {name}@{version} is {}",
                    rec.digest
                )));
            }
            rec.yanked = reason.as_ref().map(|r| YankRecord {
                reason: r.clone(),
                at: at.clone(),
                by: by.clone(),
            });
            tx.put(T::Releases, &rkey, &rec)?;
        }
    }
    Ok(())
}

fn mirrored_release(
    tx: &Tx<'_>,
    origin: &str,
    index: u64,
    rkey: &[u8],
    what: &str,
) -> TxResult<ReleaseRecord> {
    match tx.get::<ReleaseRecord>(T::Releases, rkey)? {
        Some(r) if r.origin.as_deref() == Some(origin) => Ok(r),
        Some(_) => Err(peer_fault(format!(
            "entry {index} is about {what}, which is not {origin}'s release here"
        ))),
        None => Err(peer_fault(format!(
            "entry {index} is about {what}, which {origin}'s log never published"
        ))),
    }
}

/// The state a mirrored release's verdicts amount to, with the verifier keys
/// of the origin's log and this node's threshold (each key counts once; a
/// revocation wins, then a rejection).
fn assess(
    tx: &Tx<'_>,
    origin: &str,
    rec: &ReleaseRecord,
    subject: &Subject,
    threshold: u32,
) -> TxResult<ReleaseState> {
    crate::store::assess_with(rec, subject, threshold, |id| {
        Ok(tx
            .get::<MirrorKey>(T::MirrorKeys, &okey(origin, id.as_str().as_bytes()))?
            .map(|k| k.public_key))
    })
}
