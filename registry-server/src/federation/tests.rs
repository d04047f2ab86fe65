//! Follower tests against a fake peer: an in-process HTTP server serving a
//! [`MemoryLog`] in the log API's formats, which can be told to lie.

use super::apply::Fault;
use super::config::{FederationConfig, FollowOptions, OrgPattern, PeerConfig};
use super::{follower, Federation};
use crate::store::Store;
use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine as _;
use shire_core::archive::testing::{build, Item};
use shire_core::archive::ArchiveLimits;
use shire_core::event::LogEvent;
use shire_core::manifest::Manifest;
use shire_core::statement::{KeyStatement, ReleaseStatement, Subject, Verdict, VerdictStatement};
use shire_core::wire::{ConsistencyProof, LogEntries, LogEntry, ReleaseState, Role};
use shire_core::{Digest, KeyPair, OrgName, PackageName, Version};
use shire_tlog::{sign_checkpoint, MemoryLog, Origin};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AT: &str = "2026-01-01T00:00:00Z";

/// What the fake peer holds and how it lies.
#[derive(Default)]
struct PeerData {
    log: MemoryLog,
    blobs: HashMap<String, Vec<u8>>,
    /// Serve these bytes for every artifact instead.
    swap_artifact: Option<Vec<u8>>,
    /// Answer 410 for these artifacts (digest text).
    gone: Vec<String>,
    /// Serve this checkpoint note instead of a real one.
    note: Option<String>,
}

struct FakePeer {
    origin: Origin,
    key: Arc<KeyPair>,
    data: Arc<Mutex<PeerData>>,
    url: String,
    publisher: KeyPair,
    verifier: KeyPair,
}

type Shared = web::Data<(Origin, Arc<KeyPair>, Arc<Mutex<PeerData>>)>;

async fn checkpoint(s: Shared) -> HttpResponse {
    let d = s.2.lock().unwrap();
    let note = d.note.clone().unwrap_or_else(|| {
        sign_checkpoint(&s.0, d.log.size(), &d.log.root().unwrap(), s.1.dalek())
    });
    HttpResponse::Ok().body(note)
}

async fn entries(s: Shared, q: web::Query<HashMap<String, u64>>) -> HttpResponse {
    let d = s.2.lock().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let end = q["end"].min(d.log.size()).min(q["start"] + 3); // pages of 3
    let entries = (q["start"]..end)
        .map(|i| LogEntry {
            index: i,
            data: b64.encode(d.log.entry(i).unwrap()),
        })
        .collect();
    HttpResponse::Ok().json(LogEntries { entries })
}

