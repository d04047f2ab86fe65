//! Issue 15, running a node: rotating the admin token, disabling accounts,
//! rotating one's own token.

use shire_e2e::{binary, Club, Project};
use std::process::Command;

fn rotate(node: &shire_e2e::Node, url: Option<&str>) -> std::process::Output {
    let mut c = Command::new(binary("shire-registry"));
    c.args(["admin-token", "rotate", "--data"])
        .arg(node.data_dir());
    if let Some(u) = url {
        c.args(["--url", u]);
    }
    c.env("RUST_LOG", "warn").output().unwrap()
}

fn token_file(node: &shire_e2e::Node) -> String {
    std::fs::read_to_string(node.data_dir().join("admin-token"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn the_admin_token_rotates_and_the_old_one_stops_at_once() {
    let mut club = Club::new();
    let old = club.node.admin_token.clone();
    // While the node serves.
    let out = rotate(&club.node, Some(&club.node.url));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = token_file(&club.node);
    assert_ne!(new, old);
    // The new one works, the old one no longer does.
    club.node
        .user(Some(&new))
        .ok(&["admin", "org", "create", "kent"]);
    let err = whoami_with(&club, &old);
    assert!(err.contains("unauthorized"), "{err}");

    // With the node stopped, in its data folder.
    club.node.kill9();
    let out = rotate(&club.node, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newer = token_file(&club.node);
    assert_ne!(newer, new);
    club.node.restart();
    club.node.user(Some(&newer)).ok(&["whoami"]);
    let err = whoami_with(&club, &new);
    assert!(err.contains("unauthorized"), "{err}");
}

/// `shire whoami` with `token` in SHIRE_TOKEN; its error line, if any.
fn whoami_with(club: &Club, token: &str) -> String {
    let o = Command::new(binary("shire"))
        .args(["whoami"])
        .env("SHIRE_HOME", club.installer.home.path())
        .env("SHIRE_REGISTRY", &club.node.url)
        .env("SHIRE_TOKEN", token)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{token} still works");
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn a_disabled_account_cannot_act_and_its_statements_stay_valid() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    club.approve("braintree/crm-lite@1.0.0");
    let out = club.admin.ok(&["admin", "user", "disable", "bt-dev"]);
    assert!(out.contains("disabled account bt-dev"), "{out}");
    let dir = Project::new("braintree/crm-lite", "1.1.0").write(club.publisher.cwd.path());
    let err = club.publisher.fails(&["publish", dir.to_str().unwrap()]);
    assert!(err.contains("bt-dev is disabled"), "{err}");
    // What it signed before stays valid: the release installs, the log verifies.
    club.installer
        .ok(&["install", "braintree/crm-lite", "--dir", "pk"]);
    assert!(club.installer.ok(&["log", "verify"]).contains("verified"));
    // Only an admin, and not itself.
    let err = club.publisher.fails(&["admin", "user", "enable", "bt-dev"]);
    assert!(err.contains("unauthorized"), "{err}");
    let err = club.admin.fails(&["admin", "user", "disable", "admin"]);
    assert!(err.contains("own_account"), "{err}");
    club.admin.ok(&[
        "admin", "user", "create", "admin2", "--org", "socitm", "--role", "admin",
    ]);
    let err = club.admin.fails(&["admin", "user", "disable", "admin2"]);
    assert!(err.contains("admin_account"), "{err}");
    club.admin.ok(&["admin", "user", "enable", "bt-dev"]);
    club.publisher.ok(&["publish", dir.to_str().unwrap()]);
}

#[test]
fn a_token_rotates_itself() {
    let club = Club::new();
    let p = &club.publisher;
    let before = p.json(&["token", "list"]);
    let rotated = p.json(&["token", "rotate"]);
    let new = rotated["token"].as_str().unwrap().to_string();
    p.ok(&["whoami"]);
    let old_id = before[0]["id"].as_str().unwrap();
    assert_ne!(rotated["id"].as_str().unwrap(), old_id);
    let after = p.json(&["token", "list"]);
    assert!(!after.to_string().contains(old_id), "{after}");
    assert!(club
        .node
        .user(Some(&new))
        .ok(&["whoami"])
        .contains("bt-dev"));
}

#[test]
fn every_request_has_an_id_in_its_answer_and_its_json_log_lines() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("node.log");
    let mut child = Command::new(binary("shire-registry"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data",
        ])
        .arg(data.path().join("d"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(u) = line.strip_prefix("shire-registry listening on ") {
            break u.to_string();
        }
    };
    let http = reqwest::blocking::Client::new();
    let given = http
        .get(format!("{url}/api/v1/packages/a/b"))
        .header("x-request-id", "council-trace-42")
        .send()
        .unwrap();
    assert_eq!(given.status().as_u16(), 404);
    assert_eq!(given.headers()["x-request-id"], "council-trace-42");
    let made = http.get(format!("{url}/healthz")).send().unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{id}");
    // A client's id that is not a plain token is replaced.
    let odd = http
        .get(format!("{url}/healthz"))
        .header("x-request-id", "two words")
        .send()
        .unwrap();
    assert_ne!(odd.headers()["x-request-id"], "two words");
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let answered: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "answered")
        .collect();
    assert!(
        answered
            .iter()
            .any(|v| v["span"]["request_id"] == "council-trace-42" && v["fields"]["status"] == 404),
        "{text}"
    );
    assert!(
        answered
            .iter()
            .any(|v| v["span"]["request_id"] == id.as_str()),
        "{text}"
    );
}

/// On SIGTERM the node stops accepting, lets a publish in flight finish,
/// flushes and exits 0; what it acknowledged is there after a restart.
#[test]
fn sigterm_lets_a_publish_in_flight_finish_then_exits_0() {
    use std::io::{Read, Write};
    let mut club = Club::new();
    let token = club.publisher.token.clone().unwrap();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let digest = shire_core::Digest::of(&bytes);
    let addr = club.node.url.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "PUT /api/v1/blobs/{digest} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    s.write_all(&bytes[..100_000]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SIGTERM while the upload is half sent.
    let pid = club.node.pid().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    // New connections are no longer accepted...
    assert!(reqwest::blocking::get(format!("{}/healthz", club.node.url)).is_err());
    // ...while the one in flight finishes and is answered.
    s.write_all(&bytes[100_000..]).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = club.node.terminate_wait();
    assert_eq!(status.code(), Some(0), "{status}");
    club.node.restart();
    assert_eq!(club.node.artifact(&digest.to_string()), bytes);
}

/// Backs a node up while 8 clients publish, restores the backup into a new
/// folder and starts a node on it: the log verifies, and every release
/// acknowledged before the backup started is there and installs.
#[test]
fn a_backup_taken_under_load_restores_to_a_prefix_of_the_log() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let club = Club::new();
    club.publish(&Project::new("braintree/base", "1.0.0"));
    club.approve("braintree/base@1.0.0");
    let stop = Arc::new(AtomicBool::new(false));
    // (release, when its publish was acknowledged)
    let acked: Arc<Mutex<Vec<(String, std::time::Instant)>>> = Arc::default();
    let token = club.publisher.token.clone().unwrap();
    let key_file = club.publisher.home.path().join("keys/default.json");
    let url = club.node.url.clone();
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let (stop, acked, token, key_file, url) = (
                stop.clone(),
                acked.clone(),
                token.clone(),
                key_file.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                let user = shire_e2e::User::new(&url, Some(&token));
                std::fs::create_dir_all(user.home.path().join("keys")).unwrap();
                std::fs::copy(&key_file, user.home.path().join("keys/default.json")).unwrap();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 40 {
                    let name = format!("braintree/load-{t}");
                    let dir = Project::new(&name, &format!("1.0.{i}")).write(user.cwd.path());
                    let out = user.run(&["publish", dir.to_str().unwrap()]);
                    if out.status.success() {
                        acked
                            .lock()
                            .unwrap()
                            .push((format!("{name}@1.0.{i}"), std::time::Instant::now()));
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let backup_dir = tempfile::tempdir().unwrap();
    let to = backup_dir.path().join("b1");
    let started = std::time::Instant::now();
    let out = Command::new(binary("shire-registry"))
        .args(["backup", "--url", &club.node.url, "--data"])
        .arg(club.node.data_dir())
        .arg("--to")
        .arg(&to)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let before: Vec<String> = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(r, _)| r.clone())
        .collect();
    assert!(
        before.len() >= 8,
        "publishers were too slow: {}",
        before.len()
    );

    let verified = Command::new(binary("shire-registry"))
        .arg("verify-backup")
        .arg(&to)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // A restore refuses a folder that is not empty.
    let occupied = tempfile::tempdir().unwrap();
    std::fs::write(occupied.path().join("x"), "x").unwrap();
    let refused = Command::new(binary("shire-registry"))
        .arg("restore")
        .arg(&to)
        .arg("--data")
        .arg(occupied.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));

    let new_data = tempfile::tempdir().unwrap();
    let restored = Command::new(binary("shire-registry"))
        .arg("restore")
        .arg(&to)
        .arg("--data")
        .arg(new_data.path())
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let node_key = club.node.get_json("/api/v1/node")["note_key"]
        .as_str()
        .unwrap()
        .to_string();
    // `shire-registry key` on the restored folder names the node's log
    // before its first start.
    let key = Command::new(binary("shire-registry"))
        .args(["key", "--json", "--data"])
        .arg(new_data.path())
        .output()
        .unwrap();
    let key: serde_json::Value = serde_json::from_slice(&key.stdout).unwrap();
    assert_eq!(key["note_key"], node_key.as_str());
    let node = shire_e2e::Node::start_on(new_data, &[]);
    // The restored node keeps its key: a client that pinned the old one verifies it.
    assert_eq!(node.get_json("/api/v1/node")["note_key"], node_key.as_str());
    let user = shire_e2e::User::new(&node.url, None);
    user.ok(&["trust", "add", &club.verifier_key]);
    assert!(user
        .ok(&["--node-key", &node_key, "log", "verify"])
        .contains("verified"));
    for r in &before {
        let (name, version) = r.split_once('@').unwrap();
        let path = format!("/api/v1/packages/{name}/{version}");
        assert!(node.get_json(&path)["digest"].is_string(), "{r} missing");
    }
    let first = &before[0];
    user.ok(&[
        "--node-key",
        &node_key,
        "install",
        &first.replace('@', "@="),
        "--dir",
        "pk",
        "--allow-unverified",
    ]);
    user.ok(&[
        "--node-key",
        &node_key,
        "install",
        "braintree/base",
        "--dir",
        "pk2",
    ]);
}

/// A backup taken from a stopped node's folder; `verify-backup` refuses
/// one whose artifact or log entry was altered.
#[test]
fn verify_backup_finds_an_altered_artifact_or_log_entry() {
    let mut club = Club::new();
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    club.approve("braintree/crm-lite@1.0.0");
    let colchester =
        shire_e2e::club::account(&club.node, &club.admin, "col-it", "colchester", "publisher");
    colchester.ok(&["adopt", "braintree/crm-lite"]);
    colchester.ok(&[
        "support",
        "offer",
        "braintree/crm-lite",
        "--versions",
        "^1",
        "--until",
        "2030-01-31",
    ]);
    club.publisher.ok(&[
        "support",
        "accept",
        "braintree/crm-lite",
        "--supporter",
        "colchester",
        "--versions",
        "^1",
        "--until",
        "2030-01-31",
    ]);
    club.node.kill9();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("b");
    let out = Command::new(binary("shire-registry"))
        .args(["backup", "--data"])
        .arg(club.node.data_dir())
        .arg("--to")
        .arg(&to)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = |path: &std::path::Path| {
        let o = Command::new(binary("shire-registry"))
            .arg("verify-backup")
            .arg(path)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    assert!(verify(&to).0);
    // A mistyped data folder is refused, and no node is created in it.
    let typo = dir.path().join("shire-dat");
    let out = Command::new(binary("shire-registry"))
        .args(["backup", "--data"])
        .arg(&typo)
        .arg("--to")
        .arg(dir.path().join("b2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no node"));
    assert!(!typo.exists() && !dir.path().join("b2").exists());
    // An artifact altered.
    let blob = std::fs::read_dir(to.join("blobs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = std::fs::read(&blob).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 1;
    std::fs::write(&blob, &bad).unwrap();
    let (ok, err) = verify(&to);
    assert!(!ok && err.contains("hashes to"), "{err}");
    std::fs::write(&blob, &good).unwrap();
    // The adoption's record dropped: the node would then accept the old
    // statement replayed. Refused.
    let adoptions = to.join("db/adoptions.jsonl");
    let kept = std::fs::read(&adoptions).unwrap();
    std::fs::write(&adoptions, "").unwrap();
    let (ok, err) = verify(&to);
    assert!(!ok && err.contains("has no record"), "{err}");
    std::fs::write(&adoptions, &kept).unwrap();
    assert!(verify(&to).0);
    // The agreed support stretched by a year in the backup: refused.
    let supports = to.join("db/supports.jsonl");
    let kept = std::fs::read_to_string(&supports).unwrap();
    let mut line: serde_json::Value = serde_json::from_str(kept.lines().next().unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut record: serde_json::Value =
        serde_json::from_slice(&base64::Engine::decode(&b64, line["v"].as_str().unwrap()).unwrap())
            .unwrap();
    record["fact"]["agreed"]["until"] = serde_json::json!("2031-01-31");
    line["v"] = serde_json::json!(base64::Engine::encode(&b64, record.to_string()));
    std::fs::write(&supports, format!("{line}\n")).unwrap();
    let (ok, err) = verify(&to);
    assert!(!ok && err.contains("not what the log"), "{err}");
    std::fs::write(&supports, &kept).unwrap();
    assert!(verify(&to).0);
    // A log entry altered.
    let entries = to.join("db/log_entries.jsonl");
    let text = std::fs::read_to_string(&entries).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["v"] = serde_json::json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"{\"event\":\"org_created\",\"org\":\"evil\",\"at\":\"2026-01-01T00:00:00Z\"}"
    ));
    std::fs::write(
        &entries,
        lines
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let (ok, err) = verify(&to);
    assert!(
        !ok && err.contains("not the one its checkpoint signs"),
        "{err}"
    );
}

#[test]
fn config_check_names_the_line_of_an_error_and_prints_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:7999\"\nmax_upload = -5\n").unwrap();
    let out = Command::new(binary("shire-registry"))
        .args(["config", "check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "listen = \"127.0.0.1:7999\"\nmax_upload = 1000\n").unwrap();
    let out = Command::new(binary("shire-registry"))
        .args(["config", "check", "--config"])
        .arg(&good)
        .env("SHIRE_CACHE_MIB", "32")
        .env("SHIRE_WORKERS", "3")
        .args(["--max-upload", "2000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "listen 127.0.0.1:7999",
        "max_upload 2000",
        "cache_mib 32",
        "workers 3",
        "storage embedded",
    ] {
        assert!(text.contains(line), "{line} missing from {text}");
    }
    // A shared backend's settings, its password never printed.
    let shared = dir.path().join("shared.toml");
    std::fs::write(
        &shared,
        "workers = 40\n[storage]\nbackend = \"shared\"\n\
         postgres = \"postgres://shire:s3cret-pw@127.0.0.1:5432/shire\"\n\
         objects = \"s3://council-artifacts/shire\"\n",
    )
    .unwrap();
    let out = Command::new(binary("shire-registry"))
        .args(["config", "check", "--config"])
        .arg(&shared)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "storage shared",
        "postgres postgres://shire:***@127.0.0.1:5432/shire",
        "objects s3://council-artifacts/shire",
        "max_connections 44",
        "downloads stream",
    ] {
        assert!(text.contains(line), "{line} missing from {text}");
    }
    assert!(!text.contains("s3cret-pw"), "{text}");
}

/// The HTTP worker threads a running node has (actix names each one),
/// once as many as `expected` have started or 10 s have passed.
fn http_workers_of(pid: u32, expected: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.starts_with("actix-server w"))
            .count();
        if n >= expected || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_node_runs_the_http_workers_it_is_given() {
    let node = shire_e2e::Node::start_with(&["--workers", "3"]);
    assert_eq!(http_workers_of(node.pid(), 3), 3);
    let default = shire_e2e::Node::start();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(http_workers_of(default.pid(), cores), cores);
}
