//! Living with an install folder, as cargo and npm users do: `shire list`,
//! `shire outdated`, `shire update` and `shire uninstall`.
//!
//! `list` reads only the folder. `outdated` and `update` decide every
//! version from the verified logs, as `install` does. `uninstall` removes
//! only what an install put there, through the same crash-safe commit.

use super::install::{Goal, Session};
use super::Ctx;
use crate::install::record::{self, Record};
use crate::install::{journal, Staging};
use crate::lockfile::{LockedPackage, Lockfile};
use crate::resolve::Candidate;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use shire_core::{PackageName, Version, VersionReq};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The lock of install folder `dir`, or an error saying nothing is installed.
fn require_lock(dir: &Path) -> Result<Lockfile> {
    Lockfile::load(dir)?.with_context(|| {
        format!(
            "nothing is installed in {} (no {})",
            dir.display(),
            crate::lockfile::LOCK_FILE
        )
    })
}

/// The locked entry for `name`, or an error suggesting the closest locked name.
fn locked<'l>(lock: &'l Lockfile, name: &PackageName, dir: &Path) -> Result<&'l LockedPackage> {
    lock.get(name).with_context(|| {
        let names: Vec<String> = lock.packages.iter().map(|p| p.name.to_string()).collect();
        format!(
            "{name} is not installed in {}{}",
            dir.display(),
            output::did_you_mean(&name.to_string(), &names)
        )
    })
}

#[derive(Serialize)]
struct ListedView {
    name: PackageName,
    version: Version,
    state: &'static str,
    direct: bool,
    origin: Option<String>,
    /// `unchanged`, `changed`, `missing`, `not a folder`, `unrecorded` or
    /// `other release` (`record::FolderState`).
    files: &'static str,
}

