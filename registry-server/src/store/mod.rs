//! Everything the node keeps: metadata in sled (`db`), artifacts in the blob
//! store ([`blobs`]), the transparency log ([`log`]), the search index
//! ([`search`]) and the mirrors of peers' logs ([`mirror`]).
//!
//! Nothing outside this module sees sled: routes and the follower call
//! [`Store`]'s methods and get its records ([`records`]) and [`StoreError`].
//!
//! **Every change goes through the ledger.** [`Store::append`] runs ONE
//! transaction that reads the state through a [`view::LedgerView`], asks
//! `shire_core::ledger` what the event changes, writes that [`Change`] (the
//! only thing [`write::write`] accepts), the search index and the event's log
//! entry together. A concurrent request that moved the state on makes sled
//! run the closure again, against the new state. The caller then awaits
//! [`Store::durable`] before acknowledging.

pub mod blobs;
mod bridge;
mod db;
mod error;
pub mod hot_pool;
pub mod lease;
mod linked;
pub mod log;
pub mod mirror;
pub mod objects;
pub mod packs;
pub mod records;
mod row_cache;
pub mod search;
pub mod shared;
mod shared_search;
pub mod tokens;
pub mod view;
pub mod webhooks;
pub mod write;

pub use db::{DocCache, FlushFailure, Flusher, TREE_NAMES};
pub use error::StoreError;
pub use write::{Artifact, Written};

use db::{abort, Db, Purpose, TxResult, T};
use records::*;
use shire_core::archive::ArchiveSummary;
use shire_core::event::LogEvent;
use shire_core::ledger::{Change, Ledger, LedgerError};
use shire_core::wire::{KeyInfo, Role};
use shire_core::{Digest, KeyId, PackageName, Version};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use view::{LedgerView, LogRef};

/// The current time as RFC 3339 (UTC).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

const ORIGIN: &[u8] = b"origin";
const FORMAT: &[u8] = b"format";
/// The node's public key, on a shared database (see `settle_node_key`).
const NODE_KEY: &[u8] = b"node_key";
/// The layout of a data folder this code reads and writes, raised whenever
/// the ledger's rules refuse what an earlier release accepted (the log is
/// replayed under today's rules by every reader). Layout 2 holds key
/// registrations without proofs of possession, layout 3 reasons and file
/// names that may hold invisible characters: both are refused.
pub const DATA_FORMAT: u64 = 4;

/// How a data folder is opened.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Cap of sled's page cache, in bytes.
    pub cache_bytes: u64,
    /// Distinct verifier accounts whose approvals make a release `approved`.
    pub threshold: u32,
    /// The origin asked for (`--origin`): must match a stored one.
    pub origin: Option<String>,
    /// Free bytes to keep on the data folder's disk: writes that would go
    /// below are refused ([`StoreError::Full`]).
    pub min_free_bytes: u64,
    /// The node's key: with the origin, it names the node's log (its note
    /// verifier key), which key registrations and verdicts must be signed
    /// for. `None` (tests): the log is named `<origin>+local`.
    pub node_key: Option<shire_core::PublicKey>,
    /// The shared backend (PostgreSQL and object storage); `None`: sled and
    /// pack files in the data folder.
    pub shared: Option<shared::SharedStorage>,
    /// The largest artifact this node accepts (its upload limit): a shared
    /// node copies no larger object from the bucket.
    pub max_artifact_bytes: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            cache_bytes: db::DEFAULT_CACHE_BYTES,
            threshold: 1,
            origin: None,
            min_free_bytes: 0,
            node_key: None,
            shared: None,
            max_artifact_bytes: u64::MAX,
        }
    }
}

/// The default cap of sled's page cache, in bytes.
pub const DEFAULT_CACHE_BYTES: u64 = db::DEFAULT_CACHE_BYTES;

/// The node's storage. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// The artifact store.
    pub blobs: blobs::BlobStore,
    origin: Arc<str>,
    log_name: Arc<str>,
    threshold: u32,
    data_dir: Arc<Path>,
    min_free_bytes: u64,
    /// This process's name among a shared node's processes (for leases).
    process: Arc<str>,
}

/// A record and the account it belongs to, if found.
pub type WithAccount<R> = Option<(R, AccountRecord)>;

/// A [`WithAccount`] and the bytes read along with it, under each of the
/// keys asked for, in their order.
type ReadAlong<R> = (WithAccount<R>, Vec<Option<Vec<u8>>>);

/// What a search shows of one hit ([`Store::search_hits`]).
#[derive(Debug)]
pub struct HitRecords {
    /// The package (`None`: not found).
    pub package: Option<PackageRecord>,
    /// How many organisations run it.
    pub adopters: u64,
    /// The release the package's `highest` names, if stored.
    pub highest: Option<ReleaseRecord>,
}

impl HitRecords {
    /// A hit from its stored package record and adoption count.
    fn decode(package: Option<Vec<u8>>, adopters: Option<Vec<u8>>) -> Result<Self, StoreError> {
        Ok(HitRecords {
            package: package.map(|b| Db::decode(T::Packages, &b)).transpose()?,
            adopters: adopters
                .map(|b| Db::decode::<u64>(T::Meta, &b))
                .transpose()?
                .unwrap_or_default(),
            highest: None,
        })
    }

