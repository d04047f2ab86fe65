//! Bundles: one file that carries releases to a machine with no network
//! (`shire bundle NAME... -o FILE`, `shire install --from FILE`).
//!
//! A bundle is an uncompressed tar (the artifacts are gzip already) of:
//! - `bundle.json`: the format, the registry, the node key it was verified
//!   under, the signed checkpoint note and the packages asked for;
//! - `log.json`: every entry of the registry's log up to that checkpoint;
//! - `packages/<org>/<name>.json`: each package's document, cut to the
//!   versions bundled;
//! - `artifacts/<hex>.tar.gz`: each bundled artifact.
//!
//! Nothing in a bundle is trusted: the receiver opens the checkpoint with
//! its own pinned node key, replays the whole log into a fresh replica
//! (`transparency::bundle`), and installs exactly as an online install
//! does, each release decided by that replica and each artifact checked
//! against its logged digest. Reading is bounded: known member names only,
//! regular files only, sizes capped, members counted.

use crate::install::max_artifact_bytes;
use crate::install::source::Cache;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shire_core::wire::{LogEntries, LogEntry, PackageInfo};
use shire_core::{Digest, PackageName};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

/// The bundle format this client writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;
/// Most members a bundle may hold.
const MAX_MEMBERS: usize = 100_000;
/// Largest `bundle.json` or package document.
const MAX_DOCUMENT: u64 = 64 << 20;
/// Largest `log.json`.
const MAX_LOG: u64 = 1 << 30;

/// `bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleInfo {
    /// Always [`BUNDLE_FORMAT`].
    pub format: u32,
    /// The registry the releases came from.
    pub registry: String,
    /// The node key the maker verified the checkpoint under (a hint only:
    /// the receiver uses its own pin).
    pub note_key: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// What was asked for, `org/name[@REQ]`: installed when no names are given.
    pub roots: Vec<String>,
}

/// Writes a bundle to `out`: `info`, the log's `entries`, the package
/// documents and the artifacts of `cache`'s folder named in `packages`
/// (each document already cut to the bundled versions).
pub fn write(
    out: &Path,
    info: &BundleInfo,
    entries: &[LogEntry],
    packages: &[PackageInfo],
    cache: &Cache,
) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut b = tar::Builder::new(BufWriter::new(tmp));
    let add_bytes = |b: &mut tar::Builder<_>, path: &str, bytes: &[u8]| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, bytes)
            .with_context(|| format!("adding {path}"))
    };
    add_bytes(&mut b, "bundle.json", &serde_json::to_vec_pretty(info)?)?;
    add_bytes(
        &mut b,
        "log.json",
        &serde_json::to_vec(&LogEntries {
            entries: entries.to_vec(),
        })?,
    )?;
    for p in packages {
        let path = format!("packages/{}/{}.json", p.name.org(), p.name.name());
        add_bytes(&mut b, &path, &serde_json::to_vec(p)?)?;
        for v in &p.versions {
            let from = cache.artifact_path(&v.digest);
            let mut f = File::open(&from).with_context(|| {
                format!("the artifact of {}@{} is not cached", p.name, v.version)
            })?;
            let mut h = tar::Header::new_gnu();
            h.set_size(f.metadata()?.len());
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            let path = format!("artifacts/{}.tar.gz", v.digest.hex());
            b.append_data(&mut h, &path, &mut f)
                .with_context(|| format!("adding {path}"))?;
        }
    }
    let writer = b.into_inner().context("finishing the bundle")?;
    let tmp = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the bundle")?;
    tmp.as_file().sync_all().context("writing the bundle")?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// A bundle unpacked into a temporary folder laid out as the cache.
pub struct Unpacked {
    /// The folder (removed when dropped).
    pub dir: tempfile::TempDir,
    /// `bundle.json`.
    pub info: BundleInfo,
    /// `log.json`'s entries.
    pub entries: Vec<LogEntry>,
}

impl Unpacked {
    /// The unpacked folder as a cache.
    pub fn cache(&self) -> Cache {
        Cache::at(self.dir.path().to_path_buf())
    }
}

/// Where a member of the given name goes, and its size cap; `None` for a
/// name a bundle never holds.
fn place(root: &Path, name: &str) -> Option<(PathBuf, u64)> {
    match name {
        "bundle.json" => return Some((root.join(name), MAX_DOCUMENT)),
        "log.json" => return Some((root.join(name), MAX_LOG)),
        _ => {}
    }
    if let Some(rest) = name.strip_prefix("packages/") {
        let pkg = PackageName::parse(rest.strip_suffix(".json")?).ok()?;
        return Some((
            root.join("packages")
                .join(pkg.org().as_str())
                .join(format!("{}.json", pkg.name())),
            MAX_DOCUMENT,
        ));
    }
    let hex = name.strip_prefix("artifacts/")?.strip_suffix(".tar.gz")?;
    let digest = Digest::parse(&format!("sha256:{hex}")).ok()?;
    Some((
        Cache::at(root.to_path_buf()).artifact_path(&digest),
        max_artifact_bytes(),
    ))
}

/// Unpacks the bundle at `path` with every bound of the module docs.
pub fn open(path: &Path) -> Result<Unpacked> {
    let f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let dir = tempfile::tempdir().context("creating a folder to unpack the bundle into")?;
    let mut archive = tar::Archive::new(BufReader::new(f));
    let mut members = 0usize;
    for entry in archive
        .entries()
        .with_context(|| format!("reading {}", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("reading {}", path.display()))?;
        members += 1;
        if members > MAX_MEMBERS {
            bail!("{} holds more than {MAX_MEMBERS} members", path.display());
        }
        let name = entry
            .path()
            .ok()
            .and_then(|p| p.to_str().map(str::to_string))
            .unwrap_or_default();
        if entry.header().entry_type() != tar::EntryType::Regular {
            bail!(
                "{} holds {:?}, which is not a regular file",
                path.display(),
                shire_core::clip(&name)
            );
        }
        let Some((dest, cap)) = place(dir.path(), &name) else {
            bail!(
                "{} holds {:?}, which no bundle holds",
                path.display(),
                shire_core::clip(&name)
            );
        };
        if entry.size() > cap {
            bail!(
                "{} member {name} is larger than {cap} bytes",
                path.display()
            );
        }
        if dest.exists() {
            bail!("{} holds {name} twice", path.display());
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut out = File::create(&dest).with_context(|| format!("writing {}", dest.display()))?;
        let copied = std::io::copy(&mut (&mut entry).take(cap + 1), &mut out)
            .with_context(|| format!("unpacking {name}"))?;
        if copied > cap {
            bail!(
                "{} member {name} is larger than {cap} bytes",
                path.display()
            );
        }
    }
    let read = |name: &str| -> Result<Vec<u8>> {
        std::fs::read(dir.path().join(name))
            .with_context(|| format!("{} holds no {name}: it is not a bundle", path.display()))
    };
    let info: BundleInfo = serde_json::from_slice(&read("bundle.json")?)
        .with_context(|| format!("reading bundle.json of {}", path.display()))?;
    if info.format != BUNDLE_FORMAT {
        bail!(
            "{} is of bundle format {}, this shire reads format {BUNDLE_FORMAT}",
            path.display(),
            info.format
        );
    }
    let log: LogEntries = serde_json::from_slice(&read("log.json")?)
        .with_context(|| format!("reading log.json of {}", path.display()))?;
    Ok(Unpacked {
        dir,
        info,
        entries: log.entries,
    })
}
