//! What `shire install` put in the install folder, file by file
//! (`DIR/.shire/installed.json`), and how the folder differs from it now.
//!
//! The record is what lets an install refuse to delete or overwrite a file
//! it did not put there, and lets `shire audit` report files edited, deleted
//! or added since. It is written in the same commit as `shire.lock`
//! ([`super::journal`]), so the two always describe the same install.

use crate::home::is_executable;
use crate::lockfile::{LockedPackage, Lockfile, LOCK_FILE};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shire_core::digest::HashingWriter;
use shire_core::{Digest, PackageName, Version};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folder inside the install folder holding Shire's own state: the
/// record, the commit journal and staging folders.
pub const STATE_DIR: &str = ".shire";
/// The record's file name inside [`STATE_DIR`].
pub const RECORD_FILE: &str = "installed.json";
/// The record format this client writes and reads.
pub const RECORD_FORMAT: u32 = 1;

/// One installed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    /// A folder.
    Dir,
    /// A regular file, by content.
    File {
        /// SHA-256 of its bytes.
        digest: Digest,
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A symbolic link, by target.
    Symlink {
        /// The link's target as written.
        target: String,
    },
}

/// Every path of one package's folder, relative, `/`-separated.
pub type Tree = BTreeMap<String, Entry>;

/// What one package's folder was installed from, and what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installed {
    /// The release's version (as the lock pinned it at the install).
    pub version: Option<Version>,
    /// The release's artifact digest.
    pub digest: Option<Digest>,
    /// Every path the install wrote.
    pub files: Tree,
}

/// The whole record: each installed package's release and tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Always [`RECORD_FORMAT`].
    pub format: u32,
    /// Each installed package, by name.
    pub packages: BTreeMap<PackageName, Installed>,
}

impl Record {
    /// `DIR/.shire/installed.json`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(STATE_DIR).join(RECORD_FILE)
    }

    /// Reads the record of install folder `dir`; empty when there is none.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = Self::path_in(dir);
        let Some(record) = crate::home::read_json::<Record>(&path)? else {
            return Ok(Self {
                format: RECORD_FORMAT,
                packages: BTreeMap::new(),
            });
        };
        if record.format != RECORD_FORMAT {
            bail!(
                "{}: record format {} is not supported (this shire reads format {RECORD_FORMAT})",
                path.display(),
                record.format
            );
        }
        Ok(record)
    }

    /// The record as JSON text.
    pub fn render(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).context("encoding the install record")
    }
}

/// The folder of package `name` inside install folder `dir`.
pub fn package_dir(dir: &Path, name: &PackageName) -> PathBuf {
    dir.join(name.org().as_str()).join(name.name())
}

/// Reads the tree under `dir` as it is on disk, hashing every file and never
/// following links. Names that are not UTF-8 are shown lossily.
pub fn scan(dir: &Path) -> Result<Tree> {
    let mut out = Tree::new();
    scan_into(dir, "", &mut out)?;
    Ok(out)
}

fn scan_into(dir: &Path, prefix: &str, out: &mut Tree) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            out.insert(rel.clone(), Entry::Dir);
            scan_into(&path, &rel, out)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path)
                .with_context(|| format!("reading link {}", path.display()))?;
            out.insert(
                rel,
                Entry::Symlink {
                    target: target.to_string_lossy().into_owned(),
                },
            );
        } else {
            // Anything else (a fifo, a socket) counts as a file of no content.
            let digest = if ft.is_file() {
                hash_file(&path)?
            } else {
                Digest::of(b"")
            };
            out.insert(
                rel,
                Entry::File {
                    digest,
                    executable: is_executable(&meta),
                },
            );
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<Digest> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut w = HashingWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut w).with_context(|| format!("reading {}", path.display()))?;
    Ok(w.finish().1)
}

/// How a package's folder differs from what was installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Paths there now that the install did not put there.
    pub added: Vec<String>,
    /// Installed paths whose content, kind, link target or execute bit changed.
    pub edited: Vec<String>,
    /// Installed paths no longer there.
    pub deleted: Vec<String>,
}

impl Changes {
    /// Whether the folder is exactly as installed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.edited.is_empty() && self.deleted.is_empty()
    }

    /// What replacing or removing the folder would lose: added and edited paths.
    pub fn at_risk(&self) -> Vec<String> {
        self.added.iter().chain(&self.edited).cloned().collect()
    }
}

/// Compares a folder on disk with its record (pure). A folder the user added
/// is reported only when nothing added inside it is.
pub fn diff(recorded: &Tree, on_disk: &Tree) -> Changes {
    let mut c = Changes::default();
    for (path, entry) in on_disk {
        match recorded.get(path) {
            None => {
                let holds_added = on_disk
                    .range(format!("{path}/")..)
                    .take_while(|(p, _)| p.starts_with(&format!("{path}/")))
                    .next()
                    .is_some();
                if !(matches!(entry, Entry::Dir) && holds_added) {
                    c.added.push(path.clone());
                }
            }
            Some(r) if r != entry => c.edited.push(path.clone()),
            Some(_) => {}
        }
    }
    c.deleted = recorded
        .keys()
        .filter(|p| !on_disk.contains_key(*p))
        .cloned()
        .collect();
    c
}

