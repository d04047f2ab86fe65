//! Everything the node keeps: metadata in sled ([`db`]), artifacts in the blob
//! store ([`blobs`]), the transparency-log hook ([`log`]) and the search index
//! ([`search`]).
//!
//! [`Store`] offers one function per event (create an organisation, register a
//! key, publish, accept a verdict, yank, ...). Each runs ONE transaction that
//! writes the change, its search-index update and its log entry together, and
//! re-checks inside the transaction whatever a concurrent request could have
//! changed (a version taken, a state moved on). The caller must then await
//! [`Store::durable`] before acknowledging. Storage accepts statements only as
//! `Verified<…>` values, which only `shire_core::verify` can make.

pub mod blobs;
pub mod db;
pub mod log;
pub mod packs;
pub mod records;
pub mod search;

use crate::error::ApiError;
use db::{abort, Db, Flusher, Tx, TxResult, T};
use records::*;
use shire_core::archive::ArchiveSummary;
use shire_core::dsse::Envelope;
use shire_core::event::LogEvent;
use shire_core::policy::{Standing, TrustPolicy, TrustedKey};
use shire_core::statement::{ReleaseStatement, Subject, Verdict, VerdictStatement};
use shire_core::verify::Verified;
use shire_core::wire::{ReleaseState, Role};
use shire_core::{KeyId, Manifest, PackageName, PublicKey, Version};
use std::collections::BTreeMap;
use std::path::Path;

/// The current time as RFC 3339 (UTC).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

const ORIGIN: &[u8] = b"origin";
const RELEASE_SEQ: &[u8] = b"release_seq";
const PACKAGE_SEQ: &[u8] = b"package_seq";

/// The node's storage. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// The metadata database.
    pub db: Db,
    /// The artifact store.
    pub blobs: blobs::BlobStore,
}

/// A release that passed every check, ready to store.
pub struct NewRelease {
    /// The verified statement.
    pub statement: Verified<ReleaseStatement>,
    /// The envelope exactly as received.
    pub envelope: Envelope,
    /// The publishing account.
    pub publisher: String,
    /// Artifact size.
    pub size: u64,
    /// What the archive holds.
    pub files: ArchiveSummary,
}

/// A verdict that passed every check that needs no transaction.
pub struct NewVerdict {
    /// The verified statement.
    pub statement: Verified<VerdictStatement>,
    /// The envelope exactly as received.
    pub envelope: Envelope,
    /// The verifier account.
    pub account: AccountRecord,
}

impl Store {
    /// Opens the store in `data_dir`; spawn the returned [`Flusher`]. Refuses a
    /// database whose transparency log fails [`log::check`].
    pub fn open(data_dir: &Path) -> Result<(Store, Flusher), ApiError> {
        Self::open_with_cache(data_dir, db::DEFAULT_CACHE_BYTES)
    }

    /// [`Store::open`] with sled's page cache capped at `cache_bytes`.
    pub fn open_with_cache(
        data_dir: &Path,
        cache_bytes: u64,
    ) -> Result<(Store, Flusher), ApiError> {
        let (db, flusher) = Db::open_with_cache(&data_dir.join("db"), cache_bytes)?;
        log::check(&db)?;
        let reindexed = search::upgrade(&db)?;
        if reindexed > 0 {
            tracing::info!(
                packages = reindexed,
                "rebuilt the search index in its current layout"
            );
        }
        let blobs = blobs::BlobStore::open(data_dir)?;
        if let Some(tree) = db.legacy_inline_blobs() {
            let moved = blobs.move_inline_blobs(tree)?;
            if moved > 0 {
                tracing::info!(
                    blobs = moved,
                    "moved small blobs from sled into the blob store"
                );
            }
        }
        Ok((Store { db, blobs }, flusher))
    }

    /// Waits until every change committed so far is durable.
    pub async fn durable(&self) -> Result<(), ApiError> {
        self.db.durable().await
    }

    // ---- node ----

