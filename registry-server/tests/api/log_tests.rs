//! The transparency log over HTTP: checkpoints opened with the node key, every
//! entry's inclusion proof, consistency proofs between many sizes, tiles that
//! authenticate against the checkpoint, key revocation, refused requests that
//! append nothing, restarts, and a store altered on disk (hashes refused at
//! startup; an altered entry served but not hidden in the root).

use crate::helpers::{Release, TestApp};
use crate::{club, club_with};
use shire_core::event::LogEvent;
use shire_tlog::{leaf_hash, verify_consistency, verify_inclusion, MemoryLog};

fn kinds(entries: &[Vec<u8>]) -> Vec<&'static str> {
    entries
        .iter()
        .map(|e| match LogEvent::from_bytes(e).unwrap() {
            LogEvent::OrgCreated { .. } => "org_created",
            LogEvent::KeyRegistered { .. } => "key_registered",
            LogEvent::KeyRevoked { .. } => "key_revoked",
            LogEvent::Release { .. } => "release",
            LogEvent::Verdict { .. } => "verdict",
            LogEvent::Yank { .. } => "yank",
            LogEvent::Unyank { .. } => "unyank",
            LogEvent::Takedown { .. } => "takedown",
            LogEvent::Adoption { .. } => "adoption",
            LogEvent::Support { .. } => "support",
        })
        .collect()
}

/// Checks every inclusion proof and the consistency proof from every smaller
/// size against the checkpoint, with roots recomputed independently from the
/// served entries.
async fn check_all_proofs(app: &TestApp) {
    let cp = app.checkpoint().await;
    let n = cp.size();
    let entries = app.log_entries(0, n).await;
    assert_eq!(entries.len() as u64, n);
    let memory = MemoryLog::from_entries(&entries).unwrap();
    assert_eq!(memory.root().unwrap(), cp.root(), "root from the entries");
    for (i, e) in entries.iter().enumerate() {
        let p = app
            .get(&format!("/api/v1/log/proof/inclusion?index={i}&size={n}"))
            .await;
        let hashes = TestApp::proof_hashes(p.ok(200));
        verify_inclusion(&hashes, i as u64, n, &cp.root(), &leaf_hash(e))
            .unwrap_or_else(|err| panic!("entry {i}: {err}"));
    }
    for m in 0..=n {
        let p = app
            .get(&format!("/api/v1/log/proof/consistency?from={m}&size={n}"))
            .await;
        let hashes = TestApp::proof_hashes(p.ok(200));
        verify_consistency(&hashes, m, &memory.root_at(m).unwrap(), n, &cp.root())
            .unwrap_or_else(|err| panic!("{m} -> {n}: {err}"));
        // And between smaller pairs too.
        let k = m / 2;
        let p = app
            .get(&format!("/api/v1/log/proof/consistency?from={k}&size={m}"))
            .await;
        let hashes = TestApp::proof_hashes(p.ok(200));
        verify_consistency(
            &hashes,
            k,
            &memory.root_at(k).unwrap(),
            m,
            &memory.root_at(m).unwrap(),
        )
        .unwrap_or_else(|err| panic!("{k} -> {m}: {err}"));
    }
}

