// The API suite, included by `api.rs` (embedded backend) and
// `api_shared.rs` (shared backend): one text, two runs.

use helpers::{Actor, Release, TestApp};
use shire_core::archive::testing::{noise, Item};
use shire_core::dsse::Envelope;
use shire_core::statement::{Verdict, RELEASE_PAYLOAD_TYPE};
use shire_core::{Digest, KeyPair};

/// A node with councils `braintree` (publisher `bt-dev`) and `kent` (publisher
/// `kent-dev`), and a verifying body `socitm` (verifier `socitm-rev`).
struct Club {
    app: TestApp,
    bt: Actor,
    kent: Actor,
    rev: Actor,
}

async fn club_with(adjust: impl FnOnce(&mut shire_registry::Config)) -> Club {
    let app = TestApp::spawn_with(adjust).await;
    for org in ["braintree", "kent", "socitm"] {
        app.create_org(org).await;
    }
    let bt = app.actor("bt-dev", "braintree", "publisher").await;
    let kent = app.actor("kent-dev", "kent", "publisher").await;
    let rev = app.actor("socitm-rev", "socitm", "verifier").await;
    Club { app, bt, kent, rev }
}

async fn club() -> Club {
    club_with(|_| {}).await
}

/// The names a search answers, in order.
async fn search_names(app: &TestApp, query: &str) -> Vec<String> {
    let q: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    app.get(&format!("/api/v1/search?q={q}&limit=50")).await.ok(200)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect()
}

/// The ranking rules of `store/search.rs`, on either backend's index: the
/// exact name leads, then bare names, then field weights (name > keyword >
/// description), whole terms above prefixes, every term required; tags
/// holding quotes, backslashes and query operators are indexed as text.
#[tokio::test]
async fn search_ranks_by_the_same_rules_on_either_backend() {
    let c = club().await;
    let app = &c.app;
    let hostile = r#"it's \ "odd" & | ! :* <-> ''"#;
    for (who, name, description, keywords) in [
        (&c.kent, "kent/crm-lite", "A small crm for councils", &["crm"][..]),
        (&c.bt, "braintree/crm", "Customer records", &[][..]),
        (&c.kent, "kent/bins", "Bin rounds, linked to any crm", &[hostile][..]),
        (&c.bt, "braintree/crmx-tools", "Tools", &["crmx"][..]),
        (&c.kent, "kent/parking", "Parking permits", &["permits", "crm"][..]),
        (&c.bt, "braintree/permit-desk", "Desk for crm permits", &[][..]),
    ] {
        let r = Release::new(name, "1.0.0")
            .description(description)
            .keywords(keywords);
        app.publish(who, &r).await.ok(201);
    }
    // Bare name first; then by score: name terms (kent/crm-lite 16 + its
    // keyword), keywords (parking), prefixes of names (crmx-tools 9),
    // descriptions; ties by age.
    assert_eq!(
        search_names(app, "crm").await,
        [
            "braintree/crm",
            "kent/crm-lite",
            "braintree/crmx-tools",
            "kent/parking",
            "kent/bins",
            "braintree/permit-desk",
        ]
    );
    // The exact full name leads even over a bare name.
    assert_eq!(search_names(app, "kent/crm-lite").await[0], "kent/crm-lite");
    // A bare name of several words leads a higher score: for "crm-lite",
    // `lite/crm` scores 34 (its bare name, its organisation's), `kent/crm-lite` 32.
    app.create_org("lite").await;
    let lite = app.actor("lite-dev", "lite", "publisher").await;
    app.publish(&lite, &Release::new("lite/crm", "1.0.0"))
        .await
        .ok(201);
    assert_eq!(
        search_names(app, "crm-lite").await,
        ["kent/crm-lite", "lite/crm"]
    );
    // Every term is required; "permit" is a prefix of "permits".
    assert_eq!(
        search_names(app, "crm permit").await,
        ["braintree/permit-desk", "kent/parking"]
    );
    // Under three characters a term matches only itself.
    assert!(search_names(app, "cr").await.is_empty());
    // A tag with tsquery syntax in it is text: found by its words and by
    // itself; operators in a query are not operators.
    assert_eq!(search_names(app, "odd").await, ["kent/bins"]);
    assert_eq!(search_names(app, hostile).await, ["kent/bins"]);
    assert_eq!(search_names(app, "odd & !crm | :*").await, ["kent/bins"]);
}

