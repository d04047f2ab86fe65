//! Issue 4: the transparency log through the real binaries: the client pins
//! the node key, follows checkpoints only along consistency proofs, checks an
//! inclusion proof for everything an install relies on, and `shire log verify`
//! finds an entry altered or removed on the server's disk.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use shire_e2e::{Club, Node, Project, Proxy, User};
use shire_tlog::{sign_checkpoint, Hash, Origin};

/// The user's one checkpoint state file (`SHIRE_HOME/checkpoints/*.json`).
fn state_file(user: &User) -> serde_json::Value {
    let dir = user.home.path().join("checkpoints");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap()
}

/// The tree size a checkpoint note signs (its second line).
fn note_size(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

fn log_index(club: &Club, release: &str) -> u64 {
    let (name, version) = release.split_once('@').unwrap();
    club.node
        .get_json(&format!("/api/v1/packages/{name}/{version}"))["log_index"]
        .as_u64()
        .expect("log_index")
}

fn origin(node: &Node) -> Origin {
    Origin::parse(node.get_json("/api/v1/node")["origin"].as_str().unwrap()).unwrap()
}

/// Stops the node, lets `edit` change its `log_entries` tree on disk (key =
/// index as u64 big-endian), and restarts it on the same address.
fn tamper(node: &mut Node, edit: impl FnOnce(&sled::Tree)) {
    node.kill9();
    {
        let db = node.open_db();
        let entries = db.open_tree("log_entries").unwrap();
        edit(&entries);
        db.flush().unwrap();
    }
    node.restart_same_address();
}

/// Runs `shire log verify` expecting exit code 1 naming entry `index`; returns stdout.
fn verify_fails_at(user: &User, index: u64) -> String {
    let out = user.run(&["log", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("entry {index}:")), "{stdout}");
    let v = json_any(user, &["log", "verify"]);
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["first_bad"]["index"], index, "{v}");
    stdout
}