/// What a package's folder holds that its install did not put there, or
/// changed since: the paths that replacing or removing the folder would
/// lose. A folder with no record (installed by an older shire, or made by
/// hand) is all at risk.
pub fn at_risk(dir: &Path, name: &PackageName, record: &Record) -> Result<Vec<String>> {
    let folder = package_dir(dir, name);
    let Ok(meta) = folder.symlink_metadata() else {
        return Ok(Vec::new());
    };
    if !meta.is_dir() {
        // A file or a link where the package's folder belongs: not the install's.
        return Ok(vec![String::new()]);
    }
    let on_disk = scan(&folder)?;
    Ok(match record.packages.get(name) {
        Some(installed) => diff(&installed.files, &on_disk).at_risk(),
        None => on_disk
            .into_iter()
            .filter(|(_, e)| !matches!(e, Entry::Dir))
            .map(|(p, _)| p)
            .collect(),
    })
}

/// How a locked package's folder compares with its install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderState {
    /// Exactly as installed.
    Unchanged,
    /// No folder.
    Missing,
    /// A link or a file where the folder belongs.
    NotAFolder,
    /// No record of its install (an older shire, or made by hand).
    Unrecorded,
    /// The record says another release was installed there than the lock
    /// pins (the lock or the record was edited).
    OtherRelease(String),
    /// Paths edited, deleted or added since the install.
    Changed(Changes),
}

impl FolderState {
    /// A word for `list`.
    pub fn label(&self) -> &'static str {
        match self {
            FolderState::Unchanged => "unchanged",
            FolderState::Missing => "missing",
            FolderState::NotAFolder => "not a folder",
            FolderState::Unrecorded => "unrecorded",
            FolderState::OtherRelease(_) => "other release",
            FolderState::Changed(_) => "changed",
        }
    }
}

/// Compares locked package `p`'s folder in install folder `dir` with what
/// `record` says its install wrote, and with the release the lock pins.
pub fn check(dir: &Path, p: &LockedPackage, record: &Record) -> Result<FolderState> {
    let folder = package_dir(dir, &p.name);
    let Ok(meta) = folder.symlink_metadata() else {
        return Ok(FolderState::Missing);
    };
    if !meta.is_dir() {
        return Ok(FolderState::NotAFolder);
    }
    let Some(installed) = record.packages.get(&p.name) else {
        return Ok(FolderState::Unrecorded);
    };
    if installed.version.as_ref() != Some(&p.version)
        || installed.digest.as_ref() != Some(&p.digest)
    {
        return Ok(FolderState::OtherRelease(format!(
            "the install record says {} (digest {}) was installed here, the lock pins {}@{} (digest {})",
            installed
                .version
                .as_ref()
                .map(|v| format!("{}@{v}", p.name))
                .unwrap_or_else(|| "an unknown release".into()),
            installed
                .digest
                .map(|d| d.to_string())
                .unwrap_or_else(|| "unknown".into()),
            p.name,
            p.version,
            p.digest
        )));
    }
    let changes = diff(&installed.files, &scan(&folder)?);
    Ok(if changes.is_empty() {
        FolderState::Unchanged
    } else {
        FolderState::Changed(changes)
    })
}

/// Paths in install folder `dir` that belong to no locked package: anything
/// beside the organisation folders of locked packages, the lock and Shire's
/// state, or inside an organisation folder beside its locked packages.
pub fn strays(dir: &Path, lock: &Lockfile) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let Ok(top) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in top {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == STATE_DIR || name == LOCK_FILE {
            continue;
        }
        let is_org = lock.packages.iter().any(|p| p.name.org().as_str() == name);
        let real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_org || !real_dir {
            out.push(name);
            continue;
        }
        for inner in std::fs::read_dir(entry.path())
            .with_context(|| format!("listing {}", entry.path().display()))?
        {
            let inner = inner.with_context(|| format!("listing {}", entry.path().display()))?;
            let bare = inner.file_name().to_string_lossy().into_owned();
            if !lock
                .packages
                .iter()
                .any(|p| p.name.org().as_str() == name && p.name.name() == bare)
            {
                out.push(format!("{name}/{bare}"));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_added_edited_and_deleted_paths() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("app/conf")).unwrap();
        std::fs::write(d.join("app/main.py"), "print(1)").unwrap();
        std::fs::write(d.join("app/conf/base.toml"), "a = 1").unwrap();
        std::fs::write(d.join("README"), "hi").unwrap();
        let installed = scan(d).unwrap();
        assert!(diff(&installed, &scan(d).unwrap()).is_empty());

        std::fs::write(d.join("app/main.py"), "print(2)").unwrap();
        std::fs::remove_file(d.join("README")).unwrap();
        std::fs::write(d.join("app/conf/local.conf"), "mine").unwrap();
        std::fs::create_dir_all(d.join("logs/old")).unwrap();
        std::fs::write(d.join("logs/old/x.log"), "").unwrap();
        std::fs::create_dir_all(d.join("empty")).unwrap();
        let c = diff(&installed, &scan(d).unwrap());
        assert_eq!(c.edited, vec!["app/main.py"]);
        assert_eq!(c.deleted, vec!["README"]);
        assert_eq!(
            c.added,
            vec!["app/conf/local.conf", "empty", "logs/old/x.log"]
        );
        assert_eq!(
            c.at_risk(),
            vec![
                "app/conf/local.conf",
                "empty",
                "logs/old/x.log",
                "app/main.py"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_changed_execute_bit_or_link_target_is_an_edit() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("run.sh"), "echo").unwrap();
        std::os::unix::fs::symlink("run.sh", d.join("start")).unwrap();
        let installed = scan(d).unwrap();
        std::fs::set_permissions(d.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_file(d.join("start")).unwrap();
        std::os::unix::fs::symlink("/bin/sh", d.join("start")).unwrap();
        let c = diff(&installed, &scan(d).unwrap());
        assert_eq!(c.edited, vec!["run.sh", "start"]);
    }
}
