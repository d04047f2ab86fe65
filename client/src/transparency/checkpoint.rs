//! Checkpoints: which node key this client trusts for a registry (pinned on
//! first use or given with `--node-key`), opening the latest signed checkpoint
//! with it, and moving the stored checkpoint forward only along a verified
//! consistency proof.
//!
//! [`advance`] is the pure decision (over `shire_tlog::CheckpointTracker`);
//! [`sync`] does the requests and stores the new checkpoint once it verified.
//! Every refusal is one line: a changed node key names both key ids, a rollback
//! reads "registry checkpoint rolled back from N to M", a fork "registry log
//! forked: ...".

use super::node_key::NodeKey;
use super::replica::VerifiedHead;
use super::state::{self, LogState};
use crate::api::{ApiError, Client};
use crate::home::Home;
use crate::output;
use anyhow::{Context, Result};
use shire_tlog::{
    open_checkpoint, Advance, Checkpoint, CheckpointError, CheckpointTracker, Hash, TrackerError,
    TreeHead,
};
use std::path::PathBuf;

/// Why a registry's checkpoint or node key was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The node presents another key than the one pinned for it.
    #[error("registry {registry} presents node key {presented}, but this client trusts node key {pinned} for it (pinned earlier or given with --node-key): refusing to trust the other key (if its operator really replaced the key, confirm the new one with them, then delete {path})")]
    KeyChanged {
        /// The registry URL.
        registry: String,
        /// The pinned key's id.
        pinned: String,
        /// The presented key's id.
        presented: String,
        /// The state file holding the pin.
        path: String,
    },
    /// `--node-key` names another key than the one pinned earlier.
    #[error("--node-key gives node key {given} for {registry}, but node key {pinned} is pinned for it: refusing (delete {path} to pin another key)")]
    GivenKeyDiffers {
        /// The registry URL.
        registry: String,
        /// The pinned key's id.
        pinned: String,
        /// The given key's id.
        given: String,
        /// The state file holding the pin.
        path: String,
    },
    /// The checkpoint note does not open with the pinned key and origin.
    #[error("registry checkpoint refused: {0}")]
    BadCheckpoint(#[source] CheckpointError),
    /// The checkpoint is older than the one already verified.
    #[error("registry checkpoint rolled back from {held} to {offered} entries: refusing it")]
    Rollback {
        /// Size verified before.
        held: u64,
        /// Size offered now.
        offered: u64,
    },
    /// Same size with another root, or no valid consistency proof.
    #[error("registry log forked: {0}")]
    Fork(String),
    /// The consistency proof is not the one asked for, or not base64 hashes.
    #[error("registry log forked: its consistency proof from {from} to {size} entries is malformed ({detail})")]
    MalformedProof {
        /// Size verified before.
        from: u64,
        /// Size offered now.
        size: u64,
        /// What is wrong.
        detail: String,
    },
}

/// Opens a checkpoint note with the trusted key: signature, origin and body.
/// (Where a witness cosignature requirement would be added.)
pub fn open_note(note: &str, key: &NodeKey) -> Result<Checkpoint, LogError> {
    open_checkpoint(note, key.origin(), key.key()).map_err(LogError::BadCheckpoint)
}

/// Decides whether the verified checkpoint `new` may replace `held`, given the
/// consistency proof from `held.size` to `new.size` (pure).
pub fn advance(
    held: Option<TreeHead>,
    new: &TreeHead,
    proof: &[Hash],
) -> Result<Advance, LogError> {
    CheckpointTracker::new(held)
        .check(new, proof)
        .map_err(|e| match e {
            TrackerError::Rollback { held, offered } => LogError::Rollback { held, offered },
            TrackerError::Fork {
                size,
                held,
                offered,
            } => LogError::Fork(format!(
                "two checkpoints of size {size} with different roots ({held} verified before, {offered} now)"
            )),
            TrackerError::Inconsistent {
                held,
                offered,
                source,
            } => LogError::Fork(format!(
                "the checkpoint of size {offered} is not an extension of the one of size {held} verified before ({source})"
            )),
        })
}

/// The node key to trust, given `--node-key`, the stored pin and what the node
/// presents now (pure). Returns the key and whether it is pinned on first use.
pub fn choose_key(
    registry: &str,
    given: Option<&NodeKey>,
    pinned: Option<&NodeKey>,
    presented: &NodeKey,
    path: &str,
) -> Result<(NodeKey, bool), LogError> {
    let (trusted, first_use) = match (given, pinned) {
        (Some(g), Some(p)) if g != p => {
            return Err(LogError::GivenKeyDiffers {
                registry: registry.to_string(),
                pinned: p.id(),
                given: g.id(),
                path: path.to_string(),
            })
        }
        (Some(g), _) => (g.clone(), false),
        (None, Some(p)) => (p.clone(), false),
        (None, None) => (presented.clone(), true),
    };
    if &trusted != presented {
        return Err(LogError::KeyChanged {
            registry: registry.to_string(),
            pinned: trusted.id(),
            presented: presented.id(),
            path: path.to_string(),
        });
    }
    Ok((trusted, first_use))
}

