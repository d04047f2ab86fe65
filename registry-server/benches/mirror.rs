//! Federation benchmark (not a test): time and bytes for a node to mirror N
//! releases (default 10,000) from a peer on loopback, then an incremental
//! pass after 10 more, and a pass with nothing new. Both nodes run in this
//! process: the origin is a real `shire_registry::start` node (populated
//! through its store, so the setup is quick), the follower runs
//! `federation::follower::pass` exactly as `sync` does (verified checkpoint,
//! consistency proofs, entries in batches, signature checks, artifacts by
//! digest and archive rules, one transaction and one flush per batch).
//!
//! `cargo bench -p shire-registry --bench mirror [-- N]`; prints a table.

use shire_core::archive::testing::{build, Item};
use shire_core::archive::{inspect, ArchiveLimits};
use shire_core::event::LogEvent;
use shire_core::manifest::Manifest;
use shire_core::statement::{KeyStatement, ReleaseStatement};
use shire_core::wire::Role;
use shire_core::{Digest, KeyPair, OrgName, PackageName};
use shire_registry::federation::config::{FederationConfig, FollowOptions, OrgPattern, PeerConfig};
use shire_registry::federation::{follower, Federation};
use shire_registry::store::records::AccountRecord;
use shire_registry::store::{now, Artifact, OpenOptions, Store};
use shire_registry::Config;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Publishes releases `from..to` of `org/p<i>` 1.0.0 straight into the store.
async fn publish(store: &Store, key: &KeyPair, from: usize, to: usize) -> Res<()> {
    for i in from..to {
        let archive = build(&[
            Item::File("README.md", format!("package {i}\n").as_bytes()),
            Item::File("src/main.py", format!("print({i})\n").as_bytes()),
        ]);
        let digest = Digest::of(&archive);
        let mut w = store.blobs.writer()?;
        w.write(&archive)?;
        w.finish(&digest)?;
        let mut m = Manifest::skeleton(PackageName::parse(&format!("a-council/p{i}"))?);
        m.package.description = format!("Benchmark package number {i}");
        let env = ReleaseStatement::new(m, digest).sign(key);
        let artifact = Artifact {
            size: archive.len() as u64,
            files: inspect(&archive[..], &ArchiveLimits::default())?,
        };
        let event = LogEvent::Release {
            envelope: env,
            key_id: key.key_id(),
            at: now(),
        };
        store.append(&event, Some(&artifact))?;
    }
    store.durable().await?;
    Ok(())
}

struct Row {
    phase: String,
    applied: u64,
    time: Duration,
    bytes: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let origin = shire_registry::start(Config {
        listen: "127.0.0.1:0".into(),
        origin: Some("a.bench".into()),
        ..Config::new(dir.path().join("a"))
    })
    .await?;
    eprintln!("origin started at {}", origin.url());
    let store = origin.store().clone();
    let org = OrgName::parse("a-council")?;
    store.append(
        &LogEvent::OrgCreated {
            org: org.clone(),
            at: now(),
        },
        None,
    )?;
    let account = AccountRecord {
        username: "pub".into(),
        org: Some(org.clone()),
        role: Role::Publisher,
        token_hash: "0".repeat(64),
        created_at: now(),
        disabled_at: None,
    };
    store.create_account(&account)?;
    let key = KeyPair::generate();
    let proof = KeyStatement::new(
        &key,
        "pub",
        Some(org.clone()),
        Role::Publisher,
        "a.bench",
        0,
    )
    .sign(&key);
    store.append(
        &LogEvent::KeyRegistered {
            key_id: key.key_id(),
            public_key: key.public(),
            account: "pub".into(),
            org: Some(org),
            role: Role::Publisher,
            proof,
            at: now(),
        },
        None,
    )?;
    eprintln!("origin has its publisher");
    let t = Instant::now();
    publish(&store, &key, 0, n).await?;
    eprintln!("origin populated with {n} releases in {:.1?}", t.elapsed());

    let note_key: String = reqwest::get(format!("{}/api/v1/node", origin.url()))
        .await?
        .json::<shire_core::wire::NodeInfo>()
        .await?
        .note_key;
    let (o, vk) = shire_tlog::parse_note_verifier_key(&note_key)?;
    let peer = PeerConfig {
        name: "a".into(),
        url: origin.url(),
        origin: o,
        key: vk,
        home_of: vec![OrgPattern::parse("a-*")?],
        via: None,
        witness: true,
    };
    let (mirror, flusher) = Store::open(&dir.path().join("c"), &OpenOptions::default(), || {
        "c.bench".into()
    })?;
    tokio::spawn(flusher.run());
    let fed = Arc::new(Federation::new(
        mirror.clone(),
        "c.bench".into(),
        Arc::new(KeyPair::generate()),
        ArchiveLimits::default(),
        50 << 20,
        FederationConfig {
            peers: vec![peer.clone()],
            options: FollowOptions::default(),
        },
    )?);
    eprintln!("following {}", peer.url);
    let mut rows = Vec::new();
    let mut run = |phase: String, r: follower::PassReport, time: Duration| {
        rows.push(Row {
            phase,
            applied: r.applied,
            time,
            bytes: r.bytes,
        });
    };
    let t = Instant::now();
    let r = follower::pass(&fed, &peer)
        .await
        .map_err(|e| e.to_string())?;
    run(format!("full: {n} releases"), r, t.elapsed());
    publish(&store, &key, n, n + 10).await?;
    let t = Instant::now();
    let r = follower::pass(&fed, &peer)
        .await
        .map_err(|e| e.to_string())?;
    run("incremental: 10 more".into(), r, t.elapsed());
    let t = Instant::now();
    let r = follower::pass(&fed, &peer)
        .await
        .map_err(|e| e.to_string())?;
    run("nothing new".into(), r, t.elapsed());

    println!(
        "{:<24} {:>9} {:>11} {:>13} {:>12} {:>13}",
        "pass", "entries", "time", "bytes in", "µs/entry", "bytes/entry"
    );
    for r in &rows {
        let per = |x: f64| {
            if r.applied == 0 {
                "-".to_string()
            } else {
                format!("{:.0}", x / r.applied as f64)
            }
        };
        println!(
            "{:<24} {:>9} {:>11} {:>13} {:>12} {:>13}",
            r.phase,
            r.applied,
            format!("{:.1?}", r.time),
            r.bytes,
            per(r.time.as_micros() as f64),
            per(r.bytes as f64),
        );
    }
    let (full, inc) = (&rows[0], &rows[1]);
    println!(
        "incremental / full: time {:.4}, bytes {:.4} (entries {:.4})",
        inc.time.as_secs_f64() / full.time.as_secs_f64(),
        inc.bytes as f64 / full.bytes as f64,
        inc.applied as f64 / full.applied as f64
    );
    drop(fed);
    drop(mirror);
    drop(store);
    origin.stop().await?;
    Ok(())
}
