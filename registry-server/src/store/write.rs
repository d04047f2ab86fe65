//! Writing what the ledger accepted. [`write`] takes a [`Change`] (which
//! only `shire_core::ledger` can make) and the log it belongs to, and stores
//! it in the event's own transaction: the node's own records for its log,
//! the mirror trees and the shared release trees for a peer's.

use super::db::{abort, Db, Tx, TxResult, T};
use super::error::StoreError;
use super::records::*;
use super::search;
use super::view::{okey, LogRef};
use shire_core::archive::ArchiveSummary;
use shire_core::ledger::{node_state, AccountFacts, Change};
use shire_core::wire::ReleaseState;
use shire_core::{Digest, Manifest, PackageName, Version};

const RELEASE_SEQ: &[u8] = b"release_seq";
const PACKAGE_SEQ: &[u8] = b"package_seq";

/// What the node learnt about an artifact when it inspected it: needed to
/// store a release, and not in the log.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Its size in bytes.
    pub size: u64,
    /// What its archive holds.
    pub files: ArchiveSummary,
}

/// What a change stored, for the answer.
#[derive(Debug, Clone)]
pub enum Written {
    /// An organisation.
    Org(OrgRecord),
    /// A key (registered or revoked).
    Key(Box<KeyRecord>),
    /// A release (published, judged, yanked).
    Release(Box<ReleaseRecord>),
    /// An adoption declared or withdrawn.
    Adoption(Box<AdoptionRecord>),
    /// A support offer made or accepted.
    Support(Box<SupportRecord>),
    /// A mirrored key or organisation (nothing to answer with).
    Mirrored,
    /// Nothing: the event repeats one already in the log.
    Unchanged(String),
}