#[tokio::test]
async fn publish_then_info_search_and_download() {
    let c = club().await;
    let app = &c.app;
    let r = Release::new("braintree/crm-lite", "1.0.0")
        .description("A light CRM for council contact centres")
        .keywords(&["crm", "contact-centre"]);
    let v = app.publish(&c.bt, &r).await;
    let v = v.ok(201);
    assert_eq!(v["state"], "pending");
    assert_eq!(v["digest"], r.digest().to_string());
    assert_eq!(v["size"], r.archive.len() as u64);
    assert_eq!(v["publisher_key"]["key_id"], c.bt.key.key_id().to_string());
    assert_eq!(v["publisher_key"]["org"], "braintree");
    assert!(v["log_index"].as_u64().is_some());
    // The publish answers what reading the version answers.
    let read = app.get("/api/v1/packages/braintree/crm-lite/1.0.0").await;
    assert_eq!(read.ok(200), v);

    let info = app.get("/api/v1/packages/braintree/crm-lite").await;
    let info = info.ok(200);
    assert_eq!(info["versions"].as_array().unwrap().len(), 1);
    assert_eq!(
        info["description"],
        "A light CRM for council contact centres"
    );
    // The stored envelope is the one signed: it verifies offline.
    let env: Envelope = serde_json::from_value(info["versions"][0]["release"].clone()).unwrap();
    shire_core::verify::release(&env, &c.bt.key.public()).unwrap();

    let files = app
        .get("/api/v1/packages/braintree/crm-lite/1.0.0/files")
        .await;
    let paths: Vec<&str> = files.ok(200)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["app", "app/main.py", "README"]);

    // A second package that mentions crm only in its description.
    let other =
        Release::new("kent/contacts", "0.3.0").description("Contact lists, exported to any crm");
    app.publish(&c.kent, &other).await.ok(201);
    let hits = app.get("/api/v1/search?q=crm").await;
    let names: Vec<&str> = hits.ok(200)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["braintree/crm-lite", "kent/contacts"]);
    let exact = app.get("/api/v1/search?q=kent/contacts").await;
    assert_eq!(exact.ok(200)["results"][0]["name"], "kent/contacts");
    assert_eq!(exact.body["results"][0]["exact"], true);
    assert_eq!(exact.body["results"][0]["latest"], "0.3.0");
    let prefix = app.get("/api/v1/search?q=contac").await;
    assert_eq!(prefix.ok(200)["total"], 2);
    app.get("/api/v1/search?q=").await.refused(400, "bad_query");

    // Download: streamed, sized, tagged with the digest, 304 when unchanged.
    let url = format!("{}/api/v1/artifacts/{}", app.url, r.digest());
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        r.archive.len().to_string()
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", r.digest()));
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(Digest::of(&bytes), r.digest());
    let again = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = app
        .get(&format!("/api/v1/artifacts/{}", Digest::of(b"nothing")))
        .await;
    missing.refused(404, "blob_not_found");
    app.get("/api/v1/packages/braintree/nope")
        .await
        .refused(404, "package_not_found");
    app.get("/api/v1/packages/braintree/crm-lite/9.9.9")
        .await
        .refused(404, "version_not_found");
}

