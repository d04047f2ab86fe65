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
    /// `installed`, `upgraded`, `downgraded` or `kept`.
    action: &'static str,
    /// The version the lock held before, if any.
    previous: Option<Version>,
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
    removed: Vec<PackageName>,
}

/// Runs `shire install`.
///
/// With no names, installs exactly what `shire.lock` pins. A name without a
/// requirement means the newest approved version, so naming an installed
/// package upgrades it when a newer approved version exists (and says so);
/// the packages not named keep their locked versions while those still
/// satisfy every requirement.
pub fn install(ctx: &Ctx, args: &InstallArgs) -> Result<Outcome> {
    let dir = &args.dir;
    // Takes the folder's lock and finishes an interrupted install first.
    let staging = Staging::new(dir)?;
    let old_lock = Lockfile::load(dir)?;
    if args.packages.is_empty() && old_lock.is_none() {
        bail!(
            "nothing to install: name packages (org/name[@REQ]) or keep a shire.lock in {}",
            dir.display()
        );
    }
    let mut session = Session::open(ctx, dir, old_lock.as_ref())?;
    let plan = match &old_lock {
        Some(lock) if args.packages.is_empty() => {
            session.plan_from_lock(lock, args.allow_unverified)?
        }
        _ => {
            let mut goal = Goal::default();
            for r in &args.packages {
                goal.root(r.name.clone(), r.req.clone());
            }
            for p in old_lock.iter().flat_map(|l| &l.packages) {
                if args.packages.iter().any(|r| r.name == p.name) {
                    continue;
                }
                // Installed directly before: stays, pinned, unless named again.
                if p.direct {
                    let exact = VersionReq::parse(&format!("={}", p.version))
                        .with_context(|| format!("pinning {}@{}", p.name, p.version))?;
                    goal.roots.push((p.name.clone(), exact));
                    goal.requirements.insert(
                        p.name.clone(),
                        p.requirement.clone().unwrap_or(VersionReq::STAR),
                    );
                }
                goal.preferred.insert(p.name.clone(), p.version.clone());
            }
            session.plan_from_resolution(old_lock.as_ref(), &goal, args.allow_unverified)?
        }
    };
    session.execute(staging, plan, old_lock.as_ref(), args.force)
}

/// What a resolution aims at: the root requirements, the requirement to
/// record for each direct package, and the versions to keep when they
/// still satisfy.
#[derive(Debug, Default)]
pub struct Goal {
    /// Requirements the resolution must meet.
    pub roots: Vec<(PackageName, VersionReq)>,
    /// What each direct package was asked for, kept in the lock.
    pub requirements: BTreeMap<PackageName, VersionReq>,
    /// Versions tried first (the lock's).
    pub preferred: BTreeMap<PackageName, Version>,
}

impl Goal {
    /// Adds a direct requirement (once).
    pub fn root(&mut self, name: PackageName, req: VersionReq) {
        if !self.roots.iter().any(|(n, q)| n == &name && q == &req) {
            self.roots.push((name.clone(), req.clone()));
        }
        self.requirements.insert(name, req);
    }
}

/// One install or update against the registry: a client, the trust policy
/// and the verified replicas of the logs involved.
pub struct Session<'c> {
    ctx: &'c Ctx,
    client: Client,
    policy: TrustPolicy,
    log: crate::transparency::VerifiedLog,
    dir: std::path::PathBuf,
}

impl<'c> Session<'c> {
    /// Verifies the registry's checkpoint (everything an install decides
    /// comes from the log, replayed up to a checkpoint consistent with every
    /// one verified before), warning when `lock` came from another registry.
    pub fn open(ctx: &'c Ctx, dir: &Path, lock: Option<&Lockfile>) -> Result<Self> {
        if let Some(l) = lock {
            if normalise_registry(&l.registry) != ctx.registry {
                output::warn(format!(
                    "{} was resolved against {}, installing from {}",
                    Lockfile::path_in(dir).display(),
                    l.registry,
                    ctx.registry
                ));
            }
        }
        let client = ctx.client()?;
        let policy = ctx.home.load_trust()?;
        let log = ctx.verified_log(&client)?;
        Ok(Self {
            ctx,
            client,
            policy,
            log,
            dir: dir.to_path_buf(),
        })
    }

