//! Issue 2: publish, search, install with dependencies, lockfiles, and the
//! attacks on the foundation, through the real binaries.

use shire_core::archive::testing::{build, Item};
use shire_e2e::{Club, Node, Project, Proxy};
use std::fs;

fn lock_text(dir: &std::path::Path) -> String {
    fs::read_to_string(dir.join("shire.lock")).expect("shire.lock written")
}

#[test]
fn publish_search_install_with_dependency_then_reinstall_from_lock() {
    let club = Club::new();
    club.publish(&Project::new("braintree/common", "1.0.0"));
    club.publish(&Project::new("braintree/common", "1.1.0"));
    club.publish(
        &Project::new("braintree/crm-lite", "1.0.0")
            .dep("braintree/common", "^1.0")
            .description("Customer records for small councils"),
    );
    for spec in [
        "braintree/common@1.0.0",
        "braintree/common@1.1.0",
        "braintree/crm-lite@1.0.0",
    ] {
        club.approve(spec);
    }

    // Search: exact name first, and by description words.
    let hits = club.installer.json(&["search", "braintree/crm-lite"]);
    assert_eq!(hits["results"][0]["name"], "braintree/crm-lite");
    assert_eq!(hits["results"][0]["exact"], true);
    let hits = club.installer.json(&["search", "customer"]);
    assert_eq!(hits["results"][0]["name"], "braintree/crm-lite");

    // Install resolves the dependency to the highest matching version.
    let dir = club.installer.path("pk");
    let d = dir.to_str().unwrap();
    club.installer
        .ok(&["install", "braintree/crm-lite", "--dir", d]);
    assert!(dir.join("braintree/crm-lite/src/main.py").exists());
    let common = fs::read_to_string(dir.join("braintree/common/src/main.py")).unwrap();
    assert!(common.contains("1.1.0"), "{common}");
    let lock = lock_text(&dir);
    assert!(
        lock.contains(&club.digest("braintree/common", "1.1.0")),
        "{lock}"
    );
    assert!(
        lock.contains(&club.digest("braintree/crm-lite", "1.0.0")),
        "{lock}"
    );

    // A newer approved version appears; the lock still pins 1.1.0.
    club.publish(&Project::new("braintree/common", "1.2.0"));
    club.approve("braintree/common@1.2.0");
    fs::remove_dir_all(dir.join("braintree")).unwrap();
    club.installer.ok(&["install", "--dir", d]);
    let common = fs::read_to_string(dir.join("braintree/common/src/main.py")).unwrap();
    assert!(
        common.contains("1.1.0"),
        "lock must be reproduced: {common}"
    );
    assert_eq!(
        lock_text(&dir),
        lock,
        "reinstall from lock leaves it as it was"
    );

    // Yanked: new resolutions skip it, the lock still installs it.
    club.publisher.ok(&[
        "yank",
        "braintree/common@1.1.0",
        "--reason",
        "wrong date format",
    ]);
    let info = club.installer.json(&["info", "braintree/common"]);
    let text = info.to_string();
    assert!(text.contains("wrong date format"), "{text}");
    let fresh = club.installer.path("fresh");
    club.installer.ok(&[
        "install",
        "braintree/crm-lite",
        "--dir",
        fresh.to_str().unwrap(),
    ]);
    let common = fs::read_to_string(fresh.join("braintree/common/src/main.py")).unwrap();
    assert!(
        common.contains("1.2.0"),
        "yanked 1.1.0 must be skipped: {common}"
    );
    fs::remove_dir_all(dir.join("braintree")).unwrap();
    club.installer.ok(&["install", "--dir", d]);
    let common = fs::read_to_string(dir.join("braintree/common/src/main.py")).unwrap();
    assert!(
        common.contains("1.1.0"),
        "yanked stays installable from a lock"
    );

    // Un-yank restores it for new resolutions' view.
    club.publisher
        .ok(&["yank", "braintree/common@1.1.0", "--undo"]);
    let v = club
        .node
        .get_json("/api/v1/packages/braintree/common/1.1.0");
    assert!(v.get("yanked").is_none() || v["yanked"].is_null(), "{v}");
}

#[test]
fn artifact_altered_on_the_servers_disk_is_refused_at_install() {
    let club = Club::new();
    club.publish(&Project::new("braintree/bins", "1.0.0"));
    club.approve("braintree/bins@1.0.0");
    let digest = club.digest("braintree/bins", "1.0.0");
    club.node.tamper_artifact(&digest);

    let dir = club.installer.path("pk");
    let err = club
        .installer
        .fails(&["install", "braintree/bins", "--dir", dir.to_str().unwrap()]);
    assert!(err.to_lowercase().contains("digest"), "{err}");
    assert!(!dir.join("braintree/bins").exists(), "nothing extracted");
}

