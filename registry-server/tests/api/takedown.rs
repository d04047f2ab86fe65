//! Takedowns (issue 13): the node's admin takes a leaked artifact down; its
//! bytes leave the disk, every download and re-upload answers 410 with the
//! reason, and the log stays verifiable.

use super::club;
use crate::helpers::Release;
use shire_core::archive::testing::{noise, Item};
use std::path::Path;

/// Whether any file under `dir` holds `needle`.
fn anywhere(dir: &Path, needle: &[u8]) -> bool {
    fn go(d: &Path, needle: &[u8]) -> bool {
        std::fs::read_dir(d).unwrap().flatten().any(|e| {
            let p = e.path();
            if p.is_dir() {
                go(&p, needle)
            } else {
                std::fs::read(&p)
                    .map(|b| b.windows(needle.len()).any(|w| w == needle))
                    .unwrap_or(false)
            }
        })
    }
    go(dir, needle)
}

#[tokio::test]
async fn a_takedown_erases_the_bytes_and_answers_410_with_the_reason() {
    let mut c = club().await;
    // A small artifact (packed) and a large one (a file of its own), each
    // with a leaked secret.
    let small = Release::new("braintree/crm", "1.0.0").archive(&[
        Item::File(".env", b"DB_PASSWORD=hunter2"),
        Item::File("main.py", b"print(1)"),
    ]);
    let big_bytes = noise(400 * 1024);
    let big = Release::new("braintree/crm", "1.1.0").archive(&[
        Item::File(".env", b"DB_PASSWORD=hunter3"),
        Item::File("data.bin", &big_bytes),
    ]);
    let keep = Release::new("braintree/crm", "1.2.0");
    for r in [&small, &big, &keep] {
        c.app.publish(&c.bt, r).await.ok(201);
    }
    let admin = c.app.admin.clone();
    let path = |v: &str| format!("/api/v1/packages/braintree/crm/{v}/takedown");
    let reason = serde_json::json!({ "reason": "leaked a database password" });

    // Only the admin, and only with a reason.
    let before = c.app.snapshot();
    c.app
        .post(&path("1.0.0"), &c.bt.token, reason.clone())
        .await
        .refused(403, "not_admin");
    c.app
        .post(&path("1.0.0"), &admin, serde_json::json!({ "reason": " " }))
        .await
        .refused(400, "missing_reason");
    c.app
        .post(&path("9.9.9"), &admin, reason.clone())
        .await
        .refused(404, "version_not_found");
    assert_eq!(before, c.app.snapshot());

    for (r, v) in [(&small, "1.0.0"), (&big, "1.1.0")] {
        let digest = r.digest();
        let middle = &r.archive[r.archive.len() / 2..r.archive.len() / 2 + 32];
        assert!(anywhere(c.app.dir.path(), middle));
        let done = c.app.post(&path(v), &admin, reason.clone()).await;
        assert_eq!(
            done.ok(200)["taken_down"]["reason"],
            "leaked a database password"
        );
        // The bytes are nowhere on the node's disk.
        assert!(!c.app.blob_stored(&digest));
        assert!(
            !anywhere(c.app.dir.path(), middle),
            "{v}: bytes still on disk"
        );
        // Downloads and re-uploads answer 410 with the reason.
        let got = c.app.get(&format!("/api/v1/artifacts/{digest}")).await;
        got.refused(410, "taken_down");
        assert!(got.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("leaked a database password"));
        c.app
            .upload_as(&c.bt.token, &digest, r.archive.clone())
            .await
            .refused(410, "taken_down");
        assert!(!c.app.blob_stored(&digest));
        // Once only.
        c.app
            .post(&path(v), &admin, reason.clone())
            .await
            .refused(409, "invalid_transition");
    }
    // A new release over taken-down bytes is refused too.
    let again = Release::new("braintree/crm", "1.3.0").archive(&[
        Item::File(".env", b"DB_PASSWORD=hunter2"),
        Item::File("main.py", b"print(1)"),
    ]);
    assert_eq!(again.digest(), small.digest());
    c.app
        .submit(&c.bt.token, again.sign(&c.bt.key))
        .await
        .refused(410, "taken_down");
    // The other release is untouched; the package document shows the takedown.
    c.app
        .get(&format!("/api/v1/artifacts/{}", keep.digest()))
        .await
        .ok(200);
    let v = c.app.get("/api/v1/packages/braintree/crm/1.0.0").await;
    assert_eq!(v.ok(200)["taken_down"]["by"], "admin");

    // After a restart: still gone, still 410, and every pack still reads.
    c.app.restart().await;
    assert!(!c.app.blob_stored(&small.digest()));
    c.app
        .get(&format!("/api/v1/artifacts/{}", small.digest()))
        .await
        .refused(410, "taken_down");
    c.app
        .get(&format!("/api/v1/artifacts/{}", keep.digest()))
        .await
        .ok(200);
    assert_eq!(crate::helpers::check_consistency(c.app.store()).len(), 3);
}

