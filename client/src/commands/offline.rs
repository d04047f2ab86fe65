//! Installing with no network: `shire bundle` writes a bundle online;
//! `shire install --from FILE` and `shire install --offline` install from a
//! bundle or from the cache, each release decided by a verified replica of
//! the log exactly as online (see `crate::bundle`, `install::source`).

use super::install::{Goal, Session};
use super::Ctx;
use crate::bundle::{self, BundleInfo, Unpacked, BUNDLE_FORMAT};
use crate::cli::PackageRequest;
use crate::home::normalise_registry;
use crate::install::source::{Cache, Local};
use crate::transparency::{self, replica, state, NodeKey};
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use shire_core::wire::PackageInfo;
use std::path::Path;

/// A session over the cache of earlier online installs, deciding by the
/// replica of the registry's log as it was last verified here.
pub fn cache_session<'c>(ctx: &'c Ctx, dir: &Path) -> Result<Session<'c>> {
    let registry = &ctx.registry;
    let replica = replica::load(&ctx.home, registry)?.with_context(|| {
        format!("no verified copy of the log of {registry} is kept here: install online once first")
    })?;
    output::note(format!(
        "offline: deciding by the log of {registry} as verified here ({} entries)",
        replica.size()
    ));
    let local = Local::new(
        Cache::at(ctx.home.cache_dir(registry)),
        replica,
        &format!("the offline cache of {registry}"),
    );
    Session::local(ctx, dir, local, registry)
}

/// A session over the bundle at `file`: its log replayed and checked
/// against the node key pinned here (or `--node-key`), and against the
/// checkpoint verified here before, if any.
pub fn bundle_session<'c>(
    ctx: &'c Ctx,
    dir: &Path,
    file: &Path,
) -> Result<(Session<'c>, Unpacked)> {
    let unpacked = bundle::open(file)?;
    let registry = normalise_registry(&unpacked.info.registry);
    let held = state::load(&ctx.home, &registry)?;
    let pinned = held
        .as_ref()
        .map(|s| NodeKey::parse(&s.note_key))
        .transpose()
        .context("reading the pinned node key")?;
    let key = match (&ctx.node_key, pinned) {
        (Some(given), Some(pinned)) if given.text() != pinned.text() => bail!(
            "--node-key is not the key pinned for {registry} ({}): refusing",
            pinned.id()
        ),
        (Some(given), _) => given.clone(),
        (None, Some(pinned)) => pinned,
        (None, None) => bail!(
            "no node key is pinned for {registry} on this machine: give the key you obtained from its operator with --node-key"
        ),
    };
    let (replica, checkpoint) = transparency::bundle::replay(
        &registry,
        &unpacked.info.checkpoint,
        &key,
        held.as_ref(),
        &unpacked.entries,
    )
    .with_context(|| format!("verifying the bundle {}", file.display()))?;
    // This machine has now verified that checkpoint: a later bundle must extend it.
    if held.as_ref().is_none_or(|h| h.size < checkpoint.size()) {
        state::save(
            &ctx.home,
            &transparency::LogState::new(&registry, key.text(), &checkpoint),
        )?;
        replica::save(&ctx.home, &replica)?;
    }
    let local = Local::new(
        unpacked.cache(),
        replica,
        &format!("the bundle {}", file.display()),
    );
    Ok((Session::local(ctx, dir, local, &registry)?, unpacked))
}

/// What a bundle was made for.
pub fn roots(unpacked: &Unpacked) -> Result<Vec<PackageRequest>> {
    unpacked
        .info
        .roots
        .iter()
        .map(|r| {
            r.parse()
                .map_err(|e: String| anyhow::anyhow!("the bundle asks for {r:?}: {e}"))
        })
        .collect()
}

/// `shire bundle`: resolves `packages` as `install` would, fetches and
/// verifies every artifact, and writes them with the package documents,
/// the whole log and its signed checkpoint to `output`.
pub fn bundle(
    ctx: &Ctx,
    packages: &[PackageRequest],
    output_path: &Path,
    allow_unverified: bool,
) -> Result<Outcome> {
    let scratch = tempfile::tempdir().context("creating a scratch folder")?;
    let mut session = Session::open(ctx, scratch.path(), None)?;
    let mut goal = Goal::default();
    for r in packages {
        goal.root(r.name.clone(), r.req.clone());
    }
    let plan = session.plan_from_resolution(None, &goal, allow_unverified)?;
    let docs = session.with_source(|source, _| {
        let mut docs: Vec<PackageInfo> = Vec::new();
        for item in &plan {
            let dl = scratch
                .path()
                .join(format!("{}.tar.gz", item.digest().hex()));
            source.fetch(item, &dl)?;
            let mut doc = source.package(&item.name)?;
            let version = &item.checked.facts.subject.version;
            doc.versions.retain(|v| &v.version == version);
            docs.push(doc);
        }
        Ok(docs)
    })?;
    let (entries, held) = session.own_log_entries()?;
    let own = &held.origin;
    for item in &plan {
        if &item.origin != own {
            bail!(
                "{} is home on {} (mirrored here): a bundle carries packages home on {own} only",
                item.release(),
                item.origin
            );
        }
    }
    let info = BundleInfo {
        format: BUNDLE_FORMAT,
        registry: ctx.registry.clone(),
        note_key: held.note_key.clone(),
        checkpoint: held.note.clone(),
        roots: packages
            .iter()
            .map(|r| format!("{}@{}", r.name, r.req))
            .collect(),
    };
    let cache = Cache::at(ctx.home.cache_dir(&ctx.registry));
    bundle::write(output_path, &info, &entries, &docs, &cache)?;
    if ctx.json {
        output::json(&serde_json::json!({
            "bundle": output_path.display().to_string(),
            "releases": plan.iter().map(|i| i.release()).collect::<Vec<_>>(),
            "log_entries": entries.len(),
        }))?;
    } else {
        for i in &plan {
            output::line(format!("bundled {}", i.release()));
        }
        output::line(format!(
            "wrote {} ({} releases, the log's {} entries and its signed checkpoint)",
            output_path.display(),
            plan.len(),
            entries.len()
        ));
    }
    Ok(Outcome::Success)
}
