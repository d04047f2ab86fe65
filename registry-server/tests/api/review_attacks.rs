//! The security review's attacks on a node (issue 11), one test each, named
//! after the attack: each performs it through the HTTP API, sees it refused
//! and checks that nothing stored changed.

use super::{club, club_with, Club};
use crate::helpers::{key_proof, Release};
use shire_core::archive::testing::{bomb, build, chained_links, BombKind, Item};
use shire_core::statement::Verdict;
use shire_core::KeyPair;

/// Uploads `r`'s archive, then returns the stored state before publishing
/// (the upload itself stores a blob: blobs are not events).
async fn uploaded(c: &Club, r: &Release) -> std::collections::BTreeMap<String, Vec<u8>> {
    let up = c
        .app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await;
    assert!(up.status.is_success(), "{}", up.body);
    c.app.snapshot()
}

#[tokio::test]
async fn chained_symlinks_escape_the_install_folder() {
    let c = club().await;
    let mut r = Release::new("braintree/links", "1.0.0");
    r.archive = chained_links();
    let before = uploaded(&c, &r).await;
    let a = c.app.submit(&c.bt.token, r.sign(&c.bt.key)).await;
    a.refused(400, "bad_archive");
    let m = a.body["error"]["message"].as_str().unwrap();
    assert!(m.contains("\"up1\"") && m.contains("up0/.."), "{m}");
    assert_eq!(c.app.snapshot(), before);
}

#[tokio::test]
async fn memory_bomb_in_tar_extension_headers() {
    let c = club().await;
    for (kind, zeros, version) in [
        (BombKind::LongName, 1u64 << 30, "1.0.0"),
        (BombKind::Pax, 1 << 30, "1.0.1"),
        (BombKind::DirectoryData, 4 << 30, "1.0.2"),
    ] {
        let mut r = Release::new("braintree/bomb", version);
        r.archive = bomb(kind, zeros);
        assert!(r.archive.len() < 5 << 20, "{kind:?}: a small upload");
        let before = uploaded(&c, &r).await;
        let a = c.app.submit(&c.bt.token, r.sign(&c.bt.key)).await;
        a.refused(400, "bad_archive");
        let body = serde_json::to_string(&a.body).unwrap();
        assert!(
            body.len() < 1024,
            "{kind:?}: the error echoes no input: {body}"
        );
        assert_eq!(c.app.snapshot(), before, "{kind:?}");
    }
}

#[tokio::test]
async fn build_metadata_makes_two_releases_of_one_version() {
    let c = club().await;
    let good = Release::new("braintree/x", "2.0.0+good");
    c.app.publish(&c.bt, &good).await.ok(201);
    let other = Release::new("braintree/x", "2.0.0+other").archive(&[Item::File("other", b"o")]);
    let before = uploaded(&c, &other).await;
    c.app
        .submit(&c.bt.token, other.sign(&c.bt.key))
        .await
        .refused(409, "version_exists");
    assert_eq!(c.app.snapshot(), before);
    // Whatever build metadata is asked for, the one release answers.
    for asked in ["2.0.0", "2.0.0+good", "2.0.0+other"] {
        let v = c
            .app
            .get(&format!("/api/v1/packages/braintree/x/{asked}"))
            .await;
        assert_eq!(v.ok(200)["digest"], good.digest().to_string(), "{asked}");
        assert_eq!(v.body["version"], "2.0.0+good");
    }
    let doc = c.app.get("/api/v1/packages/braintree/x").await;
    assert_eq!(doc.ok(200)["versions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_node_threshold_counts_keys_not_verifiers() {
    let c = club_with(|cfg| cfg.threshold = 2).await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let s = c.app.subject("braintree/crm", "1.0.0").await;
    // socitm-rev registers a second key of its own, and approves with both.
    let second = KeyPair::generate();
    c.app
        .register_key(&c.rev.token, &second, "socitm-rev", "socitm", "verifier")
        .await
        .ok(201);
    let first = c.app.approve(&c.rev, "braintree/crm", "1.0.0").await;
    assert_eq!(first.ok(200)["state"], "pending");
    // The second key's approval is logged (a reader trusting only that key
    // must see it), but the state counts one verifier.
    let again = c
        .app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.0",
            &c.app.sign_verdict(&second, Verdict::Approve, &s, None),
        )
        .await;
    assert_eq!(
        again.ok(200)["state"],
        "pending",
        "one verifier, two keys: one approval"
    );
    assert_eq!(again.body["verdicts"].as_array().unwrap().len(), 2);
    // Another verifier account makes the second.
    let kent_rev = c.app.actor("kent-rev", "kent", "verifier").await;
    let a = c.app.approve(&kent_rev, "braintree/crm", "1.0.0").await;
    assert_eq!(a.ok(200)["state"], "approved");
}

#[tokio::test]
async fn key_registration_without_proof_of_possession() {
    let c = club().await;
    let bt_rev = c.app.actor("bt-rev", "braintree", "verifier").await;
    // socitm's verifier holds a key it has not registered yet.
    let socitm_key = KeyPair::generate();
    let socitm = c.app.actor("socitm-lead", "socitm", "verifier").await;
    let before = c.app.snapshot();
    let size = c.app.checkpoint().await.size();
    // 1. braintree's verifier registers it, proving with its own key.
    let forged = key_proof(
        &socitm_key,
        &bt_rev.key,
        "bt-rev",
        "braintree",
        "verifier",
        &c.app.log_name,
    );
    c.app
        .post(
            "/api/v1/keys",
            &bt_rev.token,
            serde_json::json!({"public_key": socitm_key.public().to_string(), "proof": forged}),
        )
        .await
        .refused(400, "bad_proof");
    // 2. ... with no proof at all.
    let bare = c
        .app
        .post(
            "/api/v1/keys",
            &bt_rev.token,
            serde_json::json!({"public_key": socitm_key.public().to_string()}),
        )
        .await;
    assert_eq!(bare.status.as_u16(), 400, "{}", bare.body);
    // 3. ... replaying a genuine statement the key made for socitm's account.
    let genuine = key_proof(
        &socitm_key,
        &socitm_key,
        "socitm-lead",
        "socitm",
        "verifier",
        &c.app.log_name,
    );
    c.app
        .post(
            "/api/v1/keys",
            &bt_rev.token,
            serde_json::json!({"public_key": socitm_key.public().to_string(), "proof": genuine}),
        )
        .await
        .refused(400, "bad_proof");
    // 4. ... a genuine statement made for another node.
    let elsewhere = key_proof(
        &socitm_key,
        &socitm_key,
        "bt-rev",
        "braintree",
        "verifier",
        "other.example",
    );
    c.app
        .post(
            "/api/v1/keys",
            &bt_rev.token,
            serde_json::json!({"public_key": socitm_key.public().to_string(), "proof": elsewhere}),
        )
        .await
        .refused(400, "bad_proof");
    assert_eq!(c.app.snapshot(), before);
    assert_eq!(c.app.checkpoint().await.size(), size);
    // The real owner is not locked out.
    c.app
        .register_key(
            &socitm.token,
            &socitm_key,
            "socitm-lead",
            "socitm",
            "verifier",
        )
        .await
        .ok(201);
    // The attacker can neither revoke it nor sign with it.
    c.app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", socitm_key.key_id()),
            Some(&bt_rev.token),
            None,
        )
        .await
        .refused(403, "key_not_yours");
    c.app
        .publish(&c.kent, &Release::new("kent/bins", "1.0.0"))
        .await
        .ok(201);
    let s = c.app.subject("kent/bins", "1.0.0").await;
    let before = c.app.snapshot();
    c.app
        .verdict(
            &bt_rev,
            "kent/bins",
            "1.0.0",
            &c.app.sign_verdict(&socitm_key, Verdict::Approve, &s, None),
        )
        .await
        .refused(403, "key_not_yours");
    assert_eq!(c.app.snapshot(), before);
}

