//! The shared backend end to end: two `shire-registry serve` processes on one
//! PostgreSQL database and one bucket (a real PostgreSQL and a real S3 API on
//! loopback, `tests/services/up.sh`) serve one node.

use shire_e2e::club::{account, public_key};
use shire_e2e::services::SharedStorage;
use shire_e2e::{Node, Project, User};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Writes the shared deployment's configuration file into `dir`.
fn config(dir: &Path, storage: &SharedStorage) -> String {
    let path = dir.join("shire.toml");
    std::fs::write(&path, storage.toml()).unwrap();
    path.display().to_string()
}

/// A second process of `first`'s node: its own data folder holding the same
/// node key (and the admin token, for the harness), the same configuration.
fn second_process(first: &Node, config: &str) -> Node {
    let data = tempfile::tempdir().unwrap();
    for file in ["node-key", "admin-token"] {
        std::fs::copy(first.data_dir().join(file), data.path().join(file)).unwrap();
    }
    Node::start_on(data, &["--config", config])
}

/// `(size, root)` of a checkpoint note.
fn size_and_root(note: &str) -> (u64, String) {
    let mut lines = note.lines().skip(1);
    let size = lines.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    (size, lines.next().unwrap_or_default().to_string())
}

fn checkpoint(url: &str) -> Option<String> {
    let resp = reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/log/checkpoint"))
        .timeout(Duration::from_secs(5))
        .send()
        .ok()?;
    resp.status().is_success().then(|| resp.text().ok())?
}

