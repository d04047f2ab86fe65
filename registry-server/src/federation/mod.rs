//! Federation: following other nodes' logs and mirroring their verified
//! releases (see `docs/federation.md`).
//!
//! - [`config`]: the `--config` TOML file (peers, `home_of` patterns, timing).
//! - [`follower`]: one verified pass over a peer, and the background loop per peer.
//! - [`apply`]: the rules for each mirrored entry and the one-transaction batch write.
//! - [`peer_state`]: per-peer status (`GET /api/v1/peers`) and backoff.
//! - [`relay`]: re-serving mirrored logs (`/api/v1/mirrors/...`).
//! - [`witness`]: cosigning verified checkpoints.

pub mod apply;
pub mod config;
pub mod follower;
pub mod peer_state;
pub mod relay;
pub mod witness;

use crate::store::Store;
use config::{FederationConfig, FollowOptions, PeerConfig};
use peer_state::PeerBoard;
use shire_core::archive::ArchiveLimits;
use shire_core::wire::{PeerHealth, PeerStatus};
use shire_core::KeyPair;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Everything the followers share.
pub struct Federation {
    /// The node's store.
    pub store: Store,
    /// The node's own origin (its witness name).
    pub own_origin: String,
    /// The node key (cosigns).
    pub node_key: Arc<KeyPair>,
    /// Archive rules for mirrored artifacts (the same as publish).
    pub archive_limits: ArchiveLimits,
    /// Largest artifact fetched.
    pub max_artifact: u64,
    /// Timing.
    pub options: FollowOptions,
    /// The peers.
    pub peers: Vec<PeerConfig>,
    /// Their status.
    pub board: PeerBoard,
    /// HTTP client.
    pub http: reqwest::Client,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Per peer, what wakes its stopped follower (`resume`).
    resume: HashMap<String, Arc<tokio::sync::Notify>>,
}

