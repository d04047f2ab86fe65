//! Verifier commands: `shire approve`, `shire reject`, `shire revoke` (signed
//! verdicts) and `shire review` (the queue of pending releases).
//!
//! A verdict's subject is the release the registry's log holds, as this
//! client replayed it, and the publisher's statement must verify under the key
//! that log registered: a verifier cannot be tricked into approving other bytes
//! than the ones released, nor a statement the registry made up.

use super::Ctx;
use crate::checks;
use crate::cli::ReleaseRef;
use crate::transparency::Logs;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use shire_core::statement::{Advisory, Verdict, VerdictStatement};
use std::time::{SystemTime, UNIX_EPOCH};

/// Approves a release.
pub fn approve(ctx: &Ctx, release: &ReleaseRef, note: Option<String>) -> Result<Outcome> {
    submit(
        ctx,
        release,
        Verdict::Approve,
        note.filter(|n| !n.trim().is_empty()),
        None,
    )
}

/// Rejects a release.
pub fn reject(ctx: &Ctx, release: &ReleaseRef, reason: String) -> Result<Outcome> {
    submit(ctx, release, Verdict::Reject, Some(reason), None)
}

/// Revokes an approved release, with the advisory its users are told.
pub fn revoke(
    ctx: &Ctx,
    release: &ReleaseRef,
    reason: String,
    advisory: Option<Advisory>,
) -> Result<Outcome> {
    submit(ctx, release, Verdict::Revoke, Some(reason), advisory)
}

fn submit(
    ctx: &Ctx,
    release: &ReleaseRef,
    verdict: Verdict,
    reason: Option<String>,
    advisory: Option<Advisory>,
) -> Result<Outcome> {
    if verdict != Verdict::Approve && reason.as_deref().map(str::trim).unwrap_or("").is_empty() {
        bail!("a {verdict} needs a --reason");
    }
    let key = ctx.home.load_key()?;
    let client = ctx.client()?;
    let info = client
        .version(&release.name, &release.version)
        .with_context(|| format!("looking up {release}"))?;
    // What is signed is the release the registry's log holds, as replayed
    // here up to its verified checkpoint; the verdict is signed for that log,
    // so it cannot be replayed on another node.
    let log = ctx.verified_log(&client)?;
    let logs = Logs::open(&ctx.home, &client, &ctx.registry, &log)?;
    let lookup = logs.own().lookup(&release.name, &release.version);
    let statement = checks::verify_in_log(&release.name, &release.version, &info, &lookup)
        .with_context(|| format!("not signing a verdict on {release}"))?;
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut st = VerdictStatement::new(
        verdict,
        statement.subject.clone(),
        &log.key.log_name(),
        reason,
        issued_at,
    );
    if let Some(a) = advisory {
        if let Some(fixed) = a.fixed_in.as_ref().filter(|f| **f <= release.version) {
            bail!("--fixed-in {fixed} is not newer than {release}");
        }
        st = st.with_advisory(a);
    }
    let envelope = st.sign(&key);
    let after = client
        .submit_verdict(&release.name, &release.version, &envelope)
        .with_context(|| format!("submitting the {verdict} of {release}"))?;
    if ctx.json {
        output::json(&after)?;
    } else {
        let done = match verdict {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
            Verdict::Revoke => "revoked",
        };
        output::line(format!(
            "{done} {release} ({}) with key {}; registry state: {}",
            statement.subject.digest,
            key.key_id().short(),
            after.state
        ));
    }
    Ok(Outcome::Success)
}

/// Lists the pending releases, oldest first, with what changed.
pub fn review(ctx: &Ctx) -> Result<Outcome> {
    let items = ctx
        .client()?
        .review()
        .with_context(|| format!("fetching the review queue from {}", ctx.registry))?;
    if ctx.json {
        output::json(&items)?;
        return Ok(Outcome::Success);
    }
    if items.is_empty() {
        output::line("no releases await review");
        return Ok(Outcome::Success);
    }
    for it in &items {
        output::line(format!(
            "{}@{}  {}  published {}",
            it.name, it.version, it.digest, it.published_at
        ));
        match &it.previous {
            Some(p) => output::line(format!("  compared with {p}:")),
            None => output::line("  first release:"),
        }
        let f = &it.files;
        output::line(format!(
            "  files: {} added, {} removed, {} changed",
            f.added.len(),
            f.removed.len(),
            f.changed.len()
        ));
        for (mark, list) in [("+", &f.added), ("-", &f.removed), ("~", &f.changed)] {
            for p in list {
                output::line(format!("    {mark} {p}"));
            }
        }
        let d = &it.dependencies;
        if d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty() {
            output::line("  dependencies: unchanged");
        } else {
            output::line("  dependencies:");
            for (n, r) in &d.added {
                output::line(format!("    + {n} {r}"));
            }
            for (n, r) in &d.removed {
                output::line(format!("    - {n} {r}"));
            }
            for (n, (a, b)) in &d.changed {
                output::line(format!("    ~ {n} {a} -> {b}"));
            }
        }
    }
    Ok(Outcome::Success)
}