#[test]
fn a_lock_whose_digest_no_longer_matches_is_an_error() {
    let club = Club::new();
    club.publish(&Project::new("braintree/bins", "1.0.0"));
    club.approve("braintree/bins@1.0.0");
    let dir = club.installer.path("pk");
    let d = dir.to_str().unwrap();
    club.installer
        .ok(&["install", "braintree/bins", "--dir", d]);
    let digest = club.digest("braintree/bins", "1.0.0");
    let other = shire_core::Digest::of(b"something else").to_string();
    let lock = lock_text(&dir).replace(&digest, &other);
    fs::write(dir.join("shire.lock"), lock).unwrap();
    fs::remove_dir_all(dir.join("braintree")).unwrap();
    let err = club.installer.fails(&["install", "--dir", d]);
    assert!(err.to_lowercase().contains("digest"), "{err}");
    assert!(!dir.join("braintree/bins").exists());
}

#[test]
fn refused_publishes_change_nothing() {
    let club = Club::new();
    club.publish(&Project::new("braintree/bins", "1.0.0"));
    let before = club.node.get_json("/api/v1/packages/braintree/bins");
    let p = &club.publisher;
    let root = p.cwd.path();

    // Into another organisation.
    let other = Project::new("colchester/bins", "1.0.0").write(root);
    let err = p.fails(&["publish", other.to_str().unwrap()]);
    assert!(err.contains("wrong_org"), "{err}");
    let missing = club.node.get_json("/api/v1/packages/colchester/bins");
    assert_eq!(missing["error"]["code"], "package_not_found");

    // The same version again, with other content.
    let again = Project::new("braintree/bins", "1.0.0")
        .file("src/main.py", "print('changed')\n")
        .write(&root.join("again"));
    let err = p.fails(&["publish", again.to_str().unwrap()]);
    assert!(err.contains("version_exists"), "{err}");

    // Also after a yank.
    p.ok(&["yank", "braintree/bins@1.0.0", "--reason", "test"]);
    let err = p.fails(&["publish", again.to_str().unwrap()]);
    assert!(err.contains("version_exists"), "{err}");
    p.ok(&["yank", "braintree/bins@1.0.0", "--undo"]);

    // An unknown dependency.
    let dep = Project::new("braintree/app", "1.0.0")
        .dep("braintree/nowhere", "^1")
        .write(root);
    let err = p.fails(&["publish", dep.to_str().unwrap()]);
    assert!(err.contains("unknown_dependency"), "{err}");

    // Invalid semver in the manifest.
    let bad = Project::new("braintree/semver", "1.0").write(root);
    let err = p.fails(&["publish", bad.to_str().unwrap()]);
    assert!(err.to_lowercase().contains("version"), "{err}");

    // A bad token.
    let intruder = club.node.user(None);
    let out = intruder.run(&["login", "--token", "shire_not-a-real-token"]);
    assert!(!out.status.success());
    let ok_dir = Project::new("braintree/bins", "2.0.0").write(&root.join("v2"));
    let out = std::process::Command::new(shire_e2e::binary("shire"))
        .args(["publish", ok_dir.to_str().unwrap()])
        .env("SHIRE_HOME", p.home.path())
        .env("SHIRE_REGISTRY", &club.node.url)
        .env("SHIRE_TOKEN", "shire_forged")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized"), "{err}");

    let after = club.node.get_json("/api/v1/packages/braintree/bins");
    assert_eq!(before["versions"].as_array().unwrap().len(), 1);
    assert_eq!(after["versions"].as_array().unwrap().len(), 1);
    assert_eq!(
        before["versions"][0]["digest"],
        after["versions"][0]["digest"]
    );
    assert_eq!(
        club.node.get_json("/api/v1/packages/braintree/app")["error"]["code"],
        "package_not_found"
    );
}

#[test]
fn oversized_upload_is_refused() {
    let club = Club::with_node(Node::start_with(&["--max-upload", "4096"]));
    // Hex of a hash chain: it compresses to about half, still far over the limit.
    let mut noise = String::new();
    let mut d = shire_core::Digest::of(b"seed");
    while noise.len() < 64_000 {
        d = shire_core::Digest::of(d.as_bytes());
        noise.push_str(&d.hex());
    }
    let big = Project::new("braintree/big", "1.0.0").file("data.txt", &noise);
    let dir = big.write(club.publisher.cwd.path());
    let err = club.publisher.fails(&["publish", dir.to_str().unwrap()]);
    assert!(err.contains("too_large"), "{err}");
    assert_eq!(
        club.node.get_json("/api/v1/packages/braintree/big")["error"]["code"],
        "package_not_found"
    );
}

#[test]
fn an_acknowledged_publish_survives_kill_9() {
    let mut club = Club::new();
    club.publish(&Project::new("braintree/durable", "1.0.0"));
    club.node.kill9();
    club.node.restart();
    let info = club.node.get_json("/api/v1/packages/braintree/durable");
    assert_eq!(info["versions"][0]["version"], "1.0.0", "{info}");
    // And the artifact is there, byte for byte.
    let digest = info["versions"][0]["digest"].as_str().unwrap().to_string();
    let bytes = club.node.artifact(&digest);
    assert_eq!(shire_core::Digest::of(&bytes).to_string(), digest);
}

