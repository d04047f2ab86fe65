//! The node's database: its trees, the one way to change them (a transaction
//! over every tree), and group commit. Two engines hold the trees: sled in the
//! data folder (embedded, the default) and PostgreSQL (shared by several node
//! processes, `super::shared`); nothing outside this module tells them apart.
//!
//! **Durability contract.** Every state change of one event (a publish, a
//! verdict, a key registration, ...) is written by ONE [`Db::transact`] call
//! across all trees, log entry included, so it is all-or-nothing. A handler
//! acknowledges it only after [`Db::durable`] returns: that waits for a
//! `flush_async` that *started after* the transaction committed, so once it
//! returns the event survives `kill -9` and power loss (sled's guarantee for
//! flush). Waiters are batched: while one flush runs, every transaction that
//! commits queues up and the next single flush covers them all (group commit).
//!
//! **Durable log size.** Before each flush the flusher reads the log size; once
//! the flush succeeds, every entry below that size is durable, and
//! [`Db::durable_log_size`] moves up to it (before any waiter is answered).
//! Checkpoints, entries, proofs and tiles are served for that size only, so a
//! node never signs or shows an entry that a crash could still take back.

use super::error::StoreError;
use super::shared::{EarlyRows, SharedDb, SharedTx};
use actix_web::web::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional as _;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The named trees, in the order they are opened for a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum T {
    /// Node metadata: origin, counters, log size.
    Meta = 0,
    /// Organisation name → `OrgRecord`.
    Orgs,
    /// Username → `AccountRecord`.
    Accounts,
    /// SHA-256 of a token → username.
    Tokens,
    /// Key id → `KeyRecord`.
    Keys,
    /// `org/name` → `PackageRecord`.
    Packages,
    /// `org/name@version` → `ReleaseRecord`.
    Releases,
    /// Publish sequence (u64 big-endian) → `org/name@version` of each pending release.
    Pending,
    /// Search index: term → posting list (package ids and weights).
    Search,
    /// `org/name@version` → `ArchiveSummary`.
    Files,
    /// Transparency-log entries: index (u64 big-endian) → `LogEvent` bytes.
    LogEntries,
    /// Package id (u32 big-endian, used by the search index) → `org/name`.
    PackageIds,
    /// Merkle tree stored hashes: stored-hash index (u64 big-endian) → 32 bytes.
    LogHashes,
    /// Federation: mirrored log entries, `origin \0 index` (u64 big-endian) → entry bytes.
    MirrorEntries,
    /// Federation: mirrored stored hashes, `origin \0 stored index` → 32-byte hash.
    MirrorHashes,
    /// Federation: origin → `federation::apply::MirrorRecord` (size, checkpoints).
    Mirrors,
    /// Federation: `origin \0 key id` → `MirrorKeyRecord` (per-origin key registry).
    MirrorKeys,
    /// Federation: organisation name → origin that is its home (mirrored orgs only, JSON string).
    MirrorOrgs,
    /// Federation: `origin \0 account` → `AccountFacts` (per-origin accounts, from key registrations).
    MirrorAccounts,
    /// `org/name \0 adopting organisation` → `AdoptionRecord`, from every log held.
    Adoptions,
    /// Webhook id → `WebhookRecord`.
    Webhooks,
    /// `webhook id : log index` → `DeliveryRecord`, every delivery made.
    Deliveries,
    /// Delivery id → when it is next attempted (Unix ms): the pending ones only.
    DeliveryQueue,
    /// `org/name \0 supporter` → `SupportRecord`, from every log held.
    Supports,
}

impl T {
    /// Whether a row of this tree, once committed, keeps its value for
    /// good: a package's id and name never change, and ids are never
    /// reused. The shared engine keeps such rows in memory once read
    /// (`super::shared`), so naming a search's hits costs no round trip,
    /// and forgets them when the database may have lost commits (a write
    /// that fails to begin or commit) or is seen to have (a write's begin
    /// or a search finding the commit it stood at gone or marked anew).
    /// Every other tree can change under another process.
    pub const fn rows_never_change(self) -> bool {
        matches!(self, T::PackageIds)
    }

    /// Whether a shared process takes the values other processes wrote in
    /// this tree when its write begins (`shared::CHANGED_ROWS`), or only
    /// forgets their keys. A release's record, its file list and a log
    /// entry are large, written once (a release's record again only by a
    /// verdict or a yank), and read by a write only when it is about that
    /// very row: bringing each one back
    /// would cost more, while every writer waits, than the rare read it
    /// saves. Forgetting is always safe; only the cost differs.
    pub const fn values_follow_other_writes(self) -> bool {
        !matches!(
            self,
            T::Releases | T::Files | T::LogEntries | T::MirrorEntries
        )
    }
}

/// The name of each tree, in the order of [`T`].
pub const TREE_NAMES: [&str; 24] = [
    "meta",
    "orgs",
    "accounts",
    "tokens",
    "keys",
    "packages",
    "releases",
    "pending",
    "search",
    "files",
    "log_entries",
    "package_ids",
    "log_hashes",
    "mirror_entries",
    "mirror_hashes",
    "mirrors",
    "mirror_keys",
    "mirror_orgs",
    "mirror_accounts",
    "adoptions",
    "webhooks",
    "deliveries",
    "delivery_queue",
    "supports",
];

/// Every tree, in the order of [`T`] and [`TREE_NAMES`].
pub const ALL_TREES: [T; 24] = [
    T::Meta,
    T::Orgs,
    T::Accounts,
    T::Tokens,
    T::Keys,
    T::Packages,
    T::Releases,
    T::Pending,
    T::Search,
    T::Files,
    T::LogEntries,
    T::PackageIds,
    T::LogHashes,
    T::MirrorEntries,
    T::MirrorHashes,
    T::Mirrors,
    T::MirrorKeys,
    T::MirrorOrgs,
    T::MirrorAccounts,
    T::Adoptions,
    T::Webhooks,
    T::Deliveries,
    T::DeliveryQueue,
    T::Supports,
];