/// A checkpoint this client verified, consistent with every one it saw before.
#[derive(Debug, Clone)]
pub struct VerifiedLog {
    /// The trusted node key.
    pub key: NodeKey,
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// How it relates to the one held before.
    pub advance: Advance,
    /// The state held before this one (the pinned checkpoint), if any.
    pub previous: Option<TreeHead>,
    /// The state file.
    pub path: PathBuf,
}

impl VerifiedLog {
    /// The verified tree head.
    pub fn head(&self) -> TreeHead {
        self.checkpoint.tree_head()
    }

    /// The log's origin (the checkpoint's first line).
    pub fn origin(&self) -> &str {
        self.checkpoint.origin().as_str()
    }

    /// The verified head with its origin: what a replica may be extended to.
    pub fn verified_head(&self) -> VerifiedHead {
        VerifiedHead::new(self.origin(), &self.key.log_name(), self.head())
    }
}

/// Fetches the registry's latest checkpoint and verifies it against the pinned
/// node key (pinning the node's key on first use unless `given`), checks a
/// consistency proof from the checkpoint held before, and stores it.
pub fn sync(
    client: &Client,
    home: &Home,
    registry: &str,
    given: Option<&NodeKey>,
) -> Result<VerifiedLog> {
    let path = state::path(home, registry);
    let held = state::load(home, registry)?;
    let pinned = held
        .as_ref()
        .map(|s| NodeKey::parse(&s.note_key))
        .transpose()
        .with_context(|| format!("reading the pinned node key in {}", path.display()))?;
    let node = client
        .node()
        .with_context(|| format!("asking {registry} for its node key"))?;
    let presented = NodeKey::parse(&node.note_key)
        .with_context(|| format!("{registry} serves a node key that is not a note verifier key"))?;
    let (key, first_use) = choose_key(
        registry,
        given,
        pinned.as_ref(),
        &presented,
        &path.display().to_string(),
    )?;
    let held_head = match &held {
        Some(s) => Some(held_head(s, &key).with_context(|| {
            format!(
                "the checkpoint stored in {} no longer verifies (delete the file to start over)",
                path.display()
            )
        })?),
        None => None,
    };

    let note = client
        .checkpoint()
        .with_context(|| format!("fetching the log checkpoint of {registry}"))?;
    let checkpoint = open_note(&note, &key)?;
    let new = checkpoint.tree_head();
    let proof = match CheckpointTracker::new(held_head).proof_needed(&new) {
        Some((from, size)) => {
            let p = match client.consistency_proof(from, size) {
                Ok(p) => p,
                // The node signed a tree it cannot show to extend the one held.
                Err(e @ (ApiError::Server { .. } | ApiError::Status { .. })) => {
                    return Err(LogError::Fork(format!(
                        "the registry cannot prove that its checkpoint of size {size} extends the one of size {from} verified before ({e})"
                    ))
                    .into())
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("fetching a consistency proof from {from} to {size} entries")
                    })
                }
            };
            decode_proof(from, size, p.from, p.size, &p.hashes)?
        }
        None => Vec::new(),
    };
    let advance = advance(held_head, &new, &proof)?;
    if advance != Advance::Unchanged {
        // Another `shire` may have stored a newer checkpoint meanwhile: keep it.
        let newer_stored = state::load(home, registry)?.is_some_and(|s| s.size > new.size);
        if !newer_stored {
            state::save(home, &LogState::new(registry, key.text(), &checkpoint))?;
        }
    }
    if first_use {
        output::note(format!(
            "pinned node key {} for {registry} on first use (in {}); pass --node-key to pin a key you obtained yourself",
            key.id(),
            path.display()
        ));
    }
    Ok(VerifiedLog {
        key,
        checkpoint,
        advance,
        previous: held_head,
        path,
    })
}

/// Re-opens the stored note with the pinned key and checks it says what the
/// stored size and root say.
fn held_head(s: &LogState, key: &NodeKey) -> Result<TreeHead> {
    let cp = open_note(&s.note, key)?;
    if cp.tree_head() != s.head() {
        anyhow::bail!(
            "its note is for size {} but the file says {}",
            cp.size(),
            s.size
        );
    }
    Ok(s.head())
}