#[tokio::test]
async fn a_verdict_given_on_another_node_is_not_replayed_here() {
    // Socitm approved braintree/crm@1.0.0 on another node (perhaps one that
    // took this node's origin name): the same subject here, its approval
    // copied over, is refused, because the approval names that other log.
    let c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let s = c.app.subject("braintree/crm", "1.0.0").await;
    let elsewhere = format!("{}+0badc0de+AQ", c.app.origin);
    let copied =
        shire_core::statement::VerdictStatement::new(Verdict::Approve, s, &elsewhere, None, 1)
            .sign(&c.rev.key);
    let before = c.app.snapshot();
    c.app
        .verdict(&c.rev, "braintree/crm", "1.0.0", &copied)
        .await
        .refused(400, "wrong_log");
    assert_eq!(c.app.snapshot(), before);
    assert_eq!(c.app.state("braintree/crm", "1.0.0").await, "pending");
}

#[tokio::test]
async fn replayed_approval_is_logged_once() {
    let c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let s = c.app.subject("braintree/crm", "1.0.0").await;
    let env = c
        .app
        .sign_verdict(&c.rev.key, Verdict::Approve, &s, Some("reviewed"));
    let first = c.app.verdict(&c.rev, "braintree/crm", "1.0.0", &env).await;
    let first = first.ok(200).clone();
    let before = c.app.snapshot();
    let size = c.app.checkpoint().await.size();
    let again = c.app.verdict(&c.rev, "braintree/crm", "1.0.0", &env).await;
    assert_eq!(again.ok(200), &first, "the same answer");
    assert_eq!(c.app.checkpoint().await.size(), size, "no new entry");
    assert_eq!(c.app.snapshot(), before);
}

#[tokio::test]
async fn concurrent_uploads_of_one_small_blob() {
    let c = club().await;
    let archive = build(&[Item::File("README", b"uploaded eight times at once")]);
    let digest = shire_core::Digest::of(&archive);
    let uploads: Vec<_> = (0..8)
        .map(|_| c.app.upload_as(&c.bt.token, &digest, archive.clone()))
        .collect();
    let answers = futures_util::future::join_all(uploads).await;
    let created = answers.iter().filter(|a| a.status.as_u16() == 201).count();
    assert!(answers.iter().all(|a| a.status.is_success()));
    assert_eq!(
        created, 1,
        "one upload stored it; the others found it stored"
    );
    if crate::SHARED {
        let stored = c.app.store().blobs.dump().unwrap();
        assert_eq!(stored.len(), 1, "one object in the bucket");
        assert_eq!(stored.values().next().unwrap(), &archive);
        return;
    }
    // The packs hold one record of it: magic, length, digest, bytes.
    let packed: u64 = std::fs::read_dir(c.app.dir.path().join("blobs/packs"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(packed, 4 + 8 + 32 + archive.len() as u64);
}
