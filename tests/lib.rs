//! Harness for Shire's end-to-end tests: the real `shire-registry` and `shire`
//! binaries, driven as a council's IT team would drive them, on loopback only.
//!
//! - [`Node`] starts `shire-registry serve` on `127.0.0.1:0` with a temporary data
//!   folder, reads the bound address and admin token from its stdout, and can be
//!   killed (`kill -9`) and restarted on the same data.
//! - [`User`] is one person's `shire` with its own `SHIRE_HOME`.
//! - [`Project`] writes a package folder (`Shire.toml` and files) to publish.
//! - [`Proxy`] sits between a client and a node and can replace answers: it is
//!   the registry that lies, for the attacks a client must catch by itself.
#![allow(missing_docs)]

pub mod club;
pub mod hooks;
pub mod project;
pub mod proxy;
pub mod services;

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub use club::Club;
pub use project::Project;
pub use proxy::Proxy;

/// The folder holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    // The test executable lives in target/<profile>/deps.
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of a workspace binary, failing clearly when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo test --workspace` (it builds the binaries first)",
        p.display()
    );
    p
}

/// A running `shire-registry` node with its own data folder.
pub struct Node {
    child: Option<Child>,
    data: TempDir,
    pub url: String,
    pub admin_token: String,
    extra_args: Vec<String>,
}

impl Node {
    /// Starts a node with default options.
    pub fn start() -> Node {
        Self::start_with(&[])
    }

    /// Starts a node with extra `serve` arguments (e.g. `--threshold 2`).
    pub fn start_with(args: &[&str]) -> Node {
        Self::start_on(tempfile::tempdir().unwrap(), args)
    }

    /// Starts a node on the data folder `data` (which may already hold a
    /// node, e.g. a restored backup), with extra `serve` arguments.
    pub fn start_on(data: TempDir, args: &[&str]) -> Node {
        let mut node = Node {
            child: None,
            data,
            url: String::new(),
            admin_token: String::new(),
            extra_args: args.iter().map(|s| s.to_string()).collect(),
        };
        node.spawn().unwrap();
        node.admin_token = std::fs::read_to_string(node.data.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_string();
        node
    }

    /// The node's data folder.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// An artifact's bytes as the node serves them (digest `sha256:<hex>`).
    pub fn artifact(&self, digest: &str) -> Vec<u8> {
        let resp = reqwest::blocking::get(format!("{}/api/v1/artifacts/{digest}", self.url))
            .expect("GET artifact");
        assert!(
            resp.status().is_success(),
            "GET artifact: {}",
            resp.status()
        );
        resp.bytes().expect("artifact body").to_vec()
    }

    /// Flips the last byte of an artifact's stored bytes on the node's disk,
    /// wherever the node keeps them (a pack or a file of its own): an attacker
    /// with write access to the server's disk.
    pub fn tamper_artifact(&self, digest: &str) {
        let bytes = self.artifact(digest);
        for path in files_under(&self.data.path().join("blobs")) {
            let mut stored = std::fs::read(&path).expect("read a blob file");
            let found = stored
                .windows(bytes.len())
                .position(|w| w == bytes.as_slice());
            if let Some(at) = found {
                stored[at + bytes.len() - 1] ^= 0xff;
                std::fs::write(&path, stored).expect("write a blob file");
                return;
            }
        }
        panic!("artifact {digest} not found under the node's blobs folder");
    }

    fn spawn(&mut self) -> Result<()> {
        self.spawn_on("127.0.0.1:0")
    }

    fn spawn_on(&mut self, listen: &str) -> Result<()> {
        let mut cmd = Command::new(binary("shire-registry"));
        cmd.arg("serve")
            .arg("--data")
            .arg(self.data.path())
            .arg("--listen")
            .arg(listen)
            .args(&self.extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("spawning shire-registry")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            if Instant::now() > deadline {
                bail!("shire-registry did not report its address");
            }
            let Some(line) = lines.next() else {
                bail!("shire-registry exited before listening");
            };
            let line = line?;
            if let Some(rest) = line.strip_prefix("shire-registry listening on ") {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        self.url = url;
        self.child = Some(child);
        Ok(())
    }

    /// Waits for a node already sent SIGTERM to exit; its exit status.
    pub fn terminate_wait(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("the node is running");
        c.wait().unwrap()
    }

    /// The running node's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node is running").id()
    }

    /// Kills the node with SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts the node on the same data (after [`Node::kill9`] or a stop).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn().unwrap();
    }

    /// Restarts the node on the same data and the same address, so clients
    /// keep their registry URL (retries while the port is still held).
    pub fn restart_same_address(&mut self) {
        self.kill9();
        let addr = self.url.trim_start_matches("http://").to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = self.spawn_on(&addr) {
            assert!(Instant::now() < deadline, "restarting on {addr}: {e:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Restarts the node on the same data and address with other `serve`
    /// arguments (a new `--config`, say).
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra_args = extra.iter().map(|s| s.to_string()).collect();
        self.restart_same_address();
    }

    /// The node's sled database (`DATA/db`), opened while the node is stopped
    /// ([`Node::kill9`]) so a test can edit it like an attacker with disk access.
    pub fn open_db(&self) -> sled::Db {
        assert!(
            self.child.is_none(),
            "stop the node before opening its database"
        );
        sled::open(self.data.path().join("db")).unwrap()
    }

    /// The name of the node's log, which statements are signed for: its
    /// note verifier key, as `GET /api/v1/node` serves it.
    pub fn log_name(&self) -> String {
        self.get_json("/api/v1/node")["note_key"]
            .as_str()
            .expect("note_key")
            .to_string()
    }

    /// The node's own signing key (`DATA/node-key`).
    pub fn node_key(&self) -> shire_core::KeyPair {
        let text = std::fs::read_to_string(self.data.path().join("node-key")).unwrap();
        shire_core::KeyPair::from_secret_file(&text).unwrap()
    }

    /// The latest signed checkpoint note, as the node serves it.
    pub fn checkpoint(&self) -> String {
        reqwest::blocking::get(format!("{}/api/v1/log/checkpoint", self.url))
            .unwrap()
            .text()
            .unwrap()
    }

    /// A `shire` user pointed at this node, logged in with `token` if given.
    pub fn user(&self, token: Option<&str>) -> User {
        User::new(&self.url, token)
    }

    /// The node's admin as a `shire` user.
    pub fn admin(&self) -> User {
        self.user(Some(&self.admin_token))
    }

    /// GET a JSON document from the node's API.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::blocking::get(format!("{}{}", self.url, path))
            .unwrap()
            .json()
            .unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One person's `shire` client, with its own home folder.
pub struct User {
    pub home: TempDir,
    pub registry: String,
    pub cwd: TempDir,
    /// The token this user logged in with, if any.
    pub token: Option<String>,
}

impl User {
    /// A user of `registry`, logged in with `token` when given.
    pub fn new(registry: &str, token: Option<&str>) -> User {
        let u = User {
            home: tempfile::tempdir().unwrap(),
            registry: registry.to_string(),
            cwd: tempfile::tempdir().unwrap(),
            token: token.map(str::to_string),
        };
        if let Some(t) = token {
            u.ok(&["login", "--token", t]);
        }
        u
    }

    /// Runs `shire ARGS` and returns its output, whatever its exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(binary("shire"))
            .args(args)
            .current_dir(self.cwd.path())
            .env("SHIRE_HOME", self.home.path())
            .env("SHIRE_REGISTRY", &self.registry)
            .env_remove("SHIRE_TOKEN")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `shire ARGS`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "`shire {}` failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
            args.join(" "),
            out.status
        );
        stdout
    }

    /// Runs `shire ARGS --json`, asserting success; returns the parsed JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("`shire {}` printed no JSON ({e}): {out}", a.join(" ")))
    }

    /// Runs `shire ARGS`, asserting failure; returns stderr (the error line).
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success(),
            "`shire {}` should have failed:\nstdout: {}\nstderr: {stderr}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// A path inside this user's working folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.cwd.path().join(rel)
    }

    /// POSTs JSON to the registry's API as this user; returns status and body.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut req = reqwest::blocking::Client::new()
            .post(format!("{}{}", self.registry, path))
            .json(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(serde_json::Value::Null))
    }

    /// This user's secret key (after `shire key generate`).
    pub fn key_pair(&self) -> shire_core::KeyPair {
        let text = std::fs::read_to_string(self.home.path().join("keys/default.json")).unwrap();
        shire_core::KeyPair::from_secret_file(&text).unwrap()
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
