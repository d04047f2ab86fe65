//! `shire install`: verify the registry's checkpoint and bring the replica of
//! its log (and of each mirrored origin's log a package comes from) up to
//! it, resolve (or read the lock) with every release decided by those
//! replicas, download and verify each artifact, extract them all, then write
//! `shire.lock`. See `crate::install` for the all-or-nothing staging.

use super::Ctx;
use crate::api::Client;
use crate::checks::{self, Admission};
use crate::cli::InstallArgs;
use crate::home::normalise_registry;
use crate::install::{self, Expected, PlanItem, RegistryCatalog, Staging};
use crate::lockfile::{LockedPackage, Lockfile, Pin};
use crate::resolve;
use crate::transparency::Logs;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use shire_core::policy::TrustPolicy;
use shire_core::{Digest, PackageName, Version, VersionReq};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Serialize)]
struct InstalledView {
    name: PackageName,
    version: Version,
    digest: Digest,
    direct: bool,
    approved: bool,
    standing: String,
    yanked: Option<String>,
    origin: String,
    log_index: u64,
    dependencies: Vec<Pin>,
    path: String,
}

#[derive(Serialize)]
struct InstallView {
    registry: String,
    dir: String,
    lockfile: String,
    packages: Vec<InstalledView>,
}

/// Runs `shire install`.
pub fn install(ctx: &Ctx, args: &InstallArgs) -> Result<Outcome> {
    let client = ctx.client()?;
    let policy = ctx.home.load_trust()?;
    let dir = &args.dir;
    let old_lock = Lockfile::load(dir)?;
    if let Some(l) = &old_lock {
        if normalise_registry(&l.registry) != ctx.registry {
            output::warn(format!(
                "{} was resolved against {}, installing from {}",
                Lockfile::path_in(dir).display(),
                l.registry,
                ctx.registry
            ));
        }
    }
    if args.packages.is_empty() && old_lock.is_none() {
        bail!(
            "nothing to install: name packages (org/name[@REQ]) or keep a shire.lock in {}",
            dir.display()
        );
    }
    // Everything an install decides comes from the registry's log, replayed
    // here up to a checkpoint consistent with every one verified before.
    let log = ctx.verified_log(&client)?;
    let mut logs = Logs::open(&ctx.home, &client, &ctx.registry, &log)?;
    let plan = match &old_lock {
        Some(lock) if args.packages.is_empty() => {
            plan_from_lock(&client, &mut logs, &policy, lock, args.allow_unverified)?
        }
        _ => plan_from_resolution(&client, &mut logs, &policy, old_lock.as_ref(), args)?,
    };
    for item in &plan {
        if let Some(y) = &item.checked.yanked {
            output::warn(format!(
                "{} is yanked ({}); installing it because shire.lock pins it",
                item.release(),
                y.reason
            ));
        }
        if let Admission::Unverified(why) = &item.admission {
            output::warn(format!(
                "INSTALLING UNVERIFIED RELEASE {} ({why}) because --allow-unverified was given",
                item.release()
            ));
        }
    }

    let mut staging = Staging::new(dir)?;
    for item in &plan {
        let dl = staging.download_path(&item.name)?;
        if let Some(parent) = dl.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        install::download(&client, item, &dl)?;
        staging.extract_file(&item.name, &dl)?;
        let _ = std::fs::remove_file(&dl);
    }
    let stale: Vec<PackageName> = old_lock
        .iter()
        .flat_map(|l| l.packages.iter())
        .filter(|p| !plan.iter().any(|i| i.name == p.name))
        .map(|p| p.name.clone())
        .collect();
    staging.commit(&stale)?;

    let lock = Lockfile::new(
        &ctx.registry,
        plan.iter()
            .map(|i| LockedPackage {
                origin: Some(i.origin.clone()),
                log_index: Some(i.checked.facts.index),
                name: i.name.clone(),
                version: i.checked.facts.subject.version.clone(),
                digest: i.digest(),
                dependencies: i.dependencies.clone(),
                direct: i.direct,
                approved: i.admission == Admission::Approved,
            })
            .collect(),
    );
    let lock_path = lock.save(dir)?;
    report(ctx, dir, &lock_path, &plan)?;
    Ok(Outcome::Success)
}

fn report(ctx: &Ctx, dir: &Path, lock_path: &Path, plan: &[PlanItem]) -> Result<()> {
    let view = InstallView {
        registry: ctx.registry.clone(),
        dir: dir.display().to_string(),
        lockfile: lock_path.display().to_string(),
        packages: plan
            .iter()
            .map(|i| InstalledView {
                name: i.name.clone(),
                version: i.checked.facts.subject.version.clone(),
                digest: i.digest(),
                direct: i.direct,
                approved: i.admission == Admission::Approved,
                standing: checks::standing_label(&i.checked.trust.standing).into(),
                yanked: i.checked.yanked.as_ref().map(|y| y.reason.clone()),
                origin: i.origin.clone(),
                log_index: i.checked.facts.index,
                dependencies: i.dependencies.clone(),
                path: dir
                    .join(i.name.org().as_str())
                    .join(i.name.name())
                    .display()
                    .to_string(),
            })
            .collect(),
    };
    if ctx.json {
        return output::json(&view);
    }
    for p in &view.packages {
        output::line(format!(
            "installed {}@{} ({}) into {}",
            p.name,
            p.version,
            if p.approved {
                "approved".to_string()
            } else {
                format!("UNVERIFIED: {}", p.standing)
            },
            p.path
        ));
    }
    output::line(format!("wrote {}", view.lockfile));
    Ok(())
}