/// Bytes two releases share are not erased by taking down one of them.
#[tokio::test]
async fn a_takedown_never_erases_another_releases_bytes() {
    let c = club().await;
    let items = [Item::File("main.py", b"print('shared')")];
    let theirs = Release::new("braintree/crm", "1.0.0").archive(&items);
    let copy = Release::new("kent/bins", "1.0.0").archive(&items);
    assert_eq!(theirs.digest(), copy.digest());
    c.app.publish(&c.bt, &theirs).await.ok(201);
    c.app.publish(&c.kent, &copy).await.ok(201);
    let before = c.app.snapshot();
    let refused = c
        .app
        .post(
            "/api/v1/packages/kent/bins/1.0.0/takedown",
            &c.app.admin,
            serde_json::json!({ "reason": "spite" }),
        )
        .await;
    refused.refused(409, "invalid_transition");
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("braintree/crm@1.0.0"));
    assert_eq!(c.app.snapshot(), before);
    assert!(c.app.blob_stored(&theirs.digest()));
}

/// A takedown that commits after a publish of the same bytes was checked
/// (the route's early answer, all clear) and before its write is seen by
/// the write, under the sequencer lock: the release is refused (410, with
/// the reason) and nothing is stored.
#[tokio::test]
async fn a_takedown_landing_between_a_publish_check_and_its_write_refuses_it() {
    let c = club().await;
    let items = [Item::File("main.py", b"print('a leaked secret')")];
    let first = Release::new("braintree/crm", "1.0.0").archive(&items);
    let again = Release::new("braintree/crm", "2.0.0").archive(&items);
    let digest = first.digest();
    assert_eq!(digest, again.digest(), "one artifact");
    c.app.publish(&c.bt, &first).await.ok(201);

    // The second publish's early check, as the route makes it.
    let store = c.app.store();
    let (event, reads) = again.checked_early(store, &c.bt);
    assert!(matches!(reads.takedown_of(&digest), Some(None)));
    let (size, files) = store.blobs.inspect(&digest, &Default::default()).unwrap();

    // Meanwhile the operator takes the first release down.
    let path = "/api/v1/packages/braintree/crm/1.0.0/takedown";
    let reason = serde_json::json!({ "reason": "leaked a database password" });
    c.app.post(path, &c.app.admin, reason).await.ok(200);
    let before = c.app.snapshot();

    let refused = store.append(
        &event,
        Some(&shire_registry::store::write::Artifact { size, files }),
    );
    match refused {
        Err(e @ shire_registry::store::StoreError::TakenDown { .. }) => {
            assert!(e.to_string().contains("leaked a database password"), "{e}");
        }
        other => panic!("the write went on: {other:?}"),
    }
    assert_eq!(before, c.app.snapshot(), "nothing stored");
    c.app
        .get("/api/v1/packages/braintree/crm/2.0.0")
        .await
        .refused(404, "version_not_found");
}
