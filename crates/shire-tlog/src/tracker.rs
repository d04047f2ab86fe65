//! The client's memory of a log: the last tree head it verified, and the pure
//! decision whether a newer verified checkpoint may replace it (accept), is a
//! rollback, or is a fork (same size with another root, or a consistency proof
//! that does not hold). Storing the state under `SHIRE_HOME` is the client's job.

use crate::hash::{Hash, EMPTY_ROOT};
use crate::tree::{verify_consistency, TreeError};
use serde::{Deserialize, Serialize};

/// A tree size and its root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// Root hash of the tree of that many entries.
    pub root: Hash,
}

impl TreeHead {
    /// The empty tree.
    pub const EMPTY: TreeHead = TreeHead {
        size: 0,
        root: EMPTY_ROOT,
    };
}

/// What accepting a new tree head meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// No tree head was held: the new one is trusted on first use.
    FirstSeen,
    /// The new tree head is the one already held.
    Unchanged,
    /// The log grew from `from` entries, proven consistent.
    Extended {
        /// The size held before.
        from: u64,
    },
}

/// Why a new tree head was refused. Each message is one line a CLI can print.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// The new checkpoint is older than the one already verified.
    #[error("refusing rolled-back checkpoint: the log now claims {offered} entries, but {held} entries were already verified")]
    Rollback {
        /// Size already verified.
        held: u64,
        /// Size offered now.
        offered: u64,
    },
    /// Same size, different root: two histories.
    #[error("log fork detected: two checkpoints of size {size} with different roots ({held} verified before, {offered} now)")]
    Fork {
        /// The common size.
        size: u64,
        /// Root verified before.
        held: Hash,
        /// Root offered now.
        offered: Hash,
    },
    /// The consistency proof does not tie the held tree head to the new one.
    #[error("log fork detected: the checkpoint of size {offered} is not consistent with the verified checkpoint of size {held}: {source}")]
    Inconsistent {
        /// Size already verified.
        held: u64,
        /// Size offered now.
        offered: u64,
        /// Why the proof failed.
        source: TreeError,
    },
}

/// The last verified tree head of one log, and the rules for moving it forward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointTracker {
    latest: Option<TreeHead>,
}

impl CheckpointTracker {
    /// A tracker holding `latest` (`None` before the first checkpoint).
    pub fn new(latest: Option<TreeHead>) -> Self {
        Self { latest }
    }

    /// The tree head held.
    pub fn latest(&self) -> Option<TreeHead> {
        self.latest
    }

    /// The consistency proof to fetch before offering `new`, as `(from, size)`,
    /// or `None` when no proof is needed (nothing held, an empty tree held, or
    /// the same or a smaller size, which [`Self::check`] decides without one).
    pub fn proof_needed(&self, new: &TreeHead) -> Option<(u64, u64)> {
        match self.latest {
            Some(held) if held.size > 0 && held.size < new.size => Some((held.size, new.size)),
            _ => None,
        }
    }

    /// Decides whether `new` (from a checkpoint whose signature was verified)
    /// may replace the held tree head, given the consistency proof from the
    /// held size to `new.size` (empty when [`Self::proof_needed`] is `None`).
    pub fn check(&self, new: &TreeHead, proof: &[Hash]) -> Result<Advance, TrackerError> {
        let Some(held) = self.latest else {
            return Ok(Advance::FirstSeen);
        };
        if new.size < held.size {
            return Err(TrackerError::Rollback {
                held: held.size,
                offered: new.size,
            });
        }
        if new.size == held.size {
            return if new.root == held.root {
                Ok(Advance::Unchanged)
            } else {
                Err(TrackerError::Fork {
                    size: held.size,
                    held: held.root,
                    offered: new.root,
                })
            };
        }
        verify_consistency(proof, held.size, &held.root, new.size, &new.root).map_err(
            |source| TrackerError::Inconsistent {
                held: held.size,
                offered: new.size,
                source,
            },
        )?;
        Ok(Advance::Extended { from: held.size })
    }