/// Stores `change`, entry `index` of `log`. A release needs its `artifact`.
pub fn write(
    tx: &Tx<'_>,
    log: LogRef<'_>,
    change: &Change,
    index: u64,
    artifact: Option<&Artifact>,
    threshold: u32,
) -> TxResult<Written> {
    let origin = match log {
        LogRef::Local => None,
        LogRef::Mirror(o) => Some(o),
    };
    match change {
        Change::Unchanged(u) => Ok(Written::Unchanged(u.what.clone())),
        Change::OrgCreated(c) => match origin {
            None => {
                let rec = OrgRecord {
                    name: c.org.clone(),
                    created_at: c.at.clone(),
                };
                tx.put(T::Orgs, c.org.as_str().as_bytes(), &rec)?;
                Ok(Written::Org(rec))
            }
            Some(o) => {
                tx.put(T::MirrorOrgs, c.org.as_str().as_bytes(), &o.to_string())?;
                Ok(Written::Mirrored)
            }
        },
        Change::KeyRegistered(c) => match origin {
            None => {
                let rec = KeyRecord {
                    key_id: c.key.key_id.clone(),
                    public_key: c.key.public_key.clone(),
                    account: c.key.account.clone(),
                    registered_at: c.at.clone(),
                    revoked_at: None,
                };
                tx.put(T::Keys, c.key.key_id.as_str().as_bytes(), &rec)?;
                Ok(Written::Key(Box::new(rec)))
            }
            Some(o) => {
                let rec = MirrorKeyRecord {
                    facts: c.key.clone(),
                    at: c.at.clone(),
                    revoked_at: None,
                };
                tx.put(
                    T::MirrorKeys,
                    &okey(o, c.key.key_id.as_str().as_bytes()),
                    &rec,
                )?;
                tx.put(
                    T::MirrorAccounts,
                    &okey(o, c.key.account.as_bytes()),
                    &AccountFacts {
                        org: c.key.org.clone(),
                        role: c.key.role,
                    },
                )?;
                Ok(Written::Mirrored)
            }
        },
        Change::KeyRevoked(c) => {
            let id = c.key.key_id.as_str().as_bytes();
            match origin {
                None => {
                    let Some(mut rec) = tx.get::<KeyRecord>(T::Keys, id)? else {
                        return abort(StoreError::KeyNotFound(c.key.key_id.clone()));
                    };
                    rec.revoked_at = Some(c.at.clone());
                    tx.put(T::Keys, id, &rec)?;
                    Ok(Written::Key(Box::new(rec)))
                }
                Some(o) => {
                    let k = okey(o, id);
                    let Some(mut rec) = tx.get::<MirrorKeyRecord>(T::MirrorKeys, &k)? else {
                        return abort(StoreError::KeyNotFound(c.key.key_id.clone()));
                    };
                    rec.facts.revoked = true;
                    rec.revoked_at = Some(c.at.clone());
                    tx.put(T::MirrorKeys, &k, &rec)?;
                    Ok(Written::Mirrored)
                }
            }
        }
        Change::Released(c) => {
            let st = &c.statement;
            let name = &st.subject.name;
            let version = &st.subject.version;
            let Some(artifact) = artifact else {
                return abort(StoreError::Corrupt(format!(
                    "no inspected artifact for {name}@{version}"
                )));
            };
            if origin.is_none() {
                for dep in st.manifest.dependencies.keys() {
                    if !tx.contains(T::Packages, dep.to_string().as_bytes())? {
                        return abort(StoreError::UnknownDependency(dep.clone()));
                    }
                }
                // The route refuses taken-down bytes early; this sees a
                // takedown that committed since, under the write's lock.
                // (A peer's release is mirrored whatever this node took
                // down: its bytes stay refused here by their tombstone.)
                let digest = st.subject.digest;
                if let Some(t) = tx.get::<YankRecord>(T::Meta, &takedown_key(&digest))? {
                    return abort(StoreError::TakenDown {
                        digest,
                        at: t.at,
                        reason: t.reason,
                    });
                }
            }
            let key = release_key(name, version);
            let old: Option<PackageRecord> = tx.get(T::Packages, name.to_string().as_bytes())?;
            let seq = add_version(
                tx,
                old.as_ref(),
                name,
                version,
                &st.manifest,
                &c.at,
                origin.map(str::to_string),
            )?;
            if origin.is_none() {
                tx.put_raw(T::Pending, &seq.to_be_bytes(), key.clone())?;
            }
            tx.put(T::Files, &key, &artifact.files)?;
            let rec = ReleaseRecord {
                name: name.clone(),
                version: version.clone(),
                digest: st.subject.digest,
                size: artifact.size,
                state: node_state(&c.release, threshold),
                yanked: None,
                published_at: c.at.clone(),
                envelope: c.envelope.clone(),
                publisher_key: c.key.key_id.clone(),
                publisher: c.key.account.clone(),
                manifest: st.manifest.clone(),
                verdicts: Vec::new(),
                log_index: index,
                seq,
                origin: origin.map(str::to_string),
                taken_down: None,
            };
            tx.put(T::Releases, &key, &rec)?;
            Ok(Written::Release(Box::new(rec)))
        }
        Change::Judged(c) => {
            let st = &c.statement;
            let key = release_key(&st.subject.name, &st.subject.version);
            let mut rec = stored_release(tx, &key)?;
            rec.verdicts.push(VerdictRecord {
                envelope: c.envelope.clone(),
                at: c.at.clone(),
                fact: c.verdict.clone(),
            });
            let before = rec.state;
            rec.state = node_state(&c.release, threshold);
            if origin.is_none() && before == ReleaseState::Pending && rec.state != before {
                tx.remove(T::Pending, &rec.seq.to_be_bytes())?;
            }
            tx.put(T::Releases, &key, &rec)?;
            Ok(Written::Release(Box::new(rec)))
        }
        Change::TakenDown(c) => {
            let s = &c.release.subject;
            let key = release_key(&s.name, &s.version);
            let mut rec = stored_release(tx, &key)?;
            let note = YankRecord {
                reason: c.reason.clone(),
                at: c.at.clone(),
                by: c.by.clone(),
            };
            // The artifact's tombstone: downloads and uploads of these bytes
            // answer 410, and the bytes are erased (`Store::erase_taken_down`).
            tx.put(T::Meta, &takedown_key(&s.digest), &note)?;
            // The file list names every file with its size and digest: enough
            // to confirm a guessed short secret. It goes with the bytes.
            tx.remove(T::Files, &key)?;
            rec.taken_down = Some(note);
            tx.put(T::Releases, &key, &rec)?;
            Ok(Written::Release(Box::new(rec)))
        }
        Change::Adopted(c) => {
            let key = adoption_key(&c.adoption.subject.name, &c.adoption.org);
            // The package's count of adopters, for search: adoptions in
            // force that name a release this node holds, exactly.
            let counts = |f: &shire_core::ledger::AdoptionFact| -> TxResult<bool> {
                if f.withdrawn {
                    return Ok(false);
                }
                let r: Option<ReleaseRecord> = tx.get(
                    T::Releases,
                    &release_key(&f.subject.name, &f.subject.version),
                )?;
                Ok(r.is_some_and(|r| r.digest == f.subject.digest))
            };
            let was = match tx.get::<AdoptionRecord>(T::Adoptions, &key)? {
                Some(old) => counts(&old.fact)?,
                None => false,
            };
            let now = counts(&c.adoption)?;
            if was != now {
                let count_key = adopters_key(&c.adoption.subject.name);
                let n: u64 = tx.get(T::Meta, &count_key)?.unwrap_or(0);
                let n = if now { n + 1 } else { n.saturating_sub(1) };
                tx.put(T::Meta, &count_key, &n)?;
            }
            let rec = AdoptionRecord {
                fact: c.adoption.clone(),
                envelope: c.envelope.clone(),
                origin: origin.map(str::to_string),
            };
            // A withdrawal stays as the organisation's latest statement:
            // the next one must follow it.
            tx.put(T::Adoptions, &key, &rec)?;
            Ok(Written::Adoption(Box::new(rec)))
        }
        Change::Supported(c) => {
            let key = adoption_key(&c.support.package, &c.support.supporter);
            let accepted = c.support.accepted_index.is_some();
            let old = tx.get::<SupportRecord>(T::Supports, &key)?;
            let rec = match old {
                // An acceptance: the offer it names becomes the agreed one.
                Some(mut old) if accepted => {
                    old.fact = c.support.clone();
                    old.agreed_offer = Some(old.offer.clone());
                    old.acceptance = Some(c.envelope.clone());
                    old
                }
                // A new offer: what was agreed stands until accepted anew.
                old => SupportRecord {
                    fact: c.support.clone(),
                    offer: c.envelope.clone(),
                    agreed_offer: old.as_ref().and_then(|o| o.agreed_offer.clone()),
                    acceptance: old.and_then(|o| o.acceptance),
                    origin: origin.map(str::to_string),
                },
            };
            tx.put(T::Supports, &key, &rec)?;
            Ok(Written::Support(Box::new(rec)))
        }
        Change::Yanked(c) => {
            let s = &c.release.subject;
            let key = release_key(&s.name, &s.version);
            let mut rec = stored_release(tx, &key)?;
            rec.yanked = c.reason.as_ref().map(|reason| YankRecord {
                reason: reason.clone(),
                at: c.at.clone(),
                by: c.by.clone(),
            });
            tx.put(T::Releases, &key, &rec)?;
            Ok(Written::Release(Box::new(rec)))
        }
    }
}

