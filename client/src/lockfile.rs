//! `shire.lock`: exactly what an install folder holds, so it can be reproduced.
//!
//! TOML, written by `shire install` into the install folder:
//!
//! ```toml
//! version = 1
//! registry = "http://127.0.0.1:7878"
//!
//! [[package]]
//! name = "braintree/crm"
//! version = "1.0.0"
//! digest = "sha256:..."
//! dependencies = ["braintree/common@1.2.0"]
//! direct = true
//! approved = true
//! origin = "shire.local/0123456789abcdef"
//! log_index = 7
//! ```
//!
//! `direct` marks packages named on the command line; `approved` records whether
//! the release met the trust policy when installed (false when it came in under
//! `--allow-unverified`), so `shire audit` can tell a lost approval from one that
//! was never there. `origin` is the package's home: the origin whose log holds
//! the release (the registry's own, or a mirrored origin's); `shire audit`
//! and `shire install` from the lock check the release in that log, not in
//! whichever log a registry names later. `log_index` is the release's entry in
//! that log, replayed and checked against a verified checkpoint at install.
//! Both are absent in older locks.
//! Packages are sorted by name; a lock names each package once.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shire_core::{Digest, PackageName, Version, VersionReq};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The lock format this client writes and reads.
pub const LOCK_FORMAT: u32 = 1;
/// The lockfile's name inside the install folder.
pub const LOCK_FILE: &str = "shire.lock";

/// `org/name@version`, as a lock names a dependency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pin {
    /// The package.
    pub name: PackageName,
    /// The exact version.
    pub version: Version,
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl FromStr for Pin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (n, v) = s
            .split_once('@')
            .ok_or_else(|| format!("{s:?} is not org/name@version"))?;
        Ok(Self {
            name: PackageName::parse(n).map_err(|e| e.to_string())?,
            version: Version::parse(v).map_err(|e| format!("{v:?}: {e}"))?,
        })
    }
}

impl Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// `org/name`.
    pub name: PackageName,
    /// The exact version.
    pub version: Version,
    /// The artifact digest from the publisher's signed statement.
    pub digest: Digest,
    /// Exact dependencies, `org/name@version`.
    #[serde(default)]
    pub dependencies: Vec<Pin>,
    /// Named on the command line (rather than pulled in as a dependency).
    #[serde(default)]
    pub direct: bool,
    /// Met the trust policy when installed.
    #[serde(default)]
    pub approved: bool,
    /// Its home: the origin whose transparency log holds the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The index of the release's entry in that log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// For a direct package, the versions the user asked for (`*` for any):
    /// `shire update` and `shire outdated` stay within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<VersionReq>,
}

/// A whole lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Always [`LOCK_FORMAT`].
    pub version: u32,
    /// The registry it was resolved against.
    pub registry: String,
    /// Every installed package, sorted by name.
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
}

impl Lockfile {
    /// A lock of `packages` resolved against `registry` (sorted on the way in).
    pub fn new(registry: &str, mut packages: Vec<LockedPackage>) -> Self {
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut packages {
            p.dependencies.sort();
        }
        Self {
            version: LOCK_FORMAT,
            registry: registry.to_string(),
            packages,
        }
    }

    /// Parses lock text and checks it hangs together: known format, each package
    /// once, every dependency pinned to a locked package at that version.
    pub fn parse(text: &str) -> Result<Self> {
        let lock: Lockfile = toml::from_str(text)?;
        if lock.version != LOCK_FORMAT {
            bail!(
                "lock format {} is not supported (this shire reads format {LOCK_FORMAT})",
                lock.version
            );
        }
        let mut seen = BTreeSet::new();
        for p in &lock.packages {
            if !seen.insert(&p.name) {
                bail!("{} is locked more than once", p.name);
            }
        }
        for p in &lock.packages {
            for d in &p.dependencies {
                if lock.get(&d.name).map(|l| &l.version) != Some(&d.version) {
                    bail!(
                        "{}@{} depends on {d}, which the lock does not pin",
                        p.name,
                        p.version
                    );
                }
            }
        }
        Ok(lock)
    }

    /// The lock as TOML text.
    pub fn render(&self) -> Result<String> {
        toml::to_string_pretty(self).context("encoding the lockfile")
    }

    /// The locked entry for a package.
    pub fn get(&self, name: &PackageName) -> Option<&LockedPackage> {
        self.packages.iter().find(|p| &p.name == name)
    }

    /// `DIR/shire.lock`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(LOCK_FILE)
    }

    /// Reads `DIR/shire.lock`, `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = Self::path_in(dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text)
                .map(Some)
                .with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `DIR/shire.lock` atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        let path = Self::path_in(dir);
        crate::home::write_atomic(&path, self.render()?.as_bytes(), false)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, v: &str, deps: &[&str], direct: bool) -> LockedPackage {
        LockedPackage {
            origin: None,
            log_index: None,
            requirement: None,
            name: PackageName::parse(name).unwrap(),
            version: Version::parse(v).unwrap(),
            digest: Digest::of(format!("{name}{v}").as_bytes()),
            dependencies: deps.iter().map(|d| d.parse().unwrap()).collect(),
            direct,
            approved: true,
        }
    }

    #[test]
    fn round_trip_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Lockfile::load(dir.path()).unwrap(), None);
        let lock = Lockfile::new(
            "http://127.0.0.1:7878",
            vec![
                pkg("braintree/crm", "1.0.0", &["braintree/common@1.2.0"], true),
                pkg("braintree/common", "1.2.0", &[], false),
            ],
        );
        assert_eq!(lock.packages[0].name.to_string(), "braintree/common");
        lock.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(
            text.contains("dependencies = [\"braintree/common@1.2.0\"]"),
            "{text}"
        );
        assert!(text.contains("[[package]]"), "{text}");
        assert_eq!(Lockfile::load(dir.path()).unwrap(), Some(lock));
    }

    #[test]
    fn refuses_inconsistent_locks() {
        let dangling = Lockfile::new("http://x", vec![pkg("a/b", "1.0.0", &["a/c@1.0.0"], true)]);
        assert!(Lockfile::parse(&dangling.render().unwrap()).is_err());
        let twice = Lockfile::new(
            "http://x",
            vec![
                pkg("a/b", "1.0.0", &[], true),
                pkg("a/b", "1.0.1", &[], true),
            ],
        );
        assert!(Lockfile::parse(&twice.render().unwrap()).is_err());
        let ok = Lockfile::new("http://x", vec![pkg("a/b", "1.0.0", &[], true)]);
        let text = ok.render().unwrap();
        assert!(Lockfile::parse(&text.replace("version = 1\n", "version = 9\n")).is_err());
        assert!(Lockfile::parse(&text.replace("sha256:", "md5:")).is_err());
        assert!(Lockfile::parse(&text.replace("a/b", "../b")).is_err());
    }
}
