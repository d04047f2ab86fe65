//! Committing an install to the install folder so that a crash at any moment
//! leaves the old install or the new one, never a mix, and `shire.lock`
//! always agrees with the package folders.
//!
//! Everything new is first staged inside `DIR/.shire/staging-*`: the package
//! folders, the new `shire.lock` and the new install record. Then a journal
//! (`DIR/.shire/journal.json`, written atomically) names the staging folder,
//! the packages to replace and the packages to remove. From that moment the
//! install is decided: [`apply`] moves each old folder aside into the
//! staging folder, moves each new one into place, moves the lock and the
//! record into place, and deletes the journal and the staging folder. Every
//! step checks what is already done, so applying a journal again after a
//! crash finishes the same install. Every command that reads an install
//! folder first calls [`settle`], which takes the folder's lock (one shire
//! at a time) and finishes an interrupted commit, or throws away staging
//! folders that never reached a journal.

use super::record::{package_dir, STATE_DIR};
use crate::home::{read_json, sync_dir, write_atomic};
use crate::lockfile::LOCK_FILE;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shire_core::PackageName;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The journal's file name inside [`STATE_DIR`].
pub const JOURNAL_FILE: &str = "journal.json";
/// The lock file taken while a shire works on an install folder.
pub const LOCK_NAME: &str = "lock";
/// Staging folders are `DIR/.shire/<STAGING_PREFIX>*`.
pub const STAGING_PREFIX: &str = "staging-";
/// The journal format this client writes and reads.
pub const JOURNAL_FORMAT: u32 = 1;

/// A decided install, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Always [`JOURNAL_FORMAT`].
    pub format: u32,
    /// The staging folder's name inside [`STATE_DIR`].
    pub staging: String,
    /// Packages whose staged folder replaces (or becomes) the installed one.
    pub replace: Vec<PackageName>,
    /// Packages whose installed folder goes.
    pub remove: Vec<PackageName>,
}

/// The lock on an install folder, held while a command works on it.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// `DIR/.shire`.
pub fn state_dir(dir: &Path) -> PathBuf {
    dir.join(STATE_DIR)
}

