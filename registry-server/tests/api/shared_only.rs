//! What only the shared backend has: leases for background jobs, and
//! downloads redirected to URLs the bucket signed (a real PostgreSQL and S3
//! API).

use crate::helpers::{shared_storage, Release};
use shire_registry::store::shared::SharedDb;
use shire_registry::store::{OpenOptions, Store};
use std::time::Duration;

/// A second process of a club's node: a store opened on the node's storage
/// with a data folder of its own, which lasts as long as it does.
struct SecondProcess {
    store: Store,
    _flusher: shire_registry::store::Flusher,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for SecondProcess {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// A club on `storage`, and a second process of its node.
async fn club_with_second_process(
    storage: &shire_registry::store::shared::SharedStorage,
) -> (crate::Club, SecondProcess) {
    let c = crate::club_with({
        let s = storage.clone();
        move |config| config.storage = Some(s)
    })
    .await;
    let options = OpenOptions {
        shared: Some(storage.clone()),
        ..OpenOptions::default()
    };
    let second = second_process(&c, &options);
    (c, second)
}

/// The names a search for `q` in `store` finds, every one it counted.
fn found_in(store: &Store, q: &str) -> Vec<String> {
    let r = store.search(q, 20).unwrap();
    assert_eq!(r.total, r.names.len(), "{q}");
    r.names.iter().map(|n| n.to_string()).collect()
}

/// Opens a second process of `c`'s node with `options` (its storage).
fn second_process(c: &crate::Club, options: &OpenOptions) -> SecondProcess {
    let dir = tempfile::tempdir().unwrap();
    let origin = c.app.origin.clone();
    let (store, flusher) = Store::open(dir.path(), options, move || origin).unwrap();
    SecondProcess {
        store,
        _flusher: flusher,
        _dir: dir,
    }
}

/// A new connection runs the statements requests use most before it serves
/// one, so the first searches on it are not the slowest (`warm_up` in
/// `store/shared.rs`): PostgreSQL counts the scans of the search documents'
/// index that opening a connection made, with no search asked.
#[test]
fn a_new_connection_is_warmed_up_before_it_serves() {
    let storage = shared_storage();
    // The first process makes the tables; its first connection came before.
    let _first = SharedDb::connect(&storage.postgres, 2).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = rt
        .block_on(sqlx::PgPool::connect(&storage.postgres))
        .unwrap();
    let scans = || {
        rt.block_on(
            sqlx::query_scalar::<_, i64>(
                "SELECT coalesce(idx_scan, 0) FROM pg_stat_user_tables \
                 WHERE relname = 'shire_search'",
            )
            .fetch_one(&pool),
        )
        .unwrap()
    };
    // A document for the index to hold.
    rt.block_on(
        sqlx::query("INSERT INTO shire_search (package_id, terms, seq) VALUES (0, 'shire:1A', 1)")
            .execute(&pool),
    )
    .unwrap();
    // Past the ten seconds within which an idle backend reports its
    // counters: the first process's own warm-up is counted by then.
    std::thread::sleep(Duration::from_secs(11));
    let before = scans();
    let _second = SharedDb::connect(&storage.postgres, 2).unwrap();
    // An idle backend reports its counters within about ten seconds.
    let mut seen = before;
    for _ in 0..150 {
        seen = scans();
        if seen > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        seen > before,
        "opening a connection never read the search documents"
    );
}

#[test]
fn one_process_holds_a_jobs_lease_until_it_lapses() {
    let storage = shared_storage();
    let options = OpenOptions {
        shared: Some(storage.clone()),
        ..OpenOptions::default()
    };
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, _f1) = Store::open(dir1.path(), &options, || "lease.test".into()).unwrap();
    let (second, _f2) = Store::open(dir2.path(), &options, || "lease.test".into()).unwrap();
    let (a, b) = (first.lease("webhooks"), second.lease("webhooks"));
    assert!(a.held(), "the first to ask takes it");
    assert!(!b.held(), "the other process does not");
    // Asked afresh (no expiry remembered), the holder renews it.
    assert!(first.lease("webhooks").held(), "and the holder keeps it");
    assert!(!second.lease("webhooks").held());
    assert!(second.lease("follow peer-1").held(), "each job has its own");

    // Once a lease lapses, another holder takes it over (the database's clock).
    let db = SharedDb::connect(&storage.postgres, 2).unwrap();
    assert!(db.lease("short", "p1", Duration::from_millis(300)).unwrap());
    assert!(!db.lease("short", "p2", Duration::from_millis(300)).unwrap());
    std::thread::sleep(Duration::from_millis(400));
    assert!(db.lease("short", "p2", Duration::from_secs(10)).unwrap());
    assert!(!db.lease("short", "p1", Duration::from_secs(10)).unwrap());
}

#[tokio::test]
async fn downloads_can_redirect_to_a_url_the_bucket_signed() {
    let mut storage = shared_storage();
    storage.redirect_downloads = true;
    let c = crate::club_with(|config| config.storage = Some(storage)).await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = plain
        .get(format!("{}/api/v1/artifacts/{}", c.app.url, r.digest()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 307);
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("X-Amz-Signature="), "a signed URL: {to}");
    let got = plain.get(&to).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), r.archive);
    // An artifact the node does not hold is the node's 404, not the bucket's.
    let missing = shire_core::Digest::of(b"never uploaded");
    let resp = plain
        .get(format!("{}/api/v1/artifacts/{missing}", c.app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

/// Bytes of artifact copies in a node's data folder (packs and own files).
fn copies_held(data: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![data.join("blobs")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else {
                total += e.metadata().unwrap().len();
            }
        }
    }
    total
}

/// A process keeps at most `copies_mib` of artifact copies: uploads and
/// downloads past it drop the oldest, and every artifact is still served
/// whole, the dropped ones from the bucket again.
#[tokio::test]
async fn a_process_keeps_its_artifact_copies_within_their_bound() {
    const BOUND: u64 = 1 << 20;
    let mut storage = shared_storage();
    storage.copies_max_bytes = BOUND;
    let c = crate::club_with(move |config| config.storage = Some(storage)).await;
    // Each larger than a pack's records, so each a file of its own.
    let releases: Vec<Release> = (0..8)
        .map(|i| {
            let noise = shire_core::archive::testing::noise(300 << 10);
            let seed = format!("artifact {i}");
            Release::new("braintree/crm", &format!("1.0.{i}")).archive(&[
                shire_core::archive::testing::Item::File("seed", seed.as_bytes()),
                shire_core::archive::testing::Item::File("data.bin", &noise),
            ])
        })
        .collect();
    for r in &releases {
        c.app
            .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
            .await
            .ok(201);
        assert!(copies_held(c.app.dir.path()) <= BOUND);
    }
    assert!(
        releases.iter().map(|r| r.archive.len() as u64).sum::<u64>() > 2 * BOUND,
        "the artifacts outgrow the bound"
    );
    for r in releases.iter().chain(releases.iter().rev()) {
        let (status, _, body) = c
            .app
            .get_bytes(&format!("/api/v1/artifacts/{}", r.digest()))
            .await;
        assert_eq!(status, 200);
        assert!(body == r.archive, "the artifact's own bytes");
        assert!(copies_held(c.app.dir.path()) <= BOUND);
    }
}

/// Replaces the bucket's object for `digest` (someone with write access to
/// the bucket, outside any node).
async fn overwrite_object(
    storage: &shire_registry::store::shared::SharedStorage,
    digest: &shire_core::Digest,
    bytes: Vec<u8>,
) {
    let url = url::Url::parse(&storage.objects).unwrap();
    let (store, prefix) = object_store::parse_url_opts(&url, &storage.options).unwrap();
    let key = prefix.child("sha256").child(digest.hex());
    store.put(&key, bytes.into()).await.unwrap();
}

#[tokio::test]
async fn an_object_altered_in_the_bucket_is_never_copied_or_served() {
    const LIMIT: u64 = 64 << 10;
    let storage = shared_storage();
    let s = storage.clone();
    let c = crate::club_with(move |config| {
        config.storage = Some(s);
        config.max_upload = LIMIT;
    })
    .await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    let digest = r.digest();
    // A second process of the node, which holds no copy of its own yet.
    let options = OpenOptions {
        shared: Some(storage.clone()),
        max_artifact_bytes: LIMIT,
        ..OpenOptions::default()
    };
    let second = second_process(&c, &options);

    // The same size, other bytes: refused by the digest.
    let mut other = r.archive.clone();
    other[0] ^= 0xff;
    overwrite_object(&storage, &digest, other).await;
    let err = second.blobs.read(&digest).err().expect("an altered object");
    assert!(err.to_string().contains("altered"), "{err}");
    assert_eq!(
        second.blobs.location(&digest).unwrap(),
        None,
        "no copy kept"
    );

    // Far larger than any upload: the fetch stops at the limit.
    overwrite_object(&storage, &digest, vec![0; LIMIT as usize * 4]).await;
    let err = second
        .blobs
        .read(&digest)
        .err()
        .expect("an oversized object");
    assert!(err.to_string().contains("larger than any upload"), "{err}");
    assert_eq!(
        second.blobs.location(&digest).unwrap(),
        None,
        "no copy kept"
    );
    let leftovers = std::fs::read_dir(second.data_dir().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "no partial download left behind");

    // The process that checked the upload still serves the bytes it checked.
    let (status, _, body) = c
        .app
        .get_bytes(&format!("/api/v1/artifacts/{digest}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, r.archive);
}

/// Every row of the node's trees, in key order: what an attack must leave
/// as it found it.
async fn tree_rows(pool: &sqlx::PgPool) -> Vec<(i16, Vec<u8>, Vec<u8>)> {
    sqlx::query_as("SELECT tree, key, value FROM shire_trees ORDER BY tree, key")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A submit's early reads (its token, the key and the release its
/// statement names) are kept in the process's row cache for the write that
/// follows only once the caller is accepted: a submit with a made-up token,
/// or from another council's publisher, leaves the cache, and the stored
/// state, as they were. And even a good
/// caller's reads are not kept when large: a version's pre-release part has
/// no length limit, and a cache that fills is emptied, which makes every
/// process's writes read their rows again under the lock.
#[tokio::test]
async fn an_unauthenticated_or_oversized_submit_leaves_the_row_cache_alone() {
    let storage = shared_storage();
    let s = storage.clone();
    let c = crate::club_with(move |config| config.storage = Some(s)).await;
    // A publish first: the cache stands at a commit, where reads are kept.
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    let stored = tree_rows(&pool).await;
    let cached = c.app.store().cached_bytes();
    assert!(cached > 0, "the publish left rows in the cache");
    let gauge = crate::metrics::metric(&c.app, "shire_row_cache_bytes", &[]).await;
    assert_eq!(gauge, cached as f64, "the metric shows it");

    let next = Release::new("braintree/crm", "1.1.0");
    let made_up = format!("shire_{}", "0".repeat(40));
    c.app.submit(&made_up, next.sign(&c.bt.key)).await.ok(401);
    assert_eq!(c.app.store().cached_bytes(), cached, "nothing kept");
    assert_eq!(tree_rows(&pool).await, stored, "nothing stored");
    // A good token, but another council's publisher: refused, nothing kept.
    c.app
        .submit(&c.kent.token, next.sign(&c.kent.key))
        .await
        .ok(403);
    assert_eq!(c.app.store().cached_bytes(), cached, "nothing kept");
    assert_eq!(tree_rows(&pool).await, stored, "nothing stored");

    // A good token, a version of 200 kB: refused or not, not kept.
    let long = Release::new("braintree/crm", &format!("2.0.0-{}", "a".repeat(200_000)));
    let answer = c.app.submit(&c.bt.token, long.sign(&c.bt.key)).await;
    assert!(!answer.status.is_success(), "{}", answer.body);
    assert!(
        c.app.store().cached_bytes() < cached + 100_000,
        "the long version's key was kept: {} bytes, {cached} before",
        c.app.store().cached_bytes()
    );
    assert_eq!(tree_rows(&pool).await, stored, "nothing stored");
}

/// A write to the node's tables that did not take the sequencer lock the
/// node's way (an older process still running after an upgrade, an edit by
/// hand) is refused by the database, and the stored state is unchanged: the
/// processes' row caches stay true.
#[tokio::test]
async fn a_write_around_the_sequencer_is_refused_by_the_database() {
    let storage = shared_storage();
    let s = storage.clone();
    let c = crate::club_with(move |config| config.storage = Some(s)).await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    let before = tree_rows(&pool).await;
    for attack in [
        "UPDATE shire_trees SET value = '\\x00'",
        "DELETE FROM shire_trees",
        "INSERT INTO shire_trees (tree, key, value) VALUES (0, '\\x01', '\\x01')",
        "TRUNCATE shire_trees",
        // A process of a version before commits were marked marks its
        // writes so: it would leave commits no process can confirm.
        "SET LOCAL shire.sequenced = 'on'; \
         INSERT INTO shire_trees (tree, key, value) VALUES (0, '\x01', '\x01')",
    ] {
        let err = sqlx::raw_sql(attack)
            .execute(&pool)
            .await
            .expect_err(attack);
        assert!(
            err.to_string().contains("written only by shire-registry"),
            "{attack}: {err}"
        );
    }
    assert_eq!(tree_rows(&pool).await, before, "nothing changed");
    c.app.get("/api/v1/packages/braintree/crm").await.ok(200);
    // The node itself still writes.
    let next = Release::new("braintree/crm", "1.0.1");
    c.app.publish(&c.bt, &next).await.ok(201);
}

/// A publish's early check reads its release's record outside the
/// sequencer lock, and the process keeps what it read for the write that
/// follows (`RowCache::seen_outside`), which then need not ask again under
/// the lock. A release another process stores in between is still seen:
/// the write refuses the version, and the stored state is unchanged.
#[tokio::test]
async fn a_version_read_as_free_before_another_process_took_it_is_refused() {
    let storage = shared_storage();
    let (c, other) = club_with_second_process(&storage).await;
    // The second process writes, so its row cache stands at a commit.
    other.create_account(&account("clerk")).unwrap();
    let late = Release::new("braintree/crm", "2.0.0").description("read as free");
    let rival = Release::new("braintree/crm", "2.0.0").description("stored first");
    assert_eq!(late.digest(), rival.digest(), "one archive");
    c.app
        .upload_as(&c.bt.token, &late.digest(), late.archive.clone())
        .await
        .ok(201);
    // The second process's early check: the version is free.
    let (event, _) = late.checked_early(&other, &c.bt);
    // The first process stores the same version meanwhile.
    c.app
        .submit(&c.bt.token, rival.sign(&c.bt.key))
        .await
        .ok(201);
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    let before = tree_rows(&pool).await;

    let (size, files) = other
        .blobs
        .inspect(&late.digest(), &Default::default())
        .unwrap();
    let refused = other.append(
        &event,
        Some(&shire_registry::store::Artifact { size, files }),
    );
    let Err(err) = refused else {
        panic!("the version is taken, yet the write was stored")
    };
    assert!(
        matches!(
            err,
            shire_registry::store::StoreError::Refused(
                shire_core::ledger::RuleError::VersionExists { .. }
            )
        ),
        "{err}"
    );
    assert_eq!(tree_rows(&pool).await, before, "nothing changed");
    assert_eq!(
        crate::hot_pool::inside_a_transaction(&pool).await,
        0,
        "the refused batch was rolled back"
    );
    let pkg = c.app.get("/api/v1/packages/braintree/crm").await;
    assert_eq!(pkg.ok(200)["description"], "stored first");
}

/// A search is two calls to PostgreSQL once its hits' names are known
/// (package ids and names never change, and a process keeps them): the
/// ranking, then the hits' records with their adoption counts and highest
/// releases. Measured as the calls counted between scrapes of `/metrics`,
/// less what a scrape itself costs.
#[tokio::test]
async fn a_search_costs_two_calls_to_postgresql() {
    let c = counted_club(shared_storage()).await;
    for (name, v) in [
        ("braintree/crm", "1.0.0"),
        ("braintree/crm", "1.1.0+build.7"),
        ("braintree/crm-lite", "2.0.0"),
    ] {
        let r = Release::new(name, v).description("A crm for councils");
        c.app.publish(&c.bt, &r).await.ok(201);
    }
    let search = || async {
        let resp = c.app.get("/api/v1/search?q=crm").await;
        let body = resp.ok(200);
        let latest: Vec<String> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["latest"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(latest, ["1.1.0+build.7", "2.0.0"]);
    };
    search().await;
    assert_eq!(calls_of(&c.app, search).await, 2.0, "per search");
}

/// Every process keeps its own copy of the search index, and a search in
/// one sees what another published, changed or lost a moment before: the
/// copy is brought up to the database's latest commit before each search,
/// and loaded again whole when the database went back (a restore).
#[tokio::test]
async fn a_search_sees_what_another_process_wrote_just_before() {
    let storage = shared_storage();
    let (c, other) = club_with_second_process(&storage).await;
    let found = |q: &str| found_in(&other, q);
    assert!(found("collection").is_empty());

    let bins = Release::new("braintree/bins", "1.0.0").description("Bin collection rounds");
    c.app.publish(&c.bt, &bins).await.ok(201);
    let crm = Release::new("braintree/crm", "1.0.0").description("A crm for bin collection");
    c.app.publish(&c.bt, &crm).await.ok(201);
    assert_eq!(found("collection"), ["braintree/bins", "braintree/crm"]);
    assert_eq!(found("bin"), ["braintree/bins", "braintree/crm"], "prefix");

    // A new version with other words: the old ones go, the new ones come.
    let crm2 = Release::new("braintree/crm", "1.1.0")
        .description("Parking permits")
        .keywords(&["parking"]);
    c.app.publish(&c.bt, &crm2).await.ok(201);
    assert_eq!(found("collection"), ["braintree/bins"]);
    assert_eq!(found("permits"), ["braintree/crm"]);
    // The process that took the publishes answers alike.
    let resp = c.app.get("/api/v1/search?q=collection").await;
    assert_eq!(resp.ok(200)["total"], 1);

    // The database restored to an earlier commit, with other documents:
    // the copy, ahead of it, is loaded again rather than trusted.
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    sqlx::query("UPDATE shire_generation SET n = 1 WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE shire_search SET terms = 'restored:1D', seq = 1")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(found("restored"), ["braintree/bins", "braintree/crm"]);
    assert!(found("permits").is_empty());
}

/// The node's tables, as a backup taken now would hold them.
const NODE_TABLES: [&str; 5] = [
    "shire_trees",
    "shire_generation",
    "shire_changes",
    "shire_search",
    "shire_commits",
];

/// The commit sequence the database stands at.
async fn commit_sequence(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT n FROM shire_generation WHERE id = 2")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Copies the node's tables aside (a backup).
async fn back_up(pool: &sqlx::PgPool) {
    sqlx::query("CREATE SCHEMA backup")
        .execute(pool)
        .await
        .unwrap();
    for t in NODE_TABLES {
        sqlx::query(&format!("CREATE TABLE backup.{t} AS TABLE public.{t}"))
            .execute(pool)
            .await
            .unwrap();
    }
}

/// Puts the tables [`back_up`] copied back in place of the node's, in one
/// transaction under the sequencer lock, as an operator's restore would
/// leave them.
async fn restore(pool: &sqlx::PgPool) {
    let mut tx = pool.begin().await.unwrap();
    for sql in [
        "SET LOCAL shire.sequenced = 'marked'".to_string(),
        format!(
            "SELECT pg_advisory_xact_lock({})",
            shire_registry::store::shared::SEQUENCER_LOCK
        ),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    for t in NODE_TABLES {
        sqlx::query(&format!("DELETE FROM public.{t}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(&format!("INSERT INTO public.{t} SELECT * FROM backup.{t}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// An account for `username`, of no organisation.
fn account(username: &str) -> shire_registry::store::records::AccountRecord {
    shire_registry::store::records::AccountRecord {
        username: username.into(),
        org: None,
        role: shire_core::wire::Role::Verifier,
        token_hash: "00".repeat(32),
        created_at: "2026-12-03T00:00:00Z".into(),
        disabled_at: None,
    }
}

/// A database restored from a backup, then written past the point where a
/// process stood by another process, is another history with the same
/// commit numbers: the process notices (each commit's mark differs) and
/// trusts none of the rows or search index it kept from the commits the
/// restore lost, nor the package names it kept for ids given again since.
#[tokio::test]
async fn a_restore_is_noticed_even_once_other_writes_carried_the_database_past_it() {
    let storage = shared_storage();
    let (c, other) = club_with_second_process(&storage).await;
    let found = |q: &str| found_in(&other, q);
    let bins = Release::new("braintree/bins", "1.0.0").description("Bin collection rounds");
    c.app.publish(&c.bt, &bins).await.ok(201);
    assert_eq!(found("collection"), ["braintree/bins"]);
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    back_up(&pool).await;

    // What the restore will lose: a package, which the second process's
    // search index takes in (and the name of its id), and an account the
    // second process wrote (its row cache holds it).
    let crm = Release::new("braintree/crm", "1.0.0").description("A crm for bin collection");
    c.app.publish(&c.bt, &crm).await.ok(201);
    assert_eq!(found("collection"), ["braintree/bins", "braintree/crm"]);
    other.create_account(&account("ghost")).unwrap();
    let lost_at = commit_sequence(&pool).await;

    restore(&pool).await;
    // The first process's writes carry the database past where the second
    // one stood, under the same numbers: a new package first, which takes
    // the id the lost one had.
    let parking = Release::new("braintree/parking", "1.0.0").description("Parking permits");
    c.app.publish(&c.bt, &parking).await.ok(201);
    let mut patch = 1;
    while commit_sequence(&pool).await <= lost_at {
        assert!(patch < 20, "the database never went past {lost_at}");
        let r = Release::new("braintree/bins", &format!("1.0.{patch}")).description("Bin rounds");
        c.app.publish(&c.bt, &r).await.ok(201);
        patch += 1;
    }

    // The second process, searching before it writes again: its index no
    // longer holds the lost package, holds the writes made since, and
    // names the reused id after the package that holds it now.
    assert_eq!(found("permits"), ["braintree/parking"]);
    assert!(found("crm").is_empty());
    assert!(found("collection").is_empty());
    assert_eq!(found("rounds"), ["braintree/bins"]);
    // The account the restore lost is not there, for the process that
    // wrote it too.
    other.create_account(&account("ghost")).unwrap();
    assert!(other.account("ghost").unwrap().is_some());
}

/// A process keeps a package's document while the database's document
/// generation is the one it kept it under. A restore sets the generation
/// back, and other processes' writes then move it on again: were it a
/// count, it would come back to that value with the document stale.
#[tokio::test]
async fn a_kept_document_is_not_served_after_a_restore() {
    let storage = shared_storage();
    let (c, other) = club_with_second_process(&storage).await;
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    let generation = || async {
        sqlx::query_scalar::<_, i64>("SELECT n FROM shire_generation WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    back_up(&pool).await;
    let crm = Release::new("braintree/crm", "1.0.0").description("A crm");
    c.app.publish(&c.bt, &crm).await.ok(201);
    for _ in 0..2 {
        c.app.get("/api/v1/packages/braintree/crm").await.ok(200);
    }
    let kept = generation().await;

    restore(&pool).await;
    // Writes by the second process only (the first one's own writes would
    // empty its cache anyway), each of which may change a document.
    for i in 0..10 {
        if generation().await == kept {
            break;
        }
        other
            .create_account(&account(&format!("clerk{i}")))
            .unwrap();
    }
    c.app
        .get("/api/v1/packages/braintree/crm")
        .await
        .refused(404, "package_not_found");
}

/// A keyword is whatever a publisher writes (up to 64 bytes): quotes,
/// backslashes and `tsvector` syntax come back from PostgreSQL as the same
/// term, under the keyword's weight, for every process's copy to index.
#[tokio::test]
async fn a_hostile_keyword_comes_back_from_postgresql_as_one_term() {
    let storage = shared_storage();
    let c = crate::club_with({
        let s = storage.clone();
        move |config| config.storage = Some(s)
    })
    .await;
    let hostile = r"it's \ 'x':1A & !b | c:* ''";
    let r = Release::new("braintree/crm", "1.0.0")
        .description("Quoted things")
        .keywords(&[hostile]);
    c.app.publish(&c.bt, &r).await.ok(201);
    let db = SharedDb::connect(&storage.postgres, 2).unwrap();
    let docs = db.search_documents_since(None).unwrap().docs;
    assert_eq!(docs.len(), 1);
    let (lexemes, labels) = &docs[0].1;
    let at = lexemes
        .iter()
        .position(|l| l == &hostile.to_lowercase())
        .unwrap_or_else(|| panic!("{hostile:?} not among {lexemes:?}"));
    assert_eq!(labels[at].as_deref(), Some("C"));
    assert!(lexemes.contains(&"quoted".to_string()));
    let body = c.app.get("/api/v1/search?q=quoted%20it").await;
    assert_eq!(body.ok(200)["total"], 1);
}

/// A club on `storage` whose node figures (the call count among them) are
/// refreshed at every scrape of `/metrics`.
async fn counted_club(storage: shire_registry::store::shared::SharedStorage) -> crate::Club {
    crate::club_with(move |config| {
        config.storage = Some(storage);
        config.node_figures_every = Duration::ZERO;
    })
    .await
}

/// The calls to PostgreSQL that `request` makes: counted between scrapes of
/// `/metrics` (which must refresh at every scrape), less what a scrape
/// itself costs. Background jobs only add calls, so the least of a few tries
/// is each one's own cost.
async fn calls_of<F: std::future::Future<Output = ()>>(
    app: &crate::helpers::TestApp,
    request: impl Fn() -> F,
) -> f64 {
    let calls = || crate::metrics::metric(app, "shire_postgres_calls_total", &[]);
    let (mut scrape, mut both) = (f64::MAX, f64::MAX);
    for _ in 0..10 {
        let a = calls().await;
        let b = calls().await;
        request().await;
        let d = calls().await;
        scrape = scrape.min(b - a);
        both = both.min(d - b);
    }
    both - scrape
}

/// A process remembers which account each token it has seen names, and
/// reads a known token with its account in one call to PostgreSQL. The
/// guess never stands in for what is stored: a token revoked, or an account
/// disabled, by another process is refused at once.
#[tokio::test]
async fn a_known_token_and_its_account_are_one_call_and_never_stale() {
    let storage = shared_storage();
    let c = counted_club(storage.clone()).await;
    let whoami = |token: String| {
        let app = &c.app;
        async move { app.get_as("/api/v1/whoami", &token).await }
    };
    assert_eq!(
        whoami(c.bt.token.clone()).await.ok(200)["username"],
        "bt-dev"
    );
    let one = || async {
        whoami(c.bt.token.clone()).await.ok(200);
    };
    assert_eq!(
        calls_of(&c.app, one).await,
        1.0,
        "per authenticated request"
    );

    let hash = shire_registry::auth::hash_token(&c.bt.token);

    // A second process of the node revokes the token and disables an
    // account; this one has read both and remembers what they named.
    let options = OpenOptions {
        shared: Some(storage),
        ..OpenOptions::default()
    };
    let other = second_process(&c, &options);
    assert_eq!(whoami(c.rev.token.clone()).await.status, 200);
    let id: String = hash.chars().take(16).collect();
    assert!(other.revoke_token(&id, |_| Ok(())).unwrap().is_some());
    assert_eq!(whoami(c.bt.token.clone()).await.status, 401, "revoked");
    let disabled = other.set_disabled("socitm-rev", Some("2026-12-03T00:00:00Z".into()));
    assert!(disabled.unwrap().is_some());
    assert_eq!(whoami(c.rev.token.clone()).await.status, 401, "disabled");
}

/// Every connection of a node plans each statement once, for good, never
/// as a sequential scan, and never compiles one: even where the database
/// compiles every statement by default (as PostgreSQL does those its
/// planner prices high, which a plan made for any parameter can be: a
/// search's catch-up spent 5 ms compiling a statement that runs in 0.05).
#[test]
fn connections_plan_for_good_and_never_compile() {
    let storage = shared_storage();
    let first = SharedDb::connect(&storage.postgres, 1).unwrap();
    drop(first);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = rt
        .block_on(sqlx::PgPool::connect(&storage.postgres))
        .unwrap();
    let db_name: String = rt
        .block_on(sqlx::query_scalar("SELECT current_database()").fetch_one(&pool))
        .unwrap();
    for setting in ["jit = on", "jit_above_cost = 0"] {
        rt.block_on(
            sqlx::raw_sql(&format!("ALTER DATABASE \"{db_name}\" SET {setting}")).execute(&pool),
        )
        .unwrap();
    }
    let db = SharedDb::connect(&storage.postgres, 2).unwrap();
    for (name, value) in [
        ("jit", "off"),
        ("plan_cache_mode", "force_generic_plan"),
        ("enable_seqscan", "off"),
    ] {
        assert_eq!(db.setting(name).unwrap(), value, "{name}");
    }
    assert_eq!(
        db.setting("jit_above_cost").unwrap(),
        "0",
        "the database's own"
    );
}

/// Every statement a node sends stays a probe of `shire_trees`' index
/// however the table grows after the node started on it nearly empty. Each
/// connection plans a statement once, for the table as it is then
/// (`SESSION_SETTINGS` in `store/shared.rs`): a lookup by a list of keys
/// planned on a few rows had become a hash join over the whole table, and
/// went on reading every row at 60,000. Here autovacuum is off for the
/// table, so nothing re-plans behind the node's back, and PostgreSQL's own
/// counters show what the node's statements read once the table grew: far
/// fewer rows by sequential scan, and far fewer index entries, than one
/// whole pass.
#[tokio::test]
async fn lookups_stay_index_probes_as_the_tables_grow_from_empty() {
    let storage = shared_storage();
    let c = counted_club(storage.clone()).await;
    let pool = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    // The planner's figures for the table: a few dozen rows, as autovacuum
    // leaves them early in a node's life, and never again.
    for sql in [
        "ALTER TABLE shire_trees SET (autovacuum_enabled = false)",
        "ANALYZE shire_trees",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Lookups by token (with its account), by key, by list of keys; a
    // publish and an approval (rows written and removed); a search.
    let work = || async {
        let patch = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let version = format!("1.0.{patch}");
        c.app.get_as("/api/v1/whoami", &c.bt.token).await.ok(200);
        let r = Release::new("braintree/crm", &version).description("case notes");
        c.app.publish(&c.bt, &r).await.ok(201);
        c.app
            .approve(&c.rev, "braintree/crm", &version)
            .await
            .ok(200);
        c.app.get("/api/v1/packages/braintree/crm").await.ok(200);
        c.app.get("/api/v1/search?q=case").await.ok(200);
    };
    // While the table is small: enough of each on every connection for
    // PostgreSQL to settle on its plans.
    for _ in 0..12 {
        work().await;
    }
    // The table grows: rows in the releases tree, under keys no package
    // has, so only a read that passes over the tree meets them.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL shire.sequenced = 'marked'")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO shire_trees (tree, key, value) \
         SELECT 6, convert_to('~' || i, 'UTF8'), '\\x00'::bytea \
         FROM generate_series(1, 60000) i",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Rows sequential scans read, index scans, and index entries those
    // returned. (Rows, not scans: a backend idle since the migrations may
    // report their scan of the empty table seconds later, within the work.)
    let counters = || async {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT t.seq_tup_read, coalesce(t.idx_scan, 0), i.idx_tup_read \
             FROM pg_stat_user_tables t JOIN pg_stat_user_indexes i USING (relid) \
             WHERE t.relname = 'shire_trees' AND i.indexrelname = 'shire_trees_pkey'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    // Backends report their counters when idle, within seconds: wait for
    // the growth's own to show, then for the probes of the work.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = counters().await;
    let rounds = 8;
    for _ in 0..rounds {
        work().await;
    }
    let mut seen = before;
    for _ in 0..150 {
        seen = counters().await;
        if seen.1 >= before.1 + rounds {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen.1 >= before.1 + rounds,
        "the work probed the index {} times",
        seen.1 - before.1
    );
    assert!(
        seen.0 - before.0 < 60_000,
        "sequential scans read {} rows: a whole pass over the table",
        seen.0 - before.0
    );
    assert!(
        seen.2 - before.2 < 60_000,
        "{} rounds of work read {} index entries: a whole pass over the index",
        rounds,
        seen.2 - before.2
    );
}

/// A publish, upload and submit, costs this many calls to PostgreSQL once
/// the process has seen its package and its publisher: the upload's token
/// with the artifact's takedown tombstone, and the tombstone again once the
/// bytes are stored; the submit's token with its signing key, the
/// tombstone and the release's record; then the write: its begin under the
/// sequencer lock, and its rows with its commit. The write reads nothing
/// under the lock: the rest of what it reads the process kept, the
/// release's record from the early check.
#[tokio::test]
async fn a_publish_costs_five_calls_to_postgresql() {
    let c = counted_club(shared_storage()).await;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let publish = || async {
        let patch = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let r = Release::new("braintree/crm", &format!("1.0.{patch}"));
        c.app.publish(&c.bt, &r).await.ok(201);
    };
    publish().await;
    assert_eq!(calls_of(&c.app, publish).await, 5.0, "per publish");
}