/// Rewrites one version's JSON (in a package or version document) in place.
fn edit_version(body: Vec<u8>, f: &dyn Fn(&mut serde_json::Value)) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    if let Some(vs) = v.get_mut("versions").and_then(|x| x.as_array_mut()) {
        vs.iter_mut().for_each(f);
    } else if v.get("release").is_some() {
        f(&mut v);
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn install_refuses_a_release_signature_forged_by_the_server() {
    let club = Club::new();
    club.publish(&Project::new("braintree/bins", "1.0.0"));
    club.approve("braintree/bins@1.0.0");
    let proxy = Proxy::start(&club.node.url);
    // The server swaps in a statement signed by a key of its own.
    let rogue = shire_core::KeyPair::generate();
    let info = club.node.get_json("/api/v1/packages/braintree/bins/1.0.0");
    let manifest: shire_core::Manifest = serde_json::from_value(info["manifest"].clone()).unwrap();
    let digest = shire_core::Digest::parse(info["digest"].as_str().unwrap()).unwrap();
    let mut forged = shire_core::statement::ReleaseStatement::new(manifest, digest).sign(&rogue);
    // Claim the real publisher key's id.
    forged.signatures[0].keyid = info["publisher_key"]["key_id"].as_str().unwrap().into();
    let forged = serde_json::to_value(forged).unwrap();
    proxy.rewrite(move |_, body| edit_version(body, &|v| v["release"] = forged.clone()));
    let user = shire_e2e::User::new(&proxy.url, None);
    user.ok(&["trust", "add", &club.verifier_key]);
    let dir = user.path("pk");
    let err = user.fails(&["install", "braintree/bins", "--dir", dir.to_str().unwrap()]);
    assert!(err.to_lowercase().contains("signature"), "{err}");
    assert!(!dir.join("braintree").exists());
}

#[test]
fn install_refuses_hostile_archives_even_when_signed_and_approved() {
    let club = Club::new();
    club.publish(&Project::new("braintree/evil", "1.0.0"));
    club.approve("braintree/evil@1.0.0");
    let publisher_key = club.publisher.key_pair();
    let verifier_key = club.verifier.key_pair();
    let info = club.node.get_json("/api/v1/packages/braintree/evil/1.0.0");
    let manifest: shire_core::Manifest = serde_json::from_value(info["manifest"].clone()).unwrap();

    let hostile = [
        ("traversal", build(&[Item::File("../escaped.txt", b"x")])),
        (
            "absolute",
            build(&[Item::File("/tmp/shire-e2e-absolute.txt", b"x")]),
        ),
        (
            "symlink",
            build(&[Item::File("a", b"x"), Item::Symlink("link", "../../../etc")]),
        ),
    ];
    for (what, bytes) in hostile {
        let digest = shire_core::Digest::of(&bytes);
        // A compromised pipeline: both statements are genuinely signed.
        let release = shire_core::statement::ReleaseStatement::new(manifest.clone(), digest);
        let env = serde_json::to_value(release.sign(&publisher_key)).unwrap();
        let approval = shire_core::statement::VerdictStatement::new(
            shire_core::statement::Verdict::Approve,
            release.subject.clone(),
            &club.node.log_name(),
            None,
            0,
        )
        .sign(&verifier_key);
        let approval = serde_json::to_value(approval).unwrap();
        let proxy = Proxy::start(&club.node.url);
        proxy.replace(&format!("/api/v1/artifacts/{digest}"), bytes.clone());
        let size = bytes.len();
        proxy.rewrite(move |_, body| {
            edit_version(body, &|v| {
                v["release"] = env.clone();
                v["digest"] = digest.to_string().into();
                v["size"] = size.into();
                if let Some(list) = v["verdicts"].as_array_mut() {
                    for item in list {
                        item["envelope"] = approval.clone();
                    }
                }
            })
        });
        let user = shire_e2e::User::new(&proxy.url, None);
        user.ok(&["trust", "add", &club.verifier_key]);
        let dir = user.path("pk");
        let err = user.fails(&["install", "braintree/evil", "--dir", dir.to_str().unwrap()]);
        assert!(
            !err.to_lowercase().contains("digest") && !err.to_lowercase().contains("signature"),
            "{what}: refused for the wrong reason: {err}"
        );
        assert!(!user.path("escaped.txt").exists(), "{what}");
        assert!(
            !std::path::Path::new("/tmp/shire-e2e-absolute.txt").exists(),
            "{what}"
        );
        assert!(
            !dir.join("braintree/evil").exists(),
            "{what}: nothing left behind"
        );
    }
}