    /// The key of the release the package record names as its highest.
    fn named_release(&self, name: &PackageName) -> Option<Vec<u8>> {
        Some(release_key(name, self.package.as_ref()?.highest.as_ref()?))
    }
}

/// What a publish read along with its caller's token
/// ([`Store::token_for_release`]), for the early answer and the takedown
/// refusal that follow it.
pub struct ReleaseReads {
    /// The key the statement names first, as read.
    key: (KeyId, Option<KeyRecord>),
    digest: Digest,
    takedown: Option<YankRecord>,
    fresh: Vec<db::Fresh>,
    /// What the shared engine read, kept for the write only once the
    /// caller is accepted ([`Store::keep_early_reads`]).
    early: shared::EarlyRows,
}

impl Store {
    /// Keeps what `reads` read for the write that follows (the shared
    /// engine's row cache): call it once the caller is accepted (a good
    /// token, a publisher of the package's organisation), so that nothing
    /// anyone else names enters the cache (and what a publisher names is
    /// bounded by [`shared::SharedDb::keep_early`]).
    pub fn keep_early_reads(&self, reads: &mut ReleaseReads) {
        self.db.keep_early(std::mem::take(&mut reads.early));
    }

    /// Bytes the shared engine's row cache holds (0 on the embedded engine):
    /// a gauge for operators, and what tests check an attack left alone.
    pub fn cached_bytes(&self) -> usize {
        self.db.cached_bytes()
    }
}

impl ReleaseReads {
    /// The signing key `id` as read (`Some(None)`: none is registered), or
    /// `None` when these reads were for another key.
    pub fn key(&self, id: &KeyId) -> Option<Option<&KeyRecord>> {
        (self.key.0 == *id).then_some(self.key.1.as_ref())
    }

    /// The takedown tombstone of `digest` as read (`Some(None)`: none), or
    /// `None` when these reads were for another artifact.
    pub fn takedown_of(&self, digest: &Digest) -> Option<Option<&YankRecord>> {
        (self.digest == *digest).then_some(self.takedown.as_ref())
    }
}

/// What [`Store::append`] did.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The event's index in the log (`None`: a replay, nothing appended).
    pub index: Option<u64>,
    /// What it stored.
    pub written: Written,
}

/// A release holding a given artifact ([`Store::releases_with_digest`]).
#[derive(Debug, Clone)]
pub struct SharingRelease {
    /// `org/name@version`.
    pub release: String,
    /// Its origin when mirrored (`None`: this node's own).
    pub origin: Option<String>,
    /// Whether it is taken down.
    pub taken_down: bool,
}

impl Store {
    /// Opens the store in `data_dir`; spawn the returned [`Flusher`]. On the
    /// first start of a folder, `default_origin` names the node. Refuses a
    /// database of another layout, one whose transparency log fails
    /// [`log::check`], and an origin other than the stored one.
    pub fn open(
        data_dir: &Path,
        options: &OpenOptions,
        default_origin: impl FnOnce() -> String,
    ) -> Result<(Store, Flusher), StoreError> {
        let (db, flusher) = match &options.shared {
            Some(s) => Db::shared(shared::SharedDb::connect(&s.postgres, s.max_connections)?),
            None => Db::open_with_cache(&data_dir.join("db"), options.cache_bytes)?,
        };
        check_format(&db)?;
        let size = log::check(&db)?;
        db.durable_at_least(size);
        let origin = settle_origin(&db, default_origin, options.origin.as_deref())?;
        if let (true, Some(key)) = (db.is_shared(), &options.node_key) {
            settle_node_key(&db, key)?;
        }
        shared_search::settle(&db)?;
        let log_name = match &options.node_key {
            Some(k) => signed_note::new_ed25519_verifier_key(&origin, k.dalek()),
            None => format!("{origin}+local"),
        };
        let blobs = match &options.shared {
            Some(s) => blobs::BlobStore::open_shared(
                data_dir,
                objects::Objects::open_with(&s.objects, &s.options, s.redirect_downloads)?
                    .limited_to(options.max_artifact_bytes),
            )?
            .keeping_copies_within(s.copies_max_bytes)?,
            None => blobs::BlobStore::open(data_dir)?,
        };
        let store = Store {
            db,
            blobs,
            origin: origin.into(),
            log_name: log_name.into(),
            threshold: options.threshold.max(1),
            data_dir: data_dir.into(),
            min_free_bytes: options.min_free_bytes,
            process: hex::encode(rand::random::<[u8; 8]>()).into(),
        };
        store.erase_taken_down()?;
        Ok((store, flusher))
    }

    /// The lease of background job `name` for this process
    /// ([`lease::Lease::held`]).
    pub fn lease(&self, name: &str) -> lease::Lease {
        lease::Lease::new(name, &self.process, self.db.shared_db().cloned())
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The node's origin: the first line of its checkpoints.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The name of the node's log, which statements are signed for: its
    /// note verifier key (origin, key hash and key).
    pub fn log_name(&self) -> &str {
        &self.log_name
    }

    /// Refuses a write now: while the database is being reopened after a
    /// failed write ([`StoreError::Unavailable`]), or when the data folder's
    /// disk has less free space than the node keeps ([`StoreError::Full`]).
    /// Every write path asks first; `/readyz` reports it.
    pub fn writable(&self) -> Result<(), StoreError> {
        if let Some(why) = self.db.failure() {
            return Err(StoreError::Unavailable(format!(
                "the database failed a write ({why}); it is reopened once the disk has room"
            )));
        }
        match error::free_bytes(&self.data_dir) {
            Some(free) if free < self.min_free_bytes => Err(StoreError::Full(format!(
                "{free} bytes free where the node keeps {} free",
                self.min_free_bytes
            ))),
            _ => Ok(()),
        }
    }

    /// The node's approval threshold.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// Waits until every change committed so far is durable.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.db.durable().await
    }

