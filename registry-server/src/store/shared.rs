//! The shared backend's metadata: the trees of [`super::db::T`] as rows of
//! one PostgreSQL table (`migrations/0001_trees.sql`), for several node
//! processes on one database.
//!
//! **One sequencer.** Every write transaction takes the same transaction-level
//! advisory lock ([`SEQUENCER_LOCK`]) before it reads anything, so writes of
//! every process run one at a time, each seeing every write committed before
//! it. The log head is read and extended inside that lock: two processes never
//! append two entries at one index, and so never sign two trees of one size.
//! A write is acknowledged only after its `COMMIT` returned, which PostgreSQL
//! answers once the commit is on disk (`synchronous_commit`, on by default).
//!
//! **Synchronous callers.** The store's readers and its transaction closures
//! are synchronous (sled's are). Queries run on a small runtime of this
//! module's own, and a caller waits for its answer on a channel: the caller
//! may be an actix worker, a blocking-pool thread or plain `main`, none of
//! which may block on a Tokio runtime it runs inside.
//!
//! **Search.** The search tree's posting lists are not kept here: each
//! package's terms are a `tsvector` row of `shire_search`, stamped with the
//! commit sequence that wrote it (`migrations/0007_search_copies.sql`) and
//! written in the same transaction as the package; each process keeps the
//! index in memory and catches it up from those rows before a search
//! ([`super::shared_search`]).

use super::bridge::Bridge;
use super::db::{TxResult, ALL_TREES, T};
use super::error::StoreError;
use super::hot_pool::{HotConn, HotPool};
use super::linked::LinkGuesses;
use super::row_cache::{Commit, Key, RowCache, Stamp, Standing};
use super::shared_search::{DocumentsRead, Replica};
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Postgres;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, OnceLock};
use std::time::Duration;

/// The advisory lock every write transaction holds: the log's one sequencer.
pub const SEQUENCER_LOCK: i64 = 0x5348_4952_4531; // "SHIRE1"

/// The record under one key.
const GET_ONE: &str = "SELECT value FROM shire_trees WHERE tree = $1 AND key = $2";

/// The records under many keys of one tree: one probe of the primary key
/// per key asked for ([`SESSION_SETTINGS`]), absent keys left out.
const GET_MANY: &str = "SELECT u.key, r.value FROM UNNEST($2::bytea[]) AS u(key) \
     CROSS JOIN LATERAL (SELECT value FROM shire_trees \
         WHERE tree = $1 AND key = u.key LIMIT 1) r";

/// The records under many (tree, key) pairs, probed one by one as
/// [`GET_MANY`].
const GET_ACROSS: &str = "SELECT u.tree, u.key, r.value \
     FROM UNNEST($1::int2[], $2::bytea[]) AS u(tree, key) \
     CROSS JOIN LATERAL (SELECT value FROM shire_trees \
         WHERE tree = u.tree AND key = u.key LIMIT 1) r";

/// A search's hits by name (`$1`), in one statement: each package's record
/// (tree `$2`), its adoption count (tree `$3`, key `$4` and the name), and
/// the release its record names as the highest (tree `$5`, key the name,
/// `@` and the `highest` version up to any build metadata, as
/// `records::release_key` makes it), each probed by primary key. The version
/// is picked out of the record's text by a pattern, never by parsing it as
/// JSON: PostgreSQL's JSON refuses what serde_json writes for a NUL in a
/// description (`\u0000`), and `encode(.., 'escape')` takes any bytes, so
/// no stored record can make the statement fail. The release's key comes
/// back with it: the caller keeps the row only if the record it decodes
/// names that key.
const HITS: &str = "SELECT u.i, p.value, a.value, r.key, r.value \
     FROM UNNEST($1::bytea[]) WITH ORDINALITY AS u(name, i) \
     LEFT JOIN LATERAL (SELECT value FROM shire_trees \
         WHERE tree = $2 AND key = u.name LIMIT 1) p ON TRUE \
     LEFT JOIN LATERAL (SELECT value FROM shire_trees \
         WHERE tree = $3 AND key = $4 || u.name LIMIT 1) a ON TRUE \
     LEFT JOIN LATERAL (SELECT key, value FROM shire_trees \
         WHERE tree = $5 AND key = u.name || convert_to('@' || substring( \
             encode(p.value, 'escape') FROM '\"highest\":\"([^\"+]*)'), 'UTF8') \
         LIMIT 1) r ON TRUE \
     ORDER BY u.i";

/// [`HITS`] for the packages named `names`.
fn hits_query(names: &[Vec<u8>]) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(HITS)
        .bind(names)
        .bind(T::Packages as i16)
        .bind(T::Meta as i16)
        .bind(super::write::ADOPTERS_PREFIX.as_bytes())
        .bind(T::Releases as i16)
}

/// The commit sequence and the marks of that commit and of commit `$1`,
/// and every search document written after commit `$1` with its lexemes
/// and their weight labels, in one statement (one snapshot): a process's
/// copy of the index caught up with it holds what that commit left
/// ([`super::shared_search::Replica`]). One row with no document when none
/// was written since.
const SEARCH_DOCUMENTS_SINCE: &str = "SELECT g.n, \
         (SELECT mark FROM shire_commits WHERE seq = g.n), \
         (SELECT mark FROM shire_commits WHERE seq = $1), \
         s.package_id, s.lexemes, s.labels \
     FROM shire_generation g \
     LEFT JOIN LATERAL (SELECT d.package_id, a.lexemes, a.labels FROM shire_search d \
         CROSS JOIN LATERAL (SELECT array_agg(u.lexeme) AS lexemes, \
             array_agg(u.weights[1]) AS labels FROM unnest(d.terms) u) a \
         WHERE d.seq > $1) s ON TRUE \
     WHERE g.id = 2";

/// A row of [`SEARCH_DOCUMENTS_SINCE`].
type DocumentRow = (
    i64,
    Option<i64>,
    Option<i64>,
    Option<i32>,
    Option<Vec<String>>,
    Option<Vec<Option<String>>>,
);

/// [`SEARCH_DOCUMENTS_SINCE`] after commit `since`.
fn search_documents_query(
    since: i64,
) -> sqlx::query::QueryAs<'static, Postgres, DocumentRow, sqlx::postgres::PgArguments> {
    sqlx::query_as(SEARCH_DOCUMENTS_SINCE).bind(since)
}

/// A transaction's writes in one statement: rows put (`$1`-`$3`) and
/// removed (`$4`, `$5`), the commit sequence moved (and, when `$8`, the
/// document generation set to the commit's mark `$10`), search documents (`$6`, `$7`) stamped with the
/// new sequence number, the keys written listed under it and lists older
/// than `$9` commits ([`CHANGES_KEPT`]) dropped, the commit's mark (`$10`)
/// recorded under it and marks older than `$11` commits ([`MARKS_KEPT`])
/// dropped. A number already listed or marked (a sequence set back by hand
/// or by a partial restore) is taken over, so writes go on, and processes
/// that stood there see another mark. Answers the generation rows it
/// moved.
const WRITE: &str = "WITH put AS ( \
         INSERT INTO shire_trees (tree, key, value) \
         SELECT * FROM UNNEST($1::int2[], $2::bytea[], $3::bytea[]) \
         ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value), \
     gone AS ( \
         DELETE FROM shire_trees WHERE ctid = ANY (ARRAY( \
             SELECT r.ctid FROM UNNEST($4::int2[], $5::bytea[]) AS u(tree, key) \
             CROSS JOIN LATERAL (SELECT ctid FROM shire_trees \
                 WHERE tree = u.tree AND key = u.key LIMIT 1) r))), \
     moved AS ( \
         UPDATE shire_generation SET n = CASE WHEN id = 1 THEN $10 ELSE n + 1 END \
         WHERE id = 2 OR (id = 1 AND $8) RETURNING id, n), \
     docs AS ( \
         INSERT INTO shire_search (package_id, terms, seq) \
         SELECT u.id, u.doc::tsvector, m.n FROM UNNEST($6::int4[], $7::text[]) AS u(id, doc) \
         CROSS JOIN (SELECT n FROM moved WHERE id = 2) m \
         ON CONFLICT (package_id) DO UPDATE SET terms = EXCLUDED.terms, seq = EXCLUDED.seq), \
     listed AS ( \
         INSERT INTO shire_changes (seq, trees, keys) \
         SELECT n, $1::int2[] || $4::int2[], $2::bytea[] || $5::bytea[] FROM moved WHERE id = 2 \
         ON CONFLICT (seq) DO UPDATE SET trees = EXCLUDED.trees, keys = EXCLUDED.keys), \
     dropped AS ( \
         DELETE FROM shire_changes WHERE seq <= (SELECT n FROM moved WHERE id = 2) - $9), \
     marked AS ( \
         INSERT INTO shire_commits (seq, mark) SELECT n, $10 FROM moved WHERE id = 2 \
         ON CONFLICT (seq) DO UPDATE SET mark = EXCLUDED.mark), \
     unmarked AS ( \
         DELETE FROM shire_commits WHERE seq <= (SELECT n FROM moved WHERE id = 2) - $11) \
     SELECT id, n FROM moved";

/// Commits whose marks are kept (`shire_commits`): a process whose row
/// cache or search copy stands at an older commit cannot confirm it, and
/// starts them again.
const MARKS_KEPT: i64 = 100_000;

