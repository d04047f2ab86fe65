//! Federation on loopback: nodes following one another's logs, mirroring
//! verified releases, relaying and witnessing; and peers that lie.
//!
//! A is home of `a-*`, B of `b-*`; C follows A directly, B directly, and A
//! again through B (B follows A and relays its log). Lying peers are
//! [`Proxy`]s in front of a real node, or a real node creating an
//! organisation it is not home of.

use base64::Engine as _;
use serde_json::Value;
use shire_e2e::club::account;
use shire_e2e::{binary, Node, Project, Proxy, User};
use shire_tlog::{
    count_cosignatures, leaf_hash, open_checkpoint, parse_note_verifier_key,
    parse_witness_verifier_key, sign_checkpoint, verify_inclusion, witness_verifier_key, Hash,
    WitnessName,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A node with a publishing organisation and a verifying one.
struct Home {
    node: Node,
    publisher: User,
    verifier: User,
    admin: User,
    origin: String,
    note_key: String,
}

impl Home {
    fn start(origin: &str, prefix: &str, extra: &[&str]) -> Home {
        let mut args = vec!["--origin", origin];
        args.extend_from_slice(extra);
        let node = Node::start_with(&args);
        let admin = node.admin();
        let council = format!("{prefix}-council");
        let audit = format!("{prefix}-audit");
        for org in [&council, &audit] {
            admin.ok(&["admin", "org", "create", org]);
        }
        let publisher = account(
            &node,
            &admin,
            &format!("{prefix}-pub"),
            &council,
            "publisher",
        );
        let verifier = account(&node, &admin, &format!("{prefix}-ver"), &audit, "verifier");
        let note_key = node.get_json("/api/v1/node")["note_key"]
            .as_str()
            .unwrap()
            .to_string();
        Home {
            node,
            publisher,
            verifier,
            admin,
            origin: origin.to_string(),
            note_key,
        }
    }

    fn publish(&self, name: &str, version: &str) {
        let dir = Project::new(name, version).write(self.publisher.cwd.path());
        self.publisher.ok(&["publish", dir.to_str().unwrap()]);
    }
}

/// One `[[peer]]` table.
fn peer(
    name: &str,
    url: &str,
    home: &Home,
    home_of: &str,
    via: Option<&str>,
    witness: bool,
) -> String {
    format!(
        "[[peer]]\nname = \"{name}\"\nurl = \"{url}\"\norigin = \"{}\"\nnode_key = \"{}\"\nhome_of = [\"{home_of}\"]\n{}witness = {witness}\n\n",
        home.origin,
        home.note_key,
        via.map(|v| format!("via = \"{v}\"\n")).unwrap_or_default()
    )
}

fn write_config(dir: &Path, file: &str, peers: &[String]) -> PathBuf {
    let text = format!(
        "poll_interval_ms = 150\nretry_min_ms = 100\nretry_max_ms = 1000\nbatch = 7\n\n{}",
        peers.concat()
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(url: &str) -> Option<Value> {
    let r = reqwest::blocking::get(url).ok()?;
    r.status().is_success().then(|| r.json().ok()).flatten()
}

fn text(url: &str) -> String {
    reqwest::blocking::get(url).unwrap().text().unwrap()
}

fn peer_status(node: &Node, name: &str) -> Value {
    let all = node.get_json("/api/v1/peers");
    all.as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no peer {name} in {all}"))
}

fn log_size(home: &Home) -> u64 {
    let note = home.node.checkpoint();
    let (origin, key) = parse_note_verifier_key(&home.note_key).unwrap();
    open_checkpoint(&note, &origin, &key).unwrap().size()
}

fn version(node: &Node, spec: &str) -> Option<Value> {
    get(&format!("{}/api/v1/packages/{spec}", node.url))
}

#[test]
fn three_nodes_mirror_relay_witness_yank_and_revoke() {
    let a = Home::start("a.test", "a", &[]);
    let cfg = tempfile::tempdir().unwrap();
    let b_cfg = write_config(
        cfg.path(),
        "b.toml",
        &[peer("a", &a.node.url, &a, "a-*", None, false)],
    );
    let b = Home::start("b.test", "b", &["--config", b_cfg.to_str().unwrap()]);
    let c_peers = [
        peer("a", &a.node.url, &a, "a-*", None, true),
        peer("b", &b.node.url, &b, "b-*", None, false),
        peer("a-via-b", &b.node.url, &a, "a-*", Some("b"), false),
    ];
    let c_cfg = write_config(cfg.path(), "c.toml", &c_peers);
    let mut c = Node::start_with(&["--origin", "c.test", "--config", c_cfg.to_str().unwrap()]);

    a.publish("a-council/bins", "1.0.0");
    a.verifier.ok(&["approve", "a-council/bins@1.0.0"]);
    b.publish("b-council/parks", "1.0.0");

    wait_until(
        "C mirrors the approved release of A and B's release",
        || {
            version(&c, "a-council/bins/1.0.0").is_some_and(|v| v["state"] == "approved")
                && version(&c, "b-council/parks/1.0.0").is_some()
        },
    );
    let on_a = version(&a.node, "a-council/bins/1.0.0").unwrap();
    let on_c = version(&c, "a-council/bins/1.0.0").unwrap();
    // Same statements, and log indices in the ORIGIN's log.
    for field in ["digest", "release", "log_index", "size"] {
        assert_eq!(on_a[field], on_c[field], "{field}");
    }
    assert_eq!(
        on_a["verdicts"][0]["log_index"],
        on_c["verdicts"][0]["log_index"]
    );
    assert_eq!(
        on_a["verdicts"][0]["envelope"],
        on_c["verdicts"][0]["envelope"]
    );
    assert_eq!(
        c.get_json("/api/v1/packages/a-council/bins")["origin"],
        "a.test"
    );
    assert_eq!(
        c.get_json("/api/v1/packages/b-council/parks")["origin"],
        "b.test"
    );
    let hits = c.get_json("/api/v1/search?q=bins");
    assert_eq!(hits["results"][0]["origin"], "a.test");
    // The artifact is served by C, byte for byte.
    let digest = on_a["digest"].as_str().unwrap();
    let from_a = reqwest::blocking::get(format!("{}/api/v1/artifacts/{digest}", a.node.url))
        .unwrap()
        .bytes()
        .unwrap();
    let from_c = reqwest::blocking::get(format!("{}/api/v1/artifacts/{digest}", c.url))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(from_a, from_c);
    // A peer's release is not judged here.
    let verdicts_on_c = c.get_json("/api/v1/peers");
    assert_eq!(verdicts_on_c.as_array().unwrap().len(), 3);

    // Every peer, the relayed one included, is in sync.
    wait_until("every peer of C is ok and caught up", || {
        let size = log_size(&a);
        ["a", "a-via-b"].iter().all(|p| {
            let s = peer_status(&c, p);
            s["status"] == "ok" && s["mirrored"] == size && s["checkpoint_size"] == size
        }) && peer_status(&c, "b")["status"] == "ok"
    });
    let (a_origin, a_key) = parse_note_verifier_key(&a.note_key).unwrap();
    // B relays A's own signed checkpoint; C serves it cosigned as a witness.
    let relayed = text(&format!(
        "{}/api/v1/mirrors/a.test/log/checkpoint",
        b.node.url
    ));
    open_checkpoint(&relayed, &a_origin, &a_key).expect("B relays A's checkpoint");
    let cosigned = text(&format!("{}/api/v1/mirrors/a.test/log/checkpoint", c.url));
    let cp = open_checkpoint(&cosigned, &a_origin, &a_key).expect("C serves A's checkpoint");
    let c_key = c.node_key();
    let c_witness = witness_verifier_key(
        &WitnessName::parse("c.test").unwrap(),
        c_key.public().dalek(),
    );
    let (wn, wk) = parse_witness_verifier_key(&c_witness).unwrap();
    assert_eq!(count_cosignatures(&cosigned, &[(wn.clone(), wk)]), 1);
    assert_eq!(count_cosignatures(&relayed, &[(wn, wk)]), 0);
    let mirrors = c.get_json("/api/v1/mirrors");
    let a_row = mirrors
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["origin"] == "a.test")
        .unwrap();
    assert_eq!(a_row["cosigned_by"][0], "c.test");
    // The release's inclusion, proved by C's mirror against A's checkpoint.
    let index = on_a["log_index"].as_u64().unwrap();
    let entry = c.get_json(&format!(
        "/api/v1/mirrors/a.test/log/entries?start={index}&end={}",
        index + 1
    ));
    let bytes = B64
        .decode(entry["entries"][0]["data"].as_str().unwrap())
        .unwrap();
    let proof = c.get_json(&format!(
        "/api/v1/mirrors/a.test/log/proof/inclusion?index={index}&size={}",
        cp.size()
    ));
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(&hashes, index, cp.size(), &cp.root(), &leaf_hash(&bytes))
        .expect("inclusion against A's root");

    // Installing from C: the same signatures and approvals, and inclusion
    // in A's log checked against A's key, which must be pinned from A itself.
    let installer = c.user(None);
    installer.ok(&[
        "trust",
        "add",
        &shire_e2e::club::public_key(&a.verifier),
        "--label",
        "a-audit",
    ]);
    let pk = installer.path("pk");
    let dir = pk.to_str().unwrap();
    let err = installer.fails(&["install", "a-council/bins", "--dir", dir]);
    assert!(err.contains("shire trust node a.test"), "{err}");
    // A key the mirror could offer for A is refused: C's own key is not A's.
    let c_note = c.get_json("/api/v1/node")["note_key"]
        .as_str()
        .unwrap()
        .to_string();
    installer.fails(&["trust", "node", "a.test", &c_note]);
    installer.ok(&["trust", "node", "a.test", &a.note_key]);
    // Witnesses: C cosigns A's checkpoints; B does not.
    installer.ok(&["trust", "witness", "add", "c.test", &c_note]);
    installer.ok(&[
        "trust",
        "witness",
        "add",
        "b.test",
        &b.note_key,
        "--url",
        &b.node.url,
    ]);
    installer.ok(&["trust", "witness", "threshold", "2"]);
    let err = installer.fails(&["install", "a-council/bins", "--dir", dir]);
    assert!(
        err.contains("1 named witness(es) (c.test), 2 required"),
        "{err}"
    );
    installer.ok(&["trust", "witness", "threshold", "1"]);
    installer.ok(&["install", "a-council/bins", "--dir", dir]);
    assert!(pk.join("a-council/bins/src/main.py").exists());
    let info = installer.ok(&["info", "a-council/bins"]);
    assert!(info.contains("a.test"), "{info}");
    let peers = installer.json(&["peers"]);
    assert_eq!(peers.as_array().unwrap().len(), 3);

    // A yank and a revocation on A reach C.
    a.publisher
        .ok(&["yank", "a-council/bins@1.0.0", "--reason", "wrong bin days"]);
    a.verifier.ok(&[
        "revoke",
        "a-council/bins@1.0.0",
        "--reason",
        "leaks addresses",
    ]);
    wait_until("the yank and the revocation reach C", || {
        version(&c, "a-council/bins/1.0.0")
            .is_some_and(|v| v["state"] == "revoked" && v["yanked"]["reason"] == "wrong bin days")
    });
    // Audit on C reports the revocation.
    let out = installer.run(&["audit", "--dir", dir]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("revoked"), "{text}");

    // kill -9 of the follower: it resumes where it stopped.
    let before = version(&c, "a-council/bins/1.0.0").unwrap();
    c.kill9();
    for v in ["1.1.0", "1.2.0", "1.3.0"] {
        a.publish("a-council/bins", v);
    }
    a.verifier.ok(&["approve", "a-council/bins@1.3.0"]);
    c.restart();
    wait_until("C catches up after kill -9", || {
        version(&c, "a-council/bins/1.3.0").is_some_and(|v| v["state"] == "approved")
    });
    assert_eq!(
        version(&c, "a-council/bins/1.0.0").unwrap(),
        before,
        "nothing mirrored changed"
    );
    let pkg = c.get_json("/api/v1/packages/a-council/bins");
    assert_eq!(pkg["versions"].as_array().unwrap().len(), 4);

    // `sync` is idempotent: two passes on a stopped node leave the same state.
    wait_until("C is caught up", || {
        peer_status(&c, "a")["mirrored"] == log_size(&a)
    });
    c.kill9();
    let sync = |cfg: &Path| {
        Command::new(binary("shire-registry"))
            .args([
                "sync",
                "--config",
                cfg.to_str().unwrap(),
                "--data",
                c.data_dir().to_str().unwrap(),
            ])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = sync(&c_cfg);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let snap1 = snapshot(&c);
    let second = sync(&c_cfg);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(snapshot(&c), snap1);
    let out = String::from_utf8_lossy(&second.stdout).to_string();
    assert!(
        out.contains("a ok a.test") && out.contains("a-via-b ok a.test"),
        "{out}"
    );

    // A peer that is down: sync fails naming it; the relay still serves A.
    drop(a);
    let third = sync(&c_cfg);
    assert!(!third.status.success());
    let err = String::from_utf8_lossy(&third.stderr).to_string();
    assert!(
        err.contains("peers not in sync: a") && !err.contains("a-via-b"),
        "{err}"
    );
    // And while serving, a down peer is retried and reported.
    c.restart();
    wait_until("C reports A as retrying", || {
        let s = peer_status(&c, "a");
        s["status"] == "retrying" && s["last_error"].is_string()
    });
    // The relay through B is a separate follower: it starts on its own
    // schedule, so wait for its first round rather than racing it.
    wait_until("C reports A via B as ok", || {
        peer_status(&c, "a-via-b")["status"] == "ok"
    });
    assert_eq!(peer_status(&c, "a")["status"], "retrying");
    drop(b);
}

/// Every key and value of every tree of a stopped node's database.
/// Tree name and key/value pairs, for every tree.
type Snapshot = Vec<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>)>;

/// A stopped node's data: every key and value of every tree, but the
/// peers' status records (a pass records its time even when it changes
/// nothing else).
fn snapshot(node: &Node) -> Snapshot {
    let db = node.open_db();
    let mut out = Vec::new();
    for name in db.tree_names() {
        let t = db.open_tree(&name).unwrap();
        out.push((
            name.to_vec(),
            t.iter()
                .map(|kv| {
                    let (k, v) = kv.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .filter(|(k, _)| !(name.as_ref() == b"meta" && k.starts_with(b"peer:")))
                .collect(),
        ));
    }
    out
}

/// A follower of B (honest) and of A through a proxy (the liar).
struct Follower {
    node: Node,
    proxy: Proxy,
    _cfg: tempfile::TempDir,
}

fn follower(a: &Home, b: &Home, name: &str) -> Follower {
    let proxy = Proxy::start(&a.node.url);
    let cfg = tempfile::tempdir().unwrap();
    let path = write_config(
        cfg.path(),
        "f.toml",
        &[
            peer("b", &b.node.url, b, "b-*", None, false),
            peer("liar", &proxy.url, a, "a-*", None, false),
        ],
    );
    let node = Node::start_with(&["--origin", name, "--config", path.to_str().unwrap()]);
    Follower {
        node,
        proxy,
        _cfg: cfg,
    }
}

#[test]
fn lying_peers_are_stopped_while_honest_peers_keep_syncing() {
    let a = Home::start("a.test", "a", &[]);
    let b = Home::start("b.test", "b", &[]);
    a.publish("a-council/bins", "1.0.0");
    a.verifier.ok(&["approve", "a-council/bins@1.0.0"]);
    b.publish("b-council/parks", "1.0.0");
    let fs: Vec<Follower> = ["d1.test", "d2.test", "d3.test", "d4.test"]
        .iter()
        .map(|n| follower(&a, &b, n))
        .collect();
    for f in &fs {
        wait_until("a follower mirrors A and B", || {
            version(&f.node, "a-council/bins/1.0.0").is_some_and(|v| v["state"] == "approved")
                && version(&f.node, "b-council/parks/1.0.0").is_some()
                && peer_status(&f.node, "liar")["status"] == "ok"
        });
    }
    let before = version(&fs[0].node, "a-council/bins/1.0.0").unwrap();
    let next_index = log_size(&a);

    // d1: a changed artifact.
    fs[0].proxy.rewrite(|path, body| {
        if path.starts_with("/api/v1/artifacts/") {
            b"not the archive that was signed".to_vec()
        } else {
            body
        }
    });
    // d2: a forked checkpoint (A's key, the size d2 holds, another root).
    let (a_origin, _) = parse_note_verifier_key(&a.note_key).unwrap();
    let fork = sign_checkpoint(
        &a_origin,
        next_index,
        &Hash([7; 32]),
        a.node.node_key().dalek(),
    );
    fs[1]
        .proxy
        .replace("/api/v1/log/checkpoint", fork.into_bytes());
    // d3: a release whose signature was altered in the entry.
    fs[2].proxy.rewrite(move |path, body| {
        if path != "/api/v1/log/entries" {
            return body;
        }
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        for e in v["entries"].as_array_mut().unwrap() {
            let mut ev: Value =
                serde_json::from_slice(&B64.decode(e["data"].as_str().unwrap()).unwrap()).unwrap();
            if ev["event"] == "release" && e["index"].as_u64().unwrap() >= next_index {
                ev["envelope"]["signatures"][0]["sig"] = Value::String(B64.encode([0u8; 64]));
                e["data"] = Value::String(B64.encode(serde_json::to_vec(&ev).unwrap()));
            }
        }
        serde_json::to_vec(&v).unwrap()
    });
    // d4: no proxy lie; A itself creates an organisation it is not home of.
    a.publish("a-council/bins", "2.0.0");
    b.publish("b-council/parks", "2.0.0");

    let stopped = |f: &Follower| {
        wait_until("the liar is stopped", || {
            peer_status(&f.node, "liar")["status"] == "stopped"
        });
        peer_status(&f.node, "liar")["last_error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let e1 = stopped(&fs[0]);
    assert!(e1.contains("changed artifact"), "{e1}");
    let e2 = stopped(&fs[1]);
    assert!(e2.contains("fork") || e2.contains("inconsistent"), "{e2}");
    let e3 = stopped(&fs[2]);
    assert!(
        e3.contains("entries") && (e3.contains("do not hash") || e3.contains("not a prefix")),
        "{e3}"
    );
    // Once d4 mirrored 2.0.0, A creates an organisation outside its home.
    wait_until("d4 mirrors 2.0.0", || {
        version(&fs[3].node, "a-council/bins/2.0.0").is_some()
    });
    a.admin.ok(&["admin", "org", "create", "b-rogue"]);
    let e4 = stopped(&fs[3]);
    assert!(
        e4.contains("is not configured as the home of organisation b-rogue"),
        "{e4}"
    );
    for (i, f) in fs.iter().enumerate() {
        // The status is set just after the round that applied 2.0.0.
        wait_until("the honest peer keeps syncing", || {
            version(&f.node, "b-council/parks/2.0.0").is_some()
                && peer_status(&f.node, "b")["status"] == "ok"
        });
        // Nothing already mirrored from the liar is lost or altered.
        assert_eq!(
            version(&f.node, "a-council/bins/1.0.0").unwrap()["release"],
            before["release"]
        );
        assert_eq!(
            version(&f.node, "a-council/bins/1.0.0").unwrap()["state"],
            "approved"
        );
        // Only d4, whose origin was honest up to the rogue organisation, has 2.0.0.
        assert_eq!(
            version(&f.node, "a-council/bins/2.0.0").is_some(),
            i == 3,
            "follower {i}"
        );
    }
}

/// A takedown at the origin reaches its followers: a follower that holds
/// the bytes erases them, and one that catches up after the takedown never
/// fetches them (the origin answers 410, before the batch holding the
/// takedown) yet mirrors the log whole.
#[test]
fn a_takedown_at_the_origin_erases_the_bytes_on_every_follower() {
    let a = Home::start("a.test", "a", &[]);
    a.publish("a-council/bins", "1.0.0");
    a.publish("a-council/bins", "1.1.0");
    let cfg = tempfile::tempdir().unwrap();
    let early_cfg = write_config(
        cfg.path(),
        "early.toml",
        &[peer("a", &a.node.url, &a, "a-*", None, false)],
    );
    let early = Node::start_with(&[
        "--origin",
        "early.test",
        "--config",
        early_cfg.to_str().unwrap(),
    ]);
    wait_until("the early follower mirrors both releases", || {
        version(&early, "a-council/bins/1.1.0").is_some()
    });
    let digest = version(&a.node, "a-council/bins/1.0.0").unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let artifact = |n: &Node| {
        reqwest::blocking::get(format!("{}/api/v1/artifacts/{digest}", n.url))
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(artifact(&early), 200);
    // Enough entries between the release and its takedown that a follower
    // (7 entries a batch) meets them in different batches.
    a.publish("a-council/bins", "1.2.0");
    a.publish("a-council/bins", "1.3.0");

    a.admin.ok(&[
        "admin",
        "takedown",
        "a-council/bins@1.0.0",
        "--reason",
        "leaked a password",
    ]);
    assert_eq!(artifact(&a.node), 410);
    wait_until("the early follower erases the bytes", || {
        artifact(&early) == 410
    });
    let on_early = version(&early, "a-council/bins/1.0.0").unwrap();
    assert_eq!(on_early["taken_down"]["reason"], "leaked a password");

    // A follower started after the takedown mirrors everything, bytes aside.
    let late_cfg = write_config(
        cfg.path(),
        "late.toml",
        &[peer("a", &a.node.url, &a, "a-*", None, false)],
    );
    let late = Node::start_with(&[
        "--origin",
        "late.test",
        "--config",
        late_cfg.to_str().unwrap(),
    ]);
    wait_until("the late follower mirrors the whole log", || {
        peer_status(&late, "a")["mirrored"].as_u64() == Some(log_size(&a))
    });
    assert_eq!(artifact(&late), 410);
    assert_eq!(
        version(&late, "a-council/bins/1.0.0").unwrap()["taken_down"]["reason"],
        "leaked a password"
    );
    let other = version(&a.node, "a-council/bins/1.1.0").unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let got = reqwest::blocking::get(format!("{}/api/v1/artifacts/{other}", late.url)).unwrap();
    assert_eq!(got.status().as_u16(), 200);
}

/// A peer stopped for a fault stays stopped across a restart, its status
/// read from what is stored (not zero), until the operator resumes it.
#[test]
fn a_stopped_peer_stays_stopped_across_a_restart_until_resumed() {
    let a = Home::start("a.test", "a", &[]);
    let b = Home::start("b.test", "b", &[]);
    a.publish("a-council/bins", "1.0.0");
    let mut f = follower(&a, &b, "d.test");
    wait_until("the follower mirrors A", || {
        version(&f.node, "a-council/bins/1.0.0").is_some()
            && peer_status(&f.node, "liar")["status"] == "ok"
    });
    let mirrored = peer_status(&f.node, "liar")["mirrored"].as_u64().unwrap();
    assert!(mirrored > 0);
    f.proxy.rewrite(|path, body| {
        if path.starts_with("/api/v1/artifacts/") {
            b"not the archive that was signed".to_vec()
        } else {
            body
        }
    });
    a.publish("a-council/bins", "2.0.0");
    wait_until("the liar is stopped", || {
        peer_status(&f.node, "liar")["status"] == "stopped"
    });

    f.node.restart();
    let s = peer_status(&f.node, "liar");
    assert_eq!(s["status"], "stopped", "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("changed artifact"),
        "{s}"
    );
    assert_eq!(s["mirrored"].as_u64(), Some(mirrored), "{s}");
    assert!(s["last_success"].is_string(), "{s}");
    // Still stopped a moment later: nothing passes it.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(peer_status(&f.node, "liar")["status"], "stopped");

    // The operator fixes the cause, then resumes it.
    f.proxy.rewrite(|_, body| body);
    let out = std::process::Command::new(shire_e2e::binary("shire-registry"))
        .args(["peers", "resume", "liar", "--url", &f.node.url, "--data"])
        .arg(f.node.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("the resumed peer mirrors 2.0.0", || {
        version(&f.node, "a-council/bins/2.0.0").is_some()
            && peer_status(&f.node, "liar")["status"] == "ok"
    });

    // With the node down, the stored status is what `peers list` says.
    let mirrored = peer_status(&f.node, "liar")["mirrored"].as_u64().unwrap();
    f.node.kill9();
    let out = std::process::Command::new(shire_e2e::binary("shire-registry"))
        .args(["peers", "list", "--config"])
        .arg(f._cfg.path().join("f.toml"))
        .arg("--data")
        .arg(f.node.data_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "liar ok a.test: checkpoint {mirrored} mirrored {mirrored}"
        )),
        "{text}"
    );
}

/// A mirrored release whose dependency the follower does not hold is marked
/// as not installable there, with the reason.
#[test]
fn a_mirrored_release_without_its_dependencies_says_so() {
    let b = Home::start("b.test", "b", &[]);
    b.publish("b-council/lib", "1.0.0");
    let cfg = tempfile::tempdir().unwrap();
    let a_cfg = write_config(
        cfg.path(),
        "a.toml",
        &[peer("b", &b.node.url, &b, "b-*", None, false)],
    );
    let a = Home::start("a.test", "a", &["--config", a_cfg.to_str().unwrap()]);
    wait_until("A mirrors B's library", || {
        version(&a.node, "b-council/lib/1.0.0").is_some()
    });
    let dir = Project::new("a-council/app", "1.0.0")
        .dep("b-council/lib", "^1")
        .write(a.publisher.cwd.path());
    a.publisher.ok(&["publish", dir.to_str().unwrap()]);
    // C follows A only: it mirrors the application, not B's library.
    let c_cfg = write_config(
        cfg.path(),
        "c.toml",
        &[peer("a", &a.node.url, &a, "a-*", None, false)],
    );
    let c = Node::start_with(&["--origin", "c.test", "--config", c_cfg.to_str().unwrap()]);
    wait_until("C mirrors the application", || {
        version(&c, "a-council/app/1.0.0").is_some()
    });
    let on_c = version(&c, "a-council/app/1.0.0").unwrap();
    assert!(
        on_c["unusable"]
            .as_str()
            .is_some_and(|u| u.contains("b-council/lib")),
        "{on_c}"
    );
    assert!(version(&a.node, "a-council/app/1.0.0").unwrap()["unusable"].is_null());
}

/// Adoptions are logged in the adopting organisation's home and mirrored
/// with it: B's council adopts A's package on B (B follows A); A follows B
/// and shows both its own council's adoption and B's, each with its origin,
/// and a client that pinned both node keys finds each in its log.
#[test]
fn adoptions_are_mirrored_with_their_origin() {
    let cfg = tempfile::tempdir().unwrap();
    // Ports are known once the nodes run: start A, then B following A,
    // then restart A following B.
    let mut a = Home::start("a.test", "a", &[]);
    a.publish("a-council/crm", "1.0.0");
    a.verifier.ok(&["approve", "a-council/crm@1.0.0"]);
    let b_cfg = write_config(
        cfg.path(),
        "b.toml",
        &[peer("a", &a.node.url, &a, "a-*", None, false)],
    );
    let b = Home::start("b.test", "b", &["--config", b_cfg.to_str().unwrap()]);
    wait_until("B mirrors A's release", || {
        version(&b.node, "a-council/crm/1.0.0").is_some()
    });
    // A's own council adopts on A.
    a.publisher.ok(&["adopt", "a-council/crm@1.0.0"]);
    // B's council adopts A's package on B, after pinning A's node key so
    // its client checks the release in A's log.
    b.publisher.ok(&["trust", "node", &a.origin, &a.note_key]);
    let out = b.publisher.ok(&["adopt", "a-council/crm@1.0.0"]);
    assert!(out.contains("b-council declared that it runs"), "{out}");

    // A follows B: B's adoption arrives with B as its origin.
    let a_cfg = write_config(
        cfg.path(),
        "a.toml",
        &[peer("b", &b.node.url, &b, "b-*", None, false)],
    );
    a.node
        .restart_with(&["--origin", "a.test", "--config", a_cfg.to_str().unwrap()]);
    let used_by = |n: &Node| -> Vec<(String, String)> {
        version(n, "a-council/crm")
            .map(|p| {
                p["used_by"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| {
                        (
                            u["org"].as_str().unwrap().to_string(),
                            u["origin"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_until("A shows B's adoption", || used_by(&a.node).len() == 2);
    let expected = vec![
        ("a-council".to_string(), "a.test".to_string()),
        ("b-council".to_string(), "b.test".to_string()),
    ];
    assert_eq!(used_by(&a.node), expected);
    wait_until("B mirrors A's adoption", || used_by(&b.node).len() == 2);
    assert_eq!(used_by(&b.node), expected);

    // A supplier home on A offers support, A's council accepts: B mirrors
    // the accepted support with A as its origin.
    a.admin.ok(&["admin", "org", "create", "a-support"]);
    let supplier = account(&a.node, &a.admin, "a-sup", "a-support", "publisher");
    supplier.ok(&[
        "support",
        "offer",
        "a-council/crm",
        "--versions",
        "^1",
        "--until",
        "2030-01-31",
    ]);
    a.publisher.ok(&[
        "support",
        "accept",
        "a-council/crm",
        "--supporter",
        "a-support",
        "--versions",
        "^1",
        "--until",
        "2030-01-31",
    ]);
    let supported = |n: &Node| {
        version(n, "a-council/crm")
            .map(|p| p["supported_by"].clone())
            .unwrap_or_default()
    };
    wait_until("B mirrors the accepted support", || {
        supported(&b.node).as_array().is_some_and(|s| s.len() == 1)
    });
    assert_eq!(supported(&b.node)[0]["supporter"], "a-support");
    assert_eq!(supported(&b.node)[0]["origin"], "a.test");
    assert_eq!(supported(&b.node)[0]["until"], "2030-01-31");

    // A client of A that pinned B's key finds B's adoption in B's log.
    let reader = a.node.user(None);
    reader.ok(&["trust", "node", &b.origin, &b.note_key]);
    let info = reader.ok(&["info", "a-council/crm"]);
    for org in ["a-council", "b-council"] {
        let line = info
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{org} runs 1.0.0")))
            .unwrap_or_else(|| panic!("{org} missing from:\n{info}"));
        assert!(line.contains("verified in its log"), "{line}");
    }
}