    /// The cache of encoded package documents, emptied by every write.
    pub fn docs(&self) -> &DocCache {
        self.db.docs()
    }

    /// How many group-commit flushes have run (for measuring batching).
    pub fn flush_count(&self) -> u64 {
        self.db.flush_count()
    }

    /// Every stored record, `tree/hex key` → bytes: what tests compare to
    /// show that a refused request changed nothing.
    pub fn dump(&self) -> BTreeMap<String, Vec<u8>> {
        self.db.dump()
    }

    // ---- the ledger ----

    /// What `event` would change in this node's own log now, without
    /// writing anything: the early answer a route gives before expensive
    /// work (inspecting an artifact). [`Store::append`] decides again.
    ///
    /// On the shared engine it first asks with the rows this process last
    /// saw under the sequencer lock (a publish then reads only what it adds);
    /// a refusal (or a replay) from those is confirmed against the database
    /// before it is answered, so a stale row can delay a refusal to the
    /// transaction, never refuse what the database would accept.
    pub fn check(&self, event: &LogEvent) -> Result<Change, StoreError> {
        self.check_with(event, None)
    }

    /// [`Store::check`], answering first from the rows `reads` holds
    /// instead of reading them again.
    pub fn check_with(
        &self,
        event: &LogEvent,
        reads: Option<&ReleaseReads>,
    ) -> Result<Change, StoreError> {
        if self.db.is_shared() {
            let fresh = reads.map_or(&[][..], |r| r.fresh.as_slice());
            let seen = db::Advisory::new(&self.db, fresh);
            let index = seen.u64(T::Meta, log::LOG_SIZE)?;
            match self.judge(&seen, index, event) {
                Ok(change) if !change.is_unchanged() => return Ok(change),
                _ => {}
            }
        }
        self.judge(&self.db, log::size(&self.db)?, event)
    }

    /// The ledger's answer to `event` at log size `index`, read through `reader`.
    fn judge<R: db::Reader<Error = StoreError>>(
        &self,
        reader: &R,
        index: u64,
        event: &LogEvent,
    ) -> Result<Change, StoreError> {
        let view = LedgerView::new(reader, &self.origin, LogRef::Local);
        Ledger::own(&self.origin, &self.log_name)
            .apply(&view, index, event)
            .map_err(|e| match e {
                LedgerError::Rule(r) => StoreError::Refused(r),
                LedgerError::View(e) => e,
            })
    }

    /// Applies `event` to this node's own log: the ledger decides, inside
    /// the transaction, what it changes; the change, its search-index update
    /// and the log entry are written together. A release needs its inspected
    /// `artifact`. A replay (`Change::Unchanged`) appends nothing.
    pub fn append(
        &self,
        event: &LogEvent,
        artifact: Option<&Artifact>,
    ) -> Result<Appended, StoreError> {
        log::check_entry_size(event)?;
        self.writable()?;
        self.db.transact(|tx| {
            let index = log::size_in(tx)?;
            let view = LedgerView::new(tx, &self.origin, LogRef::Local);
            let change = ledger_answer(
                Ledger::own(&self.origin, &self.log_name).apply(&view, index, event),
            )?;
            let written =
                write::write(tx, LogRef::Local, &change, index, artifact, self.threshold)?;
            if let Written::Unchanged(_) = written {
                return Ok(Appended {
                    index: None,
                    written,
                });
            }
            let at = log::append(tx, event)?;
            Ok(Appended {
                index: Some(at),
                written,
            })
        })
    }

    // ---- accounts and tokens (not in the log: a node's own business) ----

    /// An account by name.
    pub fn account(&self, username: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.db.get(T::Accounts, username.as_bytes())
    }

    /// Whether any admin account exists (false only before bootstrap).
    pub fn has_admin(&self) -> Result<bool, StoreError> {
        Ok(self
            .db
            .values::<AccountRecord>(T::Accounts)?
            .iter()
            .any(|a| a.role == Role::Admin))
    }

    /// Creates an account with the hash of its token. Its organisation must
    /// be one of this node's own.
    pub fn create_account(&self, account: &AccountRecord) -> Result<(), StoreError> {
        self.writable()?;
        self.db.transact(|tx| {
            if let Some(org) = &account.org {
                if !tx.contains(T::Orgs, org.as_str().as_bytes())? {
                    return abort(StoreError::OrgNotFound(org.clone()));
                }
            }
            if tx.contains(T::Accounts, account.username.as_bytes())? {
                return abort(StoreError::AccountExists(account.username.clone()));
            }
            tx.put(T::Accounts, account.username.as_bytes(), account)?;
            let token = TokenRecord {
                account: account.username.clone(),
                name: "account token".into(),
                scopes: Vec::new(),
                created_at: account.created_at.clone(),
                expires_at: None,
            };
            tx.put(
                T::Tokens,
                account.token_hash.as_bytes(),
                &StoredToken::Record(token),
            )
        })
    }