/// Runs `shire ARGS --json` whatever its exit status; returns the parsed stdout.
fn json_any(user: &User, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = user.run(&a);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`shire {}` printed no JSON ({e}): {}",
            a.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A club with `braintree/crm@1.0.0` approved and `braintree/hr@1.0.0` after it.
fn club_with_history() -> Club {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    club.publish(&Project::new("braintree/hr", "1.0.0"));
    club
}

#[test]
fn restart_keeps_the_log_intact() {
    let mut club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    let dir = club.installer.path("pk");
    let d = dir.to_str().unwrap();
    let out = club
        .installer
        .run(&["install", "braintree/crm", "--dir", d]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("pinned node key"), "{stderr}");
    let before = state_file(&club.installer);
    let node_key = club.node.get_json("/api/v1/node")["note_key"].clone();
    assert_eq!(before["note_key"], node_key);
    assert_eq!(
        before["size"].as_u64(),
        Some(note_size(&club.node.checkpoint()))
    );
    // The lock records the release's log index.
    let lock = std::fs::read_to_string(dir.join("shire.lock")).unwrap();
    let index = log_index(&club, "braintree/crm@1.0.0");
    assert!(lock.contains(&format!("log_index = {index}")), "{lock}");
    // Pinning is announced once.
    let out = club.installer.run(&["log", "verify"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pinned node key"));

    club.node.restart_same_address();
    club.publish(&Project::new("braintree/crm", "1.1.0"));
    club.approve("braintree/crm@1.1.0");
    let v = club.installer.json(&["log", "verify"]);
    assert_eq!(v["valid"], true, "{v}");
    let size = v["size"].as_u64().unwrap();
    assert!(size > before["size"].as_u64().unwrap(), "{v}");
    let after = state_file(&club.installer);
    assert_eq!(after["size"].as_u64(), Some(size));
    assert_eq!(after["root"], v["root"]);
    club.installer
        .ok(&["install", "braintree/crm@1.1.0", "--dir", d]);

    // `log show` lists every entry readably.
    let shown = club.installer.json(&["log", "show"]);
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len() as u64, size);
    let text = serde_json::to_string(shown).unwrap();
    assert!(text.contains("release braintree/crm@1.1.0"), "{text}");
    assert!(text.contains("organisation braintree created"), "{text}");
    let part = club
        .installer
        .json(&["log", "show", "--from", "2", "--limit", "3"]);
    assert_eq!(part.as_array().unwrap().len(), 3);
    assert_eq!(part[0]["index"], 2);
    let plain = club
        .installer
        .ok(&["log", "show", "--from", &index.to_string(), "--limit", "1"]);
    assert!(plain.contains("release braintree/crm@1.0.0"), "{plain}");
}

#[test]
fn an_entry_altered_on_the_servers_disk_is_found() {
    let mut club = club_with_history();
    let i = log_index(&club, "braintree/crm@1.0.0");
    club.installer.ok(&["log", "verify"]);
    tamper(&mut club.node, |t| {
        let bytes = t.get(i.to_be_bytes()).unwrap().unwrap();
        let mut event: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        event["at"] = "1999-01-01T00:00:00Z".into();
        t.insert(i.to_be_bytes(), serde_json::to_vec(&event).unwrap())
            .unwrap();
    });
    let out = verify_fails_at(&club.installer, i);
    assert!(out.contains("altered"), "{out}");
    // A client that never saw the log replays it from the start to install:
    // the altered entry does not hash into the signed tree, so it refuses.
    let fresh = User::new(&club.node.url, None);
    fresh.ok(&["trust", "add", &club.verifier_key]);
    let dir = fresh.path("pk");
    let err = fresh.fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
    assert!(err.contains("not the signed log"), "{err}");
    assert!(!dir.join("braintree").exists());
}

#[test]
fn an_entry_removed_from_the_servers_disk_is_found() {
    // Removed, later entries moved up to close the gap (the last entry stays,
    // so the node's own startup check, which looks at the count and the last
    // entry, passes).
    let mut club = club_with_history();
    let i = log_index(&club, "braintree/crm@1.0.0");
    club.installer.ok(&["log", "verify"]);
    tamper(&mut club.node, |t| {
        let size = t.len() as u64;
        assert!(i + 2 < size);
        for j in i..size - 1 {
            let next = t.get((j + 1).to_be_bytes()).unwrap().unwrap();
            t.insert(j.to_be_bytes(), next).unwrap();
        }
    });
    verify_fails_at(&club.installer, i);

    // Removed, leaving a gap (the last entry stays, so the node still starts:
    // its startup check looks at the last entry, not every one).
    let mut club = club_with_history();
    let i = log_index(&club, "braintree/crm@1.0.0");
    club.installer.ok(&["log", "verify"]);
    tamper(&mut club.node, |t| {
        assert!(t.remove(i.to_be_bytes()).unwrap().is_some());
    });
    let out = verify_fails_at(&club.installer, i);
    assert!(out.contains("missing"), "{out}");
}

/// A user of the node through a lying proxy, trusting the club's verifier,
/// that has verified the node's current checkpoint.
fn user_behind(club: &Club) -> (Proxy, User, u64) {
    let proxy = Proxy::start(&club.node.url);
    let user = User::new(&proxy.url, None);
    user.ok(&["trust", "add", &club.verifier_key]);
    user.ok(&["log", "verify"]);
    let size = state_file(&user)["size"].as_u64().unwrap();
    assert_eq!(size, note_size(&club.node.checkpoint()));
    (proxy, user, size)
}

#[test]
fn a_rolled_back_checkpoint_is_refused() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    let old = club.node.checkpoint();
    club.publish(&Project::new("braintree/hr", "1.0.0"));
    let (proxy, user, size) = user_behind(&club);
    assert!(size > note_size(&old));
    proxy.replace("/api/v1/log/checkpoint", old.clone().into_bytes());
    let expected = format!(
        "registry checkpoint rolled back from {size} to {}",
        note_size(&old)
    );
    let err = user.fails(&["log", "verify"]);
    assert!(err.contains(&expected), "{err}");
    let dir = user.path("pk");
    let err = user.fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
    assert!(err.contains(&expected), "{err}");
    assert!(!dir.exists());
    assert_eq!(state_file(&user)["size"].as_u64(), Some(size));
}

#[test]
fn a_forked_log_is_refused() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    let (proxy, user, size) = user_behind(&club);
    let key = club.node.node_key();
    let origin = origin(&club.node);
    // The node's own key signs another root at the same size.
    let forged = sign_checkpoint(&origin, size, &Hash([7; 32]), key.dalek());
    proxy.replace("/api/v1/log/checkpoint", forged.into_bytes());
    let err = user.fails(&["log", "verify"]);
    assert!(err.contains("registry log forked"), "{err}");
    assert!(err.contains(&format!("size {size}")), "{err}");
    // A larger tree whose root does not extend the one held.
    club.publish(&Project::new("braintree/hr", "1.0.0"));
    let grown = note_size(&club.node.checkpoint());
    assert!(grown > size);
    let forged = sign_checkpoint(&origin, grown, &Hash([9; 32]), key.dalek());
    proxy.replace("/api/v1/log/checkpoint", forged.into_bytes());
    let err = user.fails(&["log", "verify"]);
    assert!(err.contains("registry log forked"), "{err}");
    let dir = user.path("pk");
    let err = user.fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
    assert!(err.contains("registry log forked"), "{err}");
    assert_eq!(state_file(&user)["size"].as_u64(), Some(size));
}