    /// [`Self::check`], then holds `new` if it was accepted.
    pub fn update(&mut self, new: &TreeHead, proof: &[Hash]) -> Result<Advance, TrackerError> {
        let advance = self.check(new, proof)?;
        self.latest = Some(*new);
        Ok(advance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryLog;

    fn log(n: u32, salt: &str) -> MemoryLog {
        MemoryLog::from_entries((0..n).map(|i| format!("{salt}{i}"))).unwrap()
    }

    fn head(log: &MemoryLog, size: u64) -> TreeHead {
        TreeHead {
            size,
            root: log.root_at(size).unwrap(),
        }
    }

    #[test]
    fn first_seen_unchanged_and_extended() {
        let l = log(40, "e");
        let mut tracker = CheckpointTracker::default();
        assert_eq!(tracker.proof_needed(&head(&l, 10)), None);
        assert_eq!(
            tracker.update(&head(&l, 10), &[]).unwrap(),
            Advance::FirstSeen
        );
        assert_eq!(
            tracker.update(&head(&l, 10), &[]).unwrap(),
            Advance::Unchanged
        );
        assert_eq!(tracker.proof_needed(&head(&l, 40)), Some((10, 40)));
        let proof = l.consistency_proof(10, 40).unwrap();
        assert_eq!(
            tracker.update(&head(&l, 40), &proof).unwrap(),
            Advance::Extended { from: 10 }
        );
        assert_eq!(tracker.latest(), Some(head(&l, 40)));
        // From an empty tree, no proof is needed.
        let mut from_empty = CheckpointTracker::new(Some(TreeHead::EMPTY));
        assert_eq!(from_empty.proof_needed(&head(&l, 5)), None);
        assert!(from_empty.update(&head(&l, 5), &[]).is_ok());
    }

    #[test]
    fn rollback_is_refused_and_state_kept() {
        let l = log(40, "e");
        let mut tracker = CheckpointTracker::new(Some(head(&l, 30)));
        let err = tracker.update(&head(&l, 20), &[]).unwrap_err();
        assert!(
            matches!(
                err,
                TrackerError::Rollback {
                    held: 30,
                    offered: 20
                }
            ),
            "{err}"
        );
        assert_eq!(tracker.latest(), Some(head(&l, 30)));
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn fork_same_size_other_root_is_refused() {
        let (honest, other) = (log(30, "e"), log(30, "forked"));
        let mut tracker = CheckpointTracker::new(Some(head(&honest, 30)));
        let err = tracker.update(&head(&other, 30), &[]).unwrap_err();
        assert!(matches!(err, TrackerError::Fork { size: 30, .. }), "{err}");
        assert!(err.to_string().contains("fork"));
        assert_eq!(tracker.latest(), Some(head(&honest, 30)));
    }

    #[test]
    fn fork_with_larger_size_fails_the_consistency_proof() {
        // The forked log shares the first 20 entries, then differs.
        let honest = log(30, "e");
        let mut entries: Vec<String> = (0..20).map(|i| format!("e{i}")).collect();
        entries.extend((20..50).map(|i| format!("x{i}")));
        let forked = MemoryLog::from_entries(&entries).unwrap();
        let mut tracker = CheckpointTracker::new(Some(head(&honest, 30)));
        // The forked log's own proof from 30 to 50 does not match the held root.
        let proof = forked.consistency_proof(30, 50).unwrap();
        let err = tracker.update(&head(&forked, 50), &proof).unwrap_err();
        assert!(
            matches!(
                err,
                TrackerError::Inconsistent {
                    held: 30,
                    offered: 50,
                    ..
                }
            ),
            "{err}"
        );
        // Nor does a missing proof.
        assert!(tracker.check(&head(&forked, 50), &[]).is_err());
        assert_eq!(tracker.latest(), Some(head(&honest, 30)));
        // But a checkpoint of the shared prefix's extension in the honest log is fine.
        let grown = log(45, "e");
        let proof = grown.consistency_proof(30, 45).unwrap();
        assert!(tracker.update(&head(&grown, 45), &proof).is_ok());
    }

    #[test]
    fn tree_head_serializes_with_base64_root() {
        let h = head(&log(3, "e"), 3);
        let json = serde_json::to_value(h).unwrap();
        assert_eq!(json["size"], 3);
        assert_eq!(json["root"], h.root.to_base64());
        assert_eq!(serde_json::from_value::<TreeHead>(json).unwrap(), h);
    }
}