#[tokio::test]
async fn every_event_is_logged_in_order_and_proven_against_the_signed_checkpoint() {
    let c = club().await;
    let empty_before = c.app.checkpoint().await;
    // 3 organisations and 3 keys so far (accounts are not events).
    assert_eq!(empty_before.size(), 6);
    let r = Release::new("braintree/crm", "1.0.0");
    let v = c.app.publish(&c.bt, &r).await;
    assert_eq!(v.ok(201)["log_index"], 6);
    let approved = c.app.approve(&c.rev, "braintree/crm", "1.0.0").await;
    assert_eq!(approved.ok(200)["verdicts"][0]["log_index"], 7);
    c.app
        .post(
            "/api/v1/packages/braintree/crm/1.0.0/yank",
            &c.bt.token,
            serde_json::json!({"reason": "broken build"}),
        )
        .await
        .ok(200);
    c.app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/packages/braintree/crm/1.0.0/yank",
            Some(&c.bt.token),
            None,
        )
        .await
        .ok(200);
    c.app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", c.kent.key.key_id()),
            Some(&c.kent.token),
            None,
        )
        .await
        .ok(200);

    let cp = c.app.checkpoint().await;
    assert_eq!(cp.size(), 11, "one entry per event");
    let entries = c.app.log_entries(0, 100).await;
    assert_eq!(
        kinds(&entries),
        [
            "org_created",
            "org_created",
            "org_created",
            "key_registered",
            "key_registered",
            "key_registered",
            "release",
            "verdict",
            "yank",
            "unyank",
            "key_revoked"
        ]
    );
    match LogEvent::from_bytes(&entries[6]).unwrap() {
        LogEvent::Release { envelope, .. } => assert_eq!(envelope, r.sign(&c.bt.key)),
        other => panic!("{other:?}"),
    }
    check_all_proofs(&c.app).await;
    // The old checkpoint is a prefix of the new one.
    let p = c
        .app
        .get(&format!(
            "/api/v1/log/proof/consistency?from={}&size={}",
            empty_before.size(),
            cp.size()
        ))
        .await;
    verify_consistency(
        &TestApp::proof_hashes(p.ok(200)),
        empty_before.size(),
        &empty_before.root(),
        cp.size(),
        &cp.root(),
    )
    .unwrap();
    // The tiles view is the same checkpoint, never cached.
    let (status, headers, body) = c.app.get_bytes("/checkpoint").await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), cp.note());
    assert_eq!(headers["cache-control"], "no-cache");
    let (_, headers, _) = c.app.get_bytes("/api/v1/log/checkpoint").await;
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    // Partial tiles of this tree: leaf hashes and the entry bundle.
    let (status, headers, tile) = c.app.get_bytes("/tile/0/000.p/11").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/octet-stream");
    let leaves: Vec<u8> = entries.iter().flat_map(|e| leaf_hash(e).0).collect();
    assert_eq!(tile, leaves);
    let (_, _, bundle) = c.app.get_bytes("/tile/entries/000.p/11").await;
    assert_eq!(shire_tlog::decode_entry_bundle(&bundle).unwrap(), entries);
    // Beyond the tree, or not a tile path.
    for path in ["/tile/0/000", "/tile/0/000.p/12", "/tile/entries/001.p/1"] {
        let a = c.app.get(path).await;
        a.refused(404, "tile_not_found");
    }
    c.app.get("/tile/0/0").await.refused(400, "bad_path");
}

#[tokio::test]
async fn full_tiles_are_immutable_and_authenticate_against_the_checkpoint() {
    let app = TestApp::spawn_with(|_| {}).await;
    for i in 0..300 {
        app.create_org(&format!("council{i}")).await;
    }
    let cp = app.checkpoint().await;
    assert_eq!(cp.size(), 300);
    let entries = app.log_entries(0, 300).await;
    let memory = MemoryLog::from_entries(&entries).unwrap();
    assert_eq!(memory.root().unwrap(), cp.root());
    let (status, headers, tile) = app.get_bytes("/tile/0/000").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let leaves: Vec<u8> = entries[..256].iter().flat_map(|e| leaf_hash(e).0).collect();
    assert_eq!(tile, leaves);
    // Level 1 holds the root of the first 256 entries.
    let (_, _, level1) = app.get_bytes("/tile/1/000.p/1").await;
    assert_eq!(level1, memory.root_at(256).unwrap().0.to_vec());
    // The rest of the leaves, and the tree the tiles describe is the signed one.
    let (_, _, rest) = app.get_bytes("/tile/0/001.p/44").await;
    let mut all = tile.clone();
    all.extend(rest);
    let from_tiles: Vec<shire_tlog::Hash> = all
        .chunks(32)
        .map(|c| shire_tlog::Hash::from_slice(c).unwrap())
        .collect();
    assert_eq!(from_tiles.len(), 300);
    assert_eq!(root_of_leaves(&from_tiles), cp.root());
    let (_, _, bundle) = app.get_bytes("/tile/entries/000").await;
    assert_eq!(
        shire_tlog::decode_entry_bundle(&bundle).unwrap(),
        entries[..256]
    );
    // The entries endpoint pages at 1000 and stops at the size.
    assert_eq!(app.log_entries(250, 5000).await.len(), 50);
    assert!(app.log_entries(300, 400).await.is_empty());
}

/// RFC 6962 root computed straight from leaf hashes (an independent check).
fn root_of_leaves(leaves: &[shire_tlog::Hash]) -> shire_tlog::Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let k = leaves.len().next_power_of_two() / 2;
    shire_tlog::node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
}