#[test]
fn a_checkpoint_or_node_signed_by_another_key_is_refused() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    let (proxy, user, size) = user_behind(&club);
    let origin = origin(&club.node);
    let node = club.node.get_json("/api/v1/node");
    let real_key = node["note_key"].as_str().unwrap().to_string();
    let root = Hash::from_base64(state_file(&user)["root"].as_str().unwrap()).unwrap();
    // The same tree, signed by a key other than the pinned one.
    let rogue = shire_core::KeyPair::generate();
    let forged = sign_checkpoint(&origin, size, &root, rogue.dalek());
    proxy.replace("/api/v1/log/checkpoint", forged.into_bytes());
    let err = user.fails(&["log", "verify"]);
    assert!(err.contains("registry checkpoint refused"), "{err}");
    assert!(err.contains("not signed by the key"), "{err}");

    // The node itself now presents another key: refused, naming both.
    let rogue_key = shire_tlog::note_verifier_key(&origin, &rogue.dalek().verifying_key());
    let mut lying = node.clone();
    lying["note_key"] = rogue_key.clone().into();
    proxy.replace("/api/v1/node", serde_json::to_vec(&lying).unwrap());
    let err = user.fails(&["log", "verify"]);
    let id = |k: &str| k.split('+').nth(1).unwrap().to_string();
    assert!(err.contains("presents node key"), "{err}");
    assert!(
        err.contains(&id(&real_key)) && err.contains(&id(&rogue_key)),
        "{err}"
    );

    // --node-key: the wrong key is refused on first use, the right one works
    // without trust-on-first-use.
    let fresh = club.node.user(None);
    let err = fresh.fails(&["--node-key", &rogue_key, "log", "verify"]);
    assert!(
        err.contains(&id(&rogue_key)) && err.contains(&id(&real_key)),
        "{err}"
    );
    let out = fresh.run(&["--node-key", &real_key, "log", "verify"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pinned node key"));
    assert_eq!(state_file(&fresh)["note_key"], real_key.as_str());
    assert!(fresh
        .fails(&["--node-key", "not-a-key", "log", "verify"])
        .contains("node key"));
}

#[test]
fn entries_served_altered_are_refused_at_install() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    let proxy = Proxy::start(&club.node.url);
    let user = User::new(&proxy.url, None);
    user.ok(&["trust", "add", &club.verifier_key]);
    let dir = user.path("pk");
    let d = dir.to_str().unwrap();
    // The proxy changes one byte of meaning in every entry it serves.
    proxy.rewrite(|path, body| {
        if path != "/api/v1/log/entries" {
            return body;
        }
        let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for e in v["entries"].as_array_mut().unwrap() {
            let mut ev: serde_json::Value =
                serde_json::from_slice(&B64.decode(e["data"].as_str().unwrap()).unwrap()).unwrap();
            ev["at"] = "1999-01-01T00:00:00Z".into();
            e["data"] = serde_json::Value::String(B64.encode(serde_json::to_vec(&ev).unwrap()));
        }
        serde_json::to_vec(&v).unwrap()
    });
    let err = user.fails(&["install", "braintree/crm", "--dir", d]);
    assert!(err.contains("not the signed log"), "{err}");
    assert!(!dir.exists());
    // Nothing of the lie was kept: honest answers install.
    proxy.rewrite(|_, body| body);
    user.ok(&["install", "braintree/crm", "--dir", d]);
    assert!(dir.join("braintree/crm").exists());
}

/// The node's whole log as entry bytes.
fn all_entries(node: &Node) -> Vec<Vec<u8>> {
    let size = note_size(&node.checkpoint());
    let v = node.get_json(&format!("/api/v1/log/entries?start=0&end={size}"));
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, size);
    entries
        .iter()
        .map(|e| B64.decode(e["data"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn log_verify_catches_a_node_logging_statements_no_valid_key_signed() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    // The publisher revokes its key on the node (logged as key_revoked).
    let publisher = club.publisher.key_pair();
    let status = reqwest::blocking::Client::new()
        .delete(format!(
            "{}/api/v1/keys/{}",
            club.node.url,
            publisher.key_id()
        ))
        .bearer_auth(club.publisher.token.as_deref().unwrap())
        .send()
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    let honest = all_entries(&club.node);
    let size = honest.len() as u64;
    let node_key = club.node.node_key();
    let origin = origin(&club.node);

    let stranger = shire_core::KeyPair::generate();
    for (signer, why) in [
        (&stranger, "is not registered in this log"),
        (&publisher, "revoked"),
    ] {
        // A node that signs a checkpoint over a release it made up.
        let mut manifest = shire_core::Manifest::skeleton(
            shire_core::PackageName::parse("braintree/evil").unwrap(),
        );
        manifest.package.version = shire_core::Version::new(6, 6, 6);
        let statement =
            shire_core::statement::ReleaseStatement::new(manifest, shire_core::Digest::of(b"evil"));
        let forged = shire_core::event::LogEvent::Release {
            envelope: statement.sign(signer),
            key_id: signer.key_id(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        let mut entries = honest.clone();
        entries.push(forged.to_bytes());
        let log = shire_tlog::MemoryLog::from_entries(&entries).unwrap();
        let note = sign_checkpoint(&origin, size + 1, &log.root().unwrap(), node_key.dalek());
        let body = serde_json::json!({
            "entries": entries
                .iter()
                .enumerate()
                .map(|(i, e)| serde_json::json!({"index": i, "data": B64.encode(e)}))
                .collect::<Vec<_>>()
        });
        let proxy = Proxy::start(&club.node.url);
        proxy.replace("/api/v1/log/checkpoint", note.into_bytes());
        proxy.replace("/api/v1/log/entries", serde_json::to_vec(&body).unwrap());
        let user = User::new(&proxy.url, None);
        let out = verify_fails_at(&user, size);
        assert!(out.contains(why), "{out}");
    }
}