/// Takes install folder `dir`'s lock and finishes (or discards) whatever a
/// killed shire left there. `None` when `dir` holds no Shire state at all.
pub fn settle(dir: &Path) -> Result<Option<DirLock>> {
    let state = state_dir(dir);
    if state.symlink_metadata().is_err() {
        return Ok(None);
    }
    real_dir(&state)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join(LOCK_NAME))
        .with_context(|| format!("opening {}", state.join(LOCK_NAME).display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            crate::output::note(format!(
                "waiting for another shire working in {}",
                dir.display()
            ));
            file.lock()
                .with_context(|| format!("locking {}", dir.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", dir.display()))
        }
    }
    recover(dir)?;
    Ok(Some(DirLock { _file: file }))
}

/// Finishes a journalled commit, or removes staging folders no journal names.
fn recover(dir: &Path) -> Result<()> {
    let state = state_dir(dir);
    let journal_path = state.join(JOURNAL_FILE);
    if let Ok(meta) = journal_path.symlink_metadata() {
        if !meta.is_file() {
            bail!(
                "{} is not a file shire wrote; remove it",
                journal_path.display()
            );
        }
    }
    if let Some(journal) = read_json::<Journal>(&journal_path)? {
        journal.check(&journal_path)?;
        crate::output::note(format!(
            "finishing an install into {} that was interrupted",
            dir.display()
        ));
        // Whatever changed since the crash is checked as the commit checked it.
        let record = super::record::Record::load(dir)?;
        let staging = state.join(&journal.staging);
        let mut at_risk = Vec::new();
        for name in journal
            .replace
            .iter()
            .filter(|n| exists(&staged_dir(&staging, n)))
        {
            at_risk.extend(pending_risk(dir, name, &record)?);
        }
        for name in &journal.remove {
            at_risk.extend(pending_risk(dir, name, &record)?);
        }
        if !at_risk.is_empty() {
            bail!(
                "an interrupted install into {} would replace files it did not put there: {}; move them elsewhere and run again, or remove {} to abandon it",
                dir.display(),
                crate::output::sample(&at_risk, 10),
                journal_path.display()
            );
        }
        apply(dir, &journal, &mut || true)?;
        return Ok(());
    }
    for entry in
        std::fs::read_dir(&state).with_context(|| format!("listing {}", state.display()))?
    {
        let entry = entry.with_context(|| format!("listing {}", state.display()))?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// The paths of package `name`'s folder, not yet moved by the journal, that
/// the old record does not account for.
fn pending_risk(
    dir: &Path,
    name: &PackageName,
    record: &super::record::Record,
) -> Result<Vec<String>> {
    Ok(super::record::at_risk(dir, name, record)?
        .into_iter()
        .map(|p| format!("{name}/{p}"))
        .collect())
}

impl Journal {
    /// Refuses a journal this client did not write: another format, or a
    /// staging folder that is not a plain `staging-*` name inside `.shire`
    /// (a planted journal must not move or delete anything elsewhere).
    fn check(&self, path: &Path) -> Result<()> {
        if self.format != JOURNAL_FORMAT {
            bail!(
                "{}: journal format {} is not supported; finish it with the shire that wrote it",
                path.display(),
                self.format
            );
        }
        let plain = self
            .staging
            .strip_prefix(STAGING_PREFIX)
            .is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if !plain {
            bail!(
                "{}: its staging folder {:?} is not one shire makes; remove the journal",
                path.display(),
                shire_core::clip(&self.staging)
            );
        }
        Ok(())
    }
}

/// Refuses `path` unless it is a real folder, not a link to one: Shire's
/// state and organisation folders are never followed out of the install folder.
pub fn real_dir(path: &Path) -> Result<()> {
    match path.symlink_metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "{} is a link or a file, not a folder: refusing to install through it",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `journal` into `DIR/.shire`: from here on the install is decided.
pub fn write(dir: &Path, journal: &Journal) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(journal).context("encoding the install journal")?;
    write_atomic(&state_dir(dir).join(JOURNAL_FILE), &bytes, false)
}

/// Where a staged package's folder is, inside the staging folder.
pub fn staged_dir(staging: &Path, name: &PackageName) -> PathBuf {
    staging
        .join("packages")
        .join(name.org().as_str())
        .join(name.name())
}

/// Where an old package folder is moved to before it is deleted.
fn aside_dir(staging: &Path, name: &PackageName) -> PathBuf {
    staging
        .join("replaced")
        .join(format!("{}-{}", name.org(), name.name()))
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

/// Carries out `journal` in install folder `dir`, skipping what is already
/// done. `step` is asked before each change and stops the run when it says
/// false (tests use it to stop at every possible moment, as a crash would).
pub fn apply(dir: &Path, journal: &Journal, step: &mut dyn FnMut() -> bool) -> Result<()> {
    let state = state_dir(dir);
    journal.check(&state.join(JOURNAL_FILE))?;
    let staging = state.join(&journal.staging);
    let mut touched: std::collections::BTreeSet<PathBuf> = Default::default();
    for name in &journal.replace {
        let (staged, target, aside) = (
            staged_dir(&staging, name),
            package_dir(dir, name),
            aside_dir(&staging, name),
        );
        if !exists(&staged) {
            continue;
        }
        let org = dir.join(name.org().as_str());
        if exists(&target) {
            if exists(&aside) {
                std::fs::remove_dir_all(&aside)
                    .with_context(|| format!("removing {}", aside.display()))?;
            }
            std::fs::create_dir_all(staging.join("replaced"))
                .with_context(|| format!("creating {}", staging.display()))?;
            if !step() {
                return Ok(());
            }
            rename(&target, &aside)?;
        }
        std::fs::create_dir_all(&org).with_context(|| format!("creating {}", org.display()))?;
        real_dir(&org)?;
        if !step() {
            return Ok(());
        }
        rename(&staged, &target)?;
        touched.insert(org);
    }
    for name in &journal.remove {
        let (target, aside) = (package_dir(dir, name), aside_dir(&staging, name));
        if exists(&target) {
            std::fs::create_dir_all(staging.join("replaced"))
                .with_context(|| format!("creating {}", staging.display()))?;
            if !step() {
                return Ok(());
            }
            rename(&target, &aside)?;
        }
        touched.insert(dir.join(name.org().as_str()));
    }
    for org in &touched {
        if org.is_dir() {
            sync_dir(org)?;
        }
    }
    for (from, to) in [
        (staging.join(LOCK_FILE), dir.join(LOCK_FILE)),
        (
            staging.join(super::record::RECORD_FILE),
            state.join(super::record::RECORD_FILE),
        ),
    ] {
        if exists(&from) {
            if !step() {
                return Ok(());
            }
            rename(&from, &to)?;
        }
    }
    sync_dir(dir)?;
    sync_dir(&state)?;
    for org in &touched {
        // Only goes when empty.
        let _ = std::fs::remove_dir(org);
    }
    if !step() {
        return Ok(());
    }
    std::fs::remove_file(state.join(JOURNAL_FILE))
        .with_context(|| format!("removing {}", state.join(JOURNAL_FILE).display()))?;
    sync_dir(&state)?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}