/// The key of a package's count of adopters in the meta tree.
pub fn adopters_key(name: &PackageName) -> Vec<u8> {
    format!("{ADOPTERS_PREFIX}{name}").into_bytes()
}

/// The prefix of packages' adoption counts' keys in the meta tree.
pub const ADOPTERS_PREFIX: &str = "adopters:";

/// The key of an artifact's takedown tombstone in the meta tree.
pub fn takedown_key(digest: &Digest) -> Vec<u8> {
    format!("{TAKEDOWN_PREFIX}{}", digest.hex()).into_bytes()
}

/// The takedown tombstone in `bytes`, as read under [`takedown_key`]
/// (`None`: not there).
pub fn tombstone(bytes: Option<&[u8]>) -> Result<Option<YankRecord>, StoreError> {
    bytes.map(|b| Db::decode(T::Meta, b)).transpose()
}

/// The prefix of takedown tombstones' keys in the meta tree.
pub const TAKEDOWN_PREFIX: &str = "takedown:";

fn stored_release(tx: &Tx<'_>, key: &[u8]) -> TxResult<ReleaseRecord> {
    match tx.get(T::Releases, key)? {
        Some(r) => Ok(r),
        None => abort(StoreError::Corrupt(format!(
            "the ledger accepted an event about {}, which is not stored",
            String::from_utf8_lossy(key)
        ))),
    }
}

/// Records `version` in its package (creating the package when `old` is
/// `None`), keeps the descriptive fields of the highest version, reindexes the
/// package for search when they changed, and returns the release's sequence
/// number.
fn add_version(
    tx: &Tx<'_>,
    old: Option<&PackageRecord>,
    name: &PackageName,
    version: &Version,
    manifest: &Manifest,
    at: &str,
    origin: Option<String>,
) -> TxResult<u64> {
    let mut pkg = match old {
        Some(p) => p.clone(),
        None => new_package(tx, name, at, origin)?,
    };
    let highest = pkg.highest.as_ref().is_none_or(|v| v < version);
    if highest {
        pkg.highest = Some(version.clone());
        pkg.description = manifest.package.description.clone();
        pkg.keywords = manifest.package.keywords.clone();
        pkg.categories = manifest.publiccode.categories.clone();
    }
    if highest || old.is_none() {
        search::reindex(tx, old, &pkg)?;
    }
    tx.put(T::Packages, name.to_string().as_bytes(), &pkg)?;
    let seq = tx.get_u64(T::Meta, RELEASE_SEQ)?;
    tx.put_u64(T::Meta, RELEASE_SEQ, seq + 1)?;
    Ok(seq)
}

/// A package's first record, with the next package id: `origin` is `None`
/// for this node's own packages, the origin's name for mirrored ones.
fn new_package(
    tx: &Tx<'_>,
    name: &PackageName,
    at: &str,
    origin: Option<String>,
) -> TxResult<PackageRecord> {
    let id = tx.get_u64(T::Meta, PACKAGE_SEQ)?;
    tx.put_u64(T::Meta, PACKAGE_SEQ, id + 1)?;
    let Ok(id) = u32::try_from(id) else {
        return abort(StoreError::Backend(
            "this node holds 2^32 packages already".into(),
        ));
    };
    Ok(PackageRecord {
        id,
        name: name.clone(),
        highest: None,
        description: String::new(),
        keywords: Vec::new(),
        categories: Vec::new(),
        created_at: at.to_string(),
        origin,
    })
}