/// The home of a locked package: as the lock recorded it, else (older locks)
/// as the registry names it.
fn home_of(client: &Client, p: &LockedPackage) -> Result<String> {
    match &p.origin {
        Some(o) => Ok(o.clone()),
        None => Ok(client
            .package(&p.name)
            .with_context(|| format!("asking where {} is home", p.name))?
            .origin),
    }
}

/// Plans exactly what the lock pins, checking each release again in the
/// verified log of its home.
fn plan_from_lock(
    client: &Client,
    logs: &mut Logs<'_>,
    policy: &TrustPolicy,
    lock: &Lockfile,
    allow_unverified: bool,
) -> Result<Vec<PlanItem>> {
    let mut plan = Vec::new();
    for p in &lock.packages {
        let release = format!("{}@{}", p.name, p.version);
        let origin = home_of(client, p)?;
        let info = client
            .version(&p.name, &p.version)
            .with_context(|| format!("looking up {release}, pinned by shire.lock"))?;
        let replica = logs.of(&origin, &release)?;
        let (checked, admission) = install::plan_item(
            &p.name,
            &p.version,
            &info,
            &replica.lookup(&p.name, &p.version),
            Some((&p.digest, Expected::Locked)),
            policy,
            allow_unverified,
        )?;
        // The lock's pins must satisfy the signed manifest's requirements.
        for (dep, req) in &checked.statement.manifest.dependencies {
            let pinned = lock.get(dep).map(|l| &l.version);
            if !pinned.is_some_and(|v| req.matches(v)) {
                bail!(
                    "shire.lock does not match {release}: its signed manifest requires {dep} {req}, the lock pins {}",
                    pinned.map(|v| format!("{dep}@{v}")).unwrap_or_else(|| "nothing".into())
                );
            }
        }
        plan.push(PlanItem {
            name: p.name.clone(),
            origin,
            checked,
            size: info.size,
            admission,
            direct: p.direct,
            dependencies: p.dependencies.clone(),
        });
    }
    Ok(plan)
}

/// Resolves the requested packages (keeping locked versions that still satisfy)
/// with every candidate decided by the verified logs, then checks each chosen
/// release again.
fn plan_from_resolution(
    client: &Client,
    logs: &mut Logs<'_>,
    policy: &TrustPolicy,
    lock: Option<&Lockfile>,
    args: &InstallArgs,
) -> Result<Vec<PlanItem>> {
    let mut roots: Vec<(PackageName, VersionReq)> = Vec::new();
    for r in &args.packages {
        if roots.iter().any(|(n, q)| n == &r.name && q == &r.req) {
            continue;
        }
        roots.push((r.name.clone(), r.req.clone()));
    }
    let mut preferred = BTreeMap::new();
    if let Some(lock) = lock {
        for p in &lock.packages {
            preferred.insert(p.name.clone(), p.version.clone());
            // Packages installed directly before stay, pinned, unless named again.
            if p.direct && !roots.iter().any(|(n, _)| n == &p.name) {
                let exact = VersionReq::parse(&format!("={}", p.version))
                    .with_context(|| format!("pinning {}@{}", p.name, p.version))?;
                roots.push((p.name.clone(), exact));
            }
        }
    }
    let mut catalog = RegistryCatalog::new(client, logs, policy, args.allow_unverified);
    let resolution =
        resolve::resolve(&mut catalog, &roots, &preferred).context("resolving dependencies")?;
    let mut plan = Vec::new();
    for (name, cand) in &resolution.chosen {
        let release = format!("{name}@{}", cand.version);
        let listing = catalog
            .listing(name)
            .with_context(|| format!("the registry's listing of {name} was not kept"))?;
        let origin = listing.origin.clone();
        let info = listing
            .versions
            .iter()
            .find(|v| v.version == cand.version)
            .cloned()
            .with_context(|| format!("the registry's listing of {name} has no {release}"))?;
        let locked = lock
            .and_then(|l| l.get(name))
            .filter(|l| l.version == cand.version);
        let expected = match locked {
            Some(l) => (&l.digest, Expected::Locked),
            None => (&cand.digest, Expected::Resolved),
        };
        let replica = catalog.logs().of(&origin, &release)?;
        let (checked, admission) = install::plan_item(
            name,
            &cand.version,
            &info,
            &replica.lookup(name, &cand.version),
            Some(expected),
            policy,
            args.allow_unverified,
        )?;
        let dependencies = checked
            .statement
            .manifest
            .dependencies
            .keys()
            .filter_map(|d| {
                resolution.chosen.get(d).map(|c| Pin {
                    name: d.clone(),
                    version: c.version.clone(),
                })
            })
            .collect();
        plan.push(PlanItem {
            name: name.clone(),
            origin,
            checked,
            size: info.size,
            admission,
            direct: resolution.direct.contains(name),
            dependencies,
        });
    }
    Ok(plan)
}
