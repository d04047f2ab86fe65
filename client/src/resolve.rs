//! Dependency resolution with semver: which exact release of each package to
//! install.
//!
//! For every requirement the resolver picks the highest version that matches
//! every requirement placed on that package (by the command line and by each
//! chosen dependent, jointly), that is not yanked, and that is installable under
//! the trust policy; it backtracks when a choice leads to a conflict and explains
//! what could not be satisfied when nothing works. A version the previous lock
//! pinned is preferred when it still satisfies (and may be yanked: yanking hides a
//! release from new resolutions, not from locks).
//!
//! The resolver is pure: it asks a [`Catalog`] for candidates, so tests feed it
//! a table and `install` feeds it verified registry data.

use shire_core::{Digest, PackageName, Version, VersionReq};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Most choices tried before giving up (guards against pathological graphs).
const MAX_STEPS: usize = 100_000;

/// One release the resolver may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The version.
    pub version: Version,
    /// The artifact digest from the verified release statement.
    pub digest: Digest,
    /// Dependencies from the verified release statement.
    pub dependencies: BTreeMap<PackageName, VersionReq>,
    /// Set when the publisher yanked it (the reason).
    pub yanked: Option<String>,
    /// Set when it may not be installed at all (bad signature, revoked, not
    /// approved, ...), with why.
    pub unusable: Option<String>,
}

/// Where candidates come from.
pub trait Catalog {
    /// Every release of `name`, in any order.
    fn candidates(&mut self, name: &PackageName) -> anyhow::Result<Vec<Candidate>>;
}

/// A requirement and who placed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The accepted versions.
    pub req: VersionReq,
    /// `the command line`, else `org/name@version` of the dependent.
    pub by: String,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (required by {})", self.req, self.by)
    }
}

/// Why resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No release of a package satisfies its requirements.
    #[error("no installable version of {name} satisfies {requirements}{excluded}")]
    NoMatch {
        /// The package.
        name: PackageName,
        /// Every requirement on it, joined.
        requirements: String,
        /// Versions that matched but could not be used, and why.
        excluded: String,
    },
    /// Every matching release conflicts with choices already made.
    #[error("cannot satisfy the requirements on {name} together: {detail}")]
    Conflict {
        /// The package.
        name: PackageName,
        /// What conflicted.
        detail: String,
    },
    /// The search gave up.
    #[error("dependency resolution gave up after {MAX_STEPS} steps")]
    TooComplex,
    /// The catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] anyhow::Error),
}

/// The outcome: one release per package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Chosen release of every package needed.
    pub chosen: BTreeMap<PackageName, Candidate>,
    /// Packages asked for directly.
    pub direct: BTreeSet<PackageName>,
}

struct Solver<'a, C: Catalog> {
    catalog: &'a mut C,
    cache: BTreeMap<PackageName, Vec<Candidate>>,
    preferred: &'a BTreeMap<PackageName, Version>,
    steps: usize,
    first_failure: Option<ResolveError>,
}