    fn logs(&self) -> Result<Logs<'_>> {
        Logs::open(&self.ctx.home, &self.client, &self.ctx.registry, &self.log)
    }

    /// Plans exactly what the lock pins.
    pub fn plan_from_lock(
        &mut self,
        lock: &Lockfile,
        allow_unverified: bool,
    ) -> Result<Vec<PlanItem>> {
        let mut logs = self.logs()?;
        plan_from_lock(
            &self.client,
            &mut logs,
            &self.policy,
            lock,
            allow_unverified,
        )
    }

    /// Plans a resolution of `goal`.
    pub fn plan_from_resolution(
        &mut self,
        lock: Option<&Lockfile>,
        goal: &Goal,
        allow_unverified: bool,
    ) -> Result<Vec<PlanItem>> {
        let mut logs = self.logs()?;
        plan_from_resolution(
            &self.client,
            &mut logs,
            &self.policy,
            lock,
            goal,
            allow_unverified,
        )
    }

    /// The newest versions of `name` this client would install, decided by
    /// the verified log: every candidate, usable or not.
    pub fn candidates(&mut self, name: &PackageName) -> Result<Vec<resolve::Candidate>> {
        let mut logs = self.logs()?;
        let mut catalog = RegistryCatalog::new(&self.client, &mut logs, &self.policy, false);
        resolve::Catalog::candidates(&mut catalog, name)
    }

    /// Downloads, verifies and extracts every planned release, commits them
    /// with the new lock (keeping what each direct package was asked for),
    /// and reports what changed.
    pub fn execute(
        &self,
        mut staging: Staging,
        plan: Vec<PlanItem>,
        old_lock: Option<&Lockfile>,
        force: bool,
    ) -> Result<Outcome> {
        self.fetch(&mut staging, &plan)?;
        self.commit(staging, plan, old_lock, force)
    }

    fn fetch(&self, staging: &mut Staging, plan: &[PlanItem]) -> Result<()> {
        for item in plan {
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
        for item in plan {
            let dl = staging.download_path(&item.name)?;
            if let Some(parent) = dl.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            install::download(&self.client, item, &dl)?;
            staging.extract_file(&item.name, &dl)?;
            let _ = std::fs::remove_file(&dl);
        }
        Ok(())
    }

    fn commit(
        &self,
        staging: Staging,
        plan: Vec<PlanItem>,
        old_lock: Option<&Lockfile>,
        force: bool,
    ) -> Result<Outcome> {
        let dir = &self.dir;
        let stale: Vec<PackageName> = old_lock
            .iter()
            .flat_map(|l| l.packages.iter())
            .filter(|p| !plan.iter().any(|i| i.name == p.name))
            .map(|p| p.name.clone())
            .collect();
        let lock = Lockfile::new(
            &self.ctx.registry,
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
                    requirement: i.requirement.clone().filter(|_| i.direct),
                })
                .collect(),
        );
        let committed = staging.commit(&lock, &stale, force)?;
        for (name, paths) in &committed.discarded {
            output::warn(format!(
                "--force: discarded what {name}'s folder held beyond its install: {}",
                output::sample(paths, 10)
            ));
        }
        report(
            self.ctx,
            dir,
            &Lockfile::path_in(dir),
            &plan,
            old_lock,
            &stale,
        )?;
        Ok(Outcome::Success)
    }
}

/// What an install did to one package, compared with the lock before it.
fn action(previous: Option<&Version>, now: &Version) -> &'static str {
    match previous {
        None => "installed",
        Some(v) if v < now => "upgraded",
        Some(v) if v > now => "downgraded",
        Some(_) => "kept",
    }
}

fn report(
    ctx: &Ctx,
    dir: &Path,
    lock_path: &Path,
    plan: &[PlanItem],
    old_lock: Option<&Lockfile>,
    removed: &[PackageName],
) -> Result<()> {
    let view = InstallView {
        registry: ctx.registry.clone(),
        dir: dir.display().to_string(),
        lockfile: lock_path.display().to_string(),
        packages: plan
            .iter()
            .map(|i| {
                let version = i.checked.facts.subject.version.clone();
                let previous = old_lock
                    .and_then(|l| l.get(&i.name))
                    .map(|l| l.version.clone());
                InstalledView {
                    name: i.name.clone(),
                    action: action(previous.as_ref(), &version),
                    previous,
                    version,
                    digest: i.digest(),
                    direct: i.direct,
                    approved: i.admission == Admission::Approved,
                    standing: checks::standing_label(&i.checked.trust.standing).into(),
                    yanked: i.checked.yanked.as_ref().map(|y| y.reason.clone()),
                    origin: i.origin.clone(),
                    log_index: i.checked.facts.index,
                    dependencies: i.dependencies.clone(),
                    path: install::record::package_dir(dir, &i.name)
                        .display()
                        .to_string(),
                }
            })
            .collect(),
        removed: removed.to_vec(),
    };
    if ctx.json {
        return output::json(&view);
    }
    for p in &view.packages {
        let standing = if p.approved {
            "approved".to_string()
        } else {
            format!("UNVERIFIED: {}", p.standing)
        };
        let what = match (&p.previous, p.action) {
            (Some(prev), "upgraded" | "downgraded") => {
                format!("{} {} from {prev} to {}", p.action, p.name, p.version)
            }
            _ => format!("{} {}@{}", p.action, p.name, p.version),
        };
        output::line(format!("{what} ({standing}) in {}", p.path));
    }
    for name in &view.removed {
        output::line(format!("removed {name} (no longer needed)"));
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
            requirement: p.requirement.clone(),
            dependencies: p.dependencies.clone(),
        });
    }
    Ok(plan)
}

/// Resolves `goal` (keeping its preferred versions where they still
/// satisfy) with every candidate decided by the verified logs, then checks
/// each chosen release again.
fn plan_from_resolution(
    client: &Client,
    logs: &mut Logs<'_>,
    policy: &TrustPolicy,
    lock: Option<&Lockfile>,
    goal: &Goal,
    allow_unverified: bool,
) -> Result<Vec<PlanItem>> {
    let mut catalog = RegistryCatalog::new(client, logs, policy, allow_unverified);
    let resolution = resolve::resolve(&mut catalog, &goal.roots, &goal.preferred)
        .context("resolving dependencies")?;
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
            allow_unverified,
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
            requirement: goal.requirements.get(name).cloned(),
            dependencies,
        });
    }
    Ok(plan)
}