    /// The stored origin, or stores `wanted` on first start. A different
    /// `wanted` on a later start is refused: the origin names the node's log.
    pub fn origin(
        &self,
        wanted: impl Fn() -> String,
        explicit: Option<&str>,
    ) -> Result<String, ApiError> {
        self.db.transact(|tx| {
            if let Some(v) = tx.get_raw(T::Meta, ORIGIN)? {
                let stored = String::from_utf8_lossy(&v).to_string();
                if let Some(e) = explicit {
                    if e != stored {
                        return abort(ApiError::bad_request(
                            "origin_changed",
                            format!("this node's origin is {stored:?}; it cannot become {e:?}"),
                        ));
                    }
                }
                return Ok(stored);
            }
            let o = wanted();
            tx.put_raw(T::Meta, ORIGIN, o.clone().into_bytes())?;
            Ok(o)
        })
    }

    // ---- accounts and tokens ----

    /// The account a token hash belongs to.
    pub fn account_by_token_hash(&self, hash: &str) -> Result<Option<AccountRecord>, ApiError> {
        let Some(user) = self.db.tree(T::Tokens).get(hash.as_bytes())? else {
            return Ok(None);
        };
        self.db.get(T::Accounts, &user)
    }

    /// An account by name.
    pub fn account(&self, username: &str) -> Result<Option<AccountRecord>, ApiError> {
        self.db.get(T::Accounts, username.as_bytes())
    }