/// Decodes a proof's base64 hashes, checking it is for the sizes asked.
pub fn decode_proof(
    want_from: u64,
    want_size: u64,
    from: u64,
    size: u64,
    hashes: &[String],
) -> Result<Vec<Hash>, LogError> {
    let bad = |detail: String| LogError::MalformedProof {
        from: want_from,
        size: want_size,
        detail,
    };
    if (from, size) != (want_from, want_size) {
        return Err(bad(format!("it is for sizes {from} to {size}")));
    }
    hashes
        .iter()
        .map(|h| Hash::from_base64(h).map_err(|e| bad(e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::testkit::{node, note};
    use shire_tlog::MemoryLog;

    fn log(n: u32, salt: &str) -> MemoryLog {
        MemoryLog::from_entries((0..n).map(|i| format!("{salt}{i}"))).unwrap()
    }

    fn head(l: &MemoryLog, size: u64) -> TreeHead {
        TreeHead {
            size,
            root: l.root_at(size).unwrap(),
        }
    }

    #[test]
    fn tracker_decisions_have_one_clear_line_each() {
        let l = log(20, "e");
        assert_eq!(
            advance(None, &head(&l, 5), &[]).unwrap(),
            Advance::FirstSeen
        );
        let held = Some(head(&l, 10));
        assert_eq!(
            advance(held, &head(&l, 10), &[]).unwrap(),
            Advance::Unchanged
        );
        let proof = l.consistency_proof(10, 20).unwrap();
        assert_eq!(
            advance(held, &head(&l, 20), &proof).unwrap(),
            Advance::Extended { from: 10 }
        );

        let err = advance(held, &head(&l, 7), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "registry checkpoint rolled back from 10 to 7 entries: refusing it"
        );
        let other = log(20, "forked");
        let err = advance(held, &head(&other, 10), &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("registry log forked: two checkpoints of size 10"),
            "{err}"
        );
        // A larger forked log cannot prove consistency with the held root.
        let proof = other.consistency_proof(10, 20).unwrap();
        let err = advance(held, &head(&other, 20), &proof).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("registry log forked: the checkpoint of size 20"),
            "{err}"
        );
        // Nor can an honest extension with a tampered proof.
        let mut proof = l.consistency_proof(10, 20).unwrap();
        proof[0].0[0] ^= 1;
        assert!(matches!(
            advance(held, &head(&l, 20), &proof),
            Err(LogError::Fork(_))
        ));
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn a_node_presenting_another_key_is_refused_naming_both() {
        let (_, a) = node("shire.test/a");
        let (_, b) = node("shire.test/a");
        // First use: the presented key is pinned.
        let (k, first) = choose_key("http://r", None, None, &a, "p").unwrap();
        assert!(first && k == a);
        // Later: same key fine, another key refused.
        assert_eq!(
            choose_key("http://r", None, Some(&a), &a, "p").unwrap(),
            (a.clone(), false)
        );
        let err = choose_key("http://r", None, Some(&a), &b, "p").unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&a.id()) && text.contains(&b.id()), "{text}");
        assert!(matches!(err, LogError::KeyChanged { .. }));
        // --node-key: the node must present it; it must match an earlier pin.
        assert_eq!(
            choose_key("http://r", Some(&a), None, &a, "p").unwrap(),
            (a.clone(), false)
        );
        assert!(matches!(
            choose_key("http://r", Some(&a), None, &b, "p"),
            Err(LogError::KeyChanged { .. })
        ));
        let err = choose_key("http://r", Some(&b), Some(&a), &b, "p").unwrap_err();
        assert!(matches!(err, LogError::GivenKeyDiffers { .. }));
        assert!(err.to_string().contains(&a.id()) && err.to_string().contains(&b.id()));
    }

    #[test]
    fn notes_open_only_with_the_pinned_key_and_origin() {
        let l = log(4, "e");
        let (sk, key) = node("shire.test/a");
        let cp = open_note(&note(&sk, &key, &l, 4), &key).unwrap();
        assert_eq!(cp.tree_head(), head(&l, 4));
        // Signed by another key.
        let (sk2, key2) = node("shire.test/a");
        assert!(matches!(
            open_note(&note(&sk2, &key2, &l, 4), &key),
            Err(LogError::BadCheckpoint(_))
        ));
        // Another origin, same key.
        let other_origin = NodeKey::parse(&shire_tlog::note_verifier_key(
            &shire_tlog::Origin::parse("shire.test/b").unwrap(),
            &sk.verifying_key(),
        ))
        .unwrap();
        let err = open_note(&note(&sk, &other_origin, &l, 4), &key).unwrap_err();
        assert!(
            err.to_string().starts_with("registry checkpoint refused"),
            "{err}"
        );
        // Malformed and altered notes.
        assert!(open_note("not a note", &key).is_err());
        let altered = note(&sk, &key, &l, 4).replacen("\n4\n", "\n5\n", 1);
        assert!(open_note(&altered, &key).is_err());
    }

    #[test]
    fn proofs_must_be_for_the_sizes_asked() {
        let l = log(8, "e");
        let hashes: Vec<String> = l
            .consistency_proof(3, 8)
            .unwrap()
            .iter()
            .map(|h| h.to_base64())
            .collect();
        assert_eq!(
            decode_proof(3, 8, 3, 8, &hashes).unwrap().len(),
            hashes.len()
        );
        assert!(decode_proof(3, 8, 2, 8, &hashes).is_err());
        assert!(decode_proof(3, 8, 3, 8, &["!!".into()]).is_err());
    }
}