#[tokio::test]
async fn forged_signature_is_refused() {
    let c = club().await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .ok(201);
    let before = c.app.snapshot();
    // Signed by a stranger, relabelled with the publisher's key id.
    let mut env = r.sign(&KeyPair::generate());
    env.signatures[0].keyid = c.bt.key.key_id().to_string();
    c.app
        .submit(&c.bt.token, &env)
        .await
        .refused(400, "bad_signature");
    // A correctly signed statement whose payload was edited afterwards.
    let mut env = r.sign(&c.bt.key);
    let tampered = Release::new("braintree/crm", "1.0.0").description("edited after signing");
    env.payload = tampered.sign(&c.bt.key).payload;
    c.app
        .submit(&c.bt.token, &env)
        .await
        .refused(400, "bad_signature");
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn keys_must_be_the_publishers_own_and_registered() {
    let c = club().await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .ok(201);
    let before = c.app.snapshot();
    // The statement is signed with kent-dev's key, submitted by bt-dev.
    c.app
        .submit(&c.bt.token, &r.sign(&c.kent.key))
        .await
        .refused(403, "key_not_yours");
    // A key nobody registered.
    c.app
        .submit(&c.bt.token, &r.sign(&KeyPair::generate()))
        .await
        .refused(404, "key_not_found");
    assert_eq!(before, c.app.snapshot());
    // Registering another account's key is refused too: no proof by it.
    let stolen = helpers::key_proof(
        &c.kent.key,
        &c.bt.key,
        "bt-dev",
        "braintree",
        "publisher",
        &c.app.log_name,
    );
    c.app
        .post(
            "/api/v1/keys",
            &c.bt.token,
            serde_json::json!({ "public_key": c.kent.key.public().to_string(), "proof": stolen }),
        )
        .await
        .refused(400, "bad_proof");
    // Registering one's own key again is fine (200).
    c.app
        .register_key(&c.bt.token, &c.bt.key, "bt-dev", "braintree", "publisher")
        .await
        .ok(200);
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn upload_digest_mismatch_and_missing_blob_are_refused() {
    let c = club().await;
    let r = Release::new("braintree/crm", "1.0.0");
    let before = c.app.snapshot();
    let claimed = Digest::of(b"something else");
    c.app
        .upload_as(&c.bt.token, &claimed, r.archive.clone())
        .await
        .refused(400, "digest_mismatch");
    assert!(!c.app.blob_stored(&claimed));
    assert!(!c.app.blob_stored(&r.digest()));
    // The statement names a digest that was never uploaded.
    c.app
        .submit(&c.bt.token, &r.sign(&c.bt.key))
        .await
        .refused(404, "blob_not_found");
    // Only publishers upload.
    c.app
        .upload_as(&c.rev.token, &r.digest(), r.archive.clone())
        .await
        .refused(403, "not_publisher");
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn publishing_into_another_organisation_is_refused() {
    let c = club().await;
    let r = Release::new("kent/bins", "1.0.0");
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .ok(201);
    let before = c.app.snapshot();
    c.app
        .submit(&c.bt.token, &r.sign(&c.bt.key))
        .await
        .refused(403, "wrong_org");
    // Even signed with the real owner's key.
    c.app
        .submit(&c.bt.token, &r.sign(&c.kent.key))
        .await
        .refused(403, "wrong_org");
    // A verifier cannot publish.
    c.app
        .submit(&c.rev.token, &r.sign(&c.rev.key))
        .await
        .refused(403, "wrong_org");
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn a_used_version_is_never_published_again_even_after_a_yank() {
    let c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let other =
        Release::new("braintree/crm", "1.0.0").archive(&[Item::File("different", b"content")]);
    c.app
        .upload_as(&c.bt.token, &other.digest(), other.archive.clone())
        .await
        .ok(201);
    let before = c.app.snapshot();
    c.app
        .submit(&c.bt.token, &other.sign(&c.bt.key))
        .await
        .refused(409, "version_exists");
    assert_eq!(before, c.app.snapshot());

    let yanked = c
        .app
        .post(
            "/api/v1/packages/braintree/crm/1.0.0/yank",
            &c.bt.token,
            serde_json::json!({ "reason": "data loss bug" }),
        )
        .await;
    assert_eq!(yanked.ok(200)["yanked"]["reason"], "data loss bug");
    let before = c.app.snapshot();
    c.app
        .submit(&c.bt.token, &other.sign(&c.bt.key))
        .await
        .refused(409, "version_exists");
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn invalid_semver_and_invalid_manifests_are_refused() {
    let c = club().await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .ok(201);
    let before = c.app.snapshot();
    // A correctly signed statement whose version is not semver.
    let mut json = serde_json::to_value(r.statement()).unwrap();
    json["subject"]["version"] = "1.0".into();
    json["manifest"]["package"]["version"] = "1.0".into();
    let env = Envelope::sign(
        RELEASE_PAYLOAD_TYPE,
        &serde_json::to_vec(&json).unwrap(),
        &c.bt.key,
    );
    let a = c.app.submit(&c.bt.token, &env).await;
    a.refused(400, "bad_statement");
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("version"));
    // A manifest with a licence that is not SPDX.
    let mut bad = r.clone();
    bad.manifest.package.license = "whatever I like".into();
    c.app
        .submit(&c.bt.token, &bad.sign(&c.bt.key))
        .await
        .refused(400, "invalid_manifest");
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn archives_breaking_the_rules_are_refused_naming_the_rule() {
    let c = club().await;
    let cases: Vec<(&str, Vec<Item<'_>>, &str)> = vec![
        ("dotdot", vec![Item::File("../evil", b"x")], "'..'"),
        ("absolute", vec![Item::File("/etc/evil", b"x")], "absolute"),
        (
            "symlink",
            vec![
                Item::File("a", b"x"),
                Item::Symlink("l", "../../etc/passwd"),
            ],
            "outside the archive",
        ),
        (
            "device",
            vec![Item::File("a", b"x"), Item::CharDevice("dev")],
            "not allowed",
        ),
    ];
    for (name, items, rule) in cases {
        let r = Release::new(&format!("braintree/{name}"), "1.0.0").archive(&items);
        c.app
            .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
            .await
            .ok(201);
        let before = c.app.snapshot();
        let a = c.app.submit(&c.bt.token, &r.sign(&c.bt.key)).await;
        a.refused(400, "bad_archive");
        let msg = a.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(rule), "{name}: {msg}");
        assert_eq!(before, c.app.snapshot(), "{name}");
    }
    // Not an archive at all.
    let mut junk = Release::new("braintree/junk", "1.0.0");
    junk.archive = b"this is not gzip".to_vec();
    c.app
        .upload_as(&c.bt.token, &junk.digest(), junk.archive.clone())
        .await
        .ok(201);
    c.app
        .submit(&c.bt.token, &junk.sign(&c.bt.key))
        .await
        .refused(400, "bad_archive");
}

#[tokio::test]
async fn a_blob_altered_on_disk_is_not_published() {
    if crate::SHARED {
        return; // edits pack files in the data folder
    }
    let c = club().await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .ok(201);
    let other = Release::new("braintree/crm", "2.0.0");
    c.app.tamper_blob(&r.digest(), &other.archive);
    let before = c.app.snapshot();
    c.app
        .submit(&c.bt.token, &r.sign(&c.bt.key))
        .await
        .refused(400, "bad_archive");
    assert_eq!(before, c.app.snapshot());
}

#[tokio::test]
async fn oversized_uploads_are_refused_and_leave_nothing() {
    let c = club_with(|cfg| cfg.max_upload = 4096).await;
    let noise: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let r = Release::new("braintree/big", "1.0.0").archive(&[Item::File("noise", &noise)]);
    assert!(r.archive.len() > 4096);
    let before = c.app.snapshot();
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .refused(413, "too_large");
    assert!(!c.app.blob_stored(&r.digest()));
    assert_eq!(before, c.app.snapshot());
    assert_eq!(
        std::fs::read_dir(c.app.dir.path().join("tmp"))
            .unwrap()
            .count(),
        0
    );
    // Small enough still works.
    c.app
        .publish(&c.bt, &Release::new("braintree/small", "1.0.0"))
        .await
        .ok(201);
}

#[tokio::test]
async fn unknown_dependencies_are_refused() {
    let c = club().await;
    c.app
        .publish(&c.kent, &Release::new("kent/common", "1.0.0"))
        .await
        .ok(201);
    let r = Release::new("braintree/crm", "1.0.0")
        .dep("kent/common", "^1")
        .dep("kent/ghost", "^1");
    c.app
        .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
        .await
        .ok(201);
    let before = c.app.snapshot();
    let a = c.app.submit(&c.bt.token, &r.sign(&c.bt.key)).await;
    a.refused(400, "unknown_dependency");
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("kent/ghost"));
    assert_eq!(before, c.app.snapshot());
    let ok = Release::new("braintree/crm", "1.0.0").dep("kent/common", "^1");
    c.app.publish(&c.bt, &ok).await.ok(201);
}

#[tokio::test]
async fn bad_tokens_and_roles_are_refused() {
    let c = club().await;
    let before = c.app.snapshot();
    c.app
        .post(
            "/api/v1/orgs",
            "shire_not-a-token",
            serde_json::json!({ "name": "evil" }),
        )
        .await
        .refused(401, "unauthorized");
    c.app
        .send(
            reqwest::Method::POST,
            "/api/v1/orgs",
            None,
            Some(serde_json::json!({ "name": "evil" })),
        )
        .await
        .refused(401, "unauthorized");
    c.app
        .get_as("/api/v1/whoami", "nope")
        .await
        .refused(401, "unauthorized");
    // A publisher is not an admin.
    c.app
        .post(
            "/api/v1/orgs",
            &c.bt.token,
            serde_json::json!({ "name": "evil" }),
        )
        .await
        .refused(403, "not_admin");
    let r = Release::new("braintree/crm", "1.0.0");
    c.app
        .upload_as("shire_0000", &r.digest(), r.archive.clone())
        .await
        .refused(401, "unauthorized");
    c.app
        .submit("shire_0000", &r.sign(&c.bt.key))
        .await
        .refused(401, "unauthorized");
    // A submit whose body is no statement: who asks is answered first.
    for token in [None, Some("shire_0000")] {
        for body in [None, Some(serde_json::json!({ "nope": 1 }))] {
            c.app
                .send(reqwest::Method::POST, "/api/v1/releases", token, body)
                .await
                .refused(401, "unauthorized");
        }
    }
    // An upload to a path that names no digest: who asks is answered first.
    for token in [None, Some("shire_0000")] {
        c.app
            .send(reqwest::Method::PUT, "/api/v1/blobs/sha256:xyz", token, None)
            .await
            .refused(401, "unauthorized");
    }
    c.app
        .send(
            reqwest::Method::PUT,
            "/api/v1/blobs/sha256:xyz",
            Some(&c.bt.token),
            None,
        )
        .await
        .refused(400, "bad_path");
    assert_eq!(before, c.app.snapshot());
    // Malformed input gets JSON errors too.
    let a = c
        .app
        .client
        .post(format!("{}/api/v1/releases", c.app.url))
        .bearer_auth(&c.bt.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 400);
    let body: serde_json::Value = a.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_json");
    c.app
        .get("/api/v1/packages/Bad/x")
        .await
        .refused(400, "bad_path");
    c.app
        .get("/api/v1/nothing-here")
        .await
        .refused(404, "not_found");
    let me = c.app.get_as("/api/v1/whoami", &c.bt.token).await;
    assert_eq!(me.ok(200)["org"], "braintree");
    assert!(me.body.get("token").is_none());
}

#[tokio::test]
async fn yank_and_unyank_by_a_publisher_of_the_org() {
    let c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let path = "/api/v1/packages/braintree/crm/1.0.0/yank";
    let before = c.app.snapshot();
    c.app
        .post(
            path,
            &c.kent.token,
            serde_json::json!({ "reason": "spite" }),
        )
        .await
        .refused(403, "wrong_org");
    c.app
        .post(path, &c.bt.token, serde_json::json!({ "reason": "  " }))
        .await
        .refused(400, "missing_reason");
    c.app
        .send(reqwest::Method::DELETE, path, Some(&c.bt.token), None)
        .await
        .refused(409, "invalid_transition");
    assert_eq!(before, c.app.snapshot());
    c.app
        .post(path, &c.bt.token, serde_json::json!({ "reason": "broken" }))
        .await
        .ok(200);
    let v = c.app.get("/api/v1/packages/braintree/crm/1.0.0").await;
    assert_eq!(v.ok(200)["yanked"]["reason"], "broken");
    assert_eq!(v.body["yanked"]["by"], "bt-dev");
    let un = c
        .app
        .send(reqwest::Method::DELETE, path, Some(&c.bt.token), None)
        .await;
    assert!(un.ok(200).get("yanked").is_none());
}

#[tokio::test]
async fn search_shows_the_highest_version_not_yanked() {
    let c = club().await;
    for v in ["1.0.0", "2.0.0", "1.5.0"] {
        c.app
            .publish(&c.bt, &Release::new("braintree/crm", v))
            .await
            .ok(201);
    }
    async fn latest(app: &TestApp) -> String {
        let hits = app.get("/api/v1/search?q=braintree/crm").await;
        hits.ok(200)["results"][0]["latest"]
            .as_str()
            .unwrap()
            .to_string()
    }
    assert_eq!(latest(&c.app).await, "2.0.0");
    let yank = |v: &str| format!("/api/v1/packages/braintree/crm/{v}/yank");
    let why = serde_json::json!({ "reason": "broken" });
    c.app
        .post(&yank("2.0.0"), &c.bt.token, why.clone())
        .await
        .ok(200);
    assert_eq!(
        latest(&c.app).await,
        "1.5.0",
        "not the highest, which is yanked"
    );
    for v in ["1.0.0", "1.5.0"] {
        c.app.post(&yank(v), &c.bt.token, why.clone()).await.ok(200);
    }
    assert_eq!(latest(&c.app).await, "2.0.0", "all yanked: the highest");
}

#[tokio::test]
async fn verdict_attacks_are_refused_and_change_nothing() {
    let c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.1"))
        .await
        .ok(201);
    let s100 = c.app.subject("braintree/crm", "1.0.0").await;
    let s101 = c.app.subject("braintree/crm", "1.0.1").await;
    let insider = c.app.actor("bt-rev", "braintree", "verifier").await;
    let before = c.app.snapshot();

    // Signed by a key nobody registered.
    let stranger = KeyPair::generate();
    c.app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.1",
            &c.app.sign_verdict(&stranger, Verdict::Approve, &s101, None),
        )
        .await
        .refused(404, "key_not_found");
    // Forged under the verifier's key id.
    let mut forged = c.app.sign_verdict(&stranger, Verdict::Approve, &s101, None);
    forged.signatures[0].keyid = c.rev.key.key_id().to_string();
    c.app
        .verdict(&c.rev, "braintree/crm", "1.0.1", &forged)
        .await
        .refused(400, "bad_signature");
    // The publisher approving its own release.
    c.app
        .verdict(
            &c.bt,
            "braintree/crm",
            "1.0.1",
            &c.app.sign_verdict(&c.bt.key, Verdict::Approve, &s101, None),
        )
        .await
        .refused(403, "not_verifier");
    // A verifier of the same organisation.
    c.app
        .verdict(
            &insider,
            "braintree/crm",
            "1.0.1",
            &c.app
                .sign_verdict(&insider.key, Verdict::Approve, &s101, None),
        )
        .await
        .refused(403, "own_org");
    // Another verifier's key used by this verifier.
    c.app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.1",
            &c.app
                .sign_verdict(&insider.key, Verdict::Approve, &s101, None),
        )
        .await
        .refused(403, "key_not_yours");
    // A subject digest that differs from the release's.
    let mut other = s101.clone();
    other.digest = Digest::of(b"other bytes");
    c.app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.1",
            &c.app
                .sign_verdict(&c.rev.key, Verdict::Approve, &other, None),
        )
        .await
        .refused(409, "subject_mismatch");
    // Revoking a pending release.
    c.app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.1",
            &c.app
                .sign_verdict(&c.rev.key, Verdict::Revoke, &s101, Some("flaw")),
        )
        .await
        .refused(409, "invalid_transition");
    // A rejection without a reason is not a valid statement.
    c.app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.1",
            &c.app.sign_verdict(&c.rev.key, Verdict::Reject, &s101, None),
        )
        .await
        .refused(400, "bad_statement");
    assert_eq!(before, c.app.snapshot());

    // 1.0.0's genuine approval, replayed for 1.0.1.
    let genuine = c
        .app
        .sign_verdict(&c.rev.key, Verdict::Approve, &s100, None);
    let v = c
        .app
        .verdict(&c.rev, "braintree/crm", "1.0.0", &genuine)
        .await;
    assert_eq!(v.ok(200)["state"], "approved");
    let before = c.app.snapshot();
    c.app
        .verdict(&c.rev, "braintree/crm", "1.0.1", &genuine)
        .await
        .refused(409, "subject_mismatch");
    assert_eq!(before, c.app.snapshot());
    assert_eq!(c.app.state("braintree/crm", "1.0.1").await, "pending");
}

