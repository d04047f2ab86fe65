//! Where an install reads what it installs: the registry ([`Online`]), or a
//! folder of package documents and artifacts beside a replica of the log
//! that was verified before ([`Local`]: `install --offline` reads the
//! client's cache, `install --from` an unpacked bundle).
//!
//! Whatever the source, every release is decided by the replica of its
//! home's verified log, and every artifact is checked against the digest the
//! log released before it is extracted: a local folder is trusted no more
//! than a registry.
//!
//! The cache (`SHIRE_HOME/cache/<registry>/`) has the layout of a bundle:
//! `packages/<org>/<name>.json` (the registry's package documents, as
//! fetched) and `artifacts/<hex>.tar.gz` (artifacts that passed their digest
//! check). Online installs fill it.

use super::{download, save_verified, PlanItem};
use crate::api::Client;
use crate::transparency::{Logs, Replica};
use anyhow::{bail, Context, Result};
use shire_core::wire::PackageInfo;
use shire_core::{Digest, PackageName};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest package document read from a local folder.
const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// What an install reads.
pub trait Source {
    /// The package's document: its home and every version.
    fn package(&mut self, name: &PackageName) -> Result<PackageInfo>;
    /// The replica of `origin`'s verified log (`example` names a package of
    /// it, for an error telling the user what to pin).
    fn replica(&mut self, origin: &str, example: &str) -> Result<&Replica>;
    /// Puts the artifact of `item` at `dest`, checked against its signed
    /// digest and size.
    fn fetch(&mut self, item: &PlanItem, dest: &Path) -> Result<()>;
}

/// The registry, with the replicas of the logs its packages live in, and
/// the cache it fills.
pub struct Online<'a, 'l> {
    client: &'a Client,
    logs: Logs<'l>,
    cache: Option<Cache>,
}

impl<'a, 'l> Online<'a, 'l> {
    /// Reads `client`'s registry, deciding by `logs`, caching into `cache`.
    pub fn new(client: &'a Client, logs: Logs<'l>, cache: Option<Cache>) -> Self {
        Self {
            client,
            logs,
            cache,
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        self.client
    }
}

impl Source for Online<'_, '_> {
    fn package(&mut self, name: &PackageName) -> Result<PackageInfo> {
        let info = match self.client.package(name) {
            Ok(info) => info,
            Err(e) if e.is_not_found() => {
                bail!(crate::commands::unknown_package(self.client, name))
            }
            Err(e) => return Err(e).with_context(|| format!("looking up {name}")),
        };
        if let Some(c) = &self.cache {
            // A cache that cannot be written never fails an install.
            if let Err(e) = c.put_package(&info) {
                crate::output::warn(format!("not caching {name}: {e:#}"));
            }
        }
        Ok(info)
    }

    fn replica(&mut self, origin: &str, example: &str) -> Result<&Replica> {
        self.logs.of(origin, example)
    }

    fn fetch(&mut self, item: &PlanItem, dest: &Path) -> Result<()> {
        download(self.client, item, dest)?;
        if let Some(c) = &self.cache {
            if let Err(e) = c.put_artifact(&item.digest(), dest) {
                crate::output::warn(format!("not caching {}: {e:#}", item.release()));
            }
        }
        Ok(())
    }
}

/// A folder of package documents and artifacts (the cache, or an unpacked
/// bundle), with the replica of the one log whose packages it can install.
pub struct Local {
    dir: Cache,
    replica: Replica,
    what: String,
}

impl Local {
    /// Reads `dir`, deciding by `replica`; `what` names the folder in errors.
    pub fn new(dir: Cache, replica: Replica, what: &str) -> Self {
        Self {
            dir,
            replica,
            what: what.to_string(),
        }
    }
}

impl Source for Local {
    fn package(&mut self, name: &PackageName) -> Result<PackageInfo> {
        self.dir
            .package(name)?
            .with_context(|| format!("{} holds no package {name}", self.what))
    }

    fn replica(&mut self, origin: &str, _example: &str) -> Result<&Replica> {
        if origin != self.replica.origin() {
            bail!(
                "{} can install packages home on {} only, not on {origin}",
                self.what,
                self.replica.origin()
            );
        }
        Ok(&self.replica)
    }

    fn fetch(&mut self, item: &PlanItem, dest: &Path) -> Result<()> {
        let release = item.release();
        let path = self.dir.artifact_path(&item.digest());
        let f = File::open(&path)
            .with_context(|| format!("{} holds no artifact of {release}", self.what))?;
        save_verified(&release, BufReader::new(f), dest, &item.digest(), item.size)
    }
}

/// A folder laid out as the cache and bundles are (see the module docs).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The folder at `root`.
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn package_path(&self, name: &PackageName) -> PathBuf {
        self.root
            .join("packages")
            .join(name.org().as_str())
            .join(format!("{}.json", name.name()))
    }

    /// Where the artifact `digest` is kept.
    pub fn artifact_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("artifacts")
            .join(format!("{}.tar.gz", digest.hex()))
    }

    /// The stored document of `name`, if any (read with a bound).
    pub fn package(&self, name: &PackageName) -> Result<Option<PackageInfo>> {
        let path = self.package_path(name);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut bytes = Vec::new();
        f.take(MAX_DOCUMENT_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            bail!("{} is larger than any package document", path.display());
        }
        let info: PackageInfo = serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        if &info.name != name {
            bail!(
                "{} holds the document of {}, not {name}",
                path.display(),
                info.name
            );
        }
        Ok(Some(info))
    }

    /// Stores a package document.
    pub fn put_package(&self, info: &PackageInfo) -> Result<()> {
        let bytes = serde_json::to_vec(info).context("encoding a package document")?;
        put(&self.package_path(&info.name), &bytes[..])
    }

    /// Stores a copy of an artifact file already checked against `digest`.
    pub fn put_artifact(&self, digest: &Digest, checked: &Path) -> Result<()> {
        let dest = self.artifact_path(digest);
        if dest.exists() {
            return Ok(());
        }
        let from = File::open(checked).with_context(|| format!("reading {}", checked.display()))?;
        put(&dest, from)
    }
}

/// Writes `from` to `path` through a temporary file renamed into place.
/// Cache writes are not synced: a cache lost to a power cut is only fetched
/// again, and whatever is read from it is verified against the log again.
fn put(path: &Path, mut from: impl Read) -> Result<()> {
    let dir = path.parent().context("a cache file has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::copy(&mut from, &mut tmp).with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
