//! Test harness: an in-process node on 127.0.0.1:0 with its own temporary data
//! folder (zero2prod's `spawn_app`), actors with tokens and keys, builders for
//! releases, and a snapshot of everything stored to prove an attack changed
//! nothing.

use reqwest::StatusCode;
use serde_json::Value;
use shire_core::archive::testing::{build, Item};
use shire_core::dsse::Envelope;
use shire_core::manifest::Manifest;
use shire_core::statement::{KeyStatement, ReleaseStatement, Subject, Verdict, VerdictStatement};
use shire_core::{Digest, KeyPair, PackageName, Version, VersionReq};
use shire_registry::{Config, RunningServer};
use std::collections::BTreeMap;
use std::path::Path;
use tempfile::TempDir;

/// A running node and a client for it.
pub struct TestApp {
    pub url: String,
    pub admin: String,
    /// The node's origin.
    pub origin: String,
    /// The name of the node's log (its note verifier key): what key
    /// registrations and verdicts are signed for.
    pub log_name: String,
    pub dir: TempDir,
    pub client: reqwest::Client,
    server: Option<RunningServer>,
    config: Config,
}

/// An account with a registered key.
pub struct Actor {
    pub token: String,
    pub key: KeyPair,
}

/// What the server answered.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The error code, if the body is an error.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts a status and error code.
    #[track_caller]
    pub fn refused(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        assert!(
            !self.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "errors carry a message"
        );
    }

    /// Asserts success with a status.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }
}

/// A new database and bucket prefix on the test services.
pub fn shared_storage() -> shire_registry::store::shared::SharedStorage {
    let s = shire_e2e::services::SharedStorage::fresh();
    shire_registry::store::shared::SharedStorage {
        postgres: s.postgres,
        objects: s.objects,
        max_connections: 8,
        options: s.options,
        redirect_downloads: false,
        copies_max_bytes: shire_registry::store::shared::DEFAULT_COPIES_MIB << 20,
    }
}