    // ---- takedowns ----

    /// The takedown of the artifact `digest`, if its release was taken down.
    pub fn takedown_of(
        &self,
        digest: &shire_core::Digest,
    ) -> Result<Option<YankRecord>, StoreError> {
        self.db.get(T::Meta, &write::takedown_key(digest))
    }

    /// Erases the bytes of every taken-down artifact still stored: after a
    /// takedown (own or mirrored), and at start (a crash between the log
    /// entry and the erasure leaves them). Returns how many it erased.
    /// Blocking: call from a blocking task.
    pub fn erase_taken_down(&self) -> Result<usize, StoreError> {
        let mut erased = 0;
        for key in self
            .db
            .keys_with_prefix(T::Meta, write::TAKEDOWN_PREFIX.as_bytes())?
        {
            let hex = String::from_utf8_lossy(&key[write::TAKEDOWN_PREFIX.len()..]).into_owned();
            let digest = shire_core::Digest::parse(&format!("sha256:{hex}"))
                .map_err(|e| StoreError::Corrupt(format!("takedown tombstone {hex}: {e}")))?;
            // The index answers cheaply; erasures cut short are finished at open.
            if self.blobs.held_anywhere(&digest)? && self.blobs.erase(&digest)? {
                tracing::info!(%digest, "erased a taken-down artifact");
                erased += 1;
            }
        }
        Ok(erased)
    }

    /// The releases (own and mirrored) whose artifact is `digest`. Scans
    /// every release: for takedowns only.
    pub fn releases_with_digest(
        &self,
        digest: &shire_core::Digest,
    ) -> Result<Vec<SharingRelease>, StoreError> {
        Ok(self
            .all_releases()?
            .into_iter()
            .filter(|r| r.digest == *digest)
            .map(|r| SharingRelease {
                release: format!("{}@{}", r.name, r.version),
                origin: r.origin.clone(),
                taken_down: r.taken_down.is_some(),
            })
            .collect())
    }

    // ---- reads ----

    /// Every organisation of this node, by name.
    pub fn orgs(&self) -> Result<Vec<OrgRecord>, StoreError> {
        self.db.values(T::Orgs)
    }

    /// A key of this node's log and the account it is registered to.
    pub fn key(&self, id: &KeyId) -> Result<Option<(KeyRecord, AccountRecord)>, StoreError> {
        let (found, _) = self.db.get_linked_along::<KeyRecord, AccountRecord>(
            T::Keys,
            id.as_str().as_bytes(),
            T::Accounts,
            |k| k.account.as_bytes().to_vec(),
            &[],
            Purpose::Answer,
        )?;
        let Some((k, a)) = found else {
            return Ok(None);
        };
        let a = a.ok_or_else(|| {
            StoreError::Corrupt(format!("key {id} names a missing account {}", k.account))
        })?;
        Ok(Some((k, a)))
    }

    /// Every key registered to a verifier account of this node.
    pub fn verifier_keys(&self) -> Result<Vec<(KeyRecord, AccountRecord)>, StoreError> {
        let mut out = Vec::new();
        for k in self.db.values::<KeyRecord>(T::Keys)? {
            if let Some(a) = self.account(&k.account)? {
                if a.role == Role::Verifier {
                    out.push((k, a));
                }
            }
        }
        Ok(out)
    }

    /// The key that signed a release, as its log registered it (this node's
    /// keys, or the mirrored origin's).
    pub fn publisher_key_info(&self, r: &ReleaseRecord) -> Result<Option<KeyInfo>, StoreError> {
        match &r.origin {
            Some(origin) => Ok(self
                .db
                .get::<MirrorKeyRecord>(
                    T::MirrorKeys,
                    &view::okey(origin, r.publisher_key.as_str().as_bytes()),
                )?
                .map(|k| k.key_info())),
            None => Ok(self
                .key(&r.publisher_key)?
                .map(|(k, a)| to_key_info(&k, &a))),
        }
    }

    /// A package record.
    pub fn package(&self, name: &PackageName) -> Result<Option<PackageRecord>, StoreError> {
        self.db.get(T::Packages, name.to_string().as_bytes())
    }

