//! What every handler can reach: the store and the node's settings.

use crate::store::Store;
use shire_core::archive::ArchiveLimits;
use shire_core::KeyPair;
use std::sync::Arc;

/// Shared by all workers (cloned per worker; everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// The node's origin name.
    pub origin: String,
    /// The node's signing key.
    pub node_key: Arc<KeyPair>,
    /// Largest artifact upload, in bytes.
    pub max_upload: u64,
    /// Node approval threshold.
    pub threshold: u32,
    /// Archive bounds applied at publish.
    pub archive_limits: ArchiveLimits,
    /// Followed peers and their status (None: the node follows no one).
    pub federation: Option<Arc<crate::federation::Federation>>,
    /// What `GET /metrics` serves.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether webhooks may go to private and loopback addresses.
    pub webhook_allow_private: bool,
}