/// `shire list`: what the install folder holds, from its lock and record,
/// without the network.
pub fn list(ctx: &Ctx, dir: &Path) -> Result<Outcome> {
    let _settled = journal::settle(dir)?;
    let lock = require_lock(dir)?;
    let installed = Record::load(dir)?;
    let mut rows = Vec::new();
    for p in &lock.packages {
        let files = record::check(dir, p, &installed)?.label();
        rows.push(ListedView {
            name: p.name.clone(),
            version: p.version.clone(),
            state: if p.approved { "approved" } else { "unverified" },
            direct: p.direct,
            origin: p.origin.clone(),
            files,
        });
    }
    if ctx.json {
        return output::json(&rows).map(|()| Outcome::Success);
    }
    if rows.is_empty() {
        output::line(format!("nothing is installed in {}", dir.display()));
        return Ok(Outcome::Success);
    }
    output::print_table(
        &["NAME", "VERSION", "STATE", "KIND", "FILES", "ORIGIN"],
        &rows
            .iter()
            .map(|r| {
                vec![
                    r.name.to_string(),
                    r.version.to_string(),
                    r.state.to_string(),
                    if r.direct { "direct" } else { "dependency" }.to_string(),
                    r.files.to_string(),
                    r.origin.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(Outcome::Success)
}

/// One row of `shire outdated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outdated {
    /// The package.
    pub name: PackageName,
    /// The locked version.
    pub current: Version,
    /// The newest approved version every requirement on it allows
    /// (what `shire update` would move to).
    pub compatible: Option<Version>,
    /// The newest approved version of all.
    pub latest: Option<Version>,
    /// Named on the command line when installed.
    pub direct: bool,
}

/// The requirements placed on each locked package: a direct package's own
/// (`*` when an older lock did not keep it) and each locked dependent's
/// signed requirement (pure).
pub fn requirements(
    lock: &Lockfile,
    candidates: &BTreeMap<PackageName, Vec<Candidate>>,
) -> BTreeMap<PackageName, Vec<VersionReq>> {
    let mut out: BTreeMap<PackageName, Vec<VersionReq>> = BTreeMap::new();
    for p in &lock.packages {
        if p.direct {
            out.entry(p.name.clone())
                .or_default()
                .push(p.requirement.clone().unwrap_or(VersionReq::STAR));
        }
        let Some(mine) = candidates
            .get(&p.name)
            .and_then(|cs| cs.iter().find(|c| c.version == p.version))
        else {
            continue;
        };
        for (dep, req) in &mine.dependencies {
            out.entry(dep.clone()).or_default().push(req.clone());
        }
    }
    out
}

/// Which locked packages have newer approved versions, within and beyond
/// their requirements (pure). Yanked and unusable versions never count.
pub fn outdated(
    lock: &Lockfile,
    candidates: &BTreeMap<PackageName, Vec<Candidate>>,
) -> Vec<Outdated> {
    let reqs = requirements(lock, candidates);
    let mut out = Vec::new();
    for p in &lock.packages {
        let usable: Vec<&Candidate> = candidates
            .get(&p.name)
            .into_iter()
            .flatten()
            .filter(|c| c.unusable.is_none() && c.yanked.is_none() && c.version.pre.is_empty())
            .collect();
        let newest = |ok: &dyn Fn(&Version) -> bool| {
            usable
                .iter()
                .map(|c| &c.version)
                .filter(|v| ok(v))
                .max()
                .filter(|v| **v > p.version)
                .cloned()
        };
        let on_it = reqs.get(&p.name).cloned().unwrap_or_default();
        let compatible = newest(&|v| on_it.iter().all(|r| r.matches(v)));
        let latest = newest(&|_| true);
        if compatible.is_some() || latest.is_some() {
            out.push(Outdated {
                name: p.name.clone(),
                current: p.version.clone(),
                compatible,
                latest,
                direct: p.direct,
            });
        }
    }
    out
}

/// `shire outdated`: newer approved versions of what is installed.
pub fn outdated_cmd(ctx: &Ctx, dir: &Path) -> Result<Outcome> {
    let _settled = journal::settle(dir)?;
    let lock = require_lock(dir)?;
    let mut session = Session::open(ctx, dir, Some(&lock))?;
    let mut candidates = BTreeMap::new();
    for p in &lock.packages {
        let cs = session
            .candidates(&p.name)
            .with_context(|| format!("looking up {}", p.name))?;
        candidates.insert(p.name.clone(), cs);
    }
    let rows = outdated(&lock, &candidates);
    for (release, w) in crate::support::for_lock(ctx, &lock)? {
        output::warn(format!("{release}: {}: {}", w.kind, w.detail));
    }
    if ctx.json {
        return output::json(&rows).map(|()| Outcome::Success);
    }
    if rows.is_empty() {
        output::line(format!(
            "all {} installed package(s) are the newest approved versions",
            lock.packages.len()
        ));
        return Ok(Outcome::Success);
    }
    let show = |v: &Option<Version>| v.as_ref().map(|v| v.to_string()).unwrap_or("-".into());
    output::print_table(
        &["NAME", "CURRENT", "COMPATIBLE", "LATEST", "KIND"],
        &rows
            .iter()
            .map(|r| {
                vec![
                    r.name.to_string(),
                    r.current.to_string(),
                    show(&r.compatible),
                    show(&r.latest),
                    if r.direct { "direct" } else { "dependency" }.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    output::note("`shire update` moves to COMPATIBLE; LATEST needs `shire install NAME@REQ`");
    Ok(Outcome::Success)
}

/// `shire update [NAME] [--precise V]`: resolves again within every
/// requirement and rewrites the lock. Without NAME every package may move;
/// with it only that one (the rest keep their locked versions while they
/// still satisfy); `--precise` asks for one exact version of NAME.
pub fn update(
    ctx: &Ctx,
    dir: &Path,
    name: Option<&PackageName>,
    precise: Option<&Version>,
    allow_unverified: bool,
    force: bool,
) -> Result<Outcome> {
    let staging = Staging::new(dir)?;
    let lock = require_lock(dir)?;
    if let Some(n) = name {
        locked(&lock, n, dir)?;
    }
    let mut goal = Goal::default();
    for p in &lock.packages {
        if p.direct {
            let req = match &p.requirement {
                Some(r) => r.clone(),
                // Older locks did not keep it: stay compatible with what is there.
                None => VersionReq::parse(&format!("^{}", p.version))
                    .with_context(|| format!("a requirement for {}", p.name))?,
            };
            goal.root(p.name.clone(), req);
        }
        if name.is_some_and(|n| n != &p.name) {
            goal.preferred.insert(p.name.clone(), p.version.clone());
        }
    }
    if let (Some(n), Some(v)) = (name, precise) {
        goal.preferred.insert(n.clone(), v.clone());
    }
    let mut session = Session::open(ctx, dir, Some(&lock))?;
    let plan = session.plan_from_resolution(Some(&lock), &goal, allow_unverified)?;
    if let (Some(n), Some(v)) = (name, precise) {
        let chosen = plan.iter().find(|i| &i.name == n).map(|i| i.release());
        if chosen.as_deref() != Some(&format!("{n}@{v}")) {
            bail!(
                "cannot update {n} to {v}: it is not an approved version every requirement on {n} allows{}",
                chosen.map(|c| format!(" (the resolution chose {c})")).unwrap_or_default()
            );
        }
    }
    let unchanged = plan.len() == lock.packages.len()
        && plan.iter().all(|i| {
            lock.get(&i.name)
                .is_some_and(|l| l.version == i.checked.facts.subject.version)
        });
    if unchanged {
        if ctx.json {
            output::json(&serde_json::json!({ "updated": [] }))?;
        } else {
            output::line("already up to date: no newer approved version within the requirements");
        }
        return Ok(Outcome::Success);
    }
    session.execute(staging, plan, Some(&lock), force)
}

/// The packages of `lock` still needed once `gone` is removed: the direct
/// ones left and everything they depend on (pure).
pub fn still_needed(lock: &Lockfile, gone: &PackageName) -> BTreeSet<PackageName> {
    let mut needed = BTreeSet::new();
    let mut todo: Vec<&PackageName> = lock
        .packages
        .iter()
        .filter(|p| p.direct && &p.name != gone)
        .map(|p| &p.name)
        .collect();
    while let Some(n) = todo.pop() {
        if !needed.insert(n.clone()) {
            continue;
        }
        if let Some(p) = lock.get(n) {
            todo.extend(p.dependencies.iter().map(|d| &d.name));
        }
    }
    needed
}

/// `shire uninstall NAME`: removes the package, and the dependencies
/// nothing else needs, refusing while another installed package depends on
/// it, and refusing (without `force`) to remove files an install did not
/// put there.
pub fn uninstall(ctx: &Ctx, dir: &Path, name: &PackageName, force: bool) -> Result<Outcome> {
    let staging = Staging::new(dir)?;
    let lock = require_lock(dir)?;
    locked(&lock, name, dir)?;
    let dependents: Vec<String> = lock
        .packages
        .iter()
        .filter(|p| p.dependencies.iter().any(|d| &d.name == name))
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    if !dependents.is_empty() {
        bail!(
            "refusing to uninstall {name}: {} depend(s) on it; uninstall those first",
            dependents.join(", ")
        );
    }
    let needed = still_needed(&lock, name);
    let (kept, removed): (Vec<LockedPackage>, Vec<LockedPackage>) = lock
        .packages
        .iter()
        .cloned()
        .partition(|p| needed.contains(&p.name));
    let removed: Vec<PackageName> = removed.into_iter().map(|p| p.name).collect();
    let new_lock = Lockfile::new(&lock.registry, kept);
    let committed = staging.commit(&new_lock, &removed, force)?;
    for (n, paths) in &committed.discarded {
        output::warn(format!(
            "--force: discarded what {n}'s folder held beyond its install: {}",
            output::sample(paths, 10)
        ));
    }
    if ctx.json {
        output::json(&serde_json::json!({ "removed": removed }))?;
    } else {
        for n in &removed {
            if n == name {
                output::line(format!("removed {n}"));
            } else {
                output::line(format!("removed {n} (no longer needed)"));
            }
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::Digest;

    fn pkg(name: &str, v: &str, deps: &[&str], direct: bool, req: Option<&str>) -> LockedPackage {
        LockedPackage {
            origin: None,
            log_index: None,
            requirement: req.map(|r| VersionReq::parse(r).unwrap()),
            name: PackageName::parse(name).unwrap(),
            version: Version::parse(v).unwrap(),
            digest: Digest::of(v.as_bytes()),
            dependencies: deps.iter().map(|d| d.parse().unwrap()).collect(),
            direct,
            approved: true,
        }
    }

    fn cand(v: &str, deps: &[(&str, &str)], yanked: bool) -> Candidate {
        Candidate {
            version: Version::parse(v).unwrap(),
            digest: Digest::of(v.as_bytes()),
            dependencies: deps
                .iter()
                .map(|(n, r)| {
                    (
                        PackageName::parse(n).unwrap(),
                        VersionReq::parse(r).unwrap(),
                    )
                })
                .collect(),
            yanked: yanked.then(|| "bad".to_string()),
            unusable: None,
        }
    }

    #[test]
    fn outdated_separates_compatible_from_latest() {
        let lock = Lockfile::new(
            "http://x",
            vec![
                pkg("a/app", "1.0.0", &["a/lib@1.1.0"], true, Some("^1")),
                pkg("a/lib", "1.1.0", &[], false, None),
            ],
        );
        let n = |s: &str| PackageName::parse(s).unwrap();
        let mut unusable = cand("1.9.0", &[], false);
        unusable.unusable = Some("is not approved".into());
        let candidates = BTreeMap::from([
            (
                n("a/app"),
                vec![
                    cand("1.0.0", &[("a/lib", "~1.1")], false),
                    cand("1.2.0", &[("a/lib", "^1")], false),
                    cand("2.0.0", &[("a/lib", "^2")], false),
                    cand("2.1.0", &[], true),
                ],
            ),
            (
                n("a/lib"),
                vec![
                    cand("1.1.0", &[], false),
                    cand("1.1.4", &[], false),
                    cand("1.5.0", &[], false),
                    unusable,
                    cand("2.0.0", &[], false),
                ],
            ),
        ]);
        let rows = outdated(&lock, &candidates);
        let v = |s: &str| Some(Version::parse(s).unwrap());
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].compatible.clone(), rows[0].latest.clone()),
            (v("1.2.0"), v("2.0.0"))
        );
        // a/app@1.0.0 asks for ~1.1 of a/lib: 1.5.0 is outside it.
        assert_eq!(
            (rows[1].compatible.clone(), rows[1].latest.clone()),
            (v("1.1.4"), v("2.0.0"))
        );
    }

    #[test]
    fn uninstalling_keeps_what_others_still_need() {
        let lock = Lockfile::new(
            "http://x",
            vec![
                pkg(
                    "a/app",
                    "1.0.0",
                    &["a/lib@1.0.0", "a/only-app@1.0.0"],
                    true,
                    None,
                ),
                pkg("a/tool", "1.0.0", &["a/lib@1.0.0"], true, None),
                pkg("a/lib", "1.0.0", &[], false, None),
                pkg("a/only-app", "1.0.0", &[], false, None),
            ],
        );
        let needed = still_needed(&lock, &PackageName::parse("a/app").unwrap());
        let names: Vec<String> = needed.iter().map(|n| n.to_string()).collect();
        assert_eq!(names, vec!["a/lib", "a/tool"]);
    }
}