#[tokio::test]
async fn each_key_counts_once_towards_the_threshold() {
    let c = club_with(|cfg| cfg.threshold = 2).await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let s = c.app.subject("braintree/crm", "1.0.0").await;
    // The same approval twice: the same answer, logged once.
    for _ in 0..2 {
        let a = c
            .app
            .verdict(
                &c.rev,
                "braintree/crm",
                "1.0.0",
                &c.app.sign_verdict(&c.rev.key, Verdict::Approve, &s, None),
            )
            .await;
        assert_eq!(a.ok(200)["state"], "pending");
        assert_eq!(a.body["verdicts"].as_array().unwrap().len(), 1);
    }
    let kent_rev = c.app.actor("kent-rev", "kent", "verifier").await;
    let a = c
        .app
        .verdict(
            &kent_rev,
            "braintree/crm",
            "1.0.0",
            &c.app
                .sign_verdict(&kent_rev.key, Verdict::Approve, &s, None),
        )
        .await;
    assert_eq!(a.ok(200)["state"], "approved");
    let v = c.app.get("/api/v1/packages/braintree/crm/1.0.0").await;
    let verdicts = v.ok(200)["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[1]["org"], "kent");
    assert_eq!(verdicts[1]["key_id"], kent_rev.key.key_id().to_string());
    let hits = c.app.get("/api/v1/search?q=braintree/crm").await;
    assert_eq!(hits.ok(200)["results"][0]["state"], "approved");
    assert_eq!(
        hits.body["results"][0]["approvers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn approve_revoke_and_reject_move_the_state() {
    let c = club().await;
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.1.0"))
        .await
        .ok(201);
    let s = c.app.subject("braintree/crm", "1.0.0").await;
    let a = c
        .app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.0",
            &c.app
                .sign_verdict(&c.rev.key, Verdict::Approve, &s, Some("reviewed")),
        )
        .await;
    assert_eq!(a.ok(200)["state"], "approved");
    let r = c
        .app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.0",
            &c.app
                .sign_verdict(&c.rev.key, Verdict::Revoke, &s, Some("CVE-2026-1")),
        )
        .await;
    assert_eq!(r.ok(200)["state"], "revoked");
    // Nothing brings a revoked release back.
    c.app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.0.0",
            &c.app.sign_verdict(&c.rev.key, Verdict::Approve, &s, None),
        )
        .await
        .refused(409, "invalid_transition");
    let s11 = c.app.subject("braintree/crm", "1.1.0").await;
    let j = c
        .app
        .verdict(
            &c.rev,
            "braintree/crm",
            "1.1.0",
            &c.app
                .sign_verdict(&c.rev.key, Verdict::Reject, &s11, Some("no tests")),
        )
        .await;
    assert_eq!(j.ok(200)["state"], "rejected");
    // Every stored verdict verifies offline under the verifier's key.
    let v = c.app.get("/api/v1/packages/braintree/crm/1.0.0").await;
    for item in v.ok(200)["verdicts"].as_array().unwrap() {
        let env: Envelope = serde_json::from_value(item["envelope"].clone()).unwrap();
        shire_core::verify::verdict(&env, &c.rev.key.public()).unwrap();
    }
}