#[tokio::test]
async fn bad_log_queries_are_refused() {
    let c = club().await;
    let n = c.app.checkpoint().await.size();
    for path in [
        "/api/v1/log/entries?start=5&end=2".to_string(),
        "/api/v1/log/entries?start=x&end=2".to_string(),
        "/api/v1/log/entries?start=1".to_string(),
        format!("/api/v1/log/proof/inclusion?index={n}&size={n}"),
        format!("/api/v1/log/proof/inclusion?index=0&size={}", n + 1),
        "/api/v1/log/proof/inclusion?index=0&size=0".to_string(),
        "/api/v1/log/proof/consistency?from=3&size=2".to_string(),
        format!("/api/v1/log/proof/consistency?from=1&size={}", n + 1),
        "/api/v1/log/proof/consistency?from=-1&size=2".to_string(),
    ] {
        c.app.get(&path).await.refused(400, "bad_query");
    }
    let empty = c
        .app
        .get(&format!("/api/v1/log/proof/consistency?from=0&size={n}"))
        .await;
    assert!(TestApp::proof_hashes(empty.ok(200)).is_empty());
}

#[tokio::test]
async fn a_revoked_key_signs_nothing_more_and_refusals_append_nothing() {
    let c = club().await;
    let key_path = format!("/api/v1/keys/{}", c.bt.key.key_id());
    // Another account may not revoke bt's key.
    c.app
        .send(
            reqwest::Method::DELETE,
            &key_path,
            Some(&c.kent.token),
            None,
        )
        .await
        .refused(403, "key_not_yours");
    c.app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/keys/0000000000000000000000000000000000000000000000000000000000000000",
            Some(&c.bt.token),
            None,
        )
        .await
        .refused(404, "key_not_found");
    let before = c.app.checkpoint().await.size();
    let revoked = c
        .app
        .send(reqwest::Method::DELETE, &key_path, Some(&c.bt.token), None)
        .await;
    let revoked_at = revoked.ok(200)["revoked_at"].as_str().unwrap().to_string();
    assert_eq!(c.app.get(&key_path).await.ok(200)["revoked_at"], revoked_at);
    assert_eq!(c.app.checkpoint().await.size(), before + 1);
    // Revoking again logs nothing.
    c.app
        .send(reqwest::Method::DELETE, &key_path, Some(&c.app.admin), None)
        .await
        .ok(200);
    let cp = c.app.checkpoint().await;
    assert_eq!(cp.size(), before + 1);

    // The attack: publishing with the revoked key.
    let snapshot = c.app.snapshot();
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .refused(403, "key_revoked");
    // Registering it again does not un-revoke it: a revoked key is never
    // registered again.
    c.app
        .register_key(&c.bt.token, &c.bt.key, "bt-dev", "braintree", "publisher")
        .await
        .refused(409, "key_taken");
    let shown = c
        .app
        .get(&format!("/api/v1/keys/{}", c.bt.key.key_id()))
        .await;
    assert_eq!(shown.ok(200)["revoked_at"], revoked_at);
    // The upload itself is stored (blobs are not events); nothing else is.
    let after = c.app.snapshot();
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| snapshot.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.iter().all(|k| k.contains("blobs")),
        "only the blob changed: {changed:?}"
    );
    assert_eq!(c.app.checkpoint().await, cp);

    // A verifier's revoked key cannot judge either.
    let r = Release::new("kent/bins", "1.0.0");
    c.app.publish(&c.kent, &r).await.ok(201);
    c.app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", c.rev.key.key_id()),
            Some(&c.app.admin),
            None,
        )
        .await
        .ok(200);
    let size = c.app.checkpoint().await.size();
    c.app
        .approve(&c.rev, "kent/bins", "1.0.0")
        .await
        .refused(403, "key_revoked");
    assert_eq!(c.app.state("kent/bins", "1.0.0").await, "pending");
    // An entry too large for the log: refused, nothing stored.
    let snapshot = c.app.snapshot();
    c.app
        .post(
            "/api/v1/packages/kent/bins/1.0.0/yank",
            &c.kent.token,
            serde_json::json!({"reason": "x".repeat(70_000)}),
        )
        .await
        .refused(400, "entry_too_large");
    assert_eq!(snapshot, c.app.snapshot());
    assert_eq!(c.app.checkpoint().await.size(), size);
}

#[tokio::test]
async fn a_restart_keeps_the_log_intact() {
    let mut c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let before = c.app.checkpoint().await;
    c.app.restart().await;
    let after = c.app.checkpoint().await;
    assert_eq!((after.size(), after.root()), (before.size(), before.root()));
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.1"))
        .await
        .ok(201);
    let grown = c.app.checkpoint().await;
    assert_eq!(grown.size(), before.size() + 1);
    check_all_proofs(&c.app).await;
}