impl<C: Catalog> Solver<'_, C> {
    fn candidates(&mut self, name: &PackageName) -> Result<Vec<Candidate>, ResolveError> {
        if let Some(c) = self.cache.get(name) {
            return Ok(c.clone());
        }
        let mut c = self.catalog.candidates(name)?;
        c.sort_by(|a, b| b.version.cmp(&a.version));
        self.cache.insert(name.clone(), c.clone());
        Ok(c)
    }

    fn fail(&mut self, e: ResolveError) {
        if self.first_failure.is_none() {
            self.first_failure = Some(e);
        }
    }

    fn search(
        &mut self,
        chosen: &mut BTreeMap<PackageName, Candidate>,
        reqs: &mut BTreeMap<PackageName, Vec<Requirement>>,
    ) -> Result<bool, ResolveError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(ResolveError::TooComplex);
        }
        let Some(name) = reqs.keys().find(|n| !chosen.contains_key(*n)).cloned() else {
            return Ok(true);
        };
        let on_name = reqs.get(&name).cloned().unwrap_or_default();
        let all = self.candidates(&name)?;
        let preferred = self.preferred.get(&name);
        let mut excluded = Vec::new();
        let mut options: Vec<Candidate> = Vec::new();
        for c in all {
            if !on_name.iter().all(|r| r.req.matches(&c.version)) {
                continue;
            }
            if let Some(why) = &c.unusable {
                excluded.push(format!("{} {why}", c.version));
                continue;
            }
            let locked = preferred == Some(&c.version);
            if let (Some(why), false) = (&c.yanked, locked) {
                excluded.push(format!("{} is yanked ({why})", c.version));
                continue;
            }
            if locked {
                options.insert(0, c);
            } else {
                options.push(c);
            }
        }
        if options.is_empty() {
            self.fail(ResolveError::NoMatch {
                name: name.clone(),
                requirements: on_name
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(" and "),
                excluded: if excluded.is_empty() {
                    String::new()
                } else {
                    format!(": {}", excluded.join("; "))
                },
            });
            return Ok(false);
        }
        let mut conflicts = Vec::new();
        for c in options {
            let by = format!("{name}@{}", c.version);
            // Dependencies already chosen must satisfy this release's requirements.
            let clash = c.dependencies.iter().find_map(|(d, r)| {
                chosen
                    .get(d)
                    .filter(|got| !r.matches(&got.version))
                    .map(|got| {
                        let why = reqs
                            .get(d)
                            .map(|l| {
                                l.iter()
                                    .map(|r| r.to_string())
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            })
                            .unwrap_or_default();
                        format!(
                            "{by} needs {d} {r}, but {d}@{} was chosen for {why}",
                            got.version
                        )
                    })
            });
            if let Some(clash) = clash {
                conflicts.push(clash);
                continue;
            }
            chosen.insert(name.clone(), c.clone());
            for (d, r) in &c.dependencies {
                reqs.entry(d.clone()).or_default().push(Requirement {
                    req: r.clone(),
                    by: by.clone(),
                });
            }
            if self.search(chosen, reqs)? {
                return Ok(true);
            }
            chosen.remove(&name);
            for d in c.dependencies.keys() {
                if let Some(list) = reqs.get_mut(d) {
                    list.pop();
                    if list.is_empty() {
                        reqs.remove(d);
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            self.fail(ResolveError::Conflict {
                name,
                detail: conflicts.join("; "),
            });
        }
        Ok(false)
    }
}

/// Resolves `roots` (package and requirement, as asked) against `catalog`,
/// preferring the versions in `preferred` (the previous lock) where they satisfy.
pub fn resolve<C: Catalog>(
    catalog: &mut C,
    roots: &[(PackageName, VersionReq)],
    preferred: &BTreeMap<PackageName, Version>,
) -> Result<Resolution, ResolveError> {
    let mut reqs: BTreeMap<PackageName, Vec<Requirement>> = BTreeMap::new();
    for (name, req) in roots {
        reqs.entry(name.clone()).or_default().push(Requirement {
            req: req.clone(),
            by: "the command line".into(),
        });
    }
    let mut solver = Solver {
        catalog,
        cache: BTreeMap::new(),
        preferred,
        steps: 0,
        first_failure: None,
    };
    let mut chosen = BTreeMap::new();
    if solver.search(&mut chosen, &mut reqs)? {
        Ok(Resolution {
            chosen,
            direct: roots.iter().map(|(n, _)| n.clone()).collect(),
        })
    } else {
        Err(solver.first_failure.unwrap_or(ResolveError::TooComplex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog from a table: (name, version, deps, yanked, unusable).
    #[derive(Default)]
    struct Table(BTreeMap<PackageName, Vec<Candidate>>, usize);

    impl Table {
        fn add(mut self, name: &str, version: &str, deps: &[(&str, &str)]) -> Self {
            self.push(name, version, deps, None, None);
            self
        }
        fn yanked(mut self, name: &str, version: &str) -> Self {
            self.push(name, version, &[], Some("broken build"), None);
            self
        }
        fn unapproved(mut self, name: &str, version: &str) -> Self {
            self.push(name, version, &[], None, Some("is not approved"));
            self
        }
        fn push(
            &mut self,
            name: &str,
            version: &str,
            deps: &[(&str, &str)],
            yanked: Option<&str>,
            unusable: Option<&str>,
        ) {
            self.0
                .entry(PackageName::parse(name).unwrap())
                .or_default()
                .push(Candidate {
                    version: Version::parse(version).unwrap(),
                    digest: Digest::of(format!("{name}@{version}").as_bytes()),
                    dependencies: deps
                        .iter()
                        .map(|(d, r)| {
                            (
                                PackageName::parse(d).unwrap(),
                                VersionReq::parse(r).unwrap(),
                            )
                        })
                        .collect(),
                    yanked: yanked.map(str::to_string),
                    unusable: unusable.map(str::to_string),
                });
        }
    }

    impl Catalog for Table {
        fn candidates(&mut self, name: &PackageName) -> anyhow::Result<Vec<Candidate>> {
            self.1 += 1;
            self.0
                .get(name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("package {name} not found"))
        }
    }

    fn root(s: &str, r: &str) -> (PackageName, VersionReq) {
        (
            PackageName::parse(s).unwrap(),
            VersionReq::parse(r).unwrap(),
        )
    }

    fn picked(r: &Resolution) -> Vec<String> {
        r.chosen
            .iter()
            .map(|(n, c)| format!("{n}@{}", c.version))
            .collect()
    }

    fn go(t: &mut Table, roots: &[(&str, &str)]) -> Result<Resolution, ResolveError> {
        let roots: Vec<_> = roots.iter().map(|(n, r)| root(n, r)).collect();
        resolve(t, &roots, &BTreeMap::new())
    }

    #[test]
    fn picks_highest_matching_with_dependencies() {
        let mut t = Table::default()
            .add("a/app", "1.0.0", &[("a/lib", "^1.2")])
            .add("a/app", "1.1.0", &[("a/lib", "^1.2")])
            .add("a/app", "2.0.0", &[("a/lib", "^2")])
            .add("a/lib", "1.1.0", &[])
            .add("a/lib", "1.2.0", &[])
            .add("a/lib", "1.3.5", &[])
            .add("a/lib", "2.0.0", &[]);
        let r = go(&mut t, &[("a/app", "^1")]).unwrap();
        assert_eq!(picked(&r), vec!["a/app@1.1.0", "a/lib@1.3.5"]);
        assert_eq!(r.direct.len(), 1);
        let r = go(&mut t, &[("a/app", "*")]).unwrap();
        assert_eq!(picked(&r), vec!["a/app@2.0.0", "a/lib@2.0.0"]);
    }

    #[test]
    fn skips_yanked_and_unapproved() {
        let mut t = Table::default()
            .add("a/lib", "1.0.0", &[])
            .yanked("a/lib", "1.2.0")
            .unapproved("a/lib", "1.1.0");
        let r = go(&mut t, &[("a/lib", "^1")]).unwrap();
        assert_eq!(picked(&r), vec!["a/lib@1.0.0"]);
        // Nothing left: the error says why each version was passed over.
        let err = go(&mut t, &[("a/lib", ">=1.1")]).unwrap_err().to_string();
        assert!(err.contains("1.2.0 is yanked (broken build)"), "{err}");
        assert!(err.contains("1.1.0 is not approved"), "{err}");
        assert!(
            err.contains(">=1.1 (required by the command line)"),
            "{err}"
        );
    }

    #[test]
    fn locked_version_is_kept_even_when_yanked() {
        let mut t = Table::default()
            .add("a/lib", "1.0.0", &[])
            .yanked("a/lib", "1.1.0")
            .add("a/lib", "1.2.0", &[]);
        let prefs = BTreeMap::from([(PackageName::parse("a/lib").unwrap(), Version::new(1, 1, 0))]);
        let r = resolve(&mut t, &[root("a/lib", "^1")], &prefs).unwrap();
        assert_eq!(picked(&r), vec!["a/lib@1.1.0"]);
        // A lock preference that no longer satisfies is not kept.
        let r = resolve(&mut t, &[root("a/lib", "^1.2")], &prefs).unwrap();
        assert_eq!(picked(&r), vec!["a/lib@1.2.0"]);
    }

    #[test]
    fn shared_dependency_satisfies_all_dependents_jointly() {
        // x wants lib ^1 (>=1.0), y wants lib <1.5: the highest satisfying both is 1.4.0.
        let mut t = Table::default()
            .add("a/x", "1.0.0", &[("a/lib", "^1")])
            .add("a/y", "1.0.0", &[("a/lib", "<1.5")])
            .add("a/lib", "1.4.0", &[])
            .add("a/lib", "1.9.0", &[]);
        let r = go(&mut t, &[("a/x", "*"), ("a/y", "*")]).unwrap();
        assert_eq!(picked(&r), vec!["a/lib@1.4.0", "a/x@1.0.0", "a/y@1.0.0"]);
    }

    #[test]
    fn backtracks_to_an_older_dependent() {
        // app 2.0 needs lib ^2 which only has an unapproved release; app 1.0 works.
        let mut t = Table::default()
            .add("a/app", "1.0.0", &[("a/lib", "^1")])
            .add("a/app", "2.0.0", &[("a/lib", "^2")])
            .add("a/lib", "1.0.0", &[])
            .unapproved("a/lib", "2.0.0");
        let r = go(&mut t, &[("a/app", "*")]).unwrap();
        assert_eq!(picked(&r), vec!["a/app@1.0.0", "a/lib@1.0.0"]);
    }

    #[test]
    fn impossible_joint_constraints_are_a_clear_error() {
        let mut t = Table::default()
            .add("a/x", "1.0.0", &[("a/lib", "^1")])
            .add("a/y", "1.0.0", &[("a/lib", "^2")])
            .add("a/lib", "1.0.0", &[])
            .add("a/lib", "2.0.0", &[]);
        let err = go(&mut t, &[("a/x", "*"), ("a/y", "*")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("a/y@1.0.0 needs a/lib ^2"), "{err}");
        assert!(err.contains("^1 (required by a/x@1.0.0)"), "{err}");
    }

    #[test]
    fn conflict_with_an_earlier_choice_is_reported() {
        // lib is chosen first (alphabetically, as a root), then z needs another lib.
        let mut t =
            Table::default()
                .add("a/lib", "1.0.0", &[])
                .add("a/z", "1.0.0", &[("a/lib", "^2")]);
        let err = go(&mut t, &[("a/lib", "=1.0.0"), ("a/z", "*")]).unwrap_err();
        assert!(matches!(err, ResolveError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("a/z@1.0.0 needs a/lib ^2, but a/lib@1.0.0 was chosen for =1.0.0 (required by the command line)"), "{err}");
    }

    #[test]
    fn unknown_package_and_caching() {
        let mut t = Table::default().add("a/x", "1.0.0", &[("a/missing", "^1")]);
        let err = go(&mut t, &[("a/x", "*")]).unwrap_err().to_string();
        assert!(err.contains("a/missing not found"), "{err}");
        let mut t = Table::default()
            .add("a/x", "1.0.0", &[("a/lib", "^1")])
            .add("a/y", "1.0.0", &[("a/lib", "^1")])
            .add("a/lib", "1.0.0", &[]);
        go(&mut t, &[("a/x", "*"), ("a/y", "*")]).unwrap();
        assert_eq!(t.1, 3, "each package is fetched once");
    }
}