    /// What a search shows of each of `names`, in their order: the package
    /// record, how many organisations run it, and the release its
    /// `highest` names. On the shared engine one statement reads all three
    /// (a second read only for a release it did not bring), on the
    /// embedded engine two reads.
    pub fn search_hits(&self, names: &[PackageName]) -> Result<Vec<HitRecords>, StoreError> {
        let keys: Vec<Vec<u8>> = names.iter().map(|n| n.to_string().into_bytes()).collect();
        let mut hits = Vec::with_capacity(names.len());
        // Releases found along with their package (`Some`), or still to read.
        let mut found: Vec<Option<Option<ReleaseRecord>>> = Vec::with_capacity(names.len());
        match self.db.shared_db() {
            Some(shared) => {
                for (name, rows) in names.iter().zip(shared.search_hits(&keys)?) {
                    let hit = HitRecords::decode(rows.package, rows.adopters)?;
                    // Kept only under the key the record names as decoded
                    // here: the statement's own reading of it is a guess.
                    let named = hit.named_release(name);
                    found.push(match (named, rows.release) {
                        (None, _) => Some(None),
                        (Some(named), Some((key, value))) if named == key => {
                            Some(Some(Db::decode(T::Releases, &value)?))
                        }
                        (Some(_), _) => None,
                    });
                    hits.push(hit);
                }
            }
            None => {
                let wanted: Vec<(T, Vec<u8>)> = keys
                    .iter()
                    .map(|k| (T::Packages, k.clone()))
                    .chain(names.iter().map(|n| (T::Meta, write::adopters_key(n))))
                    .collect();
                let mut raw = self.db.get_across_raw(&wanted)?;
                let counts = raw.split_off(names.len());
                for (package, count) in raw.into_iter().zip(counts) {
                    hits.push(HitRecords::decode(package, count)?);
                    found.push(None);
                }
            }
        }
        let missing: Vec<(usize, Vec<u8>)> = names
            .iter()
            .zip(&hits)
            .enumerate()
            .filter(|(i, _)| found[*i].is_none())
            .filter_map(|(i, (name, hit))| Some((i, hit.named_release(name)?)))
            .collect();
        let keys: Vec<Vec<u8>> = missing.iter().map(|(_, k)| k.clone()).collect();
        for ((i, _), release) in missing.iter().zip(self.db.get_many(T::Releases, &keys)?) {
            found[*i] = Some(release);
        }
        for (hit, release) in hits.iter_mut().zip(found) {
            hit.highest = release.flatten();
        }
        Ok(hits)
    }

