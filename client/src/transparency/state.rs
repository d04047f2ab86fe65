//! `SHIRE_HOME/checkpoints/<registry>.json`: for one registry, the pinned node
//! key and the last checkpoint this client verified there.
//!
//! ```json
//! {
//!   "registry": "http://127.0.0.1:7878",
//!   "origin": "shire.local/0123456789abcdef",
//!   "note_key": "shire.local/0123456789abcdef+1a2b3c4d+AR...",
//!   "size": 42,
//!   "root": "<base64 root hash>",
//!   "note": "<the signed checkpoint note, exactly as received>"
//! }
//! ```
//!
//! The file name is the registry URL made safe for a file name plus the first
//! 16 hex digits of its SHA-256 (so two URLs never share a file). It is written
//! whole and renamed into place (`home::write_atomic`), and only after the
//! checkpoint it holds was verified.

use crate::home::{normalise_registry, read_json, write_atomic, Home};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use shire_tlog::{Checkpoint, Hash, TreeHead};
use std::path::PathBuf;

/// What is stored for one registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogState {
    /// The registry URL (normalised).
    pub registry: String,
    /// The log's origin line.
    pub origin: String,
    /// The pinned node verifier key text.
    pub note_key: String,
    /// Tree size of the last verified checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The signed note itself, so it can be re-opened and shown to others.
    pub note: String,
}

impl LogState {
    /// The state after verifying `checkpoint` of `registry` under `note_key`.
    pub fn new(registry: &str, note_key: &str, checkpoint: &Checkpoint) -> Self {
        Self {
            registry: normalise_registry(registry),
            origin: checkpoint.origin().to_string(),
            note_key: note_key.to_string(),
            size: checkpoint.size(),
            root: checkpoint.root(),
            note: checkpoint.note().to_string(),
        }
    }

    /// The verified tree head.
    pub fn head(&self) -> TreeHead {
        TreeHead {
            size: self.size,
            root: self.root,
        }
    }
}

/// The state file of `registry` in `home`.
pub fn path(home: &Home, registry: &str) -> PathBuf {
    home.checkpoints_dir().join(file_name(registry))
}

/// The file name kept for a registry URL or an `origin://` key: the key made
/// safe for a file name, plus the first 16 hex digits of its SHA-256 (so two
/// keys never share a file).
pub fn file_name(key: &str) -> String {
    let url = normalise_registry(key);
    let safe: String = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let hash = hex::encode(Sha256::digest(url.as_bytes()));
    format!("{safe}-{}.json", &hash[..16])
}

/// Loads the state of `registry`, `None` when this client never verified a
/// checkpoint there.
pub fn load(home: &Home, registry: &str) -> Result<Option<LogState>> {
    let p = path(home, registry);
    let Some(state) = read_json::<LogState>(&p)? else {
        return Ok(None);
    };
    if state.registry != normalise_registry(registry) {
        bail!(
            "{} is for registry {}, not {}",
            p.display(),
            state.registry,
            normalise_registry(registry)
        );
    }
    Ok(Some(state))
}

/// Stores `state` atomically.
pub fn save(home: &Home, state: &LogState) -> Result<PathBuf> {
    let p = path(home, &state.registry);
    let text = serde_json::to_string_pretty(state).context("encoding checkpoint state")?;
    write_atomic(&p, format!("{text}\n").as_bytes(), false)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::testkit::{node, note};
    use shire_tlog::{open_checkpoint, MemoryLog};

    #[test]
    fn state_round_trips_per_registry() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().to_path_buf());
        assert_eq!(load(&home, "http://a:1").unwrap(), None);
        let (sk, key) = node("shire.test/a");
        let log = MemoryLog::from_entries(["x", "y", "z"]).unwrap();
        let cp = open_checkpoint(&note(&sk, &key, &log, 3), key.origin(), key.key()).unwrap();
        let st = LogState::new("http://a:1/", key.text(), &cp);
        let p = save(&home, &st).unwrap();
        assert!(p.starts_with(home.checkpoints_dir()));
        assert_eq!(load(&home, "http://a:1").unwrap(), Some(st.clone()));
        assert_eq!(load(&home, "http://a:2").unwrap(), None);
        assert_ne!(path(&home, "http://a:1"), path(&home, "http://a_1"));
        assert_eq!(st.head().size, 3);
        // The file is plain JSON with the fields documented above.
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        for f in ["registry", "origin", "note_key", "size", "root", "note"] {
            assert!(v.get(f).is_some(), "{f}");
        }
    }
}