/// Commits whose written keys are kept (`shire_changes`), for processes
/// catching up their row caches.
const CHANGES_KEPT: i64 = 1000;

/// The keys written by the commits after `$1` up to `$2`.
const CHANGES: &str = "SELECT trees, keys FROM shire_changes WHERE seq > $1 AND seq <= $2";

/// Begins a write: the transaction (read committed, so each statement sees
/// what committed before it), then `shire_begin`
/// (`migrations/0009_begin_function.sql`): the mark that lets it write
/// `shire_trees` (`migrations/0006_sequenced_writes.sql`, its value since
/// `0008_commit_marks.sql`), the sequencer lock ([`SEQUENCER_LOCK`]), the
/// commit sequence ([`COMMIT_SEQUENCE`]) and the marks of the latest commit
/// and of commit `{since}` (where the process's row cache stood when it
/// asked, `NULL` for none) and the one after it (where the cache stands if
/// this process's previous batch committed meanwhile).
///
/// With a `{since}`, also how many commits after it still list their keys,
/// and every key they wrote with what the database holds under it now, at
/// most `{limit}` of them, values larger than `{value_max}`
/// ([`CHANGED_VALUE_MAX`]) and those of the trees `{forgotten}` (each tree
/// whose [`T::values_follow_other_writes`] is false) left out, unread. Read
/// under the lock, so the rows are what the write transaction would read;
/// the process keeps them instead of forgetting the keys and reading them
/// again one by one. One round trip: a simple query, whose values come back
/// as text (the function fixes their form). Its only arguments are numbers.
const BEGIN_SEQUENCED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; \
     SELECT kind, n, m, tree, key, value \
     FROM shire_begin({since}, {value_max}, {forgotten}, {limit})";

/// What a row of [`BEGIN_SEQUENCED`] holds, by its `kind`.
mod begun {
    /// How many commits after `since` still list their keys.
    pub const LISTS: i16 = 0;
    /// A key written since, with its value now.
    pub const ROW: i16 = 1;
    /// A key written since whose value was left out.
    pub const ROW_LEFT_OUT: i16 = 2;
    /// The commit sequence.
    pub const SEQUENCE: i16 = 3;
    /// A commit's mark.
    pub const MARK: i16 = 4;
}

/// Rows a write's early check read outside the sequencer lock, with where
/// the row cache stood when the read began ([`SharedDb::get_across_before_write`]).
/// Kept only by [`SharedDb::keep_early`], once the request is known to be
/// allowed: what an unauthenticated request names never enters the cache.
#[derive(Debug, Default)]
pub struct EarlyRows {
    stamp: Option<Stamp>,
    rows: Vec<(Key, Option<Vec<u8>>)>,
}

/// Whether a row read outside the lock is kept for the write that follows:
/// not when it is large (a key or value past [`CHANGED_VALUE_MAX`], as a
/// write's begin leaves out, which a request can name at will: a version's
/// pre-release part has no length limit), nor the value of a large
/// write-once tree (a release's record, read when its version is taken:
/// that write is refused, and a commit does not keep such rows either).
fn worth_keeping(tree: i16, key: &[u8], value: Option<&[u8]>) -> bool {
    let size = key.len() + value.map_or(0, <[u8]>::len);
    size <= CHANGED_VALUE_MAX && (value.is_none() || values_follow_other_writes(tree))
}

/// [`T::values_follow_other_writes`] of the tree numbered `tree` (true for
/// a number no tree has: nothing is left out that is not known large).
fn values_follow_other_writes(tree: i16) -> bool {
    usize::try_from(tree)
        .ok()
        .and_then(|i| ALL_TREES.get(i))
        .is_none_or(|t| t.values_follow_other_writes())
}

/// The trees whose values a write's begin leaves out ([`BEGIN_SEQUENCED`]), as
/// an SQL array.
fn forgotten_trees() -> String {
    let trees: Vec<String> = ALL_TREES
        .iter()
        .filter(|t| !t.values_follow_other_writes())
        .map(|t| (*t as i16).to_string())
        .collect();
    format!("ARRAY[{}]::int2[]", trees.join(","))
}

/// Most changed rows a write's begin brings back ([`BEGIN_SEQUENCED`]); past
/// it the process forgets the keys others wrote and reads them as needed.
const CHANGED_ROWS_MAX: usize = 1024;

/// Largest value a write's begin brings back ([`BEGIN_SEQUENCED`]): a larger
/// one (a big archive's file list) is forgotten and read when needed. With
/// [`CHANGED_ROWS_MAX`], at most 16 MiB while every writer waits.
const CHANGED_VALUE_MAX: usize = 16 << 10;

/// The `shire_generation` row counting every commit (row 1 holds the mark
/// of the last commit that may change a cached document).
const COMMIT_SEQUENCE: i16 = 2;

/// How every connection plans: each prepared statement once, for good,
/// and never a sequential scan where an index serves.
///
/// Planning costs more than running the lookups a node makes (0.13 ms
/// against 0.04 for a lookup by a list of keys, 0.3 ms for a write's
/// statement): planned at every execution, it was half of PostgreSQL's time
/// in a publish run. A plan kept for good must stay right as the tables grow
/// from empty, as a node's do: planned for a table of a few rows, a lookup
/// by a list of keys became a hash join over a sequential scan, which at
/// 60,000 rows read the whole table (2 ms instead of 0.04). So the
/// statements leave the planner one way to run: every key-list lookup probes
/// the primary key once per key from a `LATERAL` subquery ([`GET_MANY`],
/// [`GET_ACROSS`], the deletes of [`WRITE`], [`BEGIN_SEQUENCED`]), and a
/// sequential scan is priced out, so even a plan made on an empty table
/// probes the index. `shared_only::lookups_stay_index_probes_as_the_tables_grow_from_empty`
/// checks PostgreSQL's own counters.
///
/// And no JIT compilation: the planner's estimate for a plan kept for good
/// is for any parameter, so a search's catch-up ([`SEARCH_DOCUMENTS_SINCE`])
/// was priced past `jit_above_cost` once the index held about 10,000
/// documents, and every search then spent 5 to 6 ms compiling a statement
/// that runs in 0.05 ms (`auto_explain` showed it). None of the node's
/// statements runs long enough to repay compiling it.
/// `shared_only::connections_plan_for_good_and_never_compile` checks each
/// setting on the node's connections. Sent once per connection, not as
/// startup parameters, which poolers such as PgBouncer refuse.
const SESSION_SETTINGS: &str =
    "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; SET jit = off";

/// Runs the statements that requests use most once on a new connection, so
/// that the first requests it serves do not pay for preparing and planning
/// them: a few milliseconds each on a new backend, which made the slowest
/// searches after a node started or its pool grew (the pool opens one
/// whenever calls overlap more than they did, and a request on it was slow).
/// Only connections made once the migrations ran: plans made before a
/// migration could outlive the columns they read.
async fn warm_up(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let (no_trees, no_keys) = (Vec::<i16>::new(), Vec::<Vec<u8>>::new());
    sqlx::query(GET_ONE)
        .bind(-1i16)
        .bind(Vec::<u8>::new())
        .fetch_optional(&mut *conn)
        .await?;
    sqlx::query(GET_MANY)
        .bind(-1i16)
        .bind(&no_keys)
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query(GET_ACROSS)
        .bind(&no_trees)
        .bind(&no_keys)
        .fetch_all(&mut *conn)
        .await?;
    hits_query(&no_keys).fetch_all(&mut *conn).await?;
    search_documents_query(i64::MAX)
        .fetch_all(&mut *conn)
        .await?;
    Ok(())
}

/// A pooled connection idle longer than this is pinged before it is used.
const PING_IDLE_AFTER: Duration = Duration::from_secs(30);

/// Rows fetched per round trip by a scan.
const SCAN_PAGE: i64 = 512;

/// Connections to PostgreSQL a process keeps at most, unless its HTTP
/// workers need more ([`default_max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// HTTP workers of a shared-backend process: several per core. Its store
/// calls wait on the worker thread for PostgreSQL's answers (a publish makes
/// some twenty round trips), so one worker per core, right for the embedded
/// engine's in-memory reads, leaves the cores idle while every worker waits.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from) * WORKERS_PER_CORE
}

/// See [`default_workers`].
const WORKERS_PER_CORE: usize = 4;

/// The pool's default size with [`default_workers`].
pub fn default_max_connections() -> u32 {
    max_connections_for(default_workers())
}

/// The pool's default size for a process of `workers` HTTP workers:
/// [`DEFAULT_MAX_CONNECTIONS`], or one connection per worker and a few for
/// the background jobs and writes, when more.
pub fn max_connections_for(workers: usize) -> u32 {
    let wanted = u32::try_from(workers.saturating_add(4)).unwrap_or(u32::MAX);
    DEFAULT_MAX_CONNECTIONS.max(wanted)
}