#[tokio::test]
async fn review_queue_lists_pending_oldest_first_with_changes() {
    let c = club().await;
    c.app
        .publish(&c.kent, &Release::new("kent/common", "1.0.0"))
        .await
        .ok(201);
    let v1 = Release::new("braintree/crm", "1.0.0")
        .archive(&[Item::File("a", b"1"), Item::File("b", b"2")]);
    c.app.publish(&c.bt, &v1).await.ok(201);
    let v2 = Release::new("braintree/crm", "1.1.0")
        .dep("kent/common", "^1")
        .archive(&[Item::File("b", b"3"), Item::File("c", b"4")]);
    c.app.publish(&c.bt, &v2).await.ok(201);
    // Approving kent/common takes it off the queue.
    c.app.approve(&c.rev, "kent/common", "1.0.0").await.ok(200);

    let q = c.app.get_as("/api/v1/review", &c.rev.token).await;
    let items = q.ok(200).as_array().unwrap();
    let listed: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "{}@{}",
                i["name"].as_str().unwrap(),
                i["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(listed, ["braintree/crm@1.0.0", "braintree/crm@1.1.0"]);
    assert!(items[0]["previous"].is_null());
    assert_eq!(items[1]["previous"], "1.0.0");
    assert_eq!(items[1]["files"]["added"], serde_json::json!(["c"]));
    assert_eq!(items[1]["files"]["removed"], serde_json::json!(["a"]));
    assert_eq!(items[1]["files"]["changed"], serde_json::json!(["b"]));
    assert_eq!(items[1]["dependencies"]["added"]["kent/common"], "^1");
    c.app
        .get_as("/api/v1/review", &c.bt.token)
        .await
        .refused(403, "not_verifier");
}

#[tokio::test]
async fn a_restart_keeps_everything() {
    let mut c = club().await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    c.app
        .approve(&c.rev, "braintree/crm", "1.0.0")
        .await
        .ok(200);
    let node_before = c.app.get("/api/v1/node").await.body;
    let before = c.app.snapshot();
    c.app.restart().await;
    assert_eq!(before, c.app.snapshot());
    assert_eq!(c.app.get("/api/v1/node").await.body, node_before);
    assert_eq!(c.app.state("braintree/crm", "1.0.0").await, "approved");
    c.app.get_as("/api/v1/whoami", &c.bt.token).await.ok(200);
    let hits = c.app.get("/api/v1/search?q=crm").await;
    assert_eq!(hits.ok(200)["total"], 1);
    // The log kept growing from where it stopped.
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.1"))
        .await
        .ok(201);
    let v = c.app.get("/api/v1/packages/braintree/crm/1.0.1").await;
    let first = c.app.get("/api/v1/packages/braintree/crm/1.0.0").await;
    assert!(v.body["log_index"].as_u64() > first.body["log_index"].as_u64());
}

/// The real binary: the stdout contract, and an acknowledged publish that
/// survives `kill -9`.
#[tokio::test]
async fn the_binary_prints_its_contract_and_survives_kill_9() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let spawn = || helpers::spawn_binary(dir.path());
    let (mut child, url, token) = spawn();
    let token = token.expect("first start prints the admin token");
    assert!(token.starts_with("shire_"));
    let file = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    assert_eq!(file.trim(), token);
    let client = reqwest::Client::new();
    let post = |path: &str, tok: &str, body: serde_json::Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(tok.to_string())
            .json(&body)
            .send()
    };
    assert_eq!(
        post(
            "/api/v1/orgs",
            &token,
            serde_json::json!({"name": "braintree"})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let acct: serde_json::Value = post(
        "/api/v1/accounts",
        &token,
        serde_json::json!({"username": "bt-dev", "org": "braintree", "role": "publisher"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let pt = acct["token"].as_str().unwrap().to_string();
    let key = KeyPair::generate();
    let proof =
        helpers::proof_over_http(&client, &url, &key, "bt-dev", "braintree", "publisher").await;
    let registered = post(
        "/api/v1/keys",
        &pt,
        serde_json::json!({"public_key": key.public().to_string(), "proof": proof}),
    )
    .await
    .unwrap();
    assert_eq!(registered.status(), 201);
    let r = Release::new("braintree/durable", "1.0.0");
    let put = client
        .put(format!("{url}/api/v1/blobs/{}", r.digest()))
        .bearer_auth(&pt)
        .body(r.archive.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let published = post(
        "/api/v1/releases",
        &pt,
        serde_json::json!({"envelope": r.sign(&key)}),
    )
    .await
    .unwrap();
    assert_eq!(published.status(), 201);
    // No chance to flush anything more.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, url, token) = spawn();
    assert!(
        token.is_none(),
        "the admin token is printed only on first start"
    );
    let v: serde_json::Value = client
        .get(format!("{url}/api/v1/packages/braintree/durable/1.0.0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["digest"], r.digest().to_string());
    let bytes = client
        .get(format!("{url}/api/v1/artifacts/{}", r.digest()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(Digest::of(&bytes), r.digest());
    let node: serde_json::Value = client
        .get(format!("{url}/api/v1/node"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_shire-registry"))
        .args(["key", "--json", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let k: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(k["public_key"].as_str().unwrap().starts_with("ed25519:"));
    assert_eq!(k["public_key"], node["public_key"]);
    assert_eq!(k["key_id"], node["key_id"]);
    assert_eq!(k["note_key"], node["note_key"]);
    assert_eq!(k["origin"], node["origin"]);
    let text = Command::new(env!("CARGO_BIN_EXE_shire-registry"))
        .args(["key", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("note key: {}", node["note_key"].as_str().unwrap())),
        "{text}"
    );
}

#[tokio::test]
async fn concurrent_publishes_are_all_acknowledged_with_their_own_log_entries() {
    let c = club().await;
    let releases: Vec<Release> = (0..16)
        .map(|i| Release::new(&format!("braintree/app{i}"), "1.0.0"))
        .collect();
    for r in &releases {
        c.app
            .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
            .await
            .ok(201);
    }
    let flushes_before = c.app.flush_count();
    let answers = futures_util::future::join_all(
        releases
            .iter()
            .map(|r| c.app.submit(&c.bt.token, r.sign(&c.bt.key))),
    )
    .await;
    let flushes = c.app.flush_count() - flushes_before;
    let mut indices: Vec<u64> = answers
        .iter()
        .map(|a| a.ok(201)["log_index"].as_u64().unwrap())
        .collect();
    indices.sort();
    let first = indices[0];
    assert_eq!(indices, (first..first + 16).collect::<Vec<_>>());
    // Group commit: a flush (embedded) or a PostgreSQL commit (shared)
    // covers every write that waited for it.
    assert!((1..=16).contains(&flushes), "{flushes}");
    println!("16 concurrent publishes were made durable by {flushes} flushes");
    let hits = c.app.get("/api/v1/search?q=braintree&limit=100").await;
    assert_eq!(hits.ok(200)["total"], 16);
}

/// Concurrent writes share transactions (the embedded engine's flush, the
/// shared engine's group commit), and each still sees every write accepted
/// before it: of eight racing publishes of one version exactly one is
/// stored and the others are refused `version_exists`, while eight other
/// packages published in the same race are all stored, each with its own
/// log entry.
#[tokio::test]
async fn racing_publishes_of_one_version_store_exactly_one() {
    let c = club().await;
    let rivals: Vec<Release> = (0..8)
        .map(|i| Release::new("braintree/race", "1.0.0").description(&format!("attempt {i}")))
        .collect();
    let others: Vec<Release> = (0..8)
        .map(|i| Release::new(&format!("braintree/beside{i}"), "1.0.0"))
        .collect();
    for r in rivals.iter().chain(&others) {
        // The rivals share one archive: uploaded again, it is already there.
        let up = c
            .app
            .upload_as(&c.bt.token, &r.digest(), r.archive.clone())
            .await;
        assert!(up.status.is_success(), "{}", up.body);
    }
    let flushes_before = c.app.flush_count();
    let answers = futures_util::future::join_all(
        rivals
            .iter()
            .chain(&others)
            .map(|r| c.app.submit(&c.bt.token, r.sign(&c.bt.key))),
    )
    .await;
    let flushes = c.app.flush_count() - flushes_before;
    println!("16 racing publishes were made durable by {flushes} flushes");
    let (rival_answers, other_answers) = answers.split_at(rivals.len());
    let won: Vec<usize> = (0..rivals.len())
        .filter(|i| rival_answers[*i].status.as_u16() == 201)
        .collect();
    assert_eq!(won.len(), 1, "exactly one rival is stored");
    for (i, a) in rival_answers.iter().enumerate() {
        if i != won[0] {
            a.refused(409, "version_exists");
        }
    }
    let mut indices: Vec<u64> = other_answers
        .iter()
        .chain(std::iter::once(&rival_answers[won[0]]))
        .map(|a| a.ok(201)["log_index"].as_u64().unwrap())
        .collect();
    indices.sort();
    let first = indices[0];
    assert_eq!(indices, (first..first + 9).collect::<Vec<_>>(), "one entry each");
    let pkg = c.app.get("/api/v1/packages/braintree/race").await;
    let pkg = pkg.ok(200);
    assert_eq!(
        pkg["description"],
        format!("attempt {}", won[0]),
        "the stored release is the one acknowledged"
    );
    assert_eq!(pkg["versions"].as_array().map(Vec::len), Some(1), "{pkg}");
}

/// sled's crash test, at the HTTP level: publishers race while the node is
/// killed with SIGKILL at an arbitrary moment. Every acknowledged publish must
/// be there afterwards, and the store must be all-or-nothing: each release has
/// its package entry, file listing, blob and log entry, and each log entry
/// names a stored change.
#[tokio::test]
async fn kill_9_during_concurrent_publishes_keeps_every_ack_and_leaves_no_half_release() {
    use rand::Rng;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, token) = helpers::spawn_binary(dir.path());
    let admin = token.unwrap();
    let client = reqwest::Client::new();
    let post = |path: String, tok: String, body: serde_json::Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(tok)
            .json(&body)
            .send()
    };
    post(
        "/api/v1/orgs".into(),
        admin.clone(),
        serde_json::json!({"name": "braintree"}),
    )
    .await
    .unwrap();
    let acct: serde_json::Value = post(
        "/api/v1/accounts".into(),
        admin.clone(),
        serde_json::json!({"username": "bt-dev", "org": "braintree", "role": "publisher"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = acct["token"].as_str().unwrap().to_string();
    let key = Arc::new(KeyPair::generate());
    let proof =
        helpers::proof_over_http(&client, &url, &key, "bt-dev", "braintree", "publisher").await;
    let registered = post(
        "/api/v1/keys".into(),
        token.clone(),
        serde_json::json!({"public_key": key.public().to_string(), "proof": proof}),
    )
    .await
    .unwrap();
    assert_eq!(registered.status(), 201);
    let releases: Vec<Release> = (0..100)
        .map(|i| Release::new(&format!("braintree/app{}", i % 12), &format!("1.0.{i}")))
        .collect();
    for r in &releases {
        let put = client
            .put(format!("{url}/api/v1/blobs/{}", r.digest()))
            .bearer_auth(&token)
            .body(r.archive.clone())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
    }
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for stream in 0..4 {
        let mine: Vec<Release> = releases.iter().skip(stream).step_by(4).cloned().collect();
        let (client, url, token, key, acked) = (
            client.clone(),
            url.clone(),
            token.clone(),
            key.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for r in mine {
                let resp = client
                    .post(format!("{url}/api/v1/releases"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"envelope": r.sign(&key)}))
                    .send()
                    .await;
                match resp {
                    Ok(resp) if resp.status() == 201 => {
                        acked.lock().unwrap().push(format!(
                            "{}@{}",
                            r.manifest.package.name, r.manifest.package.version
                        ));
                    }
                    _ => break, // the node is gone
                }
            }
        }));
    }
    // Kill in the middle of the stream: once a random number of publishes
    // has been acknowledged, while the other publishers are still in flight.
    let target = rand::thread_rng().gen_range(1..90);
    let started = std::time::Instant::now();
    while acked.lock().unwrap().len() < target {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{target} publishes were never acknowledged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let wait = started.elapsed().as_millis();
    child.kill().unwrap();
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    println!(
        "killed after {wait} ms with {} publishes acknowledged",
        acked.len()
    );

    let (store, _flusher) =
        shire_registry::store::Store::open(dir.path(), &helpers::binary_store_options(dir.path()), || {
            "x".into()
        })
        .unwrap();
    let stored = helpers::check_consistency(&store);
    for a in &acked {
        assert!(stored.contains(a), "acknowledged {a} was lost");
    }
    // The log: one entry per event (the organisation, the key, each stored
    // release), and the stored tree is the one the entries make.
    {
        use shire_tlog::EntryStore as _;
        let size = store.log_size().unwrap();
        assert_eq!(size, 2 + stored.len() as u64, "one log entry per event");
        let view = store.log_view();
        let entries = view.read_entries(0, size).unwrap();
        let recomputed = shire_tlog::MemoryLog::from_entries(&entries).unwrap();
        assert_eq!(
            shire_tlog::tree_hash(size, &view).unwrap(),
            recomputed.root().unwrap(),
            "stored root equals the root recomputed from the entries"
        );
    }
    drop(store);
    drop(_flusher);
    // And the node serves again from that state: each package with exactly
    // the releases stored for it (which may include publishes whose answer
    // the kill cut off), and a package with none is not found.
    let (mut child, url, _) = helpers::spawn_binary(dir.path());
    for app in 0..12 {
        let name = format!("braintree/app{app}");
        let expected = stored
            .iter()
            .filter(|s| s.starts_with(&format!("{name}@")))
            .count();
        let v = client
            .get(format!("{url}/api/v1/packages/{name}"))
            .send()
            .await
            .unwrap();
        if expected == 0 {
            assert_eq!(v.status(), 404, "{name} has no stored release");
        } else {
            assert_eq!(v.status(), 200, "{name}");
            let doc: serde_json::Value = v.json().await.unwrap();
            assert_eq!(
                doc["versions"].as_array().map(Vec::len),
                Some(expected),
                "{name}: {doc}"
            );
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn multi_megabyte_artifacts_stream_in_and_out() {
    let c = club().await;
    let noise = noise(6 * 1024 * 1024);
    let r = Release::new("braintree/big", "1.0.0").archive(&[Item::File("data.bin", &noise)]);
    assert!(r.archive.len() > 6 * 1024 * 1024);
    let v = c.app.publish(&c.bt, &r).await;
    assert_eq!(v.ok(201)["size"], r.archive.len() as u64);
    let resp = c
        .app
        .client
        .get(format!("{}/api/v1/artifacts/{}", c.app.url, r.digest()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        r.archive.len().to_string()
    );
    assert_eq!(Digest::of(&resp.bytes().await.unwrap()), r.digest());
}

/// The package document is cached between GETs; every write that changes what
/// it shows (publish, yank, un-yank, verdict, key revocation) must be visible
/// in the very next GET after it is acknowledged.
#[tokio::test]
async fn package_document_is_never_stale_after_a_write() {
    let c = club().await;
    let pkg = "/api/v1/packages/braintree/crm";
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let first = c.app.get(pkg).await;
    assert_eq!(first.ok(200)["versions"].as_array().unwrap().len(), 1);
    // A second GET is answered from the cache and is byte-identical.
    let (s1, h1, b1) = c.app.get_bytes(pkg).await;
    let (s2, _, b2) = c.app.get_bytes(pkg).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1, b2);
    assert_eq!(h1["content-type"], "application/json");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&b1).unwrap(),
        first.body
    );

    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.1"))
        .await
        .ok(201);
    let after_publish = c.app.get(pkg).await;
    assert_eq!(
        after_publish.ok(200)["versions"].as_array().unwrap().len(),
        2
    );

    let yank = "/api/v1/packages/braintree/crm/1.0.0/yank";
    c.app
        .post(yank, &c.bt.token, serde_json::json!({ "reason": "broken" }))
        .await
        .ok(200);
    let yanked = c.app.get(pkg).await;
    assert_eq!(yanked.ok(200)["versions"][0]["yanked"]["reason"], "broken");
    c.app
        .send(reqwest::Method::DELETE, yank, Some(&c.bt.token), None)
        .await
        .ok(200);
    let unyanked = c.app.get(pkg).await;
    assert!(unyanked.ok(200)["versions"][0].get("yanked").is_none());

    c.app
        .approve(&c.rev, "braintree/crm", "1.0.1")
        .await
        .ok(200);
    let approved = c.app.get(pkg).await;
    assert_eq!(approved.ok(200)["versions"][1]["state"], "approved");
    assert_eq!(
        approved.body["versions"][1]["verdicts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert!(approved.body["versions"][0]["publisher_key"]["revoked_at"].is_null());
    c.app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", c.bt.key.key_id()),
            Some(&c.bt.token),
            None,
        )
        .await
        .ok(200);
    let revoked = c.app.get(pkg).await;
    assert!(revoked.ok(200)["versions"][0]["publisher_key"]["revoked_at"].is_string());
}

/// A description holding a NUL character (stored as `\u0000` in the
/// package's record) is searched and shown like any other: no record a
/// publisher can write makes a search that lists it fail.
#[tokio::test]
async fn a_nul_in_a_description_is_searched_and_shown() {
    let c = club().await;
    let r = Release::new("braintree/odd", "1.0.0+b.1").description("Nul\u{0}byte records");
    c.app.publish(&c.bt, &r).await.ok(201);
    let found = c.app.get("/api/v1/search?q=records").await;
    let hit = &found.ok(200)["results"][0];
    assert_eq!(hit["name"], "braintree/odd");
    assert_eq!(hit["latest"], "1.0.0+b.1");
    assert_eq!(hit["description"], "Nul\u{0}byte records");
}