/// Default cap of sled's page cache, in bytes (`serve --cache-mib`).
pub const DEFAULT_CACHE_BYTES: u64 = 8 << 20;

/// The result type of code running inside a transaction.
pub type TxResult<R> = Result<R, ConflictableTransactionError<StoreError>>;

/// Aborts a transaction with an error: nothing it wrote is kept.
pub fn abort<R>(e: impl Into<StoreError>) -> TxResult<R> {
    Err(ConflictableTransactionError::Abort(e.into()))
}

fn conflictable(e: UnabortableTransactionError) -> ConflictableTransactionError<StoreError> {
    e.into()
}

/// A view of every tree inside one transaction.
pub struct Tx<'a> {
    trees: &'a [TransactionalTree],
    shared: Option<&'a SharedTx<'a>>,
}

impl Tx<'_> {
    fn tree(&self, t: T) -> &TransactionalTree {
        &self.trees[t as usize]
    }

    /// The shared engine's transaction, if this is one.
    pub(super) fn shared(&self) -> Option<&SharedTx<'_>> {
        self.shared
    }

    /// Reads and decodes a JSON record.
    pub fn get<R: DeserializeOwned>(&self, t: T, key: &[u8]) -> TxResult<Option<R>> {
        match self.get_raw(t, key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ConflictableTransactionError::Abort(corrupt(t, e))),
        }
    }

    /// Whether a key is present.
    pub fn contains(&self, t: T, key: &[u8]) -> TxResult<bool> {
        Ok(self.get_raw(t, key)?.is_some())
    }

    /// Encodes and writes a JSON record.
    pub fn put<R: Serialize>(&self, t: T, key: &[u8], record: &R) -> TxResult<()> {
        let bytes = serde_json::to_vec(record)
            .map_err(|e| ConflictableTransactionError::Abort(StoreError::Corrupt(e.to_string())))?;
        self.put_raw(t, key, bytes)
    }

    /// Writes raw bytes.
    pub fn put_raw(&self, t: T, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        match self.shared {
            Some(tx) => tx.put(t, key, value),
            None => {
                self.tree(t).insert(key, value).map_err(conflictable)?;
            }
        }
        Ok(())
    }

    /// Reads raw bytes.
    pub fn get_raw(&self, t: T, key: &[u8]) -> TxResult<Option<sled::IVec>> {
        match self.shared {
            Some(tx) => Ok(tx.get(t, key)?.map(sled::IVec::from)),
            None => self.tree(t).get(key).map_err(conflictable),
        }
    }

    /// Reads raw bytes under each of `keys` (one round trip on the shared
    /// engine).
    pub fn get_many_raw(&self, t: T, keys: &[Vec<u8>]) -> TxResult<Vec<Option<Vec<u8>>>> {
        match self.shared {
            Some(tx) => tx.get_many(t, keys),
            None => keys
                .iter()
                .map(|k| {
                    Ok(self
                        .tree(t)
                        .get(k)
                        .map_err(conflictable)?
                        .map(|v| v.to_vec()))
                })
                .collect(),
        }
    }

    /// Removes a key.
    pub fn remove(&self, t: T, key: &[u8]) -> TxResult<()> {
        match self.shared {
            Some(tx) => tx.remove(t, key),
            None => {
                self.tree(t).remove(key).map_err(conflictable)?;
            }
        }
        Ok(())
    }

    /// Reads a big-endian u64 counter (0 when absent).
    pub fn get_u64(&self, t: T, key: &[u8]) -> TxResult<u64> {
        Ok(self
            .get_raw(t, key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Writes a big-endian u64 counter.
    pub fn put_u64(&self, t: T, key: &[u8], value: u64) -> TxResult<()> {
        self.put_raw(t, key, value.to_be_bytes().to_vec())
    }
}

/// Reading JSON records, inside a transaction ([`Tx`]) or out of one
/// ([`Db`]): what [`super::view::LedgerView`] reads the state through.
pub trait Reader {
    /// What a read fails with (a transaction's error keeps sled's conflicts).
    type Error;
    /// Reads and decodes a record.
    fn read<R: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>, Self::Error>;
    /// A storage error as this reader's error.
    fn fail(e: StoreError) -> Self::Error;
}

impl Reader for Tx<'_> {
    type Error = ConflictableTransactionError<StoreError>;
    fn read<R: DeserializeOwned>(&self, t: T, key: &[u8]) -> TxResult<Option<R>> {
        self.get(t, key)
    }
    fn fail(e: StoreError) -> Self::Error {
        ConflictableTransactionError::Abort(e)
    }
}

impl Reader for Db {
    type Error = StoreError;
    fn read<R: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
        self.get(t, key)
    }
    fn fail(e: StoreError) -> StoreError {
        e
    }
}

/// What [`Db::get_linked_along`] read: the record and its linked record
/// (`None` when the record is absent), and the bytes read along with them.
pub type Linked<R, L> = (Option<(R, Option<L>)>, Vec<Option<Vec<u8>>>);

/// Why a read outside a write transaction is made.
#[derive(Debug)]
pub enum Purpose<'a> {
    /// To answer a request.
    Answer,
    /// To check a write early, which then reads the same rows under the
    /// sequencer lock: the shared engine records what it read here, to keep
    /// it for that write once the request is allowed ([`Db::keep_early`]).
    BeforeWrite(&'a mut EarlyRows),
}

/// Reads for an early, advisory answer that a write transaction gives again
/// under its lock: rows just read from the database (`fresh`), then, on the
/// shared engine, rows this process last saw under the sequencer lock when
/// it kept them (they may be stale), the database's otherwise; on the
/// embedded engine, the database's.
pub struct Advisory<'a> {
    db: &'a Db,
    fresh: &'a [Fresh],
}

/// A row read from the database outside any transaction, with what it held
/// then (`None`: absent): read along with another read, for an
/// [`Advisory`] answer given just after.
pub type Fresh = ((T, Vec<u8>), Option<Vec<u8>>);

impl<'a> Advisory<'a> {
    /// Advisory reads of `db`, answering from `fresh` first.
    pub fn new(db: &'a Db, fresh: &'a [Fresh]) -> Self {
        Advisory { db, fresh }
    }

