//! Verifying the log a bundle carries, with no network: its signed
//! checkpoint is opened with the node key this machine pinned (or was
//! given), every entry from the first is replayed through the ledger into a
//! fresh replica whose root must be the checkpoint's, and a checkpoint
//! verified here before must be a prefix of it. Carrying the whole log
//! (rather than inclusion proofs of a few entries) is what lets the
//! receiver see a revocation the bundle's maker might have left out: the
//! replay covers every entry the checkpoint signs.

use super::checkpoint::open_note;
use super::replica::{extend, Replica, VerifiedHead};
use super::state::LogState;
use super::NodeKey;
use anyhow::{bail, Context, Result};
use shire_core::wire::{LogEntries, LogEntry};
use shire_tlog::Checkpoint;

/// Replays `entries` (the whole log, from index 0) under `key`, checking
/// them against the signed `note` and against `held`, the checkpoint this
/// machine verified before for the same registry, if any. `log` names the
/// replica (the registry URL). Returns the replica and the checkpoint.
pub fn replay(
    log: &str,
    note: &str,
    key: &NodeKey,
    held: Option<&LogState>,
    entries: &[LogEntry],
) -> Result<(Replica, Checkpoint)> {
    let checkpoint = open_note(note, key).context("the bundle's checkpoint does not verify")?;
    let origin = checkpoint.origin().as_str().to_string();
    let name = key.log_name();
    let head = VerifiedHead::new(&origin, &name, checkpoint.tree_head());
    let fetch = |start: u64, end: u64| -> Result<LogEntries, crate::api::ApiError> {
        let from = usize::try_from(start).unwrap_or(usize::MAX);
        let to = usize::try_from(end)
            .unwrap_or(usize::MAX)
            .min(entries.len());
        Ok(LogEntries {
            entries: entries
                .get(from..to)
                .map(<[LogEntry]>::to_vec)
                .unwrap_or_default(),
        })
    };
    let mut replica = Replica::new(log, &origin, &name);
    if let Some(h) = held {
        if h.origin != origin {
            bail!(
                "the bundle's log is of {origin}, this machine verified {} for {log}",
                h.origin
            );
        }
        if h.size > checkpoint.size() {
            bail!(
                "the bundle's checkpoint ({} entries) is older than the one this machine verified ({} entries): it could hide what came since; ask for a newer bundle",
                checkpoint.size(),
                h.size
            );
        }
        let earlier = VerifiedHead::new(&origin, &name, h.head());
        replica = extend(replica, &earlier, fetch, |_| {})
            .context("the bundle's log is not an extension of the one this machine verified")?;
    }
    let replica = extend(replica, &head, fetch, |_| {})
        .context("the bundle's log does not match its checkpoint")?;
    Ok((replica, checkpoint))
}