/// The `[storage]` table of the configuration file.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// `embedded` (sled and pack files in the data folder, the default) or
    /// `shared` (PostgreSQL and object storage, for several processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The PostgreSQL address (`postgres://user:password@host:port/db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<String>,
    /// The artifacts' object storage (`s3://bucket/prefix`, `gs://`,
    /// `az://`, `file:///`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<String>,
    /// Connections to PostgreSQL a process keeps at most (default 16, or
    /// one per HTTP worker and four more when that is more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// How artifacts are downloaded: `stream` (through the node, the
    /// default) or `redirect` (a temporary redirect to a URL the bucket
    /// signed for a few minutes; S3, GCS and Azure only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads: Option<String>,
    /// Mebibytes of artifact copies a process keeps in its data folder at
    /// most (default [`DEFAULT_COPIES_MIB`]): the oldest go first, and one
    /// wanted again is fetched from the bucket again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies_mib: Option<u64>,
    /// `object_store` options (`aws_endpoint`, `aws_region`,
    /// `aws_allow_http`, `aws_access_key_id`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// Mebibytes of artifact copies a shared-node process keeps by default.
pub const DEFAULT_COPIES_MIB: u64 = 4096;
/// The least `copies_mib` accepted: two packs' worth.
pub const MIN_COPIES_MIB: u64 = 128;

impl std::fmt::Debug for StorageSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSection")
            .field("backend", &self.backend)
            .field("postgres", &self.postgres.as_deref().map(redact))
            .field("objects", &self.objects)
            .field("max_connections", &self.max_connections)
            .field("copies_mib", &self.copies_mib)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A URL with its passwords (in its user part or a query parameter)
