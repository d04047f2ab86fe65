//! What the node knows about each followed peer right now (served at
//! `GET /api/v1/peers`), and the retry schedule for a peer that is down.

use super::config::PeerConfig;
use shire_core::wire::{PeerHealth, PeerStatus};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The status of every peer, shared by the followers and the HTTP routes.
#[derive(Clone, Default)]
pub struct PeerBoard {
    inner: Arc<Mutex<BTreeMap<String, PeerStatus>>>,
}

impl PeerBoard {
    /// A board with one `starting` row per configured peer.
    pub fn new(peers: &[PeerConfig]) -> Self {
        let board = Self::default();
        for p in peers {
            let mut map = board.lock();
            map.insert(
                p.name.clone(),
                PeerStatus {
                    name: p.name.clone(),
                    url: p.url.clone(),
                    origin: p.origin.to_string(),
                    via: p.via.clone(),
                    witness: p.witness,
                    status: PeerHealth::Starting,
                    checkpoint_size: 0,
                    checkpoint_root: None,
                    mirrored: 0,
                    entries_behind: 0,
                    last_error: None,
                    last_success: None,
                    failures: 0,
                },
            );
        }
        board
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PeerStatus>> {
        // A follower that panicked mid-update leaves plain data behind: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes one peer's row (no-op for an unknown name).
    pub fn update(&self, name: &str, f: impl FnOnce(&mut PeerStatus)) {
        if let Some(row) = self.lock().get_mut(name) {
            f(row);
        }
    }

    /// One peer's row.
    pub fn get(&self, name: &str) -> Option<PeerStatus> {
        self.lock().get(name).cloned()
    }

    /// Every row, by name.
    pub fn all(&self) -> Vec<PeerStatus> {
        self.lock().values().cloned().collect()
    }
}

/// Delay before retry number `failures` (1 = first failure): `min * 2^(failures-1)`, capped at `max`.
pub fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let shift = failures.saturating_sub(1).min(32);
    min.checked_mul(1u32 << shift.min(31))
        .unwrap_or(max)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        let got: Vec<u128> = (1..=9).map(|f| backoff(f, min, max).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(backoff(0, min, max), min);
        assert_eq!(backoff(u32::MAX, min, max), max);
    }
}
