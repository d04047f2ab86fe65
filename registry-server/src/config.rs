//! The server's settings, as `serve`'s flags give them (and tests build them).

use shire_core::archive::ArchiveLimits;
use std::path::PathBuf;
use std::time::Duration;

/// Default data folder.
pub const DEFAULT_DATA: &str = "./shire-data";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// Default upload limit: 50 MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 50 * 1024 * 1024;
/// Default cap of the database's page cache, in MiB (`--cache-mib`).
pub const DEFAULT_CACHE_MIB: u64 = crate::store::DEFAULT_CACHE_BYTES >> 20;
/// Largest JSON body accepted (envelopes, requests).
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// Default free space the node keeps on its data folder's disk, in MiB
/// (`--min-free-mib`): below it, writes are refused (507) and `/readyz`
/// says not ready, before the database itself runs out.
pub const DEFAULT_MIN_FREE_MIB: u64 = 64;

/// How long a client may take to send a request body: a grace period, then
/// at least `min_rate` bytes a second on average, and never more than
/// `max_total` in all. A body that falls behind is cut off with 408.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyDeadline {
    /// Time any body may take, whatever its size.
    pub grace: Duration,
    /// Bytes per second a body must average after the grace period.
    pub min_rate: u64,
    /// Longest time any body may take.
    pub max_total: Duration,
}

impl Default for BodyDeadline {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
            min_rate: 16 * 1024,
            max_total: Duration::from_secs(600),
        }
    }
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data folder: sled database, blobs, node key, admin token.
    pub data_dir: PathBuf,
    /// Address to bind (`IP:PORT`; port 0 picks a free one).
    pub listen: String,
    /// The node's origin name, used on first start only (else derived from the node key).
    pub origin: Option<String>,
    /// Largest artifact upload, in bytes.
    pub max_upload: u64,
    /// Distinct verifier accounts whose approvals make a release `approved`.
    pub threshold: u32,
    /// Free bytes the node keeps on its data folder's disk (writes below it
    /// are refused).
    pub min_free_bytes: u64,
    /// How long a request body may take to arrive.
    pub body_deadline: BodyDeadline,
    /// Bounds on what an archive may unpack to.
    pub archive_limits: ArchiveLimits,
    /// HTTP worker threads (None: one per core, or
    /// [`crate::store::shared::default_workers`] for a shared backend).
    pub workers: Option<usize>,
    /// Cap of the database's page cache, in MiB (sled's default, 1 GiB, lets
    /// the resident memory grow with the data).
    pub cache_mib: u64,
    /// Peers to follow (`--config FILE`; None: none).
    pub federation: Option<crate::federation::config::FederationConfig>,
    /// How often free heap pages go back to the system (tests shorten it).
    pub trim_every: Duration,
    /// How long `/metrics` reuses the node's figures (they read every release).
    pub node_figures_every: Duration,
    /// The first wait after a failed webhook delivery (doubled each time).
    pub webhook_retry: Duration,
    /// Whether webhooks may go to private and loopback addresses (receivers
    /// on the operator's own network, or tests); off by default, so no
    /// member can point the node into the network it runs in.
    pub webhook_allow_private: bool,
    /// The shared backend's PostgreSQL and object storage (`None`: embedded,
    /// everything in the data folder).
    pub storage: Option<crate::store::shared::SharedStorage>,
}

impl Config {
    /// The HTTP worker threads a node with this configuration runs: as set,
    /// or one per core, or [`crate::store::shared::default_workers`] for a
    /// shared backend.
    pub fn http_workers(&self) -> usize {
        self.workers.unwrap_or_else(|| match self.storage {
            Some(_) => crate::store::shared::default_workers(),
            None => std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    /// Defaults for a data folder.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: DEFAULT_LISTEN.into(),
            origin: None,
            max_upload: DEFAULT_MAX_UPLOAD,
            threshold: 1,
            min_free_bytes: DEFAULT_MIN_FREE_MIB << 20,
            node_figures_every: crate::metrics::NODE_FIGURES_EVERY,
            body_deadline: BodyDeadline::default(),
            archive_limits: ArchiveLimits::default(),
            workers: None,
            cache_mib: DEFAULT_CACHE_MIB,
            federation: None,
            trim_every: crate::memory::TRIM_EVERY,
            webhook_retry: crate::webhooks::DEFAULT_RETRY,
            webhook_allow_private: false,
            storage: None,
        }
    }
}