    /// The stored bytes under `key` of tree `t`, as these reads see them.
    fn raw(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some((_, v)) = self
            .fresh
            .iter()
            .find(|((ft, fk), _)| *ft == t && fk.as_slice() == key)
        {
            return Ok(v.clone());
        }
        match self.db.shared.as_ref().and_then(|db| db.last_seen(t, key)) {
            Some(seen) => Ok(seen),
            None => self.db.get_raw(t, key),
        }
    }
}

impl Reader for Advisory<'_> {
    type Error = StoreError;
    fn read<R: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
        match self.raw(t, key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| corrupt(t, e)),
        }
    }
    fn fail(e: StoreError) -> StoreError {
        e
    }
}

impl Advisory<'_> {
    /// A big-endian u64 counter (0 when absent), as [`Advisory::read`] sees it.
    pub fn u64(&self, t: T, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self
            .raw(t, key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }
}

fn corrupt(t: T, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!(
        "stored record in tree {} does not decode: {e}",
        TREE_NAMES[t as usize]
    ))
}

/// Largest total size of the cached documents of [`DocCache`].
const DOC_CACHE_BYTES: usize = 2 << 20;
/// Largest single document [`DocCache`] keeps.
const DOC_CACHE_MAX_DOC: usize = 256 << 10;

/// Encoded read documents (a package's `PackageInfo` JSON), kept between
/// writes. **Every** [`Db::transact`] empties it after the transaction ends, so
/// no document built before a write survives that write; a document built while
/// a write ran is refused by [`DocCache::put`] (its generation is older). Bounded
/// to [`DOC_CACHE_BYTES`] in total.
///
/// On the shared engine other processes write too: every [`DocCache::get`]
/// first reads the database's write generation ([`SharedDb::generation`]) and
/// empties the cache when it moved, so a document is never served from the
/// cache after a write committed anywhere before the request.
#[derive(Default)]
pub struct DocCache {
    inner: Mutex<DocCacheInner>,
    /// The shared database, whose write generation the cache follows.
    shared: Option<SharedDb>,
}

#[derive(Default)]
struct DocCacheInner {
    /// The shared database's write generation the documents were kept at.
    shared_seen: Option<i64>,
    generation: u64,
    bytes: usize,
    docs: HashMap<Vec<u8>, Bytes>,
}

impl DocCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, DocCacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached document under `key`.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        if let Some(db) = &self.shared {
            let now = db.generation().ok();
            let mut c = self.lock();
            if now.is_none() || c.shared_seen != now {
                Self::clear(&mut c);
                c.shared_seen = now;
                return None;
            }
            return c.docs.get(key).cloned();
        }
        self.lock().docs.get(key).cloned()
    }

    /// The current generation: read it BEFORE reading the records a document
    /// is built from, and give it to [`DocCache::put`].
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps `doc` under `key` unless a write ended since `generation` was
    /// read (then the document may be stale and is dropped).
    pub fn put(&self, key: &[u8], generation: u64, doc: Bytes) {
        if doc.len() > DOC_CACHE_MAX_DOC {
            return;
        }
        let mut c = self.lock();
        if c.generation != generation {
            return;
        }
        while c.bytes + doc.len() > DOC_CACHE_BYTES {
            let Some(k) = c.docs.keys().next().cloned() else {
                break;
            };
            if let Some(old) = c.docs.remove(&k) {
                c.bytes -= old.len();
            }
        }
        c.bytes += doc.len();
        if let Some(old) = c.docs.insert(key.to_vec(), doc) {
            c.bytes -= old.len();
        }
    }

    /// Drops every document and starts a new generation.
    fn invalidate(&self) {
        Self::clear(&mut self.lock());
    }

    fn clear(c: &mut DocCacheInner) {
        c.generation += 1;
        c.bytes = 0;
        c.docs.clear();
    }

    /// Number of documents held (for tests).
    pub fn len(&self) -> usize {
        self.lock().docs.len()
    }

    /// Whether no document is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One opened sled database and its trees. Replaced as a whole when the
/// database is reopened after a storage failure ([`Db::recover`]).
struct Inner {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl Inner {
    fn open(path: &Path, cache_bytes: u64) -> Result<Inner, sled::Error> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None)
            .open()?;
        let trees = TREE_NAMES
            .iter()
            .map(|n| db.open_tree(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Inner { db, trees })
    }
}

/// The current [`Inner`], and whether it failed. sled stops writing for good
/// after an I/O error (its "global error": every later write fails, even
/// once the disk has room again), so a failed database is reopened from what
/// is on disk: nothing it lost was acknowledged, since acknowledgements wait
/// for a successful flush.
struct Handle {
    path: std::path::PathBuf,
    cache_bytes: u64,
    current: std::sync::RwLock<Option<Arc<Inner>>>,
    /// Why the database stopped accepting writes, until it is reopened.
    failed: Mutex<Option<String>>,
}

impl Handle {
    fn inner(&self) -> Result<Arc<Inner>, StoreError> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the database is being reopened".into()))
    }

    fn fail(&self, why: &sled::Error) {
        let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            tracing::error!(error = %why, "the database failed a write; it will be reopened once the disk has room");
            *f = Some(why.to_string());
        }
    }

    fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The open database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    /// The shared engine; `None`: the embedded one (`handle` and the rest).
    shared: Option<SharedDb>,
    handle: Arc<Handle>,
    docs: Arc<DocCache>,
    flusher: mpsc::UnboundedSender<oneshot::Sender<Result<(), FlushFailure>>>,
    flushes: Arc<AtomicU64>,
    idle_flushes: Arc<AtomicU64>,
    flush_nanos: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    durable_log: Arc<AtomicU64>,
    /// Transactions hold it shared; [`Db::export`] holds it alone, so what
    /// it reads is one moment of every tree.
    gate: Arc<std::sync::RwLock<()>>,
}