/// replaced by `***`, for logs, errors and `config check`.
pub fn redact(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "(not a URL)".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    // libpq and sqlx also take a password (or a key's passphrase) as a
    // query parameter.
    if u.query_pairs().any(|(k, _)| secret_parameter(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_parameter(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Whether a connection URL's query parameter `name` holds a secret.
fn secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("passphrase")
}

/// A shared node's storage, checked: where its metadata and artifacts are.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedStorage {
    /// The PostgreSQL address.
    pub postgres: String,
    /// The object storage URL.
    pub objects: String,
    /// Connections kept at most.
    pub max_connections: u32,
    /// `object_store` options.
    pub options: BTreeMap<String, String>,
    /// Whether downloads are redirected to URLs the bucket signed.
    pub redirect_downloads: bool,
    /// Bytes of artifact copies kept in the data folder at most.
    pub copies_max_bytes: u64,
}

impl std::fmt::Debug for SharedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStorage")
            .field("postgres", &redact(&self.postgres))
            .field("objects", &self.objects)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl StorageSection {
    /// `copies_mib` in bytes: at least [`MIN_COPIES_MIB`], or a process
    /// would drop every copy it makes while its open pack holds the rest.
    fn copies_max_bytes(&self) -> Result<u64, String> {
        match self.copies_mib.unwrap_or(DEFAULT_COPIES_MIB) {
            mib if mib < MIN_COPIES_MIB => Err(format!(
                "[storage] copies_mib = {mib} is below {MIN_COPIES_MIB}: a process appends \
                 copies to 64 MiB packs and keeps the one it writes"
            )),
            mib => Ok(mib.saturating_mul(1 << 20)),
        }
    }

    /// The shared storage this section asks for (`None`: embedded), or why
    /// it is incomplete.
    pub fn shared(&self) -> Result<Option<SharedStorage>, String> {
        match self.backend.as_deref().unwrap_or("embedded") {
            "embedded" => Ok(None),
            "shared" => {
                let postgres = self
                    .postgres
                    .clone()
                    .ok_or("[storage] backend = \"shared\" needs postgres = \"postgres://...\"")?;
                let objects = self
                    .objects
                    .clone()
                    .ok_or("[storage] backend = \"shared\" needs objects = \"s3://bucket\"")?;
                let redirect_downloads = match self.downloads.as_deref().unwrap_or("stream") {
                    "stream" => false,
                    "redirect" => true,
                    other => {
                        return Err(format!(
                            "[storage] downloads {other:?} is neither \"stream\" nor \"redirect\""
                        ))
                    }
                };
                Ok(Some(SharedStorage {
                    postgres,
                    objects,
                    max_connections: self.max_connections.unwrap_or_else(default_max_connections),
                    options: self.options.clone(),
                    redirect_downloads,
                    copies_max_bytes: self.copies_max_bytes()?,
                }))
            }
            other => Err(format!(
                "[storage] backend {other:?} is neither \"embedded\" nor \"shared\""
            )),
        }
    }
}

/// The migrations that make a database a Shire node's.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// An open PostgreSQL database holding a node's trees. Cheap to clone.
#[derive(Clone)]
pub struct SharedDb {
    inner: Arc<Inner>,
}

struct Inner {
    /// Dropped before the bridge, so that the stacked connections are closed
    /// on its running runtime. An open batch in `writer` keeps the stack
    /// until after the runtime stopped: then their sockets are simply closed.
    hot: HotPool,
    bridge: Bridge,
    /// This process's open write batch ([`SharedDb::transact`]). Writers
    /// take their turn here before they take a connection: writers queued on
    /// the sequencer lock would otherwise hold every connection of the pool,
    /// and readers would wait for one.
    writer: std::sync::Mutex<Option<Batch>>,
    /// Writers that asked for a turn at `writer` and have not yet had it:
    /// the batch's committer waits for them to join.
    arriving: AtomicUsize,
    /// Signalled each time a writer has had its turn.
    turned: Condvar,
    /// One commit at a time, in the order the batches opened.
    committer: std::sync::Mutex<()>,
    /// Batches this process committed.
    commits: AtomicU64,
    /// Calls this process made to PostgreSQL ([`SharedDb::calls`]).
    calls: AtomicU64,
    /// Rows read and written under the sequencer lock, for the next write
    /// transactions of this process ([`RowCache`]).
    cache: std::sync::Mutex<RowCache>,
    /// Which row each record read last named ([`SharedDb::link_guess`]).
    links: LinkGuesses,
    /// This process's copy of the search index.
    search: Replica,
    /// Committed rows of the trees whose rows never change
    /// ([`T::rows_never_change`]), as read outside any transaction.
    fixed: std::sync::Mutex<FixedRows>,
}

/// Rows that never change once committed, kept once read: at most
/// [`FIXED_BYTES`] (keys and values), then kept afresh.
#[derive(Default)]
struct FixedRows {
    rows: std::collections::HashMap<(i16, Vec<u8>), Vec<u8>>,
    bytes: usize,
}

/// Bytes of [`FixedRows`] kept at most: a million package names.
const FIXED_BYTES: usize = 64 << 20;

impl FixedRows {
    fn keep(&mut self, t: T, key: Vec<u8>, value: Vec<u8>) {
        let size = key.len() + value.len() + 64;
        if self.bytes + size > FIXED_BYTES {
            self.clear();
        }
        if self.rows.insert((t as i16, key), value).is_none() {
            self.bytes += size;
        }
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.bytes = 0;
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("PostgreSQL: {e}"))
}

fn backend_in(doing: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("PostgreSQL, {doing}: {e}"))
}

/// The key just past every key starting with `prefix` (`None`: no end).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl SharedDb {
    /// Connects to `url` (`postgres://user:password@host:port/database`),
    /// keeping at most `max_connections`, and brings the schema up to date
    /// (concurrent starts are safe: sqlx migrates under a lock of its own).
    pub fn connect(url: &str, max_connections: u32) -> Result<SharedDb, StoreError> {
        let bridge = Bridge::start("shire-postgres")?;
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Backend(format!("the PostgreSQL address is not valid: {e}"))
        })?;
        // Set once the migrations ran: connections made after it are warmed up.
        let migrated = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let warm = migrated.clone();
        // The pool's connections are made on the bridge's runtime.
        let pool = bridge.block(async move {
            Ok(PgPoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                // sqlx pings every pooled connection before handing it out:
                // a second round trip for every query. Only one idle for a
                // while is checked; one that broke since fails its query,
                // which the caller sees as any database error.
                .test_before_acquire(false)
                .after_connect(move |conn, _| {
                    let warm = warm.load(Ordering::SeqCst);
                    Box::pin(async move {
                        sqlx::Executor::execute(&mut *conn, SESSION_SETTINGS).await?;
                        if warm {
                            match warm_up(conn).await {
                                Ok(()) => {}
                                // The statement, not the connection: it still serves.
                                Err(sqlx::Error::Database(e)) => tracing::warn!(
                                    error = %e,
                                    "a new PostgreSQL connection was not warmed up"
                                ),
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(())
                    })
                })
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > PING_IDLE_AFTER {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_lazy_with(options))
        })?;
        let hot = HotPool::new(pool, max_connections.max(2), bridge.handle().clone());
        let db = SharedDb {
            inner: Arc::new(Inner {
                hot,
                bridge,
                writer: std::sync::Mutex::new(None),
                arriving: AtomicUsize::new(0),
                turned: Condvar::new(),
                committer: std::sync::Mutex::new(()),
                commits: AtomicU64::new(0),
                calls: AtomicU64::new(0),
                cache: std::sync::Mutex::new(RowCache::default()),
                fixed: std::sync::Mutex::new(FixedRows::default()),
                links: LinkGuesses::default(),
                search: Replica::default(),
            }),
        };
        let pool = db.inner.hot.pool().clone();
        db.block(async move {
            MIGRATOR.run(&pool).await.map_err(backend)?;
            migrated.store(true, Ordering::SeqCst);
            // The connection the migrations ran on serves next.
            let mut conn = pool.acquire().await.map_err(backend)?;
            if let Err(e) = warm_up(&mut conn).await {
                tracing::warn!(error = %e, "a PostgreSQL connection was not warmed up");
            }
            Ok(())
        })?;
        Ok(db)
    }

    /// Brings the row cache to commit sequence `seq` (read under the lock
    /// `conn` holds, with the `marks` of the commits from the cache's on);
    /// the commit it then stands at. When the database no longer holds the
    /// commit the cache stands at (a restore, a failover that lost
    /// commits), or no longer marks it, everything kept is forgotten. When
    /// other processes committed since this one's last commit, the rows
    /// they wrote are kept as `changed` read them at the write's begin,
    /// when it holds them all; otherwise their keys are forgotten
    /// (everything, when their lists are no longer all kept).
    fn catch_up(
        &self,
        conn: &Conn,
        seq: i64,
        marks: &Marks,
        changed: Option<Changed>,
    ) -> Result<Commit, StoreError> {
        let now = Commit {
            seq,
            mark: marks.get(&seq).copied(),
        };
        let standing = self.cache().standing(seq, marks);
        match standing {
            Standing::Held => {}
            Standing::Unconfirmed => self.forget_all(),
            Standing::Lost => {
                tracing::warn!(
                    database = seq,
                    cache = self.cache().at(),
                    "the database no longer holds the commit this process last saw \
                     (a restore or a failover): forgetting the rows it kept"
                );
                self.forget_all();
            }
        }
        let Some(from) = self.cache().behind(seq) else {
            self.cache().current_at(now);
            return Ok(now);
        };
        if let Some(changed) = changed.filter(|c| c.covers(from, seq)) {
            let mut cache = self.cache();
            cache.caught_up(changed.forgotten, now);
            cache.refreshed(changed.rows, now);
            return Ok(now);
        }
        if seq - from > CHANGES_KEPT {
            // Their lists are gone: start again.
            self.cache().current_at(now);
            return Ok(now);
        }
        let conn = conn.clone();
        let lists = self.block(async move {
            let mut guard = conn.lock().await;
            let c = open(&mut guard)?;
            sqlx::query_as::<_, (Vec<i16>, Vec<Vec<u8>>)>(CHANGES)
                .bind(from)
                .bind(seq)
                .fetch_all(&mut **c)
                .await
                .map_err(|e| backend_in("reading what other processes wrote", e))
        })?;
        let mut cache = self.cache();
        if i64::try_from(lists.len()).ok() == Some(seq - from) {
            let keys = lists
                .into_iter()
                .flat_map(|(trees, keys)| trees.into_iter().zip(keys));
            cache.caught_up(keys, now);
        } else {
            cache.forget();
            cache.current_at(now);
        }
        Ok(now)
    }

    /// Forgets every row this process keeps, the fixed rows too: after a
    /// failure that may mean the database failed over, and lost commits
    /// with it, or once it is seen to have (a package id could then name
    /// another package).
    pub(super) fn forget_all(&self) {
        self.cache().forget();
        self.fixed().clear();
    }

    /// This process's rows read under the sequencer lock.
    fn cache(&self) -> std::sync::MutexGuard<'_, RowCache> {
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `fut` on this database's runtime and waits for it.
    fn block<R: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<R, StoreError>> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.bridge.block(fut)
    }

    /// Runs `call` on a connection ([`HotPool::run`]) on this database's
    /// runtime and waits for it; a failure says what it was `doing`.
    fn call<R, F>(&self, doing: &'static str, call: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<R, sqlx::Error>>
            + Send
            + 'static,
    {
        let hot = self.inner.hot.clone();
        self.block(async move { hot.run(call).await.map_err(|e| backend_in(doing, e)) })
    }

    /// Calls this process has made to PostgreSQL: each one statement, or
    /// one step of a write (its lock, its reads, its commit). What a request
    /// costs in round trips, for operators and tests.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The value under `key` in tree `t`.
    pub fn get(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_vec();
        self.call("reading a record", move |c| {
            Box::pin(async move {
                sqlx::query_scalar::<_, Vec<u8>>(GET_ONE)
                    .bind(t as i16)
                    .bind(key)
                    .fetch_optional(c)
                    .await
            })
        })
    }

    /// The row under `key` in tree `t` as this process last read or wrote
    /// it under the sequencer lock (`Some(None)`: known absent), if it kept
    /// it: possibly stale, for answers a write asks again under the lock.
    pub fn last_seen(&self, t: T, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.cache().get(&(t as i16, key.to_vec()))
    }

    /// The values under `keys` in tree `t`, in their order: one round trip,
    /// none when the tree's rows never change and every one was read before.
    pub fn get_many(&self, t: T, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let fixed = t.rows_never_change();
        let mut found: std::collections::HashMap<Vec<u8>, Vec<u8>> = Default::default();
        let mut wanted = keys.to_vec();
        if fixed {
            let kept = self.fixed();
            wanted.retain(|k| match kept.rows.get(&(t as i16, k.clone())) {
                Some(v) => {
                    found.insert(k.clone(), v.clone());
                    false
                }
                None => true,
            });
        }
        if !wanted.is_empty() {
            let rows = self.call("reading records", move |c| {
                Box::pin(async move {
                    sqlx::query_as::<_, Row>(GET_MANY)
                        .bind(t as i16)
                        .bind(wanted)
                        .fetch_all(c)
                        .await
                })
            })?;
            if fixed {
                let mut kept = self.fixed();
                for (k, v) in &rows {
                    kept.keep(t, k.clone(), v.clone());
                }
            }
            found.extend(rows);
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    /// What a search shows of each package named in `names` ([`HITS`]),
    /// in their order: one round trip.
    pub fn search_hits(&self, names: &[Vec<u8>]) -> Result<Vec<HitRows>, StoreError> {
        type Found = (
            i64,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let wanted = names.to_vec();
        let rows = self.call("reading search hits", move |c| {
            Box::pin(async move {
                hits_query(&wanted)
                    .try_map(|row: sqlx::postgres::PgRow| {
                        <Found as sqlx::FromRow<_>>::from_row(&row)
                    })
                    .fetch_all(c)
                    .await
            })
        })?;
        let mut out: Vec<HitRows> = names.iter().map(|_| HitRows::default()).collect();
        for (i, package, adopters, key, value) in rows {
            let Some(hit) = usize::try_from(i - 1).ok().and_then(|i| out.get_mut(i)) else {
                continue;
            };
            *hit = HitRows {
                package,
                adopters,
                release: key.zip(value),
            };
        }
        Ok(out)
    }

    /// The key the record under `key` in tree `t` named when this process
    /// last read it ([`super::db::Db::get_linked`]).
    pub fn link_guess(&self, t: T, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.links.guess(t as i16, key)
    }

    /// Remembers the key the record under `key` in tree `t` names.
    pub fn remember_link(&self, t: T, key: &[u8], named: Vec<u8>) {
        self.inner.links.remember(t as i16, key, named);
    }

    /// The kept rows of the trees whose rows never change.
    fn fixed(&self) -> std::sync::MutexGuard<'_, FixedRows> {
        self.inner.fixed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The values under `keys` (each a tree and a key), in their order: one
    /// round trip whatever the trees.
    pub fn get_across(&self, keys: &[(T, Vec<u8>)]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let trees: Vec<i16> = keys.iter().map(|(t, _)| *t as i16).collect();
        let wanted: Vec<Vec<u8>> = keys.iter().map(|(_, k)| k.clone()).collect();
        let found: std::collections::HashMap<(i16, Vec<u8>), Vec<u8>> = self
            .call("reading records", move |c| {
                Box::pin(async move {
                    sqlx::query_as::<_, (i16, Vec<u8>, Vec<u8>)>(GET_ACROSS)
                        .bind(trees)
                        .bind(wanted)
                        .fetch_all(c)
                        .await
                })
            })?
            .into_iter()
            .map(|(t, k, v)| ((t, k), v))
            .collect();
        Ok(keys
            .iter()
            .map(|(t, k)| found.get(&(*t as i16, k.clone())).cloned())
            .collect())
    }

    /// [`SharedDb::get_across`] for the early check of a write that reads
    /// the same rows again under the sequencer lock: `early` records what
    /// was read and where the row cache stood, for [`SharedDb::keep_early`]
    /// once the request is known to be allowed.
    pub fn get_across_before_write(
        &self,
        keys: &[(T, Vec<u8>)],
        early: &mut EarlyRows,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let stamp = self.cache().stamp();
        let got = self.get_across(keys)?;
        *early = EarlyRows {
            stamp,
            rows: keys
                .iter()
                .zip(&got)
                .map(|((t, k), v)| ((*t as i16, k.clone()), v.clone()))
                .collect(),
        };
        Ok(got)
    }

    /// Keeps the rows of `early` for the write that follows (and later
    /// ones) when the row cache did not move since they were read
    /// ([`RowCache::seen_outside`]), so the write need not ask again while
    /// every writer waits; rows not [`worth_keeping`] are left out.
    pub fn keep_early(&self, early: EarlyRows) {
        let rows = early
            .rows
            .into_iter()
            .filter(|((tree, key), value)| worth_keeping(*tree, key, value.as_deref()));
        self.cache().seen_outside(early.stamp, rows);
    }

    /// Bytes of keys and values this process's row cache holds.
    pub fn cached_bytes(&self) -> usize {
        self.cache().bytes()
    }

    /// Hands the entries of tree `t` from `start` (inclusive) to `end`
    /// (exclusive; `None`: the tree's end) to `f` in key order, a page at a
    /// time, until `f` answers `false`.
    pub fn visit(
        &self,
        t: T,
        start: &[u8],
        end: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut from = start.to_vec();
        let mut inclusive = true;
        loop {
            let page = self.page(t, from.clone(), inclusive, end.map(<[u8]>::to_vec))?;
            let full = page.len() as i64 == SCAN_PAGE;
            for (k, v) in &page {
                if !f(k, v)? {
                    return Ok(());
                }
            }
            match page.into_iter().last() {
                Some((k, _)) if full => {
                    from = k;
                    inclusive = false;
                }
                _ => return Ok(()),
            }
        }
    }

    fn page(
        &self,
        t: T,
        from: Vec<u8>,
        inclusive: bool,
        end: Option<Vec<u8>>,
    ) -> Result<Vec<Row>, StoreError> {
        self.call("scanning records", move |c| Box::pin(async move {
            let sql = match (inclusive, end.is_some()) {
                (true, true) => "SELECT key, value FROM shire_trees WHERE tree = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4",
                (false, true) => "SELECT key, value FROM shire_trees WHERE tree = $1 AND key > $2 AND key < $3 ORDER BY key LIMIT $4",
                (true, false) => "SELECT key, value FROM shire_trees WHERE tree = $1 AND key >= $2 AND $3::bytea IS NULL ORDER BY key LIMIT $4",
                (false, false) => "SELECT key, value FROM shire_trees WHERE tree = $1 AND key > $2 AND $3::bytea IS NULL ORDER BY key LIMIT $4",
            };
            sqlx::query_as::<_, Row>(sql)
                .bind(t as i16)
                .bind(from)
                .bind(end)
                .bind(SCAN_PAGE)
                .fetch_all(c)
                .await
        }))
    }

    /// The last key of tree `t`, if it has any.
    pub fn last_key(&self, t: T) -> Result<Option<Vec<u8>>, StoreError> {
        self.call("reading a tree's last key", move |c| {
            Box::pin(async move {
                sqlx::query_scalar::<_, Vec<u8>>(
                    "SELECT key FROM shire_trees WHERE tree = $1 ORDER BY key DESC LIMIT 1",
                )
                .bind(t as i16)
                .fetch_optional(c)
                .await
            })
        })
    }

    /// How many keys tree `t` holds.
    pub fn count(&self, t: T) -> Result<usize, StoreError> {
        let n = self.call("counting a tree's keys", move |c| {
            Box::pin(async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM shire_trees WHERE tree = $1")
                    .bind(t as i16)
                    .fetch_one(c)
                    .await
            })
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether no tree holds anything.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        self.scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM shire_trees)",
            "checking the database is empty",
        )
    }

    /// The write generation: the mark of the last committed write that may
    /// change a cached document, by any process. A mark, not a count: after
    /// a restore, later writes never bring back a generation a process kept
    /// documents under.
    pub fn generation(&self) -> Result<i64, StoreError> {
        self.scalar(
            "SELECT n FROM shire_generation WHERE id = 1",
            "reading the generation",
        )
    }

    /// The value of PostgreSQL's setting `name` on this process's
    /// connections, as [`SESSION_SETTINGS`] left it.
    pub fn setting(&self, name: &str) -> Result<String, StoreError> {
        let name = name.to_string();
        self.call("reading a setting", move |c| {
            Box::pin(async move {
                sqlx::query_scalar::<_, String>("SELECT current_setting($1)")
                    .bind(name)
                    .fetch_one(c)
                    .await
            })
        })
    }

    /// The one value `sql` (a query without parameters) answers.
    fn scalar<R>(&self, sql: &'static str, doing: &'static str) -> Result<R, StoreError>
    where
        R: Send + Unpin + 'static + sqlx::Type<Postgres> + for<'r> sqlx::Decode<'r, Postgres>,
    {
        self.call(doing, move |c| {
            Box::pin(async move { sqlx::query_scalar::<_, R>(sql).fetch_one(c).await })
        })
    }

    /// Takes or renews the lease `name` for `holder`, for `ttl` from now
    /// (the database's clock); whether `holder` holds it.
    pub fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.call("taking a lease", move |c| Box::pin(async move {
            let row = sqlx::query_scalar::<_, String>(
                "INSERT INTO shire_leases (name, holder, expires) \
                 VALUES ($1, $2, now() + $3 * interval '1 millisecond') \
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires \
                 WHERE shire_leases.holder = EXCLUDED.holder OR shire_leases.expires < now() \
                 RETURNING holder",
            )
            .bind(name)
            .bind(holder)
            .bind(ms)
            .fetch_optional(c)
            .await?;
            Ok(row.is_some())
        }))
    }

    /// The latest commit, the mark of commit `since` (`None`: every
    /// document is asked for), and the search documents written after it
    /// ([`SEARCH_DOCUMENTS_SINCE`]), by package id.
    pub fn search_documents_since(&self, since: Option<i64>) -> Result<DocumentsRead, StoreError> {
        let rows = self.call("reading search documents", move |c| {
            Box::pin(async move {
                search_documents_query(since.unwrap_or(-1))
                    .fetch_all(c)
                    .await
            })
        })?;
        let (seq, mark, from_mark) = rows
            .first()
            .map(|r| (r.0, r.1, r.2))
            .ok_or_else(|| StoreError::Backend("the commit sequence is missing".into()))?;
        let mut docs = Vec::with_capacity(rows.len());
        for (_, _, _, id, lexemes, labels) in rows {
            let Some(id) = id else { continue };
            let id = u32::try_from(id)
                .map_err(|_| StoreError::Backend(format!("search document {id} has no package")))?;
            docs.push((
                id,
                (lexemes.unwrap_or_default(), labels.unwrap_or_default()),
            ));
        }
        Ok(DocumentsRead {
            at: Commit { seq, mark },
            from_mark,
            docs,
        })
    }

    /// This process's copy of the search index.
    pub(super) fn search_replica(&self) -> &Replica {
        &self.inner.search
    }

    /// How many packages the search index holds a document for.
    pub fn search_rows(&self) -> Result<usize, StoreError> {
        let n: i64 = self.scalar(
            "SELECT count(*) FROM shire_search",
            "counting search documents",
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Runs `f` as part of one transaction holding the sequencer lock: its
    /// writes are kept aside and written at the end, then committed, all or
    /// nothing; answers once the commit is on disk. An abort writes nothing.
    /// `moves_generation`: whether the write may change a cached document
    /// ([`SharedDb::generation`]).
    ///
    /// **Group commit.** Writers arriving while a batch commits do not each
    /// take the lock, write and commit: they run one after another in the
    /// next batch, one PostgreSQL transaction, each seeing the writes of
    /// those before it, and the first of them to reach [`SharedDb::settle`]
    /// writes and commits them all. Every member of a batch is answered
    /// with the batch's outcome; an aborted writer leaves the batch as it
    /// found it.
    pub fn transact<R>(
        &self,
        moves_generation: bool,
        f: impl Fn(&SharedTx<'_>) -> TxResult<R>,
    ) -> Result<R, StoreError> {
        use sled::transaction::ConflictableTransactionError as E;
        loop {
            let mut turn = Turn::arrive(&self.inner);
            let mut open = self.writer();
            if open.is_none() {
                match self.begin() {
                    Ok(b) => *open = Some(b),
                    Err(e) => {
                        turn.end();
                        return Err(e);
                    }
                }
            }
            let Some(batch) = open.as_mut() else {
                turn.end();
                return Err(StoreError::Backend("no write batch is open".into()));
            };
            let tx = SharedTx {
                db: self.clone(),
                conn: batch.conn.clone(),
                batch: &batch.pending,
                writes: RefCell::new(BTreeMap::new()),
                search: RefCell::new(BTreeMap::new()),
                broken: Cell::new(false),
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&tx)));
            let (writes, search, broken) = (tx.writes.take(), tx.search.take(), tx.broken.get());
            drop(tx);
            let failed = match outcome {
                Ok(Ok(r)) if !broken => {
                    batch.join(writes, search, moves_generation);
                    let outcome = batch.outcome.clone();
                    turn.end();
                    drop(open);
                    drop(turn);
                    self.settle(&outcome)?;
                    return Ok(r);
                }
                other => other,
            };
            // Nothing of this writer is kept. A batch whose connection
            // failed is given up (its members are answered with the
            // failure); an empty one too, unless another writer is waiting
            // for it.
            // (Those counted in `arriving` besides this writer have yet to
            // take their turn: each leaves the count during its turn.)
            let others_waiting = self.inner.arriving.load(Ordering::SeqCst) > 1;
            if broken || (!others_waiting && batch.members == 0) {
                if let Some(b) = open.take() {
                    self.give_up(b, "a write batched with this one failed to read");
                }
            }
            turn.end();
            drop(open);
            drop(turn);
            match failed {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(Ok(_)) => {
                    return Err(StoreError::Backend(
                        "a read of the write failed, and the write went on".into(),
                    ))
                }
                Ok(Err(E::Abort(e))) => return Err(e),
                Ok(Err(E::Storage(e))) => return Err(e.into()),
                Ok(Err(E::Conflict)) => continue,
            }
        }
    }

    /// The open write batch, for one writer's turn.
    fn writer(&self) -> std::sync::MutexGuard<'_, Option<Batch>> {
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a write batch: a transaction holding the sequencer lock, the
    /// row cache brought to its commit sequence.
    fn begin(&self) -> Result<Batch, StoreError> {
        let hot = self.inner.hot.clone();
        let since = self.cache().at();
        let (conn, base) = match self.block(begin_sequenced(hot, since)) {
            Ok((conn, seq, marks, changed)) => {
                let conn: Conn = Arc::new(tokio::sync::Mutex::new(Some(conn)));
                match self.catch_up(&conn, seq, &marks, changed) {
                    Ok(base) => (conn, base),
                    Err(e) => {
                        self.forget_all();
                        let _ = self.block(async move { rollback(conn).await });
                        return Err(e);
                    }
                }
            }
            Err(e) => {
                // The database may have failed over: trust nothing kept.
                self.forget_all();
                return Err(e);
            }
        };
        Ok(Batch {
            conn,
            base,
            pending: Pending::default(),
            moves_generation: false,
            members: 0,
            outcome: Arc::default(),
        })
    }

    /// Write batches this process committed (each one PostgreSQL commit).
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Waits until the batch of `outcome` is committed (committing it, and
    /// whoever joined it meanwhile, when no one has yet) and answers its
    /// outcome.
    fn settle(&self, outcome: &Arc<Outcome>) -> Result<(), StoreError> {
        let _commit = self
            .inner
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if outcome.get().is_none() {
            let batch = {
                let mut open = self.writer();
                // The writers already queued join first.
                while self.inner.arriving.load(Ordering::SeqCst) > 0
                    && open.as_ref().is_some_and(|b| b.members < MAX_BATCH)
                {
                    // Timed: a writer unwinding from a panic outside its
                    // closure leaves the count after its lock is gone.
                    open = self
                        .inner
                        .turned
                        .wait_timeout(open, JOIN_RECHECK)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                match open.take() {
                    Some(b) if Arc::ptr_eq(&b.outcome, outcome) => Some(b),
                    other => {
                        *open = other;
                        None
                    }
                }
            };
            match batch {
                Some(b) => self.finish(b),
                None => {
                    let _ = outcome.set(Err("the write's batch was lost".into()));
                }
            }
        }
        match outcome.get() {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(StoreError::Backend(why.clone())),
            None => Err(StoreError::Backend("the write's batch was lost".into())),
        }
    }

    /// Writes and commits `batch`, keeps its rows in the row cache, and
    /// records the outcome for its members.
    fn finish(&self, batch: Batch) {
        // The rows of the large write-once trees are not kept: a write
        // reads one again only when it is about that very row, and keeping
        // every one filled the cache, which then started again empty.
        let (rows, written_once): (Writes, Writes) = batch
            .pending
            .trees
            .clone()
            .into_iter()
            .partition(|((tree, _), _)| values_follow_other_writes(*tree));
        let base = batch.base;
        let (conn, pending, moves) = (batch.conn, batch.pending, batch.moves_generation);
        let done = self.block(async move { commit(conn, pending, moves).await });
        let _ = batch.outcome.set(match done {
            Ok(made) => {
                let mut cache = self.cache();
                cache.committed(base, rows, made);
                cache.drop_rows(written_once.into_keys());
                drop(cache);
                self.inner.commits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.forget_all();
                Err(e.to_string())
            }
        });
    }

    /// Rolls `batch` back and answers its members with `why`.
    fn give_up(&self, batch: Batch, why: &str) {
        self.forget_all();
        let conn = batch.conn;
        let _ = self.block(async move { rollback(conn).await });
        let _ = batch.outcome.set(Err(why.to_string()));
    }

    /// Writes `entries` (tree name, key, value) into the trees in batches, in
    /// one transaction under the sequencer lock (for `migrate` and restore).
    pub fn import(
        &self,
        entries: impl Iterator<Item = std::io::Result<(T, Vec<u8>, Vec<u8>)>>,
    ) -> Result<u64, StoreError> {
        let _commit = self
            .inner
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut turn = self.writer();
        if let Some(b) = turn.take() {
            self.finish(b);
        }
        self.cache().forget();
        let hot = self.inner.hot.clone();
        let (conn, _, _, _) = self.block(begin_sequenced(hot, None))?;
        let conn = Arc::new(tokio::sync::Mutex::new(Some(conn)));
        // Into an empty database only, decided under the lock.
        let empty = {
            let c = conn.clone();
            self.block(async move {
                let mut guard = c.lock().await;
                let c = open(&mut guard)?;
                sqlx::query_scalar::<_, bool>("SELECT NOT EXISTS (SELECT 1 FROM shire_trees)")
                    .fetch_one(&mut **c)
                    .await
                    .map_err(|e| backend_in("checking the database is empty", e))
            })
        };
        match empty {
            Ok(true) => {}
            other => {
                let c = conn.clone();
                let _ = self.block(async move { rollback(c).await });
                other?;
                return Err(StoreError::Backend(
                    "the shared database already holds a node: import into an empty one".into(),
                ));
            }
        }
        let mut batch = BTreeMap::new();
        let mut written = 0u64;
        let result = (|| {
            for entry in entries {
                let (t, k, v) = entry?;
                batch.insert((t as i16, k), Some(v));
                written += 1;
                if batch.len() >= 1000 {
                    let conn = conn.clone();
                    let b = Pending {
                        trees: std::mem::take(&mut batch),
                        search: BTreeMap::new(),
                    };
                    self.block(async move { write(&conn, b, false).await })?;
                }
            }
            Ok::<_, StoreError>(())
        })();
        match result {
            Ok(()) => {
                let c = conn.clone();
                let pending = Pending {
                    trees: batch,
                    search: BTreeMap::new(),
                };
                self.block(async move { commit(c, pending, true).await })?;
                self.cache().forget();
                Ok(written)
            }
            Err(e) => {
                let _ = self.block(async move { rollback(conn).await });
                Err(e)
            }
        }
    }
}

/// A key and its value.
type Row = (Vec<u8>, Vec<u8>);
/// A pooled connection inside a transaction holding the sequencer lock, and
/// what [`BEGIN_SEQUENCED`] read under it, in one round trip (each query
/// of `shire_begin` takes its own snapshot, so those after the lock see
/// every commit before it). A connection that fails before it holds the
/// lock is closed, never handed back to the pool inside a transaction.
async fn begin_sequenced(
    hot: HotPool,
    since: Option<i64>,
) -> Result<(HotConn, i64, Marks, Option<Changed>), StoreError> {
    use sqlx::Row as _;
    let mut conn = hot
        .acquire()
        .await
        .map_err(|e| backend_in("taking a connection", e))?;
    let sql = BEGIN_SEQUENCED
        .replace(
            "{since}",
            &since.map_or("NULL".to_string(), |s| s.to_string()),
        )
        .replace("{value_max}", &CHANGED_VALUE_MAX.to_string())
        .replace("{forgotten}", &forgotten_trees())
        .replace("{limit}", &(CHANGED_ROWS_MAX + 1).to_string());
    // A plain `&str` goes as a simple query, which may hold several
    // statements (its values come back as text).
    let rows = match sqlx::Executor::fetch_all(&mut *conn, sql.as_str()).await {
        Ok(rows) => rows,
        Err(e) => {
            conn.close_after(Some(&e));
            return Err(backend_in("beginning a write under the sequencer lock", e));
        }
    };
    let mut seq = None;
    let mut marks = Marks::new();
    let mut changed = since.map(|since| Changed {
        since,
        lists: -1,
        rows: Vec::new(),
        forgotten: Vec::new(),
    });
    for row in &rows {
        let Ok(kind) = row.try_get::<i16, _>(0) else {
            continue;
        };
        match kind {
            begun::SEQUENCE => {
                if let Ok(n) = row.try_get::<i64, _>(1) {
                    seq = Some(n);
                }
            }
            // A mark this process cannot read only costs it its
            // row cache.
            begun::MARK => {
                if let (Ok(seq), Ok(mark)) = (row.try_get::<i64, _>(1), row.try_get::<i64, _>(2)) {
                    marks.insert(seq, mark);
                }
            }
            // A row this process cannot read only costs the
            // catch-up its shortcut.
            begun::LISTS | begun::ROW | begun::ROW_LEFT_OUT => {
                if let Some(c) = changed.as_mut() {
                    if Changed::take(c, kind, row).is_err() {
                        changed = None;
                    }
                }
            }
            _ => {}
        }
    }
    let Some(seq) = seq else {
        conn.close_after(None);
        return Err(StoreError::Backend("the commit sequence is missing".into()));
    };
    Ok((conn, seq, marks, changed))
}

/// The marks of commits the database holds, by sequence number, read under
/// the lock at a write's begin ([`BEGIN_SEQUENCED`]).
type Marks = BTreeMap<i64, i64>;

/// What the commits after commit sequence `since` wrote, read under the
/// lock at a write's begin ([`BEGIN_SEQUENCED`]).
struct Changed {
    since: i64,
    /// Commits after `since` whose keys are listed.
    lists: i64,
    /// Their keys, with what each holds now.
    rows: Vec<(Key, Option<Vec<u8>>)>,
    /// Their keys whose values were too large to bring back.
    forgotten: Vec<Key>,
}

impl Changed {
    /// Takes one row of [`BEGIN_SEQUENCED`] of kind [`begun::LISTS`],
    /// [`begun::ROW`] or [`begun::ROW_LEFT_OUT`].
    fn take(&mut self, kind: i16, row: &sqlx::postgres::PgRow) -> Result<(), sqlx::Error> {
        use sqlx::Row as _;
        if kind == begun::LISTS {
            self.lists = row.try_get(1)?;
            return Ok(());
        }
        let key: Key = (row.try_get(3)?, row.try_get(4)?);
        if kind == begun::ROW {
            self.rows.push((key, row.try_get(5)?));
        } else {
            self.forgotten.push(key);
        }
        Ok(())
    }

    /// Whether these rows are every row written after `from` up to `seq`:
    /// read from no later a sequence, every commit's list still kept, and
    /// not cut at [`CHANGED_ROWS_MAX`].
    fn covers(&self, from: i64, seq: i64) -> bool {
        self.since <= from
            && self.lists == seq - self.since
            && self.rows.len() + self.forgotten.len() <= CHANGED_ROWS_MAX
    }
}

type Writes = BTreeMap<Key, Option<Vec<u8>>>;
/// Search documents to write: package id → `tsvector` input.
type SearchWrites = BTreeMap<u32, String>;

/// What a transaction writes at its commit.
#[derive(Default)]
struct Pending {
    trees: Writes,
    search: SearchWrites,
}

/// Writers one batch holds at most: past it, its committer stops waiting
/// for more to join.
const MAX_BATCH: usize = 64;

/// How often a committer waiting for queued writers to join looks again
/// without being signalled.
const JOIN_RECHECK: Duration = Duration::from_millis(10);

/// A batch's outcome, for each of its members: `Err` holds why it failed.
type Outcome = OnceLock<Result<(), String>>;

/// One open PostgreSQL transaction under the sequencer lock, and the writes
/// of the writers that joined it ([`SharedDb::transact`]).
struct Batch {
    conn: Conn,
    /// The commit the row cache stood at when the batch began.
    base: Commit,
    pending: Pending,
    moves_generation: bool,
    members: usize,
    outcome: Arc<Outcome>,
}

impl Batch {
    /// Adds one writer's writes, made after every earlier member's.
    fn join(&mut self, writes: Writes, search: SearchWrites, moves_generation: bool) {
        self.pending.trees.extend(writes);
        self.pending.search.extend(search);
        self.moves_generation |= moves_generation;
        self.members += 1;
    }
}

/// A writer's place among those arriving at the batch: counted from before
/// it waits for its turn until it ends the turn, which it does while still
/// holding the batch (so a committer that reads the count under the batch's
/// lock and then waits cannot miss the signal), or until it unwinds.
struct Turn<'a> {
    inner: &'a Inner,
    counted: bool,
}

impl<'a> Turn<'a> {
    /// Counts a writer arriving.
    fn arrive(inner: &'a Inner) -> Self {
        inner.arriving.fetch_add(1, Ordering::SeqCst);
        Turn {
            inner,
            counted: true,
        }
    }

    /// Ends the turn: call it holding the batch's lock.
    fn end(&mut self) {
        if std::mem::take(&mut self.counted) {
            self.inner.arriving.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.end();
        self.inner.turned.notify_all();
    }
}

type Conn = Arc<tokio::sync::Mutex<Option<HotConn>>>;

/// The connection of a write transaction that has not ended.
fn open(conn: &mut Option<HotConn>) -> Result<&mut HotConn, StoreError> {
    conn.as_mut()
        .ok_or_else(|| StoreError::Backend("the transaction has ended".into()))
}

/// Writes `pending` in the open transaction of `conn` ([`WRITE`]) under a
/// mark drawn for it; the commit it makes.
async fn write(
    conn: &Conn,
    pending: Pending,
    moves_generation: bool,
) -> Result<Commit, StoreError> {
    let mut guard = conn.lock().await;
    let c = open(&mut guard)?;
    let (mut put_t, mut put_k, mut put_v) = (Vec::new(), Vec::new(), Vec::new());
    let (mut del_t, mut del_k) = (Vec::new(), Vec::new());
    for ((t, k), v) in pending.trees {
        match v {
            Some(v) => {
                put_t.push(t);
                put_k.push(k);
                put_v.push(v);
            }
            None => {
                del_t.push(t);
                del_k.push(k);
            }
        }
    }
    let mut ids = Vec::with_capacity(pending.search.len());
    for id in pending.search.keys() {
        ids.push(i32::try_from(*id).map_err(|_| {
            StoreError::Backend(format!("package id {id} is past the search index's range"))
        })?);
    }
    let docs: Vec<String> = pending.search.into_values().collect();
    let mark: i64 = rand::random();
    let moved = sqlx::query_as::<_, (i16, i64)>(WRITE)
        .bind(put_t)
        .bind(put_k)
        .bind(put_v)
        .bind(del_t)
        .bind(del_k)
        .bind(ids)
        .bind(docs)
        .bind(moves_generation)
        .bind(CHANGES_KEPT)
        .bind(mark)
        .bind(MARKS_KEPT)
        .fetch_all(&mut **c)
        .await
        .map_err(|e| backend_in("writing", e))?;
    moved
        .into_iter()
        .find(|(id, _)| *id == COMMIT_SEQUENCE)
        .map(|(_, seq)| Commit {
            seq,
            mark: Some(mark),
        })
        .ok_or_else(|| StoreError::Backend("the commit sequence is missing".into()))
}

/// Writes `pending` and commits; the commit made.
async fn commit(
    conn: Conn,
    pending: Pending,
    moves_generation: bool,
) -> Result<Commit, StoreError> {
    let done = async {
        let seq = write(&conn, pending, moves_generation).await?;
        let mut guard = conn.lock().await;
        let c = open(&mut guard)?;
        sqlx::query("COMMIT")
            .execute(&mut **c)
            .await
            .map_err(backend)?;
        // Back to the pool from this runtime: a connection dropped on a
        // caller's thread would need that thread's (absent) runtime.
        if let Some(c) = guard.take() {
            c.release();
        }
        Ok(seq)
    }
    .await;
    if done.is_err() {
        // Whatever state the connection is in, it never goes back to the pool.
        if let Some(c) = conn.lock().await.take() {
            c.close_after(None);
        }
    }
    done
}

async fn rollback(conn: Conn) -> Result<(), StoreError> {
    let mut guard = conn.lock().await;
    if let Some(c) = guard.as_mut() {
        let rolled_back = sqlx::query("ROLLBACK").execute(&mut **c).await.is_ok();
        if let Some(c) = guard.take() {
            if rolled_back {
                c.release();
            } else {
                c.close_after(None);
            }
        }
    }
    Ok(())
}

/// The stored rows of one search hit ([`SharedDb::search_hits`]).
#[derive(Debug, Default)]
pub struct HitRows {
    /// The package record.
    pub package: Option<Vec<u8>>,
    /// The package's adoption count.
    pub adopters: Option<Vec<u8>>,
    /// A release (its key and record) the record seemed to name as highest.
    pub release: Option<(Vec<u8>, Vec<u8>)>,
}

/// One writer's part of a write batch ([`SharedDb::transact`]): reads see
/// its own writes, then those of the batch's earlier members, then what the
/// database holds under the sequencer lock.
pub struct SharedTx<'b> {
    db: SharedDb,
    conn: Conn,
    batch: &'b Pending,
    writes: RefCell<Writes>,
    search: RefCell<SearchWrites>,
    /// A read failed: the PostgreSQL transaction is no longer usable.
    broken: Cell<bool>,
}

impl SharedTx<'_> {
    /// What this writer or an earlier member of its batch wrote under `key`.
    fn written(&self, key: &Key) -> Option<Option<Vec<u8>>> {
        self.writes
            .borrow()
            .get(key)
            .or_else(|| self.batch.trees.get(key))
            .cloned()
    }

    /// Marks the batch's transaction unusable when `r` is a failed read.
    fn read<V>(&self, r: Result<V, StoreError>) -> TxResult<V> {
        r.map_err(|e| {
            self.broken.set(true);
            sled::transaction::ConflictableTransactionError::Abort(e)
        })
    }

    /// The value under `key` in tree `t`, as this transaction sees it.
    pub fn get(&self, t: T, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        let wanted: Key = (t as i16, key.to_vec());
        if let Some(v) = self.written(&wanted) {
            return Ok(v);
        }
        if let Some(v) = self.db.cache().get(&wanted) {
            return Ok(v);
        }
        let conn = self.conn.clone();
        let key = key.to_vec();
        let value = self.read(self.db.block(async move {
            let mut guard = conn.lock().await;
            let c = open(&mut guard)?;
            sqlx::query_scalar::<_, Vec<u8>>(GET_ONE)
                .bind(t as i16)
                .bind(key)
                .fetch_optional(&mut **c)
                .await
                .map_err(backend)
        }))?;
        self.db.cache().read(wanted, value.clone());
        Ok(value)
    }

    /// The values under `keys` in tree `t` as this transaction sees them,
    /// in their order: one round trip for those it did not write.
    pub fn get_many(&self, t: T, keys: &[Vec<u8>]) -> TxResult<Vec<Option<Vec<u8>>>> {
        let mut out: Vec<Option<Option<Vec<u8>>>> = {
            let cache = self.db.cache();
            keys.iter()
                .map(|k| {
                    let key = (t as i16, k.clone());
                    self.written(&key).or_else(|| cache.get(&key))
                })
                .collect()
        };
        let missing: Vec<Vec<u8>> = keys
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let conn = self.conn.clone();
            let wanted = missing.clone();
            let found = self.read(self.db.block(async move {
                let mut guard = conn.lock().await;
                let c = open(&mut guard)?;
                let rows = sqlx::query_as::<_, Row>(GET_MANY)
                    .bind(t as i16)
                    .bind(wanted)
                    .fetch_all(&mut **c)
                    .await
                    .map_err(|e| backend_in("reading records in a write", e))?;
                Ok(rows
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>())
            }))?;
            let mut cache = self.db.cache();
            for (k, o) in keys.iter().zip(out.iter_mut()) {
                if o.is_none() {
                    let value = found.get(k).cloned();
                    cache.read((t as i16, k.clone()), value.clone());
                    *o = Some(value);
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// Sets `key` in tree `t` (written at commit).
    pub fn put(&self, t: T, key: &[u8], value: Vec<u8>) {
        self.writes
            .borrow_mut()
            .insert((t as i16, key.to_vec()), Some(value));
    }

    /// Sets package `id`'s search document (`tsvector` input; at commit).
    pub fn set_search_doc(&self, id: u32, doc: String) {
        self.search.borrow_mut().insert(id, doc);
    }

    /// Removes `key` from tree `t` (at commit).
    pub fn remove(&self, t: T, key: &[u8]) {
        self.writes
            .borrow_mut()
            .insert((t as i16, key.to_vec()), None);
    }
}

#[cfg(test)]
mod tests {
    use super::{
        forgotten_trees, prefix_end, redact, worth_keeping, Changed, FixedRows, StorageSection,
        BEGIN_SEQUENCED, CHANGED_ROWS_MAX, CHANGED_VALUE_MAX, COMMIT_SEQUENCE, FIXED_BYTES,
        SEQUENCER_LOCK, T,
    };

    #[test]
    fn kept_fixed_rows_stay_within_their_bound() {
        let mut kept = FixedRows::default();
        kept.keep(T::PackageIds, b"a".to_vec(), b"bench/a".to_vec());
        kept.keep(T::PackageIds, b"a".to_vec(), b"bench/a".to_vec());
        assert_eq!(kept.rows.len(), 1);
        let once = kept.bytes;
        let big = vec![0u8; FIXED_BYTES / 2];
        kept.keep(T::PackageIds, b"b".to_vec(), big.clone());
        assert_eq!(kept.rows.len(), 2);
        assert!(kept.bytes > once);
        kept.keep(T::PackageIds, b"c".to_vec(), big);
        assert_eq!(kept.rows.len(), 1, "past the bound, kept afresh");
        assert!(kept.bytes <= FIXED_BYTES);
        assert!(kept
            .rows
            .contains_key(&(T::PackageIds as i16, b"c".to_vec())));
    }

    #[test]
    fn a_storage_table_is_refused_unless_complete_and_known() {
        let section = |text: &str| toml::from_str::<StorageSection>(text).unwrap().shared();
        assert_eq!(section("").unwrap(), None, "embedded by default");
        assert_eq!(section("backend = \"embedded\"").unwrap(), None);
        let full = "backend = \"shared\"\npostgres = \"postgres://u:secret@db/shire\"\nobjects = \"s3://b\"";
        let shared = section(full).unwrap().unwrap();
        assert!(!shared.redirect_downloads);
        assert_eq!(shared.copies_max_bytes, super::DEFAULT_COPIES_MIB << 20);
        let bounded = section(&format!("{full}\ncopies_mib = 512"))
            .unwrap()
            .unwrap();
        assert_eq!(bounded.copies_max_bytes, 512 << 20);
        assert!(
            !format!("{shared:?}").contains("secret"),
            "the password stays out of logs"
        );
        assert!(
            section(&format!("{full}\ndownloads = \"redirect\""))
                .unwrap()
                .unwrap()
                .redirect_downloads
        );
        for bad in [
            "backend = \"shared\"\nobjects = \"s3://b\"",
            "backend = \"shared\"\npostgres = \"postgres://db/shire\"",
            "backend = \"sqlite\"",
            &format!("{full}\ndownloads = \"proxy\""),
        ] {
            assert!(section(bad).is_err(), "{bad}");
        }
        assert!(
            toml::from_str::<StorageSection>("postgress = \"x\"").is_err(),
            "unknown keys"
        );
        assert!(toml::from_str::<StorageSection>(&format!("{full}\ncopies_mib = -1")).is_err());
        assert!(section(&format!("{full}\ncopies_mib = 0")).is_err());
        assert!(section(&format!("{full}\ncopies_mib = 127")).is_err());
        assert!(section(&format!("{full}\ncopies_mib = 128")).is_ok());
    }

    #[test]
    fn a_write_begins_under_the_sequencer_lock_then_reads_the_commit_sequence() {
        let begin = include_str!("../../migrations/0009_begin_function.sql");
        let body = &begin[begin.find("$$").unwrap_or(0)..];
        let mark = body.find("set_config('shire.sequenced', 'marked', true)");
        let lock = body.find(&format!("pg_advisory_xact_lock({SEQUENCER_LOCK})"));
        let sequence = body.find(&format!("WHERE g.id = {COMMIT_SEQUENCE}"));
        assert!(mark.is_some() && lock.is_some() && sequence.is_some());
        assert!(mark < lock && lock < sequence);
        assert!(
            begin.contains("LANGUAGE plpgsql VOLATILE"),
            "each query needs a snapshot of its own"
        );
        assert!(BEGIN_SEQUENCED.starts_with("BEGIN ISOLATION LEVEL READ COMMITTED;"));
    }

    #[test]
    fn a_begin_leaves_out_the_values_of_large_write_once_trees() {
        assert_eq!(
            forgotten_trees(),
            format!(
                "ARRAY[{},{},{},{}]::int2[]",
                T::Releases as i16,
                T::Files as i16,
                T::LogEntries as i16,
                T::MirrorEntries as i16
            )
        );
        // The trees every publish reads again are brought back.
        for t in [T::Meta, T::Packages, T::LogHashes, T::Keys, T::Accounts] {
            assert!(t.values_follow_other_writes(), "{t:?}");
        }
    }

    #[test]
    fn redact_hides_a_password_wherever_the_url_holds_it() {
        let url = "postgres://shire:pw-in-user@db:5432/shire\
                   ?sslmode=require&password=pw-in-query&sslpassword=key-phrase";
        let shown = redact(url);
        for secret in ["pw-in-user", "pw-in-query", "key-phrase"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("sslmode=require"), "{shown}");
        assert!(
            shown.starts_with("postgres://shire:***@db:5432/shire?"),
            "{shown}"
        );
        assert_eq!(
            redact("postgres://shire@db/shire"),
            "postgres://shire@db/shire"
        );
        assert_eq!(redact("not a url"), "(not a URL)");
    }

    #[test]
    fn an_early_read_keeps_small_rows_and_absent_write_once_ones() {
        let keys = T::Keys as i16;
        let releases = T::Releases as i16;
        assert!(worth_keeping(keys, b"key id", Some(b"{}")));
        assert!(worth_keeping(releases, b"org/name@1.0.0", None));
        // A release's record is left out, as a commit leaves it out.
        assert!(!worth_keeping(releases, b"org/name@1.0.0", Some(b"{}")));
        // Past the bound a write's begin keeps: a key or a value.
        let long = vec![b'a'; CHANGED_VALUE_MAX + 1];
        assert!(!worth_keeping(releases, &long, None));
        assert!(!worth_keeping(keys, b"key id", Some(&long)));
        assert!(worth_keeping(keys, b"", Some(&long[1..])));
    }

    #[test]
    fn changed_rows_stand_for_a_catch_up_only_when_they_are_all_there() {
        let changed = |since, lists, rows: usize| Changed {
            since,
            lists,
            rows: (0..rows).map(|i| ((0, vec![i as u8]), None)).collect(),
            forgotten: vec![(0, b"big".to_vec())],
        };
        // Read since 10, three commits listed up to 13.
        assert!(changed(10, 3, 5).covers(10, 13));
        // The cache moved on to 11 (this process's own commit) meanwhile.
        assert!(changed(10, 3, 5).covers(11, 13));
        // Read from a later point than the cache: commits in between missed.
        assert!(!changed(11, 2, 5).covers(10, 13));
        // A commit's list was dropped (only the last 1,000 are kept).
        assert!(!changed(10, 2, 5).covers(10, 13));
        // Cut at the bound.
        assert!(changed(10, 3, CHANGED_ROWS_MAX - 1).covers(10, 13));
        assert!(!changed(10, 3, CHANGED_ROWS_MAX).covers(10, 13));
    }

    #[test]
    fn a_prefix_ends_just_past_its_last_key() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
