//! `shire log verify` and `shire log show`: the registry's transparency log.
//!
//! `verify` checks the latest checkpoint (pinned key, consistency with the one
//! held), downloads every entry in batches, recomputes the Merkle tree with
//! `shire_tlog::MemoryLog`, and replays every entry through the log's rules
//! (`shire_core::ledger`, as the node applies them, via
//! `transparency::replica`). It reports the first bad entry by index (exit 1):
//! one the registry cannot serve, one whose bytes do not hash into the signed
//! tree (found by bisecting with consistency proofs from prefixes of the
//! recomputed tree), or one that breaks a rule. A valid log's replay is kept
//! as the registry's replica, so the next install or audit starts from it.

use super::Ctx;
use crate::api::Client;
use crate::transparency::audit::{first_unhashed, BadEntry};
use crate::transparency::checkpoint::decode_proof;
use crate::transparency::replica::{self, Replica};
use crate::{output, Outcome};
use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use shire_core::event::LogEvent;
use shire_tlog::{Hash, MemoryLog};

/// Entries asked for per request.
const BATCH: u64 = replica::BATCH;

#[derive(Serialize)]
struct VerifyView {
    registry: String,
    origin: String,
    size: u64,
    root: String,
    valid: bool,
    first_bad: Option<BadEntry>,
}

/// Runs `shire log verify`.
pub fn verify(ctx: &Ctx) -> Result<Outcome> {
    let client = ctx.client()?;
    let log = ctx.verified_log(&client)?;
    let head = log.head();

    // Each entry is hashed into the tree and replayed as it arrives.
    let mut tree = MemoryLog::new();
    let mut replay = Replica::new(&ctx.registry, log.origin(), &log.key.log_name());
    let mut tree_bad: Option<BadEntry> = None;
    let mut statement_bad: Option<BadEntry> = None;
    let pb = output::progress_count(head.size, "downloading log".into());
    let download_bad = download(&client, head.size, |index, bytes| {
        if tree_bad.is_none() {
            if let Err(e) = tree.append(bytes) {
                tree_bad = Some(BadEntry {
                    index,
                    reason: e.to_string(),
                });
            }
        }
        if statement_bad.is_none() {
            if let Err(e) = replay.apply(index, bytes) {
                statement_bad = Some(BadEntry {
                    index,
                    reason: e.to_string(),
                });
            }
        }
        pb.set_position(index + 1);
    })?;
    pb.finish_and_clear();
    if tree_bad.is_none() {
        tree_bad = first_unhashed(&tree, &head, |m| -> Result<Option<Vec<Hash>>> {
            let p = client.consistency_proof(m, head.size).with_context(|| {
                format!(
                    "fetching a consistency proof from {m} to {} entries",
                    head.size
                )
            })?;
            Ok(decode_proof(m, head.size, p.from, p.size, &p.hashes).ok())
        })?
        .map(|index| BadEntry {
            index,
            reason:
                "its bytes are not the ones in the signed tree: it was altered after it was logged"
                    .into(),
        });
    }
    let first_bad = [tree_bad, download_bad, statement_bad]
        .into_iter()
        .flatten()
        .min_by_key(|b| b.index);
    if first_bad.is_none() && replay.is_at(&head) {
        replica::save(&ctx.home, &replay)?;
    }

    let view = VerifyView {
        registry: ctx.registry.clone(),
        origin: log.checkpoint.origin().to_string(),
        size: head.size,
        root: head.root.to_base64(),
        valid: first_bad.is_none(),
        first_bad,
    };
    if ctx.json {
        output::json(&view)?;
    } else if let Some(b) = &view.first_bad {
        output::line(format!(
            "log of {} is NOT valid: entry {}: {}",
            view.registry, b.index, b.reason
        ));
    } else {
        output::line(format!(
            "log of {} verified: {} entries, root {} (origin {})",
            view.registry, view.size, view.root, view.origin
        ));
    }
    Ok(if view.valid {
        Outcome::Success
    } else {
        Outcome::Findings
    })
}

/// Downloads entries `0..size` in order, handing each to `each`. Stops at the
/// first entry the registry does not serve in its place, returning it as a
/// bad entry.
fn download(
    client: &Client,
    size: u64,
    mut each: impl FnMut(u64, &[u8]),
) -> Result<Option<BadEntry>> {
    let bad = |index: u64, reason: String| Ok(Some(BadEntry { index, reason }));
    let mut next = 0u64;
    while next < size {
        let end = size.min(next + BATCH);
        let batch = match client.log_entries(next, end) {
            Ok(b) => b,
            // Retry the single entry, so the failure names it.
            Err(_) => match client.log_entries(next, next + 1) {
                Ok(b) => b,
                Err(e) => return bad(next, format!("the registry cannot serve it ({e})")),
            },
        };
        if batch.entries.is_empty() {
            return bad(
                next,
                format!("the registry serves no such entry, though its checkpoint covers {size} entries"),
            );
        }
        for e in batch.entries {
            if next >= end {
                break;
            }
            if e.index != next {
                return bad(
                    next,
                    format!("missing: the registry sent entry {} in its place", e.index),
                );
            }
            match B64.decode(e.data.as_bytes()) {
                Ok(bytes) => each(next, &bytes),
                Err(_) => return bad(next, "its data is not base64".into()),
            }
            next += 1;
        }
    }
    Ok(None)
}

#[derive(Serialize)]
struct ShownEntry {
    index: u64,
    at: Option<String>,
    summary: String,
    event: Option<LogEvent>,
}

/// Runs `shire log show`.
pub fn show(ctx: &Ctx, from: u64, limit: u64) -> Result<Outcome> {
    let client = ctx.client()?;
    let log = ctx.verified_log(&client)?;
    let size = log.head().size;
    let end = size.min(from.saturating_add(limit));
    let mut shown = Vec::new();
    let mut next = from;
    while next < end {
        let batch = client
            .log_entries(next, end.min(next + BATCH))
            .with_context(|| format!("fetching log entries from {next}"))?;
        if batch.entries.is_empty() {
            anyhow::bail!("the registry serves no log entry {next}, though its checkpoint covers {size} entries");
        }
        for e in batch.entries {
            if next >= end {
                break;
            }
            if e.index != next {
                anyhow::bail!(
                    "the registry sent log entry {} where entry {next} belongs",
                    e.index
                );
            }
            let event = B64
                .decode(e.data.as_bytes())
                .ok()
                .and_then(|b| LogEvent::from_bytes(&b).ok());
            let at = event
                .as_ref()
                .and_then(|ev| serde_json::to_value(ev).ok())
                .and_then(|v| v.get("at").and_then(|a| a.as_str()).map(str::to_string));
            shown.push(ShownEntry {
                index: e.index,
                at,
                summary: event
                    .as_ref()
                    .map(LogEvent::summary)
                    .unwrap_or_else(|| "(undecodable entry)".into()),
                event,
            });
            next += 1;
        }
    }
    if ctx.json {
        output::json(&shown)?;
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|e| {
            vec![
                e.index.to_string(),
                e.at.clone().unwrap_or_default(),
                e.summary.clone(),
            ]
        })
        .collect();
    output::print_table(&["INDEX", "AT", "EVENT"], &rows);
    output::note(format!(
        "{} of {size} entries (checkpoint of {size} entries verified)",
        shown.len()
    ));
    Ok(Outcome::Success)
}