/// How soon a write that no caller waits for reaches the disk. sled's own
/// periodic flusher is off (see [`Db::open_with_cache`]), so this task does
/// its job: every `IDLE_FLUSH_EVERY`, one flush if anything was written since
/// the last one. A failed database is retried as often.
pub const IDLE_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Why a group-commit flush failed, as every waiter of that flush hears it.
#[derive(Debug, Clone)]
pub struct FlushFailure {
    /// The disk was full.
    pub full: bool,
    /// sled's message.
    pub message: String,
}

impl FlushFailure {
    fn of(e: &sled::Error) -> Self {
        Self {
            full: matches!(e, sled::Error::Io(io) if super::error::is_no_space(io)),
            message: e.to_string(),
        }
    }
}

/// Whether there is room to reopen a failed database: a little more than
/// nothing (the reserve that refuses writes is the store's business).
const REOPEN_NEEDS_BYTES: u64 = 1 << 20;

/// The background task that performs flushes for [`Db::durable`] waiters,
/// the periodic flush of writes nobody waits for, and the reopening of a
/// database that failed.
pub struct Flusher {
    /// Nothing to flush: the database is the shared one.
    idle: bool,
    handle: Arc<Handle>,
    docs: Arc<DocCache>,
    rx: mpsc::UnboundedReceiver<oneshot::Sender<Result<(), FlushFailure>>>,
    flushes: Arc<AtomicU64>,
    idle_flushes: Arc<AtomicU64>,
    flush_nanos: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    durable_log: Arc<AtomicU64>,
}

impl Flusher {
    /// Runs until every [`Db`] handle is dropped: takes all queued waiters, runs
    /// one flush, answers them all; between waiters, flushes what was written
    /// every [`IDLE_FLUSH_EVERY`], or reopens a failed database once the disk
    /// has room again.
    pub async fn run(mut self) {
        if self.idle {
            return;
        }
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + IDLE_FLUSH_EVERY,
            IDLE_FLUSH_EVERY,
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Writes counted when the last flush began: all of them are on disk.
        let mut flushed_writes = self.writes.load(Ordering::SeqCst);
        loop {
            let first = tokio::select! {
                w = self.rx.recv() => match w {
                    Some(w) => Some(w),
                    None => break,
                },
                _ = ticks.tick() => None,
            };
            if self.handle.failure().is_some() {
                if first.is_none() {
                    self.reopen().await;
                    flushed_writes = self.writes.load(Ordering::SeqCst);
                }
                let failure = FlushFailure {
                    full: super::error::free_bytes(&self.handle.path)
                        .is_some_and(|n| n < REOPEN_NEEDS_BYTES),
                    message: "the database failed a write and is not reopened yet".into(),
                };
                for w in first
                    .into_iter()
                    .chain(std::iter::from_fn(|| self.rx.try_recv().ok()))
                {
                    let _ = w.send(Err(failure.clone()));
                }
                continue;
            }
            let waiting = first.is_some();
            let writes = self.writes.load(Ordering::SeqCst);
            if !waiting && writes == flushed_writes {
                continue; // idle and clean: nothing to do
            }
            let mut batch: Vec<_> = first.into_iter().collect();
            while let Ok(w) = self.rx.try_recv() {
                batch.push(w);
            }
            let inner = match self.handle.inner() {
                Ok(i) => i,
                Err(e) => {
                    let f = FlushFailure {
                        full: false,
                        message: e.to_string(),
                    };
                    for w in batch {
                        let _ = w.send(Err(f.clone()));
                    }
                    continue;
                }
            };
            // Every transaction of this batch committed before its waiter was
            // queued, so this size covers them all; entries committed later
            // are counted only by a later flush.
            let log_size = read_log_size(&inner.trees[T::Meta as usize]);
            let began = std::time::Instant::now();
            let result = inner.db.flush_async().await.map(|_| ());
            if waiting {
                let took = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.flush_nanos.fetch_add(took, Ordering::Relaxed);
            }
            if let Err(e) = &result {
                self.handle.fail(e);
            }
            let result = result.map_err(|e| FlushFailure::of(&e));
            let counter = if waiting {
                &self.flushes
            } else {
                &self.idle_flushes
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if result.is_ok() {
                flushed_writes = writes;
            }
            if let (Ok(()), Ok(size)) = (&result, log_size) {
                self.durable_log.fetch_max(size, Ordering::SeqCst);
            }
            tracing::trace!(waiters = batch.len(), "group commit flush");
            for w in batch {
                let _ = w.send(result.clone());
            }
        }
        // Last handle gone: a final flush so a clean stop loses nothing.
        if let Ok(inner) = self.handle.inner() {
            if let Err(e) = inner.db.flush_async().await {
                tracing::error!(error = %e, "final flush failed");
            }
        }
    }

    /// Drops the failed database, waits until no request holds it, and opens
    /// it again from disk, once the disk has room.
    async fn reopen(&mut self) {
        if super::error::free_bytes(&self.handle.path).is_some_and(|n| n < REOPEN_NEEDS_BYTES) {
            return;
        }
        let old = self
            .handle
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(old) = old else { return };
        let weak = Arc::downgrade(&old);
        drop(old);
        // In-flight requests finish with the old handle; sled's file lock is
        // released when the last of them drops it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while weak.strong_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let path = self.handle.path.clone();
        let cache = self.handle.cache_bytes;
        let opened = tokio::task::spawn_blocking(move || {
            // What the failed database wrote before failing may sit in the
            // page cache only; sled reopens from it. Put it all on disk
            // before any of it is counted durable (and signed).
            sync_folder(&path)?;
            Inner::open(&path, cache).map_err(std::io::Error::other)
        })
        .await;
        match opened {
            Ok(Ok(inner)) => {
                let size = read_log_size(&inner.trees[T::Meta as usize]).unwrap_or(0);
                self.durable_log.fetch_max(size, Ordering::SeqCst);
                *self
                    .handle
                    .current
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(inner));
                self.docs.invalidate();
                *self.handle.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::warn!(log_size = size, "the database was reopened; writes resume");
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "reopening the database failed; retrying");
                self.put_back_on_failure(weak);
            }
            Err(e) => {
                tracing::error!(error = %e, "reopening the database panicked; retrying");
                self.put_back_on_failure(weak);
            }
        }
    }

    /// After a failed reopen, the old handle (if some request still holds it)
    /// serves reads again until the next try.
    fn put_back_on_failure(&self, weak: std::sync::Weak<Inner>) {
        if let Some(old) = weak.upgrade() {
            *self
                .handle
                .current
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(old);
        }
    }
}