async fn consistency(s: Shared, q: web::Query<HashMap<String, u64>>) -> HttpResponse {
    let d = s.2.lock().unwrap();
    match d.log.consistency_proof(q["from"], q["size"]) {
        Ok(p) => HttpResponse::Ok().json(ConsistencyProof {
            from: q["from"],
            size: q["size"],
            hashes: p.iter().map(|h| h.to_base64()).collect(),
        }),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

async fn artifact(s: Shared, digest: web::Path<String>) -> HttpResponse {
    let d = s.2.lock().unwrap();
    if d.gone.iter().any(|g| g == digest.as_str()) {
        return HttpResponse::Gone().finish();
    }
    match (&d.swap_artifact, d.blobs.get(digest.as_str())) {
        (_, None) => HttpResponse::NotFound().finish(),
        (Some(other), Some(_)) => HttpResponse::Ok().body(other.clone()),
        (None, Some(b)) => HttpResponse::Ok().body(b.clone()),
    }
}

impl FakePeer {
    fn start(origin: &str) -> FakePeer {
        let origin = Origin::parse(origin).unwrap();
        let key = Arc::new(KeyPair::generate());
        let data = Arc::new(Mutex::new(PeerData::default()));
        let shared = web::Data::new((origin.clone(), key.clone(), data.clone()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/api/v1/log/checkpoint", web::get().to(checkpoint))
                .route("/api/v1/log/entries", web::get().to(entries))
                .route("/api/v1/log/proof/consistency", web::get().to(consistency))
                .route("/api/v1/artifacts/{digest}", web::get().to(artifact))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        FakePeer {
            origin,
            key,
            data,
            url,
            publisher: KeyPair::generate(),
            verifier: KeyPair::generate(),
        }
    }

    fn push(&self, e: &LogEvent) -> u64 {
        self.data.lock().unwrap().log.append(&e.to_bytes()).unwrap()
    }

    /// Organisations, a publisher and a verifier, as the origin's log would hold them.
    fn setup(&self, org: &str) {
        self.push(&LogEvent::OrgCreated {
            org: OrgName::parse(org).unwrap(),
            at: AT.into(),
        });
        self.push(&LogEvent::OrgCreated {
            org: OrgName::parse("a-audit").unwrap(),
            at: AT.into(),
        });
        for (k, account, org, role) in [
            (&self.publisher, "pub", org, Role::Publisher),
            (&self.verifier, "ver", "a-audit", Role::Verifier),
        ] {
            self.register(k, account, org, role);
        }
    }

    /// Registers `k` to `account` of `org`, with the holder's proof for this origin.
    fn register(&self, k: &KeyPair, account: &str, org: &str, role: Role) {
        let org = OrgName::parse(org).ok();
        let proof = KeyStatement::new(k, account, org.clone(), role, &self.log_name(), 0).sign(k);
        self.push(&LogEvent::KeyRegistered {
            key_id: k.key_id(),
            public_key: k.public(),
            account: account.into(),
            org,
            role,
            proof,
            at: AT.into(),
        });
    }

    /// Publishes `name@version` signed by `signer`; returns its subject.
    fn release(&self, name: &str, version: &str, signer: &KeyPair) -> Subject {
        let archive = build(&[Item::File("README", format!("{name} {version}").as_bytes())]);
        let digest = Digest::of(&archive);
        let mut m = Manifest::skeleton(PackageName::parse(name).unwrap());
        m.package.version = Version::parse(version).unwrap();
        m.package.description = "Bin collection rounds".into();
        let st = ReleaseStatement::new(m, digest);
        let env = st.sign(signer);
        self.data
            .lock()
            .unwrap()
            .blobs
            .insert(digest.to_string(), archive);
        self.push(&LogEvent::Release {
            envelope: env,
            key_id: self.publisher.key_id(),
            at: AT.into(),
        });
        st.subject
    }

    /// The name of the fake's log: its note verifier key.
    fn log_name(&self) -> String {
        shire_tlog::note_verifier_key(&self.origin, self.key.public().dalek())
    }

    fn verdict(&self, v: Verdict, subject: &Subject) {
        let env = VerdictStatement::new(
            v,
            subject.clone(),
            &self.log_name(),
            Some("reviewed".into()),
            0,
        )
        .sign(&self.verifier);
        self.push(&LogEvent::Verdict {
            envelope: env,
            key_id: self.verifier.key_id(),
            at: AT.into(),
        });
    }

    fn peer(&self, home_of: &[&str]) -> PeerConfig {
        PeerConfig {
            name: "fake".into(),
            url: self.url.clone(),
            origin: self.origin.clone(),
            key: *self.key.public().dalek(),
            home_of: home_of
                .iter()
                .map(|p| OrgPattern::parse(p).unwrap())
                .collect(),
            via: None,
            witness: true,
        }
    }
}

fn federation(store: &Store, peer: PeerConfig) -> Federation {
    Federation::new(
        store.clone(),
        "c.example".into(),
        Arc::new(KeyPair::generate()),
        ArchiveLimits::default(),
        1 << 20,
        FederationConfig {
            peers: vec![peer],
            options: FollowOptions {
                batch: 4,
                retry_min: Duration::from_millis(1),
                ..Default::default()
            },
        },
    )
    .unwrap()
}

fn open_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let (store, flusher) =
        Store::open(dir.path(), &Default::default(), || "c.example".into()).unwrap();
    tokio::spawn(flusher.run());
    (dir, store)
}

fn snapshot(store: &Store) -> std::collections::BTreeMap<String, Vec<u8>> {
    store.dump()
}

fn mirrored_size(store: &Store) -> u64 {
    store.mirror_record("a.example").unwrap().size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_verifies_and_is_idempotent() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    fake.verdict(Verdict::Approve, &s);
    let (_dir, store) = open_store();
    let fed = federation(&store, fake.peer(&["a-*"]));
    let peer = fed.peers[0].clone();
    let r = follower::pass(&fed, &peer).await.unwrap();
    assert_eq!((r.checkpoint_size, r.applied), (6, 6));
    let rel = store.release(&s.name, &s.version).unwrap().unwrap();
    assert_eq!(rel.origin.as_deref(), Some("a.example"));
    assert_eq!(rel.state, ReleaseState::Approved);
    assert_eq!(rel.log_index, 4);
    assert_eq!(rel.verdicts[0].fact.index, 5);
    assert!(store.blobs.exists(&s.digest).unwrap());
    let pkg = store.package(&s.name).unwrap().unwrap();
    assert_eq!(pkg.origin.as_deref(), Some("a.example"));
    // The witness cosigned; the relay serves the origin's note with it.
    let note = super::relay::checkpoint(&store, "a.example").unwrap();
    assert!(shire_tlog::open_checkpoint(&note, &fake.origin, fake.key.public().dalek()).is_ok());
    assert_eq!(
        super::relay::list(&store).unwrap()[0].cosigned_by,
        vec!["c.example".to_string()]
    );

    // A second pass changes nothing.
    let before = snapshot(&store);
    let r = follower::pass(&fed, &peer).await.unwrap();
    assert_eq!(r.applied, 0);
    assert_eq!(snapshot(&store), before);

    // Incremental: a yank and a new release, only those are applied.
    fake.push(&LogEvent::Yank {
        name: s.name.clone(),
        version: s.version.clone(),
        digest: s.digest,
        reason: "bug".into(),
        by: "pub".into(),
        at: AT.into(),
    });
    let s2 = fake.release("a-council/bins", "1.1.0", &fake.publisher);
    let r = follower::pass(&fed, &peer).await.unwrap();
    assert_eq!(r.applied, 2);
    assert!(store
        .release(&s.name, &s.version)
        .unwrap()
        .unwrap()
        .yanked
        .is_some());
    assert_eq!(
        store.release(&s2.name, &s2.version).unwrap().unwrap().state,
        ReleaseState::Pending
    );
}

async fn fails_with(fake: &FakePeer, store: &Store, home_of: &[&str]) -> String {
    let fed = federation(store, fake.peer(home_of));
    match follower::pass(&fed, &fed.peers[0].clone()).await {
        Err(Fault::Fatal(m)) => m,
        other => panic!("expected a fatal fault, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_signed_by_another_key_stops_the_peer_and_keeps_what_came_before() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let good = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    let (_dir, store) = open_store();
    let fed = federation(&store, fake.peer(&["a-*"]));
    follower::pass(&fed, &fed.peers[0].clone()).await.unwrap();
    let before = store.release(&good.name, &good.version).unwrap().unwrap();
    fake.release("a-council/bins", "2.0.0", &KeyPair::generate());
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(
        m.contains("entry 5") && m.contains("no signature by key"),
        "{m}"
    );
    assert!(store
        .release(&good.name, &Version::new(2, 0, 0))
        .unwrap()
        .is_none());
    let after = store.release(&good.name, &good.version).unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap()
    );
    assert_eq!(mirrored_size(&store), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_the_peer_is_not_home_of_stops_it() {
    let fake = FakePeer::start("a.example");
    fake.setup("b-council");
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(
        m.contains("entry 0 of a.example breaks a rule: a.example is not configured as the home of organisation b-council"),
        "{m}"
    );
    assert_eq!(mirrored_size(&store), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_org_is_never_overridden() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let (_dir, store) = open_store();
    store
        .append(
            &LogEvent::OrgCreated {
                org: OrgName::parse("a-council").unwrap(),
                at: AT.into(),
            },
            None,
        )
        .unwrap();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(
        m.contains("organisation a-council already exists (its home is c.example)"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_artifact_stops_the_peer() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    fake.data.lock().unwrap().swap_artifact = Some(b"not the archive".to_vec());
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(m.contains("changed artifact"), "{m}");
    assert!(!store.blobs.exists(&s.digest).unwrap());
    assert!(store.release(&s.name, &s.version).unwrap().is_none());
}

/// A 410 hides an artifact only when the checked log takes it down, in
/// the batch or any later one up to the checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_counts_only_with_a_takedown_in_the_log() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    fake.data.lock().unwrap().gone = vec![s.digest.to_string()];
    let (_dir, store) = open_store();
    let fed = federation(&store, fake.peer(&["a-*"]));
    let peer = fed.peers[0].clone();
    match follower::pass(&fed, &peer).await {
        Err(Fault::Transient(m)) => assert!(m.contains("410"), "{m}"),
        other => panic!("expected a transient fault, got {other:?}"),
    }
    // Batches before the release's are kept; the release is not.
    assert!(store.release(&s.name, &s.version).unwrap().is_none());
    assert!(mirrored_size(&store) <= 4);

    // Entries later (beyond the follower's batch of 4), the takedown: now
    // the release is mirrored without bytes, marked taken down.
    for v in ["1.1.0", "1.2.0", "1.3.0", "1.4.0"] {
        fake.release("a-council/bins", v, &fake.publisher);
    }
    fake.push(&LogEvent::Takedown {
        name: s.name.clone(),
        version: s.version.clone(),
        digest: s.digest,
        reason: "leaked".into(),
        by: "admin".into(),
        at: AT.into(),
    });
    follower::pass(&fed, &peer).await.unwrap();
    let rel = store.release(&s.name, &s.version).unwrap().unwrap();
    assert_eq!(rel.taken_down.unwrap().reason, "leaked");
    assert!(!store.blobs.exists(&s.digest).unwrap());
    assert!(store.takedown_of(&s.digest).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_inconsistent_and_badly_signed_checkpoints_stop_the_peer() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let (_dir, store) = open_store();
    let fed = federation(&store, fake.peer(&["a-*"]));
    follower::pass(&fed, &fed.peers[0].clone()).await.unwrap();
    // A fork: another tree of the same size.
    let other = MemoryLog::from_entries((0..4).map(|i| vec![i as u8])).unwrap();
    let fork = sign_checkpoint(&fake.origin, 4, &other.root().unwrap(), fake.key.dalek());
    fake.data.lock().unwrap().note = Some(fork);
    assert!(fails_with(&fake, &store, &["a-*"]).await.contains("fork"));
    // A rollback.
    let small = sign_checkpoint(
        &fake.origin,
        2,
        &other.root_at(2).unwrap(),
        fake.key.dalek(),
    );
    fake.data.lock().unwrap().note = Some(small);
    assert!(fails_with(&fake, &store, &["a-*"]).await.contains("fork"));
    // An honest older checkpoint (a lagging relay) is merely stale.
    let d = fake.data.lock().unwrap().log.clone();
    let stale = sign_checkpoint(&fake.origin, 2, &d.root_at(2).unwrap(), fake.key.dalek());
    fake.data.lock().unwrap().note = Some(stale);
    let fed2 = federation(&store, fake.peer(&["a-*"]));
    let r = follower::pass(&fed2, &fed2.peers[0].clone()).await.unwrap();
    assert_eq!((r.applied, r.checkpoint_size), (0, 4));
    // A larger tree that does not extend the one mirrored.
    let honest = fake.data.lock().unwrap().log.clone();
    {
        let mut d = fake.data.lock().unwrap();
        d.log = MemoryLog::from_entries((0..9).map(|i| vec![i as u8])).unwrap();
        d.note = None;
    }
    assert!(fails_with(&fake, &store, &["a-*"])
        .await
        .contains("inconsistent"));
    // Signed by another key.
    let d = honest;
    let wrong = sign_checkpoint(
        &fake.origin,
        d.size(),
        &d.root().unwrap(),
        KeyPair::generate().dalek(),
    );
    fake.data.lock().unwrap().note = Some(wrong);
    assert!(fails_with(&fake, &store, &["a-*"])
        .await
        .contains("checkpoint of a.example refused"));
    assert_eq!(mirrored_size(&store), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_do_not_match_the_checkpoint_are_refused_before_any_is_applied() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    // A checkpoint over different entries of the same size.
    let other = MemoryLog::from_entries((0..4).map(|i| vec![i as u8])).unwrap();
    let note = sign_checkpoint(&fake.origin, 4, &other.root().unwrap(), fake.key.dalek());
    fake.data.lock().unwrap().note = Some(note);
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(
        m.contains("not a prefix") || m.contains("do not hash"),
        "{m}"
    );
    assert_eq!(mirrored_size(&store), 0);
    assert!(!snapshot(&store)
        .keys()
        .any(|k| k.starts_with("mirror_orgs/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_down_is_transient() {
    let (_dir, store) = open_store();
    let fake = FakePeer::start("a.example");
    let mut peer = fake.peer(&["a-*"]);
    peer.url = "http://127.0.0.1:9".into();
    let fed = federation(&store, peer);
    assert!(matches!(
        follower::pass(&fed, &fed.peers[0].clone()).await,
        Err(Fault::Transient(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_count_only_as_the_origins_log_registered_them() {
    // A release signed by the origin's verifier key: not a publisher key.
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let archive = build(&[Item::File("README", b"x")]);
    let digest = Digest::of(&archive);
    fake.data
        .lock()
        .unwrap()
        .blobs
        .insert(digest.to_string(), archive);
    let m = Manifest::skeleton(PackageName::parse("a-council/bins").unwrap());
    let env = ReleaseStatement::new(m, digest).sign(&fake.verifier);
    fake.push(&LogEvent::Release {
        envelope: env,
        key_id: fake.verifier.key_id(),
        at: AT.into(),
    });
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(m.contains("a publisher key must sign this"), "{m}");

    // A key revoked in the origin's log signs nothing after its revocation.
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    fake.push(&LogEvent::KeyRevoked {
        key_id: fake.publisher.key_id(),
        at: AT.into(),
    });
    fake.release("a-council/bins", "1.1.0", &fake.publisher);
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(m.contains("was revoked; it can no longer sign"), "{m}");
    // What came before the revocation was mirrored in earlier batches and stays.
    assert!(store.release(&s.name, &s.version).unwrap().is_some());
    assert!(store
        .release(&s.name, &Version::new(1, 1, 0))
        .unwrap()
        .is_none());

    // A verdict about a release the origin never published.
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let ghost = Subject {
        name: PackageName::parse("a-council/ghost").unwrap(),
        version: Version::new(1, 0, 0),
        digest: Digest::of(b"ghost"),
    };
    fake.verdict(Verdict::Approve, &ghost);
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(m.contains("a-council/ghost@1.0.0 does not exist"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrored_verdicts_obey_the_own_organisation_rule() {
    // A verifier of the publishing organisation approves its own release.
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    let insider = KeyPair::generate();
    fake.register(&insider, "insider", "a-council", Role::Verifier);
    let env = VerdictStatement::new(Verdict::Approve, s.clone(), &fake.log_name(), None, 0)
        .sign(&insider);
    fake.push(&LogEvent::Verdict {
        envelope: env,
        key_id: insider.key_id(),
        at: AT.into(),
    });
    let (_dir, store) = open_store();
    let m = fails_with(&fake, &store, &["a-*"]).await;
    assert!(
        m.contains("cannot judge its own organisation's release a-council/bins@1.0.0"),
        "{m}"
    );
    // The batch holding it was refused whole: the release stays unjudged.
    assert!(
        mirrored_size(&store) <= 6,
        "the verdict (entry 6) was not applied"
    );
    if let Some(r) = store.release(&s.name, &s.version).unwrap() {
        assert!(r.verdicts.is_empty());
        assert_eq!(r.state, ReleaseState::Pending);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrored_verdicts_obey_the_same_transitions_as_local_ones() {
    // A revocation of a release nobody approved, then an approval of a
    // rejected one: both refused, as they are on the origin itself.
    for (first, then) in [
        (None, Verdict::Revoke),
        (Some(Verdict::Reject), Verdict::Approve),
    ] {
        let fake = FakePeer::start("a.example");
        fake.setup("a-council");
        let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
        let (_dir, store) = open_store();
        let fed = federation(&store, fake.peer(&["a-*"]));
        follower::pass(&fed, &fed.peers[0].clone()).await.unwrap();
        if let Some(v) = first {
            fake.verdict(v, &s);
            follower::pass(&fed, &fed.peers[0].clone()).await.unwrap();
        }
        let before = snapshot(&store);
        fake.verdict(then, &s);
        let m = fails_with(&fake, &store, &["a-*"]).await;
        assert!(
            m.contains(&format!("cannot {then} a-council/bins@1.0.0")),
            "{m}"
        );
        assert_eq!(snapshot(&store), before, "{then}: nothing stored changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_organisation_cannot_take_a_mirrored_name() {
    let fake = FakePeer::start("a.example");
    fake.setup("a-council");
    let s = fake.release("a-council/bins", "1.0.0", &fake.publisher);
    let (_dir, store) = open_store();
    let fed = federation(&store, fake.peer(&["a-*"]));
    follower::pass(&fed, &fed.peers[0].clone()).await.unwrap();
    let before = snapshot(&store);
    let err = store
        .append(
            &LogEvent::OrgCreated {
                org: s.name.org().clone(),
                at: AT.into(),
            },
            None,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("organisation a-council already exists (its home is a.example)"),
        "{err}"
    );
    // Nor may this node's log yank the mirrored release.
    let err = store
        .append(
            &LogEvent::Yank {
                name: s.name.clone(),
                version: s.version.clone(),
                digest: s.digest,
                reason: "not yours".into(),
                by: "admin".into(),
                at: AT.into(),
            },
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("is home on a.example"), "{err}");
    assert_eq!(snapshot(&store), before);
}