impl TestApp {
    /// A node with adjusted settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_in(tempfile::tempdir().unwrap(), adjust).await
    }

    /// A node whose data folder is `dir` (which may be a small file system
    /// of its own).
    pub async fn spawn_in(dir: TempDir, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::new(dir.path());
        config.listen = "127.0.0.1:0".into();
        config.workers = Some(2);
        adjust(&mut config);
        if crate::SHARED && config.storage.is_none() {
            config.storage = Some(shared_storage());
        }
        let server = shire_registry::start(config.clone()).await.unwrap();
        let admin = server
            .admin_token
            .clone()
            .expect("first start prints a token");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("admin-token"))
                .unwrap()
                .trim(),
            admin
        );
        TestApp {
            url: server.url(),
            origin: server.origin.clone(),
            log_name: server.store().log_name().to_string(),
            admin,
            dir,
            client: reqwest::Client::new(),
            server: Some(server),
            config,
        }
    }

    /// Stops the node and starts it again on the same data folder.
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
        let server = shire_registry::start(self.config.clone()).await.unwrap();
        assert!(server.admin_token.is_none(), "the token is printed once");
        self.url = server.url();
        self.server = Some(server);
    }

    /// Stops the node (gracefully), leaving its data folder for inspection.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }

    /// Starts a stopped node again on its data folder; the error if it refuses.
    pub async fn try_start(&mut self) -> anyhow::Result<()> {
        let server = shire_registry::start(self.config.clone()).await?;
        self.url = server.url();
        self.server = Some(server);
        Ok(())
    }

    /// Opens the stopped node's sled database directly (as an attacker with
    /// the disk would).
    pub fn open_raw_db(&self) -> sled::Db {
        sled::open(self.dir.path().join("db")).unwrap()
    }

    /// The node's checkpoint, opened with its key and origin from `/api/v1/node`.
    pub async fn checkpoint(&self) -> shire_tlog::Checkpoint {
        let node = self.get("/api/v1/node").await;
        let node = node.ok(200);
        let key = shire_core::PublicKey::parse(node["public_key"].as_str().unwrap()).unwrap();
        let origin = shire_tlog::Origin::parse(node["origin"].as_str().unwrap()).unwrap();
        let text = self.get("/api/v1/log/checkpoint").await;
        let Value::String(note) = text.body else {
            panic!("checkpoint is text: {}", text.body)
        };
        shire_tlog::open_checkpoint(&note, &origin, key.dalek()).unwrap()
    }

    /// Entries `start..end` as served, decoded from base64, checking indexes.
    pub async fn log_entries(&self, start: u64, end: u64) -> Vec<Vec<u8>> {
        use base64::Engine as _;
        let a = self
            .get(&format!("/api/v1/log/entries?start={start}&end={end}"))
            .await;
        let body = a.ok(200);
        let entries = body["entries"].as_array().unwrap();
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                assert_eq!(e["index"].as_u64().unwrap(), start + i as u64);
                base64::engine::general_purpose::STANDARD
                    .decode(e["data"].as_str().unwrap())
                    .unwrap()
            })
            .collect()
    }

    /// Hashes of a proof answer.
    pub fn proof_hashes(body: &Value) -> Vec<shire_tlog::Hash> {
        body["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| shire_tlog::Hash::from_base64(h.as_str().unwrap()).unwrap())
            .collect()
    }

    /// Raw bytes and headers of a GET.
    pub async fn get_bytes(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    }

    /// Everything stored: every sled entry and every blob file.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let store = self.server.as_ref().unwrap().store();
        let mut out = store.dump();
        out.extend(store.blobs.dump().unwrap());
        out
    }

    /// The running node's store.
    pub fn store(&self) -> &shire_registry::store::Store {
        self.server.as_ref().unwrap().store()
    }

    /// How many group-commit flushes the node has run.
    pub fn flush_count(&self) -> u64 {
        self.server.as_ref().unwrap().store().flush_count()
    }

    /// Whether the node stores a blob for `digest` (packed or in a file).
    pub fn blob_stored(&self, digest: &Digest) -> bool {
        let store = self.server.as_ref().unwrap().store();
        store.blobs.exists(digest).unwrap()
    }

    /// Overwrites the stored bytes of `digest` on disk, in place, with
    /// `replacement` cut or zero-padded to their length (an attacker with
    /// write access to the node's disk).
    pub fn tamper_blob(&self, digest: &Digest, replacement: &[u8]) {
        use std::os::unix::fs::FileExt as _;
        let store = self.server.as_ref().unwrap().store();
        let (path, offset, len) = store.blobs.location(digest).unwrap().expect("stored");
        let mut bytes = replacement.to_vec();
        bytes.resize(len as usize, 0);
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.write_all_at(&bytes, offset).unwrap();
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Answer {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn create_org(&self, org: &str) {
        self.post(
            "/api/v1/orgs",
            &self.admin,
            serde_json::json!({ "name": org }),
        )
        .await
        .ok(201);
    }

    /// Creates an account and registers a fresh key for it.
    pub async fn actor(&self, name: &str, org: &str, role: &str) -> Actor {
        let a = self
            .post(
                "/api/v1/accounts",
                &self.admin,
                serde_json::json!({ "username": name, "org": org, "role": role }),
            )
            .await;
        let token = a.ok(201)["token"].as_str().unwrap().to_string();
        let key = KeyPair::generate();
        self.register_key(&token, &key, name, org, role)
            .await
            .ok(201);
        Actor { token, key }
    }

    /// Registers `key` with the caller's token, with a genuine proof of
    /// possession for `account` (`org`, `role`) on this node.
    pub async fn register_key(
        &self,
        token: &str,
        key: &KeyPair,
        account: &str,
        org: &str,
        role: &str,
    ) -> Answer {
        let proof = key_proof(key, key, account, org, role, &self.log_name);
        self.post(
            "/api/v1/keys",
            token,
            serde_json::json!({ "public_key": key.public().to_string(), "proof": proof }),
        )
        .await
    }

    /// Uploads bytes under a digest.
    pub async fn upload_as(&self, token: &str, digest: &Digest, bytes: Vec<u8>) -> Answer {
        let resp = self
            .client
            .put(format!("{}/api/v1/blobs/{digest}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/gzip")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// Submits a release envelope.
    pub async fn submit(&self, token: &str, env: impl std::borrow::Borrow<Envelope>) -> Answer {
        let env = env.borrow();
        self.post(
            "/api/v1/releases",
            token,
            serde_json::json!({ "envelope": env }),
        )
        .await
    }

    /// Uploads a release's archive and publishes it, signed by the actor.
    pub async fn publish(&self, who: &Actor, r: &Release) -> Answer {
        let up = self
            .upload_as(&who.token, &r.digest(), r.archive.clone())
            .await;
        assert!(up.status.is_success(), "{}", up.body);
        self.submit(&who.token, &r.sign(&who.key)).await
    }

    /// Submits a verdict envelope for `name@version`.
    pub async fn verdict(&self, who: &Actor, name: &str, version: &str, env: &Envelope) -> Answer {
        self.post(
            &format!("/api/v1/packages/{name}/{version}/verdicts"),
            &who.token,
            serde_json::json!({ "envelope": env }),
        )
        .await
    }

    /// `who` approves `name@version` as the node holds it, signing with
    /// their own key.
    pub async fn approve(&self, who: &Actor, name: &str, version: &str) -> Answer {
        let s = self.subject(name, version).await;
        let env = self.sign_verdict(&who.key, Verdict::Approve, &s, None);
        self.verdict(who, name, version, &env).await
    }

    /// The subject the node holds for `name@version`.
    pub async fn subject(&self, name: &str, version: &str) -> Subject {
        let v = self
            .get(&format!("/api/v1/packages/{name}/{version}"))
            .await;
        Subject {
            name: PackageName::parse(name).unwrap(),
            version: Version::parse(version).unwrap(),
            digest: Digest::parse(v.ok(200)["digest"].as_str().unwrap()).unwrap(),
        }
    }

    /// A release's state.
    pub async fn state(&self, name: &str, version: &str) -> String {
        self.get(&format!("/api/v1/packages/{name}/{version}"))
            .await
            .body["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// A genuine key registration statement for the node at `url`, whose log
/// name (its `note_key`) is asked over HTTP.
pub async fn proof_over_http(
    client: &reqwest::Client,
    url: &str,
    key: &KeyPair,
    account: &str,
    org: &str,
    role: &str,
) -> Envelope {
    let node: Value = client
        .get(format!("{url}/api/v1/node"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key_proof(
        key,
        key,
        account,
        org,
        role,
        node["note_key"].as_str().unwrap(),
    )
}

/// A key registration statement naming `key` for the log `log`, signed by
/// `signer` (the key itself for a genuine proof).
pub fn key_proof(
    key: &KeyPair,
    signer: &KeyPair,
    account: &str,
    org: &str,
    role: &str,
    log: &str,
) -> Envelope {
    let mut st = KeyStatement::new(
        key,
        account,
        shire_core::OrgName::parse(org).ok(),
        role.parse().unwrap(),
        log,
        1,
    );
    st.public_key = key.public();
    st.sign(signer)
}

impl TestApp {
    /// A verdict signed by `key` for this node's log.
    pub fn sign_verdict(
        &self,
        key: &KeyPair,
        v: Verdict,
        subject: &Subject,
        reason: Option<&str>,
    ) -> Envelope {
        VerdictStatement::new(
            v,
            subject.clone(),
            &self.log_name,
            reason.map(str::to_string),
            1,
        )
        .sign(key)
    }
}

/// A release under construction: manifest and archive.
#[derive(Clone)]
pub struct Release {
    pub manifest: Manifest,
    pub archive: Vec<u8>,
}

impl Release {
    /// `name@version` with an ordinary archive.
    pub fn new(name: &str, version: &str) -> Release {
        let mut manifest = Manifest::skeleton(PackageName::parse(name).unwrap());
        manifest.package.version = Version::parse(version).unwrap();
        manifest.package.description = format!("{name}: software for councils");
        let body = format!("release {version} of {name}");
        Release {
            manifest,
            archive: build(&[
                Item::Dir("app"),
                Item::File("app/main.py", body.as_bytes()),
                Item::File("README", b"read me"),
            ]),
        }
    }

    pub fn description(mut self, d: &str) -> Release {
        self.manifest.package.description = d.into();
        self
    }

    pub fn keywords(mut self, k: &[&str]) -> Release {
        self.manifest.package.keywords = k.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn dep(mut self, name: &str, req: &str) -> Release {
        self.manifest.dependencies.insert(
            PackageName::parse(name).unwrap(),
            VersionReq::parse(req).unwrap(),
        );
        self
    }

    pub fn archive(mut self, items: &[Item<'_>]) -> Release {
        self.archive = build(items);
        self
    }

    pub fn digest(&self) -> Digest {
        Digest::of(&self.archive)
    }

    pub fn statement(&self) -> ReleaseStatement {
        ReleaseStatement::new(self.manifest.clone(), self.digest())
    }

    pub fn sign(&self, key: &KeyPair) -> Envelope {
        self.statement().sign(key)
    }

    /// A submit of this release by `who` checked early on `store`, as the
    /// publish route checks it before its write: the event, and the reads
    /// kept for the write (the caller accepted). Asserts the early answer
    /// lets it through.
    pub fn checked_early(
        &self,
        store: &shire_registry::store::Store,
        who: &Actor,
    ) -> (
        shire_core::event::LogEvent,
        shire_registry::store::ReleaseReads,
    ) {
        let envelope = self.sign(&who.key);
        let key_id = envelope.claimed_key_ids()[0].clone();
        let subject = Subject {
            name: self.manifest.package.name.clone(),
            version: self.manifest.package.version.clone(),
            digest: self.digest(),
        };
        let event = shire_core::event::LogEvent::Release {
            envelope,
            key_id: key_id.clone(),
            at: "2026-12-04T00:00:00Z".into(),
        };
        let hash = shire_registry::auth::hash_token(&who.token);
        let (_, mut reads) = store.token_for_release(&hash, &key_id, &subject).unwrap();
        store.keep_early_reads(&mut reads);
        assert!(matches!(
            store.check_with(&event, Some(&reads)),
            Ok(shire_core::ledger::Change::Released(_))
        ));
        (event, reads)
    }
}

/// Starts the real binary on a data folder; returns the child, its URL and the
/// admin token when it printed one (first start).
pub fn spawn_binary(dir: &Path) -> (std::process::Child, String, Option<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shire-registry"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir);
    if let Some(config) = binary_config(dir) {
        cmd.arg("--config").arg(config);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = None;
    let url = loop {
        let line = lines.next().expect("a line").unwrap();
        if let Some(t) = line.strip_prefix("admin token: ") {
            token = Some(t.to_string());
        } else if let Some(u) = line.strip_prefix("shire-registry listening on ") {
            break u.to_string();
        } else {
            panic!("unexpected stdout line {line:?}");
        }
    };
    (child, url, token)
}

/// The `--config` file the binary started on `dir` runs with: on the shared
/// backend, a `[storage]` table naming a new database and bucket prefix,
/// written into the data folder on first use and kept for its restarts.
pub fn binary_config(dir: &Path) -> Option<std::path::PathBuf> {
    if !crate::SHARED {
        return None;
    }
    let path = dir.join("shire.toml");
    if !path.exists() {
        let storage = shire_e2e::services::SharedStorage::fresh();
        std::fs::write(&path, storage.toml()).unwrap();
    }
    Some(path)
}

/// How a test opens the store of the binary started on `dir` (once it
/// stopped): its data folder, and on the shared backend its database.
pub fn binary_store_options(dir: &Path) -> shire_registry::store::OpenOptions {
    let shared = binary_config(dir).map(|path| {
        let text = std::fs::read_to_string(path).unwrap();
        let file: shire_registry::federation::config::FileConfig = toml::from_str(&text).unwrap();
        file.storage.unwrap().shared().unwrap().unwrap()
    });
    shire_registry::store::OpenOptions {
        shared,
        ..Default::default()
    }
}

/// Checks that a store is all-or-nothing and returns the releases it holds
/// (`org/name@version`).
pub fn check_consistency(store: &shire_registry::store::Store) -> Vec<String> {
    use shire_core::event::LogEvent;
    let size = store.log_size().unwrap();
    let mut logged_releases = Vec::new();
    for i in 0..size {
        let bytes = store.log_entry(i).unwrap().expect("no gap in the log");
        if let LogEvent::Release { envelope, .. } = LogEvent::from_bytes(&bytes).unwrap() {
            logged_releases.push(envelope);
        }
    }
    assert!(
        store.log_entry(size).unwrap().is_none(),
        "nothing past the log size"
    );
    let mut out = Vec::new();
    for r in store.all_releases().unwrap() {
        let id = format!("{}@{}", r.name, r.version);
        let entry = store.log_entry(r.log_index).unwrap().unwrap();
        match LogEvent::from_bytes(&entry).unwrap() {
            LogEvent::Release { envelope, .. } => assert_eq!(envelope, r.envelope, "{id}"),
            other => panic!("{id}: log entry {} is {other:?}", r.log_index),
        }
        let pkg = store.package(&r.name).unwrap().expect("package entry");
        assert!(
            pkg.highest.as_ref().is_some_and(|h| *h >= r.version),
            "{id} counted in its package"
        );
        if r.taken_down.is_some() {
            // Taken down: its bytes and its file list must be gone for good.
            assert!(
                store.blobs.read(&r.digest).unwrap().is_none(),
                "{id} taken down"
            );
            assert!(
                store.files(&r.name, &r.version).unwrap().is_none(),
                "{id} files"
            );
            out.push(id);
            continue;
        }
        assert!(
            store.files(&r.name, &r.version).unwrap().is_some(),
            "{id} files"
        );
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut store
                .blobs
                .read(&r.digest)
                .unwrap()
                .unwrap_or_else(|| panic!("{id} blob")),
            &mut bytes,
        )
        .unwrap();
        assert_eq!(Digest::of(&bytes), r.digest, "{id} blob");
        out.push(id);
    }
    assert_eq!(
        logged_releases.len(),
        out.len(),
        "every logged release is stored"
    );
    for p in store.all_packages().unwrap() {
        let highest = p.highest.expect("a package has a highest version");
        assert!(store.release(&p.name, &highest).unwrap().is_some());
    }
    out
}