#[tokio::test]
async fn the_node_refuses_to_start_on_tampered_log_hashes() {
    if crate::SHARED {
        return; // edits sled files; a shared node's rows are PostgreSQL's to guard
    }
    for tamper in ["leaf", "extra", "missing"] {
        let mut c = club_with(|_| {}).await;
        c.app.stop().await;
        {
            let db = c.app.open_raw_db();
            let hashes = db.open_tree("log_hashes").unwrap();
            let last_leaf = shire_tlog::stored_hash_index(0, 5);
            let count = shire_tlog::stored_hash_count(6);
            match tamper {
                "leaf" => {
                    hashes
                        .insert(last_leaf.to_be_bytes(), vec![1u8; 32])
                        .unwrap();
                }
                "extra" => {
                    hashes.insert(count.to_be_bytes(), vec![1u8; 32]).unwrap();
                }
                _ => {
                    hashes.remove(last_leaf.to_be_bytes()).unwrap();
                }
            }
            db.flush().unwrap();
        }
        let Err(err) = c.app.try_start().await else {
            panic!("{tamper}: the node started on a tampered log");
        };
        let text = format!("{err:#}");
        assert!(
            text.contains("transparency log") && text.contains("damaged"),
            "{tamper}: {text}"
        );
    }
}

#[tokio::test]
async fn an_entry_altered_on_disk_is_served_altered_but_the_root_does_not_follow() {
    if crate::SHARED {
        return; // edits sled files
    }
    let mut c = club().await;
    let before = c.app.checkpoint().await;
    let original = c.app.log_entries(1, 2).await.remove(0);
    c.app.stop().await;
    let forged = LogEvent::OrgCreated {
        org: shire_core::OrgName::parse("forged").unwrap(),
        at: "2026-01-01T00:00:00Z".into(),
    }
    .to_bytes();
    {
        let db = c.app.open_raw_db();
        db.open_tree("log_entries")
            .unwrap()
            .insert(1u64.to_be_bytes(), forged.clone())
            .unwrap();
        db.flush().unwrap();
    }
    c.app.try_start().await.unwrap();
    let served = c.app.log_entries(1, 2).await.remove(0);
    assert_eq!(served, forged);
    assert_ne!(served, original);
    let after = c.app.checkpoint().await;
    assert_eq!((after.size(), after.root()), (before.size(), before.root()));
    // What a client checking the entry finds: it is not the one in the tree.
    let p = c
        .app
        .get(&format!(
            "/api/v1/log/proof/inclusion?index=1&size={}",
            after.size()
        ))
        .await;
    let hashes = TestApp::proof_hashes(p.ok(200));
    assert!(
        verify_inclusion(&hashes, 1, after.size(), &after.root(), &leaf_hash(&served)).is_err()
    );
    verify_inclusion(
        &hashes,
        1,
        after.size(),
        &after.root(),
        &leaf_hash(&original),
    )
    .unwrap();
    let all = c.app.log_entries(0, after.size()).await;
    assert_ne!(
        MemoryLog::from_entries(&all).unwrap().root().unwrap(),
        after.root()
    );
}

/// Group commit: whatever index a concurrent publish is acknowledged with is
/// already inside the checkpoint served right after, with a proof.
#[tokio::test]
async fn every_acknowledged_log_index_is_in_the_next_checkpoint() {
    let c = club().await;
    let releases: Vec<Release> = (0..12)
        .map(|i| Release::new(&format!("braintree/app{i}"), "1.0.0"))
        .collect();
    for r in &releases {
        c.app
            .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
            .await
            .ok(201);
    }
    let checks = releases.iter().map(|r| async {
        let a = c.app.submit(&c.bt.token, r.sign(&c.bt.key)).await;
        let index = a.ok(201)["log_index"].as_u64().unwrap();
        let cp = c.app.checkpoint().await;
        assert!(index < cp.size(), "entry {index} outside {}", cp.size());
        let p = c
            .app
            .get(&format!(
                "/api/v1/log/proof/inclusion?index={index}&size={}",
                cp.size()
            ))
            .await;
        let entry = c.app.log_entries(index, index + 1).await.remove(0);
        verify_inclusion(
            &TestApp::proof_hashes(p.ok(200)),
            index,
            cp.size(),
            &cp.root(),
            &leaf_hash(&entry),
        )
        .unwrap();
    });
    futures_util::future::join_all(checks).await;
    check_all_proofs(&c.app).await;
}