    /// How many organisations run each of `names` ([`Store::adopter_count`]).
    pub fn adopter_counts(&self, names: &[PackageName]) -> Result<Vec<u64>, StoreError> {
        let keys: Vec<Vec<u8>> = names.iter().map(write::adopters_key).collect();
        Ok(self
            .db
            .get_many::<u64>(T::Meta, &keys)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    /// The release of `name` at `version` (build metadata aside).
    pub fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseRecord>, StoreError> {
        self.db.get(T::Releases, &release_key(name, version))
    }

    /// Every release of a package, in publish order (a prefix scan of the
    /// releases tree: `org/name@` is no other package's prefix).
    pub fn releases_of(&self, name: &PackageName) -> Result<Vec<ReleaseRecord>, StoreError> {
        let prefix = format!("{name}@");
        let mut out: Vec<ReleaseRecord> = self.db.scan(T::Releases, prefix.as_bytes())?;
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// The organisations that declare they run `name`, from every log the
    /// node holds, in the order of their names (withdrawn adoptions left out).
    pub fn adoptions_of(&self, name: &PackageName) -> Result<Vec<AdoptionRecord>, StoreError> {
        let mut prefix = name.to_string().into_bytes();
        prefix.push(0);
        let all: Vec<AdoptionRecord> = self.db.scan(T::Adoptions, &prefix)?;
        Ok(all.into_iter().filter(|a| !a.fact.withdrawn).collect())
    }

    /// The support offers for `name` (accepted or not), from every log the
    /// node holds, in the order of the supporters' names.
    pub fn supports_of(&self, name: &PackageName) -> Result<Vec<SupportRecord>, StoreError> {
        let mut prefix = name.to_string().into_bytes();
        prefix.push(0);
        self.db.scan(T::Supports, &prefix)
    }

    /// How many organisations declare they run a release of `name` this
    /// node holds (kept as adoptions are written; what search ranks by).
    pub fn adopter_count(&self, name: &PackageName) -> Result<u64, StoreError> {
        Ok(self
            .db
            .get::<u64>(T::Meta, &write::adopters_key(name))?
            .unwrap_or(0))
    }

    /// `org`'s latest statement about `name`: its adoption, or its withdrawal.
    pub fn adoption(
        &self,
        org: &shire_core::OrgName,
        name: &PackageName,
    ) -> Result<Option<AdoptionRecord>, StoreError> {
        self.db.get(T::Adoptions, &adoption_key(name, org))
    }

    /// What a release's archive holds.
    pub fn files(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ArchiveSummary>, StoreError> {
        self.db.get(T::Files, &release_key(name, version))
    }

    /// Pending releases of this node's own log, oldest first.
    pub fn pending(&self) -> Result<Vec<ReleaseRecord>, StoreError> {
        let keys = self.db.raw_values(T::Pending)?;
        Ok(self
            .db
            .get_many::<ReleaseRecord>(T::Releases, &keys)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Every release of every package (for inspection and consistency checks).
    pub fn all_releases(&self) -> Result<Vec<ReleaseRecord>, StoreError> {
        self.db.values(T::Releases)
    }

    /// Hands every release of every package to `f`, one at a time, in key
    /// order: a package's releases are consecutive.
    pub fn for_each_release(
        &self,
        f: impl FnMut(ReleaseRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.db.for_each(T::Releases, f)
    }

    /// Every package (for inspection and consistency checks).
    pub fn all_packages(&self) -> Result<Vec<PackageRecord>, StoreError> {
        self.db.values(T::Packages)
    }

    // ---- search ----

    /// The best `limit` packages matching `query` (lowercase), the exact
    /// full name first when it exists.
    pub fn search(&self, query: &str, limit: usize) -> Result<search::Ranked, StoreError> {
        let exact = match PackageName::parse(query) {
            Ok(n) => self.package(&n)?.map(|p| (p.id, n)),
            Err(_) => None,
        };
        search::query(
            &self.db,
            query,
            exact.as_ref().map(|(id, n)| (*id, n)),
            limit,
        )
    }

    /// Every package id matching `query` (lowercase), best first, as
    /// [`Store::search`] ranks them, unresolved (ids are `PackageRecord::id`).
    pub fn search_ids(&self, query: &str) -> Result<Vec<u32>, StoreError> {
        let exact = match PackageName::parse(query) {
            Ok(n) => self.package(&n)?.map(|p| p.id),
            Err(_) => None,
        };
        search::ranked_ids(&self.db, query, exact)
    }

    /// Every account of this node's own organisations (names and roles for
    /// the catalogue; never shown with their token hashes).
    pub fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.db.values(T::Accounts)
    }

    // ---- the log, for reading ----

    /// Read access to this node's log, for proofs, roots, entries and tiles.
    pub fn log_view(&self) -> log::LogView<'_> {
        log::LogView::new(&self.db)
    }

    /// Runs the startup check of the log again (hashes and entries add up);
    /// returns its size.
    pub fn check_log(&self) -> Result<u64, StoreError> {
        log::check(&self.db)
    }

    /// Entries committed to this node's log (durable or not yet).
    pub fn log_size(&self) -> Result<u64, StoreError> {
        log::size(&self.db)
    }

    /// The stored bytes of entry `index` of this node's log.
    pub fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        log::entry(&self.db, index)
    }

    /// Hands every stored entry (tree name, key, value) to `sink` as one
    /// moment (no transaction runs meanwhile); the log's size then.
    pub fn export(
        &self,
        sink: impl FnMut(&str, &[u8], &[u8]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        self.db.export(sink)
    }

    /// Creates the database of a new data folder from exported entries
    /// (`shire-registry restore`); the folder must hold no database yet.
    pub fn import(
        data_dir: &Path,
        entries: impl Iterator<Item = std::io::Result<(String, Vec<u8>, Vec<u8>)>>,
    ) -> Result<(), StoreError> {
        let path = data_dir.join("db");
        if path.exists() {
            return Err(StoreError::Corrupt(format!(
                "{} already holds a database",
                path.display()
            )));
        }
        let (db, flusher) = Db::open_with_cache(&path, db::DEFAULT_CACHE_BYTES)?;
        db.import(entries)?;
        drop(flusher);
        Ok(())
    }

    /// Writes exported entries into a shared database (`shire-registry
    /// migrate`), in one transaction; how many there were.
    pub fn import_shared(
        db: &shared::SharedDb,
        entries: impl Iterator<Item = std::io::Result<(String, Vec<u8>, Vec<u8>)>>,
    ) -> Result<u64, StoreError> {
        let (db, _flusher) = Db::shared(db.clone());
        // The posting lists are the embedded engine's index; the shared one
        // is built from the packages when the imported node is first opened.
        db.import(entries.filter(|e| !matches!(e, Ok((tree, _, _)) if tree == "search")))
    }

    /// Group-commit flushes run, and the seconds they took in all.
    pub fn flush_stats(&self) -> (u64, f64) {
        (self.db.flush_count(), self.db.flush_seconds())
    }

    /// Calls this process has made to PostgreSQL (0 on the embedded
    /// backend).
    pub fn postgres_calls(&self) -> u64 {
        self.db.postgres_calls()
    }

    /// Entries of this node's log known to be on disk: what checkpoints,
    /// entries, proofs and tiles are served for.
    pub fn durable_log_size(&self) -> u64 {
        self.db.durable_log_size()
    }
}

/// The ledger's answer inside a transaction: a broken rule aborts it with
/// [`StoreError::Refused`]; a read failure (a conflict) goes back to sled.
fn ledger_answer(
    r: Result<Change, LedgerError<sled::transaction::ConflictableTransactionError<StoreError>>>,
) -> TxResult<Change> {
    match r {
        Ok(c) => Ok(c),
        Err(LedgerError::Rule(rule)) => abort(rule),
        Err(LedgerError::View(e)) => Err(e),
    }
}

/// Refuses a data folder of another layout; marks a new one.
fn check_format(db: &Db) -> Result<(), StoreError> {
    match db.get::<u64>(T::Meta, FORMAT)? {
        Some(DATA_FORMAT) => Ok(()),
        Some(other) => Err(StoreError::DataFormat(format!(
            "this data folder has layout {other}; this shire-registry reads layout \
             {DATA_FORMAT} (its log may hold entries today's rules refuse, which every \
             client would find invalid). Start the node on a new, empty data folder"
        ))),
        // Another process of a shared node may be setting it up: decided
        // again inside the transaction (under the sequencer lock).
        None if db.is_empty()? => db.transact(|tx| match tx.get::<u64>(T::Meta, FORMAT)? {
            None => tx.put(T::Meta, FORMAT, &DATA_FORMAT),
            Some(DATA_FORMAT) => Ok(()),
            Some(other) => abort(StoreError::DataFormat(format!(
                "this database has layout {other}; this shire-registry reads layout {DATA_FORMAT}"
            ))),
        }),
        None if db.get::<u64>(T::Meta, FORMAT)? == Some(DATA_FORMAT) => Ok(()),
        None => Err(StoreError::DataFormat(
            "this data folder was written by an earlier shire-registry, whose log holds key \
             registrations without proofs of possession: it cannot be verified under today's \
             rules. Start the node on a new, empty data folder"
                .into(),
        )),
    }
}

/// A shared node's processes must sign with one key: the first stores its
/// public key, and a process started with another is refused (it would sign
/// checkpoints of this log under a key no client pinned).
fn settle_node_key(db: &Db, key: &shire_core::PublicKey) -> Result<(), StoreError> {
    let mine = key.to_string();
    db.transact(|tx| match tx.get::<String>(T::Meta, NODE_KEY)? {
        None => tx.put(T::Meta, NODE_KEY, &mine),
        Some(stored) if stored == mine => Ok(()),
        Some(stored) => abort(StoreError::DataFormat(format!(
            "this shared database belongs to the node whose key is {stored}; this process has \
             {mine}: copy node-key from the node's first process into this data folder"
        ))),
    })
}

/// The stored origin, or `wanted()` stored on first start. A different
/// `explicit` origin on a later start is refused: the origin names the log.
fn settle_origin(
    db: &Db,
    wanted: impl FnOnce() -> String,
    explicit: Option<&str>,
) -> Result<String, StoreError> {
    if let Some(stored) = db.get::<String>(T::Meta, ORIGIN)? {
        if let Some(e) = explicit {
            if e != stored {
                return Err(StoreError::OriginChanged {
                    stored,
                    wanted: e.to_string(),
                });
            }
        }
        return Ok(stored);
    }
    let o = explicit.map(str::to_string).unwrap_or_else(wanted);
    // Stored unless another process of a shared node stored one meanwhile.
    db.transact(|tx| match tx.get::<String>(T::Meta, ORIGIN)? {
        Some(stored) if explicit.is_some_and(|e| e != stored) => abort(StoreError::OriginChanged {
            stored,
            wanted: o.clone(),
        }),
        Some(stored) => Ok(stored),
        None => tx.put(T::Meta, ORIGIN, &o).map(|()| o.clone()),
    })
}

/// Helpers for the server's unit tests.
#[cfg(test)]
pub mod testing {
    use super::*;
    use shire_core::statement::KeyStatement;
    use shire_core::KeyPair;

    /// Registers `key` to `account` through the ledger, with a genuine proof.
    pub fn register(store: &Store, key: &KeyPair, account: &AccountRecord) -> KeyRecord {
        let proof = KeyStatement::new(
            key,
            &account.username,
            account.org.clone(),
            account.role,
            store.log_name(),
            1,
        )
        .sign(key);
        let event = LogEvent::KeyRegistered {
            key_id: key.key_id(),
            public_key: key.public(),
            account: account.username.clone(),
            org: account.org.clone(),
            role: account.role,
            proof,
            at: now(),
        };
        match store.append(&event, None) {
            Ok(Appended {
                written: Written::Key(k),
                ..
            }) => *k,
            other => panic!("registering {}: {other:?}", key.key_id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::archive::testing::{build, Item};
    use shire_core::archive::{inspect, ArchiveLimits};
    use shire_core::manifest::Manifest;
    use shire_core::statement::{ReleaseStatement, Verdict, VerdictStatement};
    use shire_core::wire::ReleaseState;
    use shire_core::{Digest, KeyPair, OrgName};

    struct Node {
        _dir: tempfile::TempDir,
        store: Store,
        publisher: KeyPair,
    }

    /// A node with organisations `a` (a publisher `p`) and `v` (verifiers
    /// `v1`, `v2`), and `threshold`.
    fn node(threshold: u32) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let options = OpenOptions {
            threshold,
            ..OpenOptions::default()
        };
        let (store, _f) = Store::open(dir.path(), &options, || "node.test".into()).unwrap();
        for org in ["a", "v"] {
            store
                .append(
                    &LogEvent::OrgCreated {
                        org: OrgName::parse(org).unwrap(),
                        at: now(),
                    },
                    None,
                )
                .unwrap();
        }
        let publisher = KeyPair::generate();
        testing::register(
            &store,
            &publisher,
            &account(&store, "p", "a", Role::Publisher),
        );
        Node {
            _dir: dir,
            store,
            publisher,
        }
    }

    fn account(store: &Store, name: &str, org: &str, role: Role) -> AccountRecord {
        let a = AccountRecord {
            username: name.into(),
            org: OrgName::parse(org).ok(),
            role,
            token_hash: format!("hash-of-{name}"),
            created_at: now(),
            disabled_at: None,
        };
        store.create_account(&a).unwrap();
        a
    }

    /// A release event of `a/b@version` with `description`, and its artifact.
    fn release(n: &Node, version: &str, description: &str) -> (LogEvent, Artifact) {
        let archive = build(&[Item::File("a", version.as_bytes())]);
        let mut manifest = Manifest::skeleton(PackageName::parse("a/b").unwrap());
        manifest.package.version = Version::parse(version).unwrap();
        manifest.package.description = description.into();
        let env = ReleaseStatement::new(manifest, Digest::of(&archive)).sign(&n.publisher);
        let artifact = Artifact {
            size: archive.len() as u64,
            files: inspect(&archive[..], &ArchiveLimits::default()).unwrap(),
        };
        (
            LogEvent::Release {
                envelope: env,
                key_id: n.publisher.key_id(),
                at: now(),
            },
            artifact,
        )
    }

    fn publish(n: &Node, version: &str, description: &str) -> ReleaseRecord {
        let (e, a) = release(n, version, description);
        match n.store.append(&e, Some(&a)).unwrap().written {
            Written::Release(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    fn approve(n: &Node, key: &KeyPair, r: &ReleaseRecord) -> Appended {
        let env = VerdictStatement::new(Verdict::Approve, r.subject(), n.store.log_name(), None, 1)
            .sign(key);
        n.store
            .append(
                &LogEvent::Verdict {
                    envelope: env,
                    key_id: key.key_id(),
                    at: now(),
                },
                None,
            )
            .unwrap()
    }

    #[test]
    fn publish_asks_the_ledger_inside_its_transaction_and_logs_once() {
        let n = node(1);
        let rec = publish(&n, "0.1.0", "Bin collection rounds");
        assert_eq!((rec.state, rec.seq), (ReleaseState::Pending, 0));
        assert_eq!(n.store.pending().unwrap().len(), 1);
        let size = log::size(&n.store.db).unwrap();
        let before = n.store.dump();
        // The same version again, and again with other build metadata.
        for v in ["0.1.0", "0.1.0+other"] {
            let (e, a) = release(&n, v, "again");
            let err = n.store.append(&e, Some(&a)).unwrap_err();
            assert!(err.to_string().contains("already published"), "{err}");
        }
        assert_eq!(log::size(&n.store.db).unwrap(), size);
        assert_eq!(n.store.dump(), before);
        let pkg = n.store.package(&rec.name).unwrap().unwrap();
        assert_eq!(pkg.highest, Some(Version::new(0, 1, 0)));
        assert_eq!(pkg.description, "Bin collection rounds");
    }

    #[test]
    fn the_highest_version_keeps_the_description_and_the_list_is_in_publish_order() {
        let n = node(1);
        publish(&n, "1.0.0", "first");
        publish(&n, "2.0.0", "second");
        let r = publish(&n, "1.5.0", "a backport");
        let pkg = n.store.package(&r.name).unwrap().unwrap();
        assert_eq!(pkg.highest, Some(Version::new(2, 0, 0)));
        assert_eq!(pkg.description, "second");
        let order: Vec<String> = n
            .store
            .releases_of(&pkg.name)
            .unwrap()
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        assert_eq!(order, ["1.0.0", "2.0.0", "1.5.0"]);
    }

    #[test]
    fn the_threshold_counts_verifier_accounts_and_replays_append_nothing() {
        let n = node(2);
        let r = publish(&n, "1.0.0", "x");
        let v1 = account(&n.store, "v1", "v", Role::Verifier);
        let (k1, k2) = (KeyPair::generate(), KeyPair::generate());
        testing::register(&n.store, &k1, &v1);
        testing::register(&n.store, &k2, &v1);
        assert!(approve(&n, &k1, &r).index.is_some());
        // The very same approval again: nothing appended, nothing changed.
        let size = log::size(&n.store.db).unwrap();
        let before = n.store.dump();
        let a = approve(&n, &k1, &r);
        assert_eq!(a.index, None);
        assert!(matches!(a.written, Written::Unchanged(_)));
        assert_eq!(log::size(&n.store.db).unwrap(), size);
        assert_eq!(n.store.dump(), before);
        // The same account's other key: logged, but one verifier still.
        assert!(approve(&n, &k2, &r).index.is_some());
        let state = |n: &Node| n.store.release(&r.name, &r.version).unwrap().unwrap().state;
        assert_eq!(state(&n), ReleaseState::Pending);
        // A second verifier account makes two.
        let v2 = account(&n.store, "v2", "v", Role::Verifier);
        let k3 = KeyPair::generate();
        testing::register(&n.store, &k3, &v2);
        approve(&n, &k3, &r);
        assert_eq!(state(&n), ReleaseState::Approved);
        assert!(n.store.pending().unwrap().is_empty());
    }

    #[test]
    fn a_data_folder_of_an_earlier_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = sled::open(dir.path().join("db")).unwrap();
            old.open_tree("accounts")
                .unwrap()
                .insert(b"admin", &b"{}"[..])
                .unwrap();
            old.flush().unwrap();
        }
        let err = Store::open(dir.path(), &OpenOptions::default(), || "x".into())
            .err()
            .unwrap();
        assert!(err.to_string().contains("earlier shire-registry"), "{err}");
        // A new folder opens, and again.
        let fresh = tempfile::tempdir().unwrap();
        drop(Store::open(fresh.path(), &OpenOptions::default(), || "x".into()).unwrap());
        let (s, f) = Store::open(fresh.path(), &OpenOptions::default(), || "y".into()).unwrap();
        assert_eq!(s.origin(), "x");
        drop((s, f));
        // Layout 3: reasons and file names under the looser character rule.
        {
            let db = sled::open(fresh.path().join("db")).unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert(FORMAT, &b"3"[..])
                .unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(fresh.path(), &OpenOptions::default(), || "x".into())
            .err()
            .unwrap();
        assert!(err.to_string().contains("has layout 3"), "{err}");
    }
}