impl Federation {
    /// Sets up (does not start) following.
    pub fn new(
        store: Store,
        own_origin: String,
        node_key: Arc<KeyPair>,
        archive_limits: ArchiveLimits,
        max_artifact: u64,
        config: FederationConfig,
    ) -> anyhow::Result<Self> {
        for p in &config.peers {
            if p.origin.as_str() == own_origin {
                anyhow::bail!(
                    "peer {:?} follows this node's own origin {own_origin}",
                    p.name
                );
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()?;
        let board = PeerBoard::new(&config.peers);
        // The status starts from what is stored, not from zero: what is
        // mirrored, the last checkpoint, the last success, and a stop.
        for p in &config.peers {
            let mirror = store.mirror_record(p.origin.as_str())?;
            let kept = store.peer_record(&p.name)?;
            board.update(&p.name, |s| {
                s.mirrored = mirror.size;
                s.checkpoint_size = mirror.checkpoint_size;
                s.checkpoint_root = mirror.checkpoint_root.map(|h| h.to_base64());
                s.entries_behind = mirror.checkpoint_size.saturating_sub(mirror.size);
                s.last_success = kept.last_success.clone();
                if kept.last_success.is_some() {
                    s.status = PeerHealth::Ok;
                }
                if let Some(stop) = &kept.stopped {
                    s.status = PeerHealth::Stopped;
                    s.last_error = Some(format!("{} (stopped {})", stop.reason, stop.at));
                }
            });
        }
        let resume = config
            .peers
            .iter()
            .map(|p| (p.name.clone(), Arc::new(tokio::sync::Notify::new())))
            .collect();
        Ok(Self {
            store,
            own_origin,
            node_key,
            archive_limits,
            max_artifact,
            options: config.options,
            board,
            peers: config.peers,
            http,
            locks: Mutex::new(HashMap::new()),
            resume,
        })
    }

    /// Records the outcome of a pass over `peer` on the board and in the
    /// store (a success's time; a stop, which outlives a restart).
    pub async fn record_outcome(
        &self,
        peer: &PeerConfig,
        outcome: &Result<follower::PassReport, apply::Fault>,
    ) {
        let now = crate::store::now();
        let kept = match outcome {
            Ok(_) => self.store.update_peer_record(&peer.name, |r| {
                r.last_success = Some(now.clone());
            }),
            Err(apply::Fault::Fatal(m)) => self.store.update_peer_record(&peer.name, |r| {
                r.stopped = Some(crate::store::mirror::Stopped {
                    reason: m.clone(),
                    at: now.clone(),
                });
            }),
            Err(apply::Fault::Transient(_)) => Ok(Default::default()),
        };
        // A stop must outlive a crash; a success's time may lag one.
        let kept = match (kept, outcome) {
            (Ok(_), Err(apply::Fault::Fatal(_))) => self.store.durable().await.map(|_| ()),
            (k, _) => k.map(|_| ()),
        };
        if let Err(e) = kept {
            tracing::warn!(peer = %peer.name, error = %e, "could not store the peer's status");
        }
        self.board.update(&peer.name, |s| match outcome {
            Ok(_) => {
                s.status = PeerHealth::Ok;
                s.last_error = None;
                s.failures = 0;
                s.last_success = Some(now.clone());
            }
            Err(apply::Fault::Transient(m)) => {
                s.status = PeerHealth::Retrying;
                s.last_error = Some(m.clone());
                s.failures = s.failures.saturating_add(1);
            }
            Err(apply::Fault::Fatal(m)) => {
                s.status = PeerHealth::Stopped;
                s.last_error = Some(m.clone());
                s.failures = s.failures.saturating_add(1);
            }
        });
    }

    /// Whether the peer named `name` is stopped (in the store: a stop
    /// outlives a restart).
    pub fn is_stopped(&self, name: &str) -> bool {
        self.store
            .peer_record(name)
            .map(|r| r.stopped.is_some())
            .unwrap_or(false)
    }

    /// Resumes a stopped peer: clears its stop and wakes its follower.
    /// `None` when no peer has that name.
    pub async fn resume(&self, name: &str) -> anyhow::Result<Option<PeerStatus>> {
        let Some(signal) = self.resume.get(name) else {
            return Ok(None);
        };
        let before = self.store.peer_record(name)?;
        self.store.update_peer_record(name, |r| r.stopped = None)?;
        self.store.durable().await?;
        tracing::warn!(
            peer = %name,
            was = %before.stopped.map(|s| s.reason).unwrap_or_else(|| "not stopped".into()),
            "peer resumed by the operator"
        );
        self.board.update(name, |s| {
            if s.status == PeerHealth::Stopped {
                s.status = PeerHealth::Starting;
            }
        });
        signal.notify_one();
        Ok(self.board.get(name))
    }

    /// Waits until the peer named `name` is resumed.
    pub async fn resumed(&self, name: &str) {
        if let Some(signal) = self.resume.get(name) {
            signal.notified().await;
        }
    }

    /// The lock serialising passes over one origin (several peers may serve it).
    pub fn origin_lock(&self, origin: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(origin.to_string()).or_default().clone()
    }

    /// Starts one background follower per peer.
    pub fn spawn(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        self.peers
            .iter()
            .map(|p| tokio::spawn(follower::run_peer(self.clone(), p.clone())))
            .collect()
    }

    /// One pass over every peer, one after another (`shire-registry sync`):
    /// returns every peer's status afterwards.
    pub async fn sync_all(&self) -> Vec<PeerStatus> {
        for p in &self.peers {
            if self.is_stopped(&p.name) {
                // Stays stopped, with its reason, until `peers resume`.
                continue;
            }
            let result = follower::pass(self, p).await;
            self.record_outcome(p, &result).await;
        }
        self.board.all()
    }
}

/// The running followers of a node; aborted when the node stops.
#[derive(Default)]
pub struct Followers {
    /// The shared state (None: the node follows no one).
    pub federation: Option<Arc<Federation>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Followers {
    /// Starts following every peer of `fed`.
    pub fn start(fed: Arc<Federation>) -> Self {
        let tasks = fed.spawn();
        Self {
            federation: Some(fed),
            tasks,
        }
    }

    /// Stops every follower and waits for them to end (their store handles
    /// must be gone before the database can close).
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// What an offline command does with a node's following, its data open
/// (the node must not be running).
pub enum Offline {
    /// One pass over every peer that is not stopped (`shire-registry sync`).
    Sync,
    /// The stored status of every peer (`shire-registry peers list`).
    List,
    /// Resumes the named peer (`shire-registry peers resume`).
    Resume(String),
}

/// Opens the node's data (the node must not be running), does `what` and
/// returns every peer's status afterwards.
pub async fn offline_command(
    config: crate::Config,
    what: Offline,
) -> anyhow::Result<Vec<PeerStatus>> {
    use anyhow::Context as _;
    let fed_config = config
        .federation
        .clone()
        .context("this needs --config FILE naming the peers")?;
    let data = &config.data_dir;
    let node_key = match what {
        Offline::Sync => crate::identity::load_or_create_key(data)?,
        Offline::List | Offline::Resume(_) => crate::identity::load_existing_key(data)?,
    };
    let (store, flusher) = crate::startup::open_store(&config, &node_key).with_context(|| {
        format!(
            "opening the database in {} (is the node running? then use --url)",
            data.display()
        )
    })?;
    let flusher = tokio::spawn(flusher.run());
    let origin = store.origin().to_string();
    let fed = Federation::new(
        store,
        origin,
        Arc::new(node_key),
        config.archive_limits,
        config.max_upload,
        fed_config,
    )?;
    let statuses = match what {
        Offline::Sync => fed.sync_all().await,
        Offline::List => fed.board.all(),
        Offline::Resume(name) => {
            if fed.resume(&name).await?.is_none() {
                anyhow::bail!("{} names no peer {name:?}", config.data_dir.display());
            }
            fed.board.all()
        }
    };
    fed.store.durable().await?;
    drop(fed);
    flusher.await.context("flusher task")?;
    Ok(statuses)
}

/// Prints one line per peer: status, what is mirrored, the last success and
/// the last error (escaped: a peer's error message may quote what it sent).
pub fn print_statuses(statuses: &[PeerStatus]) {
    for s in statuses {
        let line = format!(
            "{} {} {}: checkpoint {} mirrored {} behind {}, last success {}{}",
            s.name,
            s.status,
            s.origin,
            s.checkpoint_size,
            s.mirrored,
            s.entries_behind,
            s.last_success.as_deref().unwrap_or("never"),
            s.last_error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
        println!("{}", shire_core::escape_invisible(&line));
    }
}

/// Prints one line per peer and fails naming the peers that are not in sync.
pub fn report_sync(statuses: &[PeerStatus]) -> anyhow::Result<()> {
    print_statuses(statuses);
    let failed: Vec<String> = statuses
        .iter()
        .filter(|s| s.status != PeerHealth::Ok)
        .map(|s| s.name.clone())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("peers not in sync: {}", failed.join(", "))
    }
}

#[cfg(test)]
mod tests;