    /// Whether any admin account exists (false only before bootstrap).
    pub fn has_admin(&self) -> Result<bool, ApiError> {
        for item in self.db.tree(T::Accounts).iter() {
            let (_, v) = item?;
            let a: AccountRecord = Db::decode(T::Accounts, &v)?;
            if a.role == Role::Admin {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Creates an account with the hash of its token. The organisation must exist.
    pub fn create_account(&self, account: &AccountRecord) -> Result<(), ApiError> {
        self.db.transact(|tx| {
            if let Some(org) = &account.org {
                if !tx.contains(T::Orgs, org.as_str().as_bytes())? {
                    return abort(ApiError::OrgNotFound(org.to_string()));
                }
            }
            if tx.contains(T::Accounts, account.username.as_bytes())? {
                return abort(ApiError::AccountExists(account.username.clone()));
            }
            tx.put(T::Accounts, account.username.as_bytes(), account)?;
            tx.put_raw(
                T::Tokens,
                account.token_hash.as_bytes(),
                account.username.clone().into_bytes(),
            )
        })
    }

    // ---- organisations ----

    /// Creates an organisation and logs it.
    pub fn create_org(&self, org: &OrgRecord) -> Result<(), ApiError> {
        self.db.transact(|tx| {
            if tx.contains(T::Orgs, org.name.as_str().as_bytes())? {
                return abort(ApiError::OrgExists(org.name.to_string()));
            }
            tx.put(T::Orgs, org.name.as_str().as_bytes(), org)?;
            log::append(
                tx,
                &LogEvent::OrgCreated {
                    org: org.name.clone(),
                    at: org.created_at.clone(),
                },
            )?;
            Ok(())
        })
    }

    /// Every organisation, by name.
    pub fn orgs(&self) -> Result<Vec<OrgRecord>, ApiError> {
        self.db
            .tree(T::Orgs)
            .iter()
            .map(|item| Db::decode(T::Orgs, &item?.1))
            .collect()
    }

    // ---- keys ----

    /// Registers a key to an account and logs it. Returns the record and
    /// whether it is new (false: it was already this account's).
    pub fn register_key(
        &self,
        key: &PublicKey,
        account: &AccountRecord,
    ) -> Result<(KeyRecord, bool), ApiError> {
        let id = key.key_id();
        let at = now();
        self.db.transact(|tx| {
            if let Some(existing) = tx.get::<KeyRecord>(T::Keys, id.as_str().as_bytes())? {
                if existing.account == account.username {
                    return Ok((existing, false));
                }
                return abort(ApiError::KeyTaken(id.to_string()));
            }
            let rec = KeyRecord {
                key_id: id.clone(),
                public_key: key.clone(),
                account: account.username.clone(),
                registered_at: at.clone(),
                revoked_at: None,
            };
            tx.put(T::Keys, id.as_str().as_bytes(), &rec)?;
            log::append(
                tx,
                &LogEvent::KeyRegistered {
                    key_id: id.clone(),
                    public_key: key.clone(),
                    account: account.username.clone(),
                    org: account.org.clone(),
                    role: account.role,
                    at: at.clone(),
                },
            )?;
            Ok((rec, true))
        })
    }

    /// A key and the account it is registered to.
    pub fn key(&self, id: &KeyId) -> Result<Option<(KeyRecord, AccountRecord)>, ApiError> {
        let Some(k) = self.db.get::<KeyRecord>(T::Keys, id.as_str().as_bytes())? else {
            return Ok(None);
        };
        let a = self
            .account(&k.account)?
            .ok_or_else(|| ApiError::Internal(format!("key {id} names a missing account")))?;
        Ok(Some((k, a)))
    }

    /// Revokes a key (by its own account or an admin) and logs it. Returns the
    /// record and whether it was revoked now (false: it already was, nothing
    /// is logged again). A revoked key stays registered to its account, so it
    /// can never be registered again, and signs nothing more on this node.
    pub fn revoke_key(
        &self,
        id: &KeyId,
        caller: &AccountRecord,
    ) -> Result<(KeyRecord, bool), ApiError> {
        let at = now();
        self.db.transact(|tx| {
            let Some(mut rec) = tx.get::<KeyRecord>(T::Keys, id.as_str().as_bytes())? else {
                return abort(ApiError::KeyNotFound(format!(
                    "no key {id} is registered here"
                )));
            };
            if rec.account != caller.username && caller.role != Role::Admin {
                return abort(ApiError::KeyNotYours(id.to_string()));
            }
            if rec.revoked_at.is_some() {
                return Ok((rec, false));
            }
            rec.revoked_at = Some(at.clone());
            tx.put(T::Keys, id.as_str().as_bytes(), &rec)?;
            log::append(
                tx,
                &LogEvent::KeyRevoked {
                    key_id: id.clone(),
                    at: at.clone(),
                },
            )?;
            Ok((rec, true))
        })
    }

    /// Every key registered to a verifier account.
    pub fn verifier_keys(&self) -> Result<Vec<(KeyRecord, AccountRecord)>, ApiError> {
        let mut out = Vec::new();
        for item in self.db.tree(T::Keys).iter() {
            let k: KeyRecord = Db::decode(T::Keys, &item?.1)?;
            if let Some(a) = self.account(&k.account)? {
                if a.role == Role::Verifier {
                    out.push((k, a));
                }
            }
        }
        Ok(out)
    }

    // ---- packages and releases ----

    /// A package record.
    pub fn package(&self, name: &PackageName) -> Result<Option<PackageRecord>, ApiError> {
        self.db.get(T::Packages, name.to_string().as_bytes())
    }

    /// A release record.
    pub fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseRecord>, ApiError> {
        self.db.get(T::Releases, &release_key(name, version))
    }

    /// Every release of a package, in publish order (a prefix scan of the
    /// releases tree: `org/name@` is no other package's prefix).
    pub fn releases_of(&self, name: &PackageName) -> Result<Vec<ReleaseRecord>, ApiError> {
        let prefix = format!("{name}@");
        let mut out: Vec<ReleaseRecord> = Vec::new();
        for item in self.db.tree(T::Releases).scan_prefix(prefix.as_bytes()) {
            let (_, bytes) = item?;
            out.push(Db::decode(T::Releases, &bytes)?);
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// What a release's archive holds.
    pub fn files(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ArchiveSummary>, ApiError> {
        self.db.get(T::Files, &release_key(name, version))
    }

    /// Pending releases, oldest first.
    pub fn pending(&self) -> Result<Vec<ReleaseRecord>, ApiError> {
        let mut out = Vec::new();
        for item in self.db.tree(T::Pending).iter() {
            let (_, key) = item?;
            if let Some(r) = self.db.get::<ReleaseRecord>(T::Releases, &key)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Stores a checked release, its archive listing, its search entries and
    /// its log entry, as one transaction. Re-checks that the version is unused
    /// and every dependency exists.
    pub fn publish(&self, new: &NewRelease) -> Result<ReleaseRecord, ApiError> {
        let st: &ReleaseStatement = &new.statement;
        let name = &st.subject.name;
        let version = &st.subject.version;
        let key = release_key(name, version);
        let at = now();
        log::check_entry_size(&LogEvent::Release {
            envelope: new.envelope.clone(),
            key_id: new.statement.key().key_id(),
            at: at.clone(),
        })?;
        self.db.transact(|tx| {
            check_not_revoked(tx, &new.statement.key().key_id())?;
            if tx.contains(T::Releases, &key)? {
                return abort(ApiError::VersionExists(format!("{name}@{version}")));
            }
            for dep in st.manifest.dependencies.keys() {
                if !tx.contains(T::Packages, dep.to_string().as_bytes())? {
                    return abort(unknown_dependency(dep));
                }
            }
            let old: Option<PackageRecord> = tx.get(T::Packages, name.to_string().as_bytes())?;
            let seq = add_version(tx, old.as_ref(), name, version, &st.manifest, &at, None)?;
            tx.put_raw(T::Pending, &seq.to_be_bytes(), key.clone())?;
            tx.put(T::Files, &key, &new.files)?;
            let key_id = new.statement.key().key_id();
            let log_index = log::append(
                tx,
                &LogEvent::Release {
                    envelope: new.envelope.clone(),
                    key_id: key_id.clone(),
                    at: at.clone(),
                },
            )?;
            let rec = ReleaseRecord {
                name: name.clone(),
                version: version.clone(),
                digest: st.subject.digest,
                size: new.size,
                state: ReleaseState::Pending,
                yanked: None,
                published_at: at.clone(),
                envelope: new.envelope.clone(),
                publisher_key: key_id,
                publisher: new.publisher.clone(),
                manifest: st.manifest.clone(),
                verdicts: Vec::new(),
                log_index,
                seq,
                origin: None,
            };
            tx.put(T::Releases, &key, &rec)?;
            Ok(rec)
        })
    }

    /// Accepts a checked verdict: re-checks the subject and the state
    /// transition, stores it, logs it and recomputes the state with the node's
    /// threshold of distinct verifier keys.
    pub fn add_verdict(&self, new: &NewVerdict, threshold: u32) -> Result<ReleaseRecord, ApiError> {
        let st: &VerdictStatement = &new.statement;
        let key = release_key(&st.subject.name, &st.subject.version);
        let key_id = new.statement.key().key_id();
        let at = now();
        log::check_entry_size(&LogEvent::Verdict {
            envelope: new.envelope.clone(),
            key_id: key_id.clone(),
            at: at.clone(),
        })?;
        self.db.transact(|tx| {
            check_not_revoked(tx, &key_id)?;
            let Some(mut rec) = tx.get::<ReleaseRecord>(T::Releases, &key)? else {
                return abort(ApiError::VersionNotFound(st.subject.to_string()));
            };
            if let Some(origin) = &rec.origin {
                return abort(ApiError::InvalidTransition(format!(
                    "{} is mirrored from {origin}; verdicts are given on its origin",
                    st.subject
                )));
            }
            let subject = subject_of(&rec);
            if st.subject != subject {
                return abort(subject_mismatch(&st.subject, &subject));
            }
            check_transition(rec.state, st.verdict, &subject)?;
            let log_index = log::append(
                tx,
                &LogEvent::Verdict {
                    envelope: new.envelope.clone(),
                    key_id: key_id.clone(),
                    at: at.clone(),
                },
            )?;
            rec.verdicts.push(VerdictRecord {
                envelope: new.envelope.clone(),
                verdict: st.verdict,
                key_id: key_id.clone(),
                account: new.account.username.clone(),
                org: new.account.org.clone(),
                at: at.clone(),
                log_index,
            });
            let before = rec.state;
            rec.state = assess(tx, &rec, &subject, threshold)?;
            if before == ReleaseState::Pending && rec.state != ReleaseState::Pending {
                tx.remove(T::Pending, &rec.seq.to_be_bytes())?;
            }
            tx.put(T::Releases, &key, &rec)?;
            Ok(rec)
        })
    }

    /// Yanks (`reason` given) or un-yanks (`None`) a release and logs it.
    pub fn set_yank(
        &self,
        name: &PackageName,
        version: &Version,
        reason: Option<&str>,
        by: &str,
    ) -> Result<ReleaseRecord, ApiError> {
        let key = release_key(name, version);
        let at = now();
        if let Some(reason) = reason {
            // The longest entry this yank can make (digest of fixed length).
            log::check_entry_size(&LogEvent::Yank {
                name: name.clone(),
                version: version.clone(),
                digest: shire_core::Digest::of(b""),
                reason: reason.to_string(),
                by: by.to_string(),
                at: at.clone(),
            })?;
        }
        self.db.transact(|tx| {
            let Some(mut rec) = tx.get::<ReleaseRecord>(T::Releases, &key)? else {
                return abort(ApiError::VersionNotFound(format!("{name}@{version}")));
            };
            let event = match (reason, &rec.yanked) {
                (Some(_), Some(_)) => {
                    return abort(ApiError::InvalidTransition(format!(
                        "{name}@{version} is already yanked"
                    )))
                }
                (None, None) => {
                    return abort(ApiError::InvalidTransition(format!(
                        "{name}@{version} is not yanked"
                    )))
                }
                (Some(reason), None) => {
                    rec.yanked = Some(YankRecord {
                        reason: reason.to_string(),
                        at: at.clone(),
                        by: by.to_string(),
                    });
                    LogEvent::Yank {
                        name: name.clone(),
                        version: version.clone(),
                        digest: rec.digest,
                        reason: reason.to_string(),
                        by: by.to_string(),
                        at: at.clone(),
                    }
                }
                (None, Some(_)) => {
                    rec.yanked = None;
                    LogEvent::Unyank {
                        name: name.clone(),
                        version: version.clone(),
                        digest: rec.digest,
                        by: by.to_string(),
                        at: at.clone(),
                    }
                }
            };
            log::append(tx, &event)?;
            tx.put(T::Releases, &key, &rec)?;
            Ok(rec)
        })
    }
}

/// Refuses, inside a transaction, a statement signed by a key revoked since
/// the handler looked it up (403 `key_revoked`).
fn check_not_revoked(tx: &Tx<'_>, id: &KeyId) -> TxResult<()> {
    match tx.get::<KeyRecord>(T::Keys, id.as_str().as_bytes())? {
        Some(k) if k.revoked_at.is_some() => abort(key_revoked(&k)),
        _ => Ok(()),
    }
}

/// The error for a statement signed by a revoked key.
pub fn key_revoked(key: &KeyRecord) -> ApiError {
    ApiError::KeyRevoked(format!(
        "key {} was revoked at {}; it can no longer sign releases or verdicts",
        key.key_id,
        key.revoked_at.as_deref().unwrap_or("an earlier time")
    ))
}

/// The exact subject a stored release answers to.
pub fn subject_of(rec: &ReleaseRecord) -> Subject {
    Subject {
        name: rec.name.clone(),
        version: rec.version.clone(),
        digest: rec.digest,
    }
}

/// The error for a verdict about something other than the stored release.
pub fn subject_mismatch(claimed: &Subject, stored: &Subject) -> ApiError {
    ApiError::SubjectMismatch(format!(
        "the verdict is about {claimed} ({}), but the stored release is {stored} ({})",
        claimed.digest, stored.digest
    ))
}

/// The error for a dependency on a package this node does not hold.
pub fn unknown_dependency(dep: &PackageName) -> ApiError {
    ApiError::UnknownDependency(format!(
        "dependency {dep} is not a package on this registry"
    ))
}

/// Which verdicts a release in `state` may receive.
pub fn check_transition(state: ReleaseState, verdict: Verdict, subject: &Subject) -> TxResult<()> {
    let ok = matches!(
        (state, verdict),
        (
            ReleaseState::Pending | ReleaseState::Approved,
            Verdict::Approve
        ) | (ReleaseState::Pending, Verdict::Reject)
            | (ReleaseState::Approved, Verdict::Revoke)
    );
    if ok {
        Ok(())
    } else {
        abort(ApiError::InvalidTransition(format!(
            "cannot {verdict} {subject}: it is {state}{}",
            match verdict {
                Verdict::Revoke => " (only an approved release can be revoked)",
                Verdict::Reject =>
                    " (only a pending release can be rejected; revoke an approved one)",
                Verdict::Approve => "",
            }
        )))
    }
}

/// Records `version` in its package (creating the package when `old` is
/// `None`), keeps the descriptive fields of the highest version, reindexes the
/// package for search when they changed, and returns the release's sequence
/// number. Shared by local publishes and mirrored releases.
pub(crate) fn add_version(
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
    let previous = pkg
        .highest
        .take()
        .or_else(|| pkg.versions.iter().max().cloned());
    pkg.versions = Vec::new();
    let highest = previous.as_ref().is_none_or(|v| v < version);
    pkg.highest = if highest {
        Some(version.clone())
    } else {
        previous
    };
    if highest {
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

/// A package's first record, with the next package id: `origin` is `None` for
/// this node's own packages, the origin's name for mirrored ones.
pub(crate) fn new_package(
    tx: &Tx<'_>,
    name: &PackageName,
    at: &str,
    origin: Option<String>,
) -> TxResult<PackageRecord> {
    let id = tx.get_u64(T::Meta, PACKAGE_SEQ)?;
    tx.put_u64(T::Meta, PACKAGE_SEQ, id + 1)?;
    let id = u32::try_from(id)
        .or_else(|_| abort(ApiError::internal("this node holds 2^32 packages already")))?;
    Ok(PackageRecord {
        id,
        name: name.clone(),
        highest: None,
        versions: Vec::new(),
        description: String::new(),
        keywords: Vec::new(),
        categories: Vec::new(),
        created_at: at.to_string(),
        origin,
    })
}

/// The state the stored verdicts amount to, assessed with the shared trust
/// policy over the verifier keys that signed them and the node's threshold:
/// each key counts once, a revocation wins, then a rejection.
fn assess(
    tx: &Tx<'_>,
    rec: &ReleaseRecord,
    subject: &Subject,
    threshold: u32,
) -> TxResult<ReleaseState> {
    assess_with(rec, subject, threshold, |id| {
        Ok(tx
            .get::<KeyRecord>(T::Keys, id.as_str().as_bytes())?
            .map(|k| k.public_key))
    })
}

/// [`assess`] over any key registry: `key_of` finds the public key a verdict's
/// key id names (this node's keys, or a mirrored origin's).
pub(crate) fn assess_with(
    rec: &ReleaseRecord,
    subject: &Subject,
    threshold: u32,
    mut key_of: impl FnMut(&KeyId) -> TxResult<Option<PublicKey>>,
) -> TxResult<ReleaseState> {
    let mut keys = BTreeMap::new();
    for v in &rec.verdicts {
        if let Some(public_key) = key_of(&v.key_id)? {
            keys.insert(
                v.key_id.clone(),
                TrustedKey {
                    public_key,
                    label: v.account.clone(),
                },
            );
        }
    }
    let policy = TrustPolicy { keys, threshold };
    let envelopes: Vec<Envelope> = rec.verdicts.iter().map(|v| v.envelope.clone()).collect();
    let assessment = policy.assess(subject, &envelopes);
    Ok(match policy.standing(&assessment) {
        Standing::Approved => ReleaseState::Approved,
        Standing::Revoked(_) => ReleaseState::Revoked,
        Standing::Rejected(_) => ReleaseState::Rejected,
        Standing::Unapproved { .. } => ReleaseState::Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::archive::testing::{build, Item};
    use shire_core::archive::{inspect, ArchiveLimits};
    use shire_core::manifest::Manifest;
    use shire_core::{Digest, KeyPair};

    #[test]
    fn transitions_allowed_from_each_state() {
        let s = Subject {
            name: PackageName::parse("a/b").unwrap(),
            version: Version::new(1, 0, 0),
            digest: Digest::of(b"x"),
        };
        use ReleaseState::*;
        use Verdict::*;
        for (state, verdict, ok) in [
            (Pending, Approve, true),
            (Pending, Reject, true),
            (Pending, Revoke, false),
            (Approved, Approve, true),
            (Approved, Reject, false),
            (Approved, Revoke, true),
            (Rejected, Approve, false),
            (Rejected, Revoke, false),
            (Revoked, Approve, false),
            (Revoked, Revoke, false),
        ] {
            assert_eq!(
                check_transition(state, verdict, &s).is_ok(),
                ok,
                "{state} {verdict}"
            );
        }
    }

    #[test]
    fn publish_rechecks_inside_its_transaction_and_logs_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _f) = Store::open(dir.path()).unwrap();
        let new = new_release("0.1.0", "Bin collection rounds");
        let rec = store.publish(&new).unwrap();
        assert_eq!(
            (rec.state, rec.log_index, rec.seq),
            (ReleaseState::Pending, 0, 0)
        );
        assert_eq!(store.pending().unwrap().len(), 1);
        // The same version again: refused by the transaction itself.
        assert!(matches!(
            store.publish(&new),
            Err(ApiError::VersionExists(_))
        ));
        assert_eq!(log::size(&store.db).unwrap(), 1);
        let pkg = store.package(&rec.name).unwrap().unwrap();
        assert_eq!(pkg.highest, Some(Version::new(0, 1, 0)));
        let versions: Vec<Version> = store
            .releases_of(&rec.name)
            .unwrap()
            .into_iter()
            .map(|r| r.version)
            .collect();
        assert_eq!(versions, vec![Version::new(0, 1, 0)]);
        assert_eq!(pkg.description, "Bin collection rounds");
    }

    /// A checked release of `a/b@version` with `description`.
    fn new_release(version: &str, description: &str) -> NewRelease {
        let key = KeyPair::generate();
        let archive = build(&[Item::File("a", version.as_bytes())]);
        let mut manifest = Manifest::skeleton(PackageName::parse("a/b").unwrap());
        manifest.package.version = Version::parse(version).unwrap();
        manifest.package.description = description.into();
        let env = ReleaseStatement::new(manifest, Digest::of(&archive)).sign(&key);
        NewRelease {
            statement: shire_core::verify::release(&env, &key.public()).unwrap(),
            envelope: env,
            publisher: "p".into(),
            size: archive.len() as u64,
            files: inspect(&archive[..], &ArchiveLimits::default()).unwrap(),
        }
    }

    /// Publishes `a/b@version` with `description`; returns the package record.
    fn publish_version(store: &Store, version: &str, description: &str) -> PackageRecord {
        let rec = store.publish(&new_release(version, description)).unwrap();
        store.package(&rec.name).unwrap().unwrap()
    }

    #[test]
    fn the_highest_version_keeps_the_description_and_the_list_is_in_publish_order() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _f) = Store::open(dir.path()).unwrap();
        publish_version(&store, "1.0.0", "first");
        publish_version(&store, "2.0.0", "second");
        let pkg = publish_version(&store, "1.5.0", "a backport");
        assert_eq!(pkg.highest, Some(Version::new(2, 0, 0)));
        assert_eq!(pkg.description, "second");
        let order: Vec<String> = store
            .releases_of(&pkg.name)
            .unwrap()
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        assert_eq!(order, ["1.0.0", "2.0.0", "1.5.0"]);
        // The stored record does not grow with the versions.
        let raw = store.db.tree(T::Packages).get(b"a/b").unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("versions"));
    }

    #[test]
    fn opening_a_data_folder_with_inline_blobs_moves_them_into_the_blob_store() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"kept in sled by an older node".to_vec();
        let d = Digest::of(&bytes);
        {
            let old = sled::open(dir.path().join("db")).unwrap();
            let tree = old.open_tree("inline_blobs").unwrap();
            tree.insert(d.as_bytes(), bytes.clone()).unwrap();
            old.flush().unwrap();
        }
        let (store, _f) = Store::open(dir.path()).unwrap();
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut store.blobs.read(&d).unwrap().unwrap(), &mut read).unwrap();
        assert_eq!(read, bytes);
        assert!(store.db.legacy_inline_blobs().unwrap().is_empty());
        drop((store, _f));
        // A new data folder gets no such tree.
        let fresh = tempfile::tempdir().unwrap();
        let (store, _f) = Store::open(fresh.path()).unwrap();
        assert!(store.db.legacy_inline_blobs().is_none());
    }

    #[test]
    fn a_record_from_before_highest_existed_keeps_its_highest_version() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _f) = Store::open(dir.path()).unwrap();
        let pkg = publish_version(&store, "3.0.0", "current");
        // Rewrite the record as older versions of the node stored it.
        let mut old = serde_json::to_value(&pkg).unwrap();
        let map = old.as_object_mut().unwrap();
        map.remove("highest");
        map.insert("versions".into(), serde_json::json!(["3.0.0"]));
        store
            .db
            .tree(T::Packages)
            .insert(b"a/b", serde_json::to_vec(&old).unwrap())
            .unwrap();
        let pkg = publish_version(&store, "2.1.0", "older line");
        assert_eq!(pkg.highest, Some(Version::new(3, 0, 0)));
        assert_eq!(pkg.description, "current");
    }
}
