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
use crate::install::{self, source, Expected, PlanItem, RegistryCatalog, Source, Staging};
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
///
/// `--offline` reads the cache of earlier online installs and the replica
/// of the log verified then; `--from FILE` reads a bundle (installing what
/// it was made for when no names are given). Neither touches the network.
pub fn install(ctx: &Ctx, args: &InstallArgs) -> Result<Outcome> {
    let dir = &args.dir;
    // Takes the folder's lock and finishes an interrupted install first.
    let staging = Staging::new(dir)?;
    let old_lock = Lockfile::load(dir)?;
    let mut requests = args.packages.clone();
    let (mut session, _unpacked) = match (&args.from, args.offline) {
        (Some(file), _) => {
            let (session, unpacked) = super::offline::bundle_session(ctx, dir, file)?;
            if requests.is_empty() && old_lock.is_none() {
                requests = super::offline::roots(&unpacked)?;
            }
            (session, Some(unpacked))
        }
        (None, true) => (super::offline::cache_session(ctx, dir)?, None),
        (None, false) => (Session::open(ctx, dir, old_lock.as_ref())?, None),
    };
    if requests.is_empty() && old_lock.is_none() {
        bail!(
            "nothing to install: name packages (org/name[@REQ]) or keep a shire.lock in {}",
            dir.display()
        );
    }
    if args.from.is_some() || args.offline {
        warn_other_registry(dir, old_lock.as_ref(), &session.registry);
    }
    let plan = match &old_lock {
        Some(lock) if requests.is_empty() => session.plan_from_lock(lock, args.allow_unverified)?,
        _ => {
            let mut goal = Goal::default();
            for r in &requests {
                goal.root(r.name.clone(), r.req.clone());
            }
            for p in old_lock.iter().flat_map(|l| &l.packages) {
                if requests.iter().any(|r| r.name == p.name) {
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

/// Where a session reads: the registry, or a local folder with a replica.
enum Mode {
    /// The registry, its checkpoint verified for this session.
    Online {
        client: Client,
        log: crate::transparency::VerifiedLog,
    },
    /// The cache (`--offline`) or an unpacked bundle (`--from`).
    Local(source::Local),
}

/// One install or update: where it reads, the trust policy, the registry
/// the lock will name, and the install folder.
pub struct Session<'c> {
    ctx: &'c Ctx,
    mode: Mode,
    policy: TrustPolicy,
    registry: String,
    dir: std::path::PathBuf,
}

impl<'c> Session<'c> {
    /// Verifies the registry's checkpoint (everything an install decides
    /// comes from the log, replayed up to a checkpoint consistent with every
    /// one verified before), warning when `lock` came from another registry.
    pub fn open(ctx: &'c Ctx, dir: &Path, lock: Option<&Lockfile>) -> Result<Self> {
        warn_other_registry(dir, lock, &ctx.registry);
        let client = ctx.client()?;
        let log = ctx.verified_log(&client)?;
        Ok(Self {
            ctx,
            mode: Mode::Online { client, log },
            policy: ctx.home.load_trust()?,
            registry: ctx.registry.clone(),
            dir: dir.to_path_buf(),
        })
    }

    /// A session reading `local` (packages of `registry`), with no network.
    pub fn local(ctx: &'c Ctx, dir: &Path, local: source::Local, registry: &str) -> Result<Self> {
        Ok(Self {
            ctx,
            mode: Mode::Local(local),
            policy: ctx.home.load_trust()?,
            registry: normalise_registry(registry),
            dir: dir.to_path_buf(),
        })
    }

    /// Runs `f` over this session's source.
    pub fn with_source<R>(
        &mut self,
        f: impl FnOnce(&mut dyn Source, &TrustPolicy) -> Result<R>,
    ) -> Result<R> {
        match &mut self.mode {
            Mode::Online { client, log } => {
                let logs = Logs::open(&self.ctx.home, client, &self.ctx.registry, log)?;
                let cache = source::Cache::at(self.ctx.home.cache_dir(&self.ctx.registry));
                let mut online = source::Online::new(client, logs, Some(cache));
                f(&mut online, &self.policy)
            }
            Mode::Local(local) => f(local, &self.policy),
        }
    }

    /// Every entry of the registry's own log up to the checkpoint stored as
    /// verified, with that checkpoint (online sessions only).
    pub fn own_log_entries(
        &self,
    ) -> Result<(
        Vec<shire_core::wire::LogEntry>,
        crate::transparency::LogState,
    )> {
        let Mode::Online { client, .. } = &self.mode else {
            bail!("reading the whole log needs the registry");
        };
        let held = crate::transparency::state::load(&self.ctx.home, &self.registry)?
            .with_context(|| format!("no verified checkpoint of {} is kept here", self.registry))?;
        let mut entries = Vec::new();
        while (entries.len() as u64) < held.size {
            let next = entries.len() as u64;
            let got = client
                .log_entries(next, held.size.min(next + 1000))
                .with_context(|| format!("fetching log entries from {next}"))?;
            if got.entries.is_empty() {
                bail!("the registry withholds its log entries from {next} on");
            }
            entries.extend(got.entries);
        }
        entries.truncate(usize::try_from(held.size).unwrap_or(usize::MAX));
        Ok((entries, held))
    }

    /// Plans exactly what the lock pins.
    pub fn plan_from_lock(
        &mut self,
        lock: &Lockfile,
        allow_unverified: bool,
    ) -> Result<Vec<PlanItem>> {
        self.with_source(|source, policy| plan_from_lock(source, policy, lock, allow_unverified))
    }

    /// Plans a resolution of `goal`.
    pub fn plan_from_resolution(
        &mut self,
        lock: Option<&Lockfile>,
        goal: &Goal,
        allow_unverified: bool,
    ) -> Result<Vec<PlanItem>> {
        self.with_source(|source, policy| {
            plan_from_resolution(source, policy, lock, goal, allow_unverified)
        })
    }

    /// The newest versions of `name` this client would install, decided by
    /// the verified log: every candidate, usable or not.
    pub fn candidates(&mut self, name: &PackageName) -> Result<Vec<resolve::Candidate>> {
        self.with_source(|source, policy| {
            let mut catalog = RegistryCatalog::new(source, policy, false);
            resolve::Catalog::candidates(&mut catalog, name)
        })
    }

    /// Downloads (or reads), verifies and extracts every planned release,
    /// commits them with the new lock (keeping what each direct package was
    /// asked for), and reports what changed.
    pub fn execute(
        &mut self,
        mut staging: Staging,
        plan: Vec<PlanItem>,
        old_lock: Option<&Lockfile>,
        force: bool,
    ) -> Result<Outcome> {
        self.with_source(|source, _| fetch(source, &mut staging, &plan))?;
        self.commit(staging, plan, old_lock, force)
    }
}

/// Warns when `lock` was resolved against another registry than `registry`.
fn warn_other_registry(dir: &Path, lock: Option<&Lockfile>, registry: &str) {
    if let Some(l) = lock {
        if normalise_registry(&l.registry) != normalise_registry(registry) {
            output::warn(format!(
                "{} was resolved against {}, installing from {}",
                Lockfile::path_in(dir).display(),
                l.registry,
                registry
            ));
        }
    }
}

/// Fetches, verifies and stages every planned release.
fn fetch(source: &mut dyn Source, staging: &mut Staging, plan: &[PlanItem]) -> Result<()> {
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
        source.fetch(item, &dl)?;
        staging.extract_file(&item.name, &dl)?;
        let _ = std::fs::remove_file(&dl);
    }
    Ok(())
}

impl Session<'_> {
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
            &self.registry,
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

/// Plans exactly what the lock pins, checking each release again in the
/// verified log of its home (as the lock recorded it; for older locks, as
/// the source names it).
fn plan_from_lock(
    source: &mut dyn Source,
    policy: &TrustPolicy,
    lock: &Lockfile,
    allow_unverified: bool,
) -> Result<Vec<PlanItem>> {
    let mut plan = Vec::new();
    for p in &lock.packages {
        let release = format!("{}@{}", p.name, p.version);
        let doc = source
            .package(&p.name)
            .with_context(|| format!("looking up {release}, pinned by shire.lock"))?;
        let origin = p.origin.clone().unwrap_or(doc.origin);
        let info = doc
            .versions
            .into_iter()
            .find(|v| v.version == p.version)
            .with_context(|| format!("{release}, pinned by shire.lock, is not listed"))?;
        let replica = source.replica(&origin, &release)?;
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
    source: &mut dyn Source,
    policy: &TrustPolicy,
    lock: Option<&Lockfile>,
    goal: &Goal,
    allow_unverified: bool,
) -> Result<Vec<PlanItem>> {
    let mut catalog = RegistryCatalog::new(source, policy, allow_unverified);
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
        let replica = catalog.source().replica(&origin, &release)?;
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
