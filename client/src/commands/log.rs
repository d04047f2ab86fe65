//! `shire log verify` and `shire log show`: the registry's transparency log.
//!
//! `verify` checks the latest checkpoint (pinned key, consistency with the one
//! held), downloads every entry in batches, recomputes the Merkle tree with
//! `shire_tlog::MemoryLog`, and replays every statement
//! (`transparency::audit`). It reports the first bad entry by index (exit 1):
//! one the registry cannot serve, one whose bytes do not hash into the signed
//! tree (found by bisecting with consistency proofs from prefixes of the
//! recomputed tree), or one whose statement fails the replay.

use super::Ctx;
use crate::api::Client;
use crate::transparency::audit::{first_bad_statement, BadEntry};
use crate::{output, Outcome};
use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use shire_core::event::LogEvent;
use shire_tlog::{verify_consistency, MemoryLog, TreeHead};

/// Entries asked for per request.
const BATCH: u64 = 500;

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
    let pb = output::progress_count(head.size, "downloading log".into());
    let (entries, download_bad) = download(&client, head.size, |n| pb.set_position(n))?;
    pb.finish_and_clear();

    let mut tree = MemoryLog::new();
    let mut tree_bad = None;
    for (index, e) in (0u64..).zip(&entries) {
        if let Err(err) = tree.append(e) {
            tree_bad = Some(BadEntry {
                index,
                reason: err.to_string(),
            });
            break;
        }
    }
    if tree_bad.is_none() {
        tree_bad = first_unhashed(&client, &tree, &head)?;
    }
    let statement_bad = first_bad_statement(entries.iter().map(Vec::as_slice));
    let first_bad = [tree_bad, download_bad, statement_bad]
        .into_iter()
        .flatten()
        .min_by_key(|b| b.index);

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

/// Downloads entries `0..size` in order. Stops at the first entry the registry
/// does not serve in its place, returning it as a bad entry.
fn download(
    client: &Client,
    size: u64,
    progress: impl Fn(u64),
) -> Result<(Vec<Vec<u8>>, Option<BadEntry>)> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    while (out.len() as u64) < size {
        let next = out.len() as u64;
        let end = size.min(next + BATCH);
        let batch = match client.log_entries(next, end) {
            Ok(b) => b,
            // Retry the single entry, so the failure names it.
            Err(_) => match client.log_entries(next, next + 1) {
                Ok(b) => b,
                Err(e) => {
                    return Ok((
                        out,
                        Some(BadEntry {
                            index: next,
                            reason: format!("the registry cannot serve it ({e})"),
                        }),
                    ))
                }
            },
        };
        if batch.entries.is_empty() {
            return Ok((
                out,
                Some(BadEntry {
                    index: next,
                    reason: format!(
                        "the registry serves no such entry, though its checkpoint covers {size} entries"
                    ),
                }),
            ));
        }
        for e in batch.entries {
            let expected = out.len() as u64;
            if expected >= end {
                break;
            }
            if e.index != expected {
                return Ok((
                    out,
                    Some(BadEntry {
                        index: expected,
                        reason: format!(
                            "missing: the registry sent entry {} in its place",
                            e.index
                        ),
                    }),
                ));
            }
            match B64.decode(e.data.as_bytes()) {
                Ok(bytes) => out.push(bytes),
                Err(_) => {
                    return Ok((
                        out,
                        Some(BadEntry {
                            index: expected,
                            reason: "its data is not base64".into(),
                        }),
                    ))
                }
            }
        }
        progress(out.len() as u64);
    }
    Ok((out, None))
}

/// The first downloaded entry that does not hash into the signed tree, if any.
///
/// Holds when the downloaded prefix of `n` entries is consistent with the
/// checkpoint (`n == size`: same root). The first bad entry is found by
/// bisection over prefix sizes, each checked with the registry's consistency
/// proof from the recomputed prefix root to the signed root.
fn first_unhashed(client: &Client, tree: &MemoryLog, head: &TreeHead) -> Result<Option<BadEntry>> {
    let prefix_ok = |m: u64| -> Result<bool> {
        if m == 0 {
            return Ok(true);
        }
        let root = tree.root_at(m)?;
        if m == head.size {
            return Ok(root == head.root);
        }
        let p = client.consistency_proof(m, head.size).with_context(|| {
            format!(
                "fetching a consistency proof from {m} to {} entries",
                head.size
            )
        })?;
        let proof = match crate::transparency::checkpoint::decode_proof(
            m, head.size, p.from, p.size, &p.hashes,
        ) {
            Ok(p) => p,
            Err(_) => return Ok(false),
        };
        Ok(verify_consistency(&proof, m, &root, head.size, &head.root).is_ok())
    };
    let n = tree.size();
    if prefix_ok(n)? {
        return Ok(None);
    }
    // prefix_ok(lo) holds, prefix_ok(hi) fails.
    let (mut lo, mut hi) = (0u64, n);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if prefix_ok(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(BadEntry {
        index: hi - 1,
        reason: "its bytes are not the ones in the signed tree: it was altered after it was logged"
            .into(),
    }))
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
    output::line(output::table(&["INDEX", "AT", "EVENT"], &rows));
    output::note(format!(
        "{} of {size} entries (checkpoint of {size} entries verified)",
        shown.len()
    ));
    Ok(Outcome::Success)
}