impl Db {
    /// Opens (or creates) the database at `path`. The returned [`Flusher`] must be
    /// spawned on the runtime for [`Db::durable`] to make progress.
    pub fn open(path: &Path) -> Result<(Db, Flusher), sled::Error> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`Db::open`] with sled's page cache capped at `cache_bytes` (sled's own
    /// default is 1 GiB, which the resident memory grows towards with the data).
    ///
    /// sled's periodic flusher thread is off: the [`Flusher`] task flushes
    /// instead. That thread also ran sled's segment cleaner whenever the node
    /// was idle, which rewrote about 0.6 MB/s and grew the resident memory by
    /// about 0.7 MiB every 10 s, up to 44-48 MiB, while the database folder
    /// stayed the same size (`docs/performance.md`).
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<(Db, Flusher), sled::Error> {
        // A node that stopped without its last flush (killed, or crashed)
        // left writes in the page cache that sled reads back as if stored:
        // put them on disk before the recovered log is counted durable.
        if path.is_dir() {
            sync_folder(path).map_err(sled::Error::Io)?;
        }
        let inner = Inner::open(path, cache_bytes)?;
        // What was recovered from disk is durable.
        let durable = read_log_size(&inner.trees[T::Meta as usize])?;
        let handle = Handle {
            path: path.to_path_buf(),
            cache_bytes,
            current: std::sync::RwLock::new(Some(Arc::new(inner))),
            failed: Mutex::new(None),
        };
        Ok(Self::assemble(None, handle, DocCache::default(), durable))
    }

    /// A database and its flusher, sharing their counters.
    fn assemble(
        shared: Option<SharedDb>,
        handle: Handle,
        docs: DocCache,
        durable: u64,
    ) -> (Db, Flusher) {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters: [Arc<AtomicU64>; 4] = Default::default();
        let [flushes, idle_flushes, flush_nanos, writes] = counters;
        let durable_log = Arc::new(AtomicU64::new(durable));
        let (handle, docs) = (Arc::new(handle), Arc::new(docs));
        let idle = shared.is_some();
        (
            Db {
                shared,
                handle: handle.clone(),
                docs: docs.clone(),
                flusher: tx,
                flushes: flushes.clone(),
                idle_flushes: idle_flushes.clone(),
                flush_nanos: flush_nanos.clone(),
                writes: writes.clone(),
                durable_log: durable_log.clone(),
                gate: Arc::default(),
            },
            Flusher {
                idle,
                handle,
                docs,
                rx,
                flushes,
                idle_flushes,
                flush_nanos,
                writes,
                durable_log,
            },
        )
    }

    /// Opens the shared engine: `db`'s trees in PostgreSQL. Its [`Flusher`]
    /// has nothing to do (a commit is durable when it is answered).
    pub fn shared(db: SharedDb) -> (Db, Flusher) {
        let handle = Handle {
            path: std::path::PathBuf::new(),
            cache_bytes: 0,
            current: std::sync::RwLock::new(None),
            failed: Mutex::new(None),
        };
        let docs = DocCache {
            shared: Some(db.clone()),
            ..DocCache::default()
        };
        Self::assemble(Some(db), handle, docs, 0)
    }

    /// The shared engine, if this is it.
    pub fn shared_db(&self) -> Option<&SharedDb> {
        self.shared.as_ref()
    }

    /// Counts the log's first `size` entries durable (what the startup check
    /// found): a shared process never signs less than that, even while the
    /// database cannot be asked.
    pub fn durable_at_least(&self, size: u64) {
        self.durable_log.fetch_max(size, Ordering::SeqCst);
    }

    /// Whether this is the shared engine (several processes may write it).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Why the database accepts no writes now (it failed one and is not
    /// reopened yet), if it does not.
    pub fn failure(&self) -> Option<String> {
        if self.shared.is_some() {
            return None;
        }
        self.handle.failure()
    }

    /// The cache of encoded read documents, emptied by every transaction.
    pub fn docs(&self) -> &DocCache {
        &self.docs
    }

    /// A sled tree, for tests that damage the embedded database on purpose
    /// (an error for the shared engine, or while the database is reopened).
    pub(super) fn tree(&self, t: T) -> Result<sled::Tree, StoreError> {
        if self.shared.is_some() {
            return Err(StoreError::Backend(
                "the shared database has no sled trees".into(),
            ));
        }
        Ok(self.handle.inner()?.trees[t as usize].clone())
    }

    /// The raw value under `key` outside a transaction.
    pub fn get_raw(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.shared {
            Some(db) => db.get(t, key),
            None => Ok(self.tree(t)?.get(key)?.map(|v| v.to_vec())),
        }
    }

    /// The raw values under `keys`, in their order (one round trip on the
    /// shared engine).
    pub fn get_many_raw(&self, t: T, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        match &self.shared {
            Some(db) => db.get_many(t, keys),
            None => {
                let tree = self.tree(t)?;
                keys.iter()
                    .map(|k| Ok(tree.get(k)?.map(|v| v.to_vec())))
                    .collect()
            }
        }
    }

    /// The raw values under `keys` (each a tree and a key), in their order
    /// (one round trip on the shared engine, whatever the trees).
    pub fn get_across_raw(
        &self,
        keys: &[(T, Vec<u8>)],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        match &self.shared {
            Some(db) => db.get_across(keys),
            None => keys
                .iter()
                .map(|(t, k)| Ok(self.tree(*t)?.get(k)?.map(|v| v.to_vec())))
                .collect(),
        }
    }

    /// The records under `keys`, in their order (one round trip on the
    /// shared engine).
    pub fn get_many<R: DeserializeOwned>(
        &self,
        t: T,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<R>>, StoreError> {
        self.get_many_raw(t, keys)?
            .into_iter()
            .map(|v| v.map(|bytes| Self::decode(t, &bytes)).transpose())
            .collect()
    }

    /// Hands the entries of tree `t` from `start` (inclusive) to `end`
    /// (exclusive; `None`: the end of the tree) to `f`, in key order, until
    /// `f` answers `false`: the one scan every reader below is made of.
    pub fn visit(
        &self,
        t: T,
        start: &[u8],
        end: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if let Some(db) = &self.shared {
            return db.visit(t, start, end, f);
        }
        let tree = self.tree(t)?;
        let range = match end {
            Some(end) => tree.range(start..end),
            None => tree.range(start..),
        };
        for item in range {
            let (k, v) = item?;
            if !f(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    /// [`Db::visit`] of the keys starting with `prefix`.
    pub fn visit_prefix(
        &self,
        t: T,
        prefix: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let end = super::shared::prefix_end(prefix);
        self.visit(t, prefix, end.as_deref(), f)
    }

    /// The last key of tree `t`, if it holds any.
    pub fn last_key(&self, t: T) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.shared {
            Some(db) => db.last_key(t),
            None => Ok(self.tree(t)?.last()?.map(|(k, _)| k.to_vec())),
        }
    }

    /// Reads and decodes a JSON record outside a transaction.
    pub fn get<R: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>, StoreError> {
        match self.get_raw(t, key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| corrupt(t, e)),
        }
    }

    /// The record under `key` in tree `t`, and the record of tree `link`
    /// under the key `link_of` takes from it (a token's account, a key's
    /// account). On the shared engine one round trip once this process has
    /// read the record before (`super::linked`), else two.
    pub fn get_linked<R: DeserializeOwned, L: DeserializeOwned>(
        &self,
        t: T,
        key: &[u8],
        link: T,
        link_of: impl Fn(&R) -> Vec<u8>,
    ) -> Result<Option<(R, Option<L>)>, StoreError> {
        let (found, _) = self.get_linked_along(t, key, link, link_of, &[], Purpose::Answer)?;
        Ok(found)
    }

    /// [`Db::get_linked`], and the stored bytes under each of `along` (a
    /// tree and a key), read in the same round trip: what a request needs
    /// besides its caller's token, or its signing key, costs no call of its
    /// own. `purpose` says whether a write that reads the same rows follows.
    pub fn get_linked_along<R: DeserializeOwned, L: DeserializeOwned>(
        &self,
        t: T,
        key: &[u8],
        link: T,
        link_of: impl Fn(&R) -> Vec<u8>,
        along: &[(T, Vec<u8>)],
        purpose: Purpose,
    ) -> Result<Linked<R, L>, StoreError> {
        let Some(db) = &self.shared else {
            let mut extra = Vec::with_capacity(along.len());
            for (at, ak) in along {
                extra.push(self.get_raw(*at, ak)?);
            }
            let Some(record) = self.get::<R>(t, key)? else {
                return Ok((None, extra));
            };
            let linked = self.get::<L>(link, &link_of(&record))?;
            return Ok((Some((record, linked)), extra));
        };
        let guess = db.link_guess(t, key);
        let mut keys = vec![(t, key.to_vec())];
        if let Some(named) = &guess {
            keys.push((link, named.clone()));
        }
        keys.extend(along.iter().cloned());
        let mut got = match (keys.len(), purpose) {
            (1, _) => vec![db.get(t, key)?],
            (_, Purpose::Answer) => db.get_across(&keys)?,
            (_, Purpose::BeforeWrite(early)) => db.get_across_before_write(&keys, early)?,
        };
        let extra = got.split_off(keys.len() - along.len());
        let guessed = guess.as_ref().map(|_| got.pop().flatten());
        let Some(raw) = got.pop().flatten() else {
            return Ok((None, extra));
        };
        let record: R = Db::decode(t, &raw)?;
        let named = link_of(&record);
        let linked = match super::linked::kept(guess.as_deref(), &named, guessed) {
            Some(linked) => linked,
            None => {
                let linked = db.get(link, &named)?;
                db.remember_link(t, key, named);
                linked
            }
        };
        let linked = linked.map(|b| Db::decode(link, &b)).transpose()?;
        Ok((Some((record, linked)), extra))
    }

    /// Every record of a tree, in key order.
    pub fn values<R: DeserializeOwned>(&self, t: T) -> Result<Vec<R>, StoreError> {
        self.scan(t, b"")
    }

    /// Hands every record of a tree to `f`, in key order, one at a time: one
    /// pass over a large tree without holding all of it.
    pub fn for_each<R: DeserializeOwned>(
        &self,
        t: T,
        mut f: impl FnMut(R) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.visit(t, b"", None, |_, v| {
            f(Self::decode(t, v)?)?;
            Ok(true)
        })
    }

    /// Every key of a tree that starts with `prefix`, in key order.
    pub fn keys_with_prefix(&self, t: T, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        self.visit_prefix(t, prefix, |k, _| {
            out.push(k.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    /// The raw values of the first `limit` keys below `end`, in key order.
    pub fn values_below(&self, t: T, end: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.visit(t, b"", Some(end), |_, v| {
            out.push(v.to_vec());
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// How many keys a tree holds.
    pub fn count(&self, t: T) -> Result<usize, StoreError> {
        match &self.shared {
            Some(db) => db.count(t),
            None => Ok(self.tree(t)?.len()),
        }
    }

    /// Every record of a tree with its key, in key order.
    pub fn entries<R: DeserializeOwned>(&self, t: T) -> Result<Vec<(Vec<u8>, R)>, StoreError> {
        let mut out = Vec::new();
        self.visit(t, b"", None, |k, v| {
            out.push((k.to_vec(), Self::decode(t, v)?));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub fn scan<R: DeserializeOwned>(&self, t: T, prefix: &[u8]) -> Result<Vec<R>, StoreError> {
        let mut out = Vec::new();
        self.visit_prefix(t, prefix, |_, v| {
            out.push(Self::decode(t, v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Every raw value of a tree, in key order.
    pub fn raw_values(&self, t: T) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        self.visit(t, b"", None, |_, v| {
            out.push(v.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    /// Whether nothing at all is stored (a new data folder or database).
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        match &self.shared {
            Some(db) => db.is_empty(),
            None => Ok(self.handle.inner()?.trees.iter().all(|t| t.is_empty())),
        }
    }

    /// Every stored entry as `tree/hex key` → bytes.
    pub fn dump(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        for (i, name) in TREE_NAMES.iter().enumerate() {
            let _ = self.visit(ALL_TREES[i], b"", None, |k, v| {
                out.insert(format!("{name}/{}", hex::encode(k)), v.to_vec());
                Ok(true)
            });
        }
        out
    }

    /// Hands every entry of every tree to `sink` (tree name, key, value), as
    /// one moment: no transaction runs meanwhile. Returns the log's size at
    /// that moment. Embedded only: a shared database is backed up with
    /// PostgreSQL's own tools (`docs/operations.md`).
    pub fn export(
        &self,
        mut sink: impl FnMut(&str, &[u8], &[u8]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        if self.shared.is_some() {
            return Err(StoreError::Backend(
                "a shared node is backed up with pg_dump and its bucket's versioning, not `backup`"
                    .into(),
            ));
        }
        let inner = self.handle.inner()?;
        let _alone = self.gate.write().unwrap_or_else(|p| p.into_inner());
        for (name, tree) in TREE_NAMES.iter().zip(inner.trees.iter()) {
            for item in tree.iter() {
                let (k, v) = item?;
                sink(name, &k, &v)?;
            }
        }
        Ok(read_log_size(&inner.trees[T::Meta as usize])?)
    }

    /// Stores exported entries into this (new, empty) database, then makes
    /// them durable; how many there were.
    pub fn import(
        &self,
        entries: impl Iterator<Item = std::io::Result<(String, Vec<u8>, Vec<u8>)>>,
    ) -> Result<u64, StoreError> {
        let tree_of = |name: &str| {
            TREE_NAMES
                .iter()
                .position(|n| *n == name)
                .map(|i| ALL_TREES[i])
                .ok_or_else(|| std::io::Error::other(format!("no tree {name:?} in this layout")))
        };
        if let Some(db) = &self.shared {
            let n = db.import(entries.map(|e| {
                let (name, k, v) = e?;
                Ok((tree_of(&name)?, k, v))
            }))?;
            self.docs.invalidate();
            return Ok(n);
        }
        let mut n = 0;
        let inner = self.handle.inner()?;
        let _alone = self.gate.write().unwrap_or_else(|p| p.into_inner());
        for entry in entries {
            let (name, k, v) = entry?;
            let t = tree_of(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            inner.trees[t as usize].insert(k, v)?;
            n += 1;
        }
        inner.db.flush()?;
        Ok(n)
    }

    /// Decodes a JSON record read by a scan.
    pub fn decode<R: DeserializeOwned>(t: T, bytes: &[u8]) -> Result<R, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| corrupt(t, e))
    }

    /// Runs `f` as one atomic transaction over every tree. `f` may run more than
    /// once (on a conflict with a concurrent transaction), so it must only read
    /// and write through the [`Tx`]. An abort leaves every tree untouched.
    pub fn transact<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R, StoreError> {
        self.transact_as(true, f)
    }

    /// [`Db::transact`] for writes no cached document is built from (the
    /// webhook trees): the document cache is kept.
    pub fn transact_keeping_docs<R>(
        &self,
        f: impl Fn(&Tx<'_>) -> TxResult<R>,
    ) -> Result<R, StoreError> {
        self.transact_as(false, f)
    }

    fn transact_as<R>(
        &self,
        invalidate: bool,
        f: impl Fn(&Tx<'_>) -> TxResult<R>,
    ) -> Result<R, StoreError> {
        if let Some(db) = &self.shared {
            let result = db.transact(invalidate, |tx| {
                f(&Tx {
                    trees: &[],
                    shared: Some(tx),
                })
            });
            if invalidate {
                self.docs.invalidate();
            }
            if result.is_ok() {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
            return result;
        }
        if let Some(why) = self.handle.failure() {
            return Err(StoreError::Unavailable(format!(
                "the database failed a write ({why}) and is not reopened yet"
            )));
        }
        let inner = self.handle.inner()?;
        let _shared = self.gate.read().unwrap_or_else(|p| p.into_inner());
        let refs: Vec<&sled::Tree> = inner.trees.iter().collect();
        let result = refs
            .as_slice()
            .transaction(|trees: &Vec<TransactionalTree>| {
                f(&Tx {
                    trees,
                    shared: None,
                })
            });
        // Whatever the outcome, no cached document may outlive a write: this
        // runs before any caller can acknowledge the change.
        if invalidate {
            self.docs.invalidate();
        }
        if result.is_ok() {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        match result {
            Ok(r) => Ok(r),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => {
                self.handle.fail(&e);
                Err(e.into())
            }
        }
    }

    /// Waits until everything committed before this call is on disk. Concurrent
    /// callers share one flush.
    pub async fn durable(&self) -> Result<(), StoreError> {
        if self.shared.is_some() {
            // A shared transaction answered only once PostgreSQL committed it.
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Backend("the flusher has stopped".into());
        self.flusher.send(tx).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?.map_err(|f| {
            if f.full {
                StoreError::Full(f.message)
            } else {
                StoreError::Backend(format!("flush failed: {}", f.message))
            }
        })
    }

    /// Number of log entries known to be on disk: the log size read before the
    /// last successful group-commit flush (or at open). Never counts an entry
    /// whose transaction a crash could still undo.
    pub fn durable_log_size(&self) -> u64 {
        if let Some(db) = &self.shared {
            // Committed is durable; any process may have committed more.
            let stored = db
                .get(T::Meta, super::log::LOG_SIZE)
                .ok()
                .flatten()
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            return self
                .durable_log
                .fetch_max(stored, Ordering::SeqCst)
                .max(stored);
        }
        self.durable_log.load(Ordering::SeqCst)
    }

    /// How many periodic flushes of writes nobody waited for have run.
    pub fn idle_flush_count(&self) -> u64 {
        self.idle_flushes.load(Ordering::Relaxed)
    }

    /// How many group-commit flushes have run (for measuring batching).
    pub fn flush_count(&self) -> u64 {
        if let Some(db) = &self.shared {
            return db.commits();
        }
        self.flushes.load(Ordering::Relaxed)
    }

    /// Calls made to PostgreSQL (0 on the embedded engine).
    pub fn postgres_calls(&self) -> u64 {
        self.shared.as_ref().map_or(0, SharedDb::calls)
    }

    /// Keeps what a write's early check read ([`Purpose::BeforeWrite`]) for
    /// that write, on the shared engine: call it once the request is known
    /// to be allowed. Nothing to keep on the embedded engine.
    pub fn keep_early(&self, early: EarlyRows) {
        if let Some(db) = &self.shared {
            db.keep_early(early);
        }
    }

    /// Bytes the shared engine's row cache holds (0 on the embedded engine).
    pub fn cached_bytes(&self) -> usize {
        self.shared.as_ref().map_or(0, SharedDb::cached_bytes)
    }

    /// Time spent in group-commit flushes, in seconds.
    pub fn flush_seconds(&self) -> f64 {
        self.flush_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// fsyncs every file under `dir`, and `dir` itself.
fn sync_folder(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_folder(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// The committed log size in the meta tree (0 when absent).
fn read_log_size(meta: &sled::Tree) -> Result<u64, sled::Error> {
    Ok(meta
        .get(super::log::LOG_SIZE)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn aborted_transaction_changes_nothing_and_durable_waits_for_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let (db, flusher) = Db::open(&dir.path().join("db")).unwrap();
        let task = tokio::spawn(flusher.run());
        db.transact(|tx| {
            tx.put(T::Orgs, b"a", &1u32)?;
            tx.put_u64(T::Meta, b"n", 7)
        })
        .unwrap();
        let r: Result<(), StoreError> = db.transact(|tx| {
            tx.put(T::Orgs, b"b", &2u32)?;
            tx.put_u64(T::Meta, b"n", 8)?;
            abort(StoreError::AccountExists("x".into()))
        });
        assert!(matches!(r, Err(StoreError::AccountExists(_))));
        assert_eq!(db.get::<u32>(T::Orgs, b"a").unwrap(), Some(1));
        assert_eq!(db.get::<u32>(T::Orgs, b"b").unwrap(), None);
        assert_eq!(db.transact(|tx| tx.get_u64(T::Meta, b"n")).unwrap(), 7);
        // On this single-threaded runtime all eight waiters queue before the
        // flusher runs, so group commit must answer them with one flush.
        let before = db.flush_count();
        let waits: Vec<_> = (0..8).map(|_| db.durable()).collect();
        for w in futures_util::future::join_all(waits).await {
            w.unwrap();
        }
        assert_eq!(db.flush_count() - before, 1);
        db.durable().await.unwrap();
        assert_eq!(db.flush_count() - before, 2);
        drop(db);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn writes_nobody_waits_for_are_flushed_and_an_idle_node_does_not_flush() {
        let dir = tempfile::tempdir().unwrap();
        let (db, flusher) = Db::open(&dir.path().join("db")).unwrap();
        let task = tokio::spawn(flusher.run());
        tokio::time::sleep(IDLE_FLUSH_EVERY * 3).await;
        assert_eq!(db.idle_flush_count(), 0, "nothing was written");
        db.transact(|tx| tx.put(T::Orgs, b"a", &1u32)).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while db.idle_flush_count() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the write was never flushed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = db.idle_flush_count();
        tokio::time::sleep(IDLE_FLUSH_EVERY * 3).await;
        assert_eq!(db.idle_flush_count(), after, "one flush covers one write");
        drop(db);
        task.await.unwrap();
    }

    #[test]
    fn a_transaction_empties_the_doc_cache_and_refuses_documents_built_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        let docs = db.docs();
        let g = docs.generation();
        docs.put(b"a/b", g, Bytes::from_static(b"{\"v\":1}"));
        assert_eq!(docs.get(b"a/b").as_deref(), Some(&b"{\"v\":1}"[..]));
        // A document built from reads before a write ended is stale: refused.
        let before_write = docs.generation();
        db.transact(|tx| tx.put(T::Orgs, b"a", &1u32)).unwrap();
        assert!(docs.get(b"a/b").is_none(), "a write must empty the cache");
        docs.put(b"a/b", before_write, Bytes::from_static(b"stale"));
        assert!(docs.get(b"a/b").is_none());
        // Even an aborted transaction invalidates (it cannot tell what it read).
        docs.put(b"a/b", docs.generation(), Bytes::from_static(b"x"));
        let _ = db.transact(|_| abort::<()>(StoreError::AccountExists("x".into())));
        assert!(docs.is_empty());
    }

    #[test]
    fn the_doc_cache_stays_within_its_bounds() {
        let cache = DocCache::default();
        let g = cache.generation();
        cache.put(b"big", g, Bytes::from(vec![0u8; DOC_CACHE_MAX_DOC + 1]));
        assert!(cache.get(b"big").is_none());
        let doc = Bytes::from(vec![0u8; DOC_CACHE_MAX_DOC]);
        for i in 0..(2 * DOC_CACHE_BYTES / DOC_CACHE_MAX_DOC) {
            cache.put(format!("p{i}").as_bytes(), g, doc.clone());
        }
        assert_eq!(cache.len(), DOC_CACHE_BYTES / DOC_CACHE_MAX_DOC);
        assert!(cache.lock().bytes <= DOC_CACHE_BYTES);
        // Replacing a document does not count it twice.
        cache.put(b"p0", g, Bytes::from_static(b"{}"));
        let c = cache.lock();
        assert_eq!(c.bytes, c.docs.values().map(|d| d.len()).sum::<usize>());
    }
}