#[test]
fn two_processes_serve_one_node_through_a_kill_9() {
    let storage = SharedStorage::fresh();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = config(cfg_dir.path(), &storage);
    let mut a = Node::start_with(&["--config", &cfg]);
    let b = second_process(&a, &cfg);
    let urls = [a.url.clone(), b.url.clone()];

    let admin = a.admin();
    for org in ["braintree", "socitm"] {
        admin.ok(&["admin", "org", "create", org]);
    }
    // Eight publishers, half on each process; accounts are made on one and
    // used on the other.
    let clients: Vec<User> = (0..8)
        .map(|i| {
            let on_a = account(&a, &admin, &format!("dev-{i}"), "braintree", "publisher");
            let token = on_a.token.clone().unwrap();
            let user = User::new(&urls[i % 2], Some(&token));
            std::fs::remove_dir_all(user.home.path()).unwrap();
            copy_dir(on_a.home.path(), user.home.path());
            user.ok(&["login", "--token", &token]);
            user
        })
        .collect();

    // A reader alternating between the processes: sizes never go back, and
    // one size always has one root.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
    let reader = {
        let (stop, seen, urls) = (stop.clone(), seen.clone(), urls.clone());
        std::thread::spawn(move || {
            let mut largest = 0u64;
            let mut turn = 0usize;
            while !stop.load(Ordering::SeqCst) {
                turn += 1;
                let Some(note) = checkpoint(&urls[turn % 2]) else {
                    continue; // the killed process
                };
                let (size, root) = size_and_root(&note);
                assert!(size >= largest, "rolled back from {largest} to {size}");
                largest = size;
                let mut seen = seen.lock().unwrap();
                let known = seen.entry(size).or_insert_with(|| root.clone());
                assert_eq!(*known, root, "two trees of size {size}");
            }
        })
    };

    // Every client publishes four versions; the first process is killed once
    // a few publishes are acknowledged.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, user)| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                for v in 1..=4 {
                    let name = format!("braintree/app-{i}");
                    let version = format!("1.0.{v}");
                    let dir = Project::new(&name, &version).write(user.cwd.path());
                    let out = user.run(&["publish", dir.to_str().unwrap()]);
                    if out.status.success() {
                        acked.lock().unwrap().push((name, version));
                    }
                }
                user
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < 6 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill9();
    let users: Vec<User> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 16,
        "the surviving process kept accepting: {} acknowledged",
        acked.len()
    );

    // Every acknowledged publish is there, served by the survivor, its
    // artifact from the bucket.
    for (name, version) in &acked {
        let v = b.get_json(&format!("/api/v1/packages/{name}/{version}"));
        let digest = v["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}@{version}: {v}"));
        let bytes = b.artifact(digest);
        assert_eq!(shire_core::Digest::of(&bytes).to_string(), digest);
    }

    // The killed process comes back on the same database and bucket.
    a.restart();
    stop.store(true, Ordering::SeqCst);
    reader.join().expect("no rolled-back or forked checkpoint");
    let sizes = seen.lock().unwrap().len();
    println!(
        "{} of 32 publishes acknowledged; the reader saw {sizes} checkpoint sizes",
        acked.len()
    );
    assert!(sizes > 1, "the reader saw the log grow");
    assert_eq!(
        size_and_root(&checkpoint(&a.url).unwrap()),
        size_and_root(&checkpoint(&b.url).unwrap()),
        "both processes sign one tree"
    );
    // A document one process cached is not served once the other wrote.
    let versions = |node: &Node| {
        node.get_json("/api/v1/packages/braintree/app-1")["versions"]
            .as_array()
            .map(|v| v.len())
            .unwrap_or(0)
    };
    let held = versions(&a);
    assert_eq!(versions(&a), held, "read twice: the second from the cache");
    let dir = Project::new("braintree/app-1", "1.0.9").write(users[1].cwd.path());
    users[1].ok(&["publish", dir.to_str().unwrap()]);
    assert_eq!(
        versions(&a),
        held + 1,
        "the first process shows the new version"
    );

    // A verifier's key, so installers have someone to trust; then each
    // process's log replays and verifies in a client.
    let admin_b = b.user(Some(&a.admin_token));
    let verifier = account(&b, &admin_b, "socitm-rev", "socitm", "verifier");
    for node in [&a, &b] {
        let installer = node.user(None);
        installer.ok(&["trust", "add", &public_key(&verifier), "--label", "socitm"]);
        let out = installer.ok(&["log", "verify"]);
        assert!(out.contains("verified"), "{out}");
        for (name, version) in &acked {
            let v = node.get_json(&format!("/api/v1/packages/{name}/{version}"));
            assert_eq!(v["version"], version.as_str(), "{v}");
        }
    }

    // A process started without the node's key (it would make a key of its
    // own) is refused: it would sign this log under a key no client pinned.
    let stray = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(shire_e2e::binary("shire-registry"))
        .args([
            "serve",
            "--config",
            &cfg,
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(stray.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("copy node-key"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn an_embedded_node_migrates_and_installs_under_the_key_pinned_before() {
    let mut club = shire_e2e::Club::new();
    club.publish(&Project::new("braintree/app", "1.0.0"));
    club.approve("braintree/app@1.0.0");
    let pinned = club.node.log_name();
    let before = size_and_root(&checkpoint(&club.node.url).unwrap());
    club.node.kill9();

    let storage = SharedStorage::fresh();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = config(cfg_dir.path(), &storage);
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(shire_e2e::binary("shire-registry"))
        .args(["migrate", "--from"])
        .arg(club.node.data_dir())
        .args(["--to-config", &cfg, "--process-data"])
        .arg(data.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("1 artifacts"), "{said}");
    // Migrating again into the same database is refused.
    let again = std::process::Command::new(shire_e2e::binary("shire-registry"))
        .args(["migrate", "--from"])
        .arg(club.node.data_dir())
        .args(["--to-config", &cfg])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a node"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let shared = Node::start_on(data, &["--config", &cfg]);
    assert_eq!(shared.log_name(), pinned, "the same log, the same key");
    assert_eq!(size_and_root(&checkpoint(&shared.url).unwrap()), before);
    // A council that pinned the key before installs from the shared node.
    let council = shared.user(None);
    council.ok(&["trust", "add", &club.verifier_key]);
    let out = council.ok(&[
        "install",
        "braintree/app@1.0.0",
        "--dir",
        "apps",
        "--node-key",
        &pinned,
    ]);
    assert!(out.contains("installed braintree/app@1.0.0"), "{out}");
    // Its search index is PostgreSQL's, built from the migrated packages.
    let found = council.ok(&["search", "app"]);
    assert!(found.contains("braintree/app"), "{found}");
    // The log goes on from where it was: a new release extends it.
    let publisher = User::new(&shared.url, club.publisher.token.as_deref());
    std::fs::remove_dir_all(publisher.home.path()).unwrap();
    copy_dir(club.publisher.home.path(), publisher.home.path());
    publisher.ok(&["login", "--token", club.publisher.token.as_deref().unwrap()]);
    let dir = Project::new("braintree/app", "1.1.0").write(publisher.cwd.path());
    publisher.ok(&["publish", dir.to_str().unwrap()]);
    let out = council.ok(&["log", "verify"]);
    assert!(out.contains("verified"), "{out}");
    // Another node's key is refused: the pin is what was checked.
    let other = Node::start();
    let stranger = shared.user(None);
    stranger.ok(&["trust", "add", &club.verifier_key]);
    let err = stranger.fails(&[
        "install",
        "braintree/app@1.0.0",
        "--dir",
        "apps",
        "--node-key",
        &other.log_name(),
    ]);
    assert!(err.contains("refusing to trust the other key"), "{err}");
}
