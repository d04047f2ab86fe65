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
        Ok(Self {
            store,
            own_origin,
            node_key,
            archive_limits,
            max_artifact,
            options: config.options,
            board: PeerBoard::new(&config.peers),
            peers: config.peers,
            http,
            locks: Mutex::new(HashMap::new()),
        })
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
            let result = follower::pass(self, p).await;
            self.board.update(&p.name, |s| match result {
                Ok(_) => {
                    s.status = PeerHealth::Ok;
                    s.last_error = None;
                    s.last_success = Some(crate::store::now());
                }
                Err(apply::Fault::Transient(m)) => {
                    s.status = PeerHealth::Retrying;
                    s.last_error = Some(m);
                    s.failures += 1;
                }
                Err(apply::Fault::Fatal(m)) => {
                    s.status = PeerHealth::Stopped;
                    s.last_error = Some(m);
                    s.failures += 1;
                }
            });
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

/// `shire-registry sync`: opens the node's data (the node must not be
/// running), makes one pass over every peer and returns their statuses.
pub async fn sync_command(config: crate::Config) -> anyhow::Result<Vec<PeerStatus>> {
    use anyhow::Context as _;
    let fed_config = config
        .federation
        .clone()
        .context("sync needs --config FILE naming the peers")?;
    let data = &config.data_dir;
    let node_key = crate::identity::load_or_create_key(data)?;
    let (store, flusher) = crate::startup::open_store(&config, &node_key).with_context(|| {
        format!(
            "opening the database in {} (is the node running?)",
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
    let statuses = fed.sync_all().await;
    fed.store.durable().await?;
    drop(fed);
    flusher.await.context("flusher task")?;
    Ok(statuses)
}

/// Prints one line per peer and fails naming the peers that are not in sync.
pub fn report_sync(statuses: &[PeerStatus]) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for s in statuses {
        // A peer's error message may quote what the peer sent.
        let line = format!(
            "{} {} {}: checkpoint {} mirrored {} behind {}{}",
            s.name,
            s.status,
            s.origin,
            s.checkpoint_size,
            s.mirrored,
            s.entries_behind,
            s.last_error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
        println!("{}", shire_core::escape_invisible(&line));
        if s.status != PeerHealth::Ok {
            failed.push(s.name.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("peers not in sync: {}", failed.join(", "))
    }
}

#[cfg(test)]
mod tests;
