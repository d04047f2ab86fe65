//! Installing releases: the resolver's candidates and the plan, each release
//! decided by the replica of its home's verified log ([`RegistryCatalog`],
//! [`plan_item`]); downloading artifacts with a progress bar while hashing
//! them, refusing any whose digest differs from the logged, signed one (or
//! whose size differs from the registry's); and extracting them under the
//! archive rules into `DIR/<org>/<name>/`.
//!
//! Installation is all or nothing as far as the install folder's contents go.
//! Every artifact is downloaded and extracted into a staging folder inside
//! `DIR` (`.shire-staging-*`) first; only when all of them passed are the
//! package folders renamed into place (a series of renames, undone in reverse
//! if one fails), and the lockfile is written last. A refused archive, a
//! tampered artifact or a failed check leaves `DIR` as it was (and removes
//! `DIR` again if this install created it).
//! Extraction goes entry by entry through `shire_core::archive::walk`, which
//! applies the server's archive rules again, and writes each entry with tar's
//! `unpack_in` (which itself refuses paths leaving the destination); permission
//! bits beyond 0777 (setuid, setgid, sticky) are dropped.

use crate::api::Client;
use crate::checks::{self, Admission, Checked};
use crate::lockfile::{Lockfile, Pin, LOCK_FILE};
use crate::resolve::{Candidate, Catalog};
use crate::transparency::replica::Lookup;
use anyhow::{anyhow, bail, Context, Result};
use shire_core::archive::{self, ArchiveError, ArchiveLimits};
use shire_core::digest::HashingWriter;
use shire_core::policy::TrustPolicy;
use shire_core::wire::VersionInfo;
use shire_core::{Digest, PackageName, Version, VersionReq};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

pub mod journal;
pub mod record;
pub mod source;

use journal::Journal;
use record::{Record, Tree};
pub use source::Source;

/// What the registry listed for one package.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The package's home, as the registry names it (its releases are
    /// looked up in that origin's verified log).
    pub origin: String,
    /// Every version record, for the statements and sizes.
    pub versions: Vec<VersionInfo>,
}

/// Reads a source's packages for the resolver, and decides every candidate
/// from the replica of its home's verified log: a version the log does not
/// hold, whose statement is not the logged one, or that the trust policy
/// does not admit (from the logged verdicts), is marked unusable with the
/// reason; yanks and takedowns come from the log too.
pub struct RegistryCatalog<'a> {
    source: &'a mut dyn Source,
    policy: &'a TrustPolicy,
    allow_unverified: bool,
    listed: BTreeMap<PackageName, Listing>,
}

impl<'a> RegistryCatalog<'a> {
    /// A catalog over `source`'s packages, decided under `policy`.
    pub fn new(
        source: &'a mut dyn Source,
        policy: &'a TrustPolicy,
        allow_unverified: bool,
    ) -> Self {
        Self {
            source,
            policy,
            allow_unverified,
            listed: BTreeMap::new(),
        }
    }

    /// What the source listed for `name` (once the resolver asked for it).
    pub fn listing(&self, name: &PackageName) -> Option<&Listing> {
        self.listed.get(name)
    }

    /// The source the catalog reads.
    pub fn source(&mut self) -> &mut dyn Source {
        self.source
    }
}

impl Catalog for RegistryCatalog<'_> {
    fn candidates(&mut self, name: &PackageName) -> Result<Vec<Candidate>> {
        let info = self.source.package(name)?;
        let replica = self.source.replica(&info.origin, &name.to_string())?;
        let out = info
            .versions
            .iter()
            .map(|vi| {
                let lookup = replica.lookup(name, &vi.version);
                candidate(name, vi, &lookup, self.policy, self.allow_unverified)
            })
            .collect();
        self.listed.insert(
            name.clone(),
            Listing {
                origin: info.origin,
                versions: info.versions,
            },
        );
        Ok(out)
    }
}

/// Turns one registry version into a resolver candidate, decided by the
/// release its home's log holds (`lookup`) under `policy` (pure).
pub fn candidate(
    name: &PackageName,
    vi: &VersionInfo,
    lookup: &Lookup<'_>,
    policy: &TrustPolicy,
    allow_unverified: bool,
) -> Candidate {
    match checks::check_version(name, &vi.version, vi, lookup, policy) {
        Ok(c) => {
            let unusable = match &c.taken_down {
                Some(t) => Some(format!(
                    "was taken down by the registry's operator ({})",
                    t.reason
                )),
                None => checks::admit(
                    &format!("{name}@{}", vi.version),
                    &c.trust.standing,
                    allow_unverified,
                )
                .err()
                .map(|_| format!("is {}", checks::standing_text(&c.trust.standing))),
            };
            Candidate {
                version: c.facts.subject.version.clone(),
                digest: c.facts.subject.digest,
                dependencies: c.statement.manifest.dependencies.clone(),
                yanked: c.yanked.map(|y| y.reason),
                unusable,
            }
        }
        Err(e) => Candidate {
            version: vi.version.clone(),
            digest: vi.digest,
            dependencies: BTreeMap::new(),
            yanked: None,
            unusable: Some(format!("fails verification ({e})")),
        },
    }
}

/// One release to install, with everything checked that can be checked before
/// its bytes are fetched.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// The package.
    pub name: PackageName,
    /// Its home: the origin whose verified log holds the release.
    pub origin: String,
    /// The verified statement, the logged release and its trust standing.
    pub checked: Checked,
    /// What the user asked for, for a direct package (kept in the lock).
    pub requirement: Option<VersionReq>,
    /// Artifact size the registry gives (checked against the bytes received).
    pub size: u64,
    /// Whether it is installed on approval or let in by `--allow-unverified`.
    pub admission: Admission,
    /// Named on the command line (or marked direct in the lock).
    pub direct: bool,
    /// Exact dependencies, as chosen.
    pub dependencies: Vec<Pin>,
}

impl PlanItem {
    /// `org/name@version`.
    pub fn release(&self) -> String {
        format!("{}@{}", self.name, self.checked.facts.subject.version)
    }

    /// The digest the publisher signed and the log released.
    pub fn digest(&self) -> Digest {
        self.checked.facts.subject.digest
    }
}

/// Where the expected digest of a release came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The resolver chose it from the package listing moments ago.
    Resolved,
    /// The lockfile pins it.
    Locked,
}

/// Checks one release against the replica of its home's log (pure): the
/// release must be in the log, the registry's statement must be the logged
/// one under the logged publisher key, the digest must be the expected one,
/// and the logged verdicts must satisfy the trust policy.
pub fn plan_item(
    name: &PackageName,
    version: &Version,
    info: &VersionInfo,
    lookup: &Lookup<'_>,
    expected: Option<(&Digest, Expected)>,
    policy: &TrustPolicy,
    allow_unverified: bool,
) -> Result<(Checked, Admission)> {
    let checked = checks::check_version(name, version, info, lookup, policy)
        .map_err(|e| anyhow!("refusing to install {name}@{version}: {e}"))?;
    if let Some(t) = &checked.taken_down {
        bail!(
            "refusing to install {name}@{version}: its artifact was taken down by the registry's operator on {}: {}",
            t.at,
            t.reason
        );
    }
    let signed = checked.facts.subject.digest;
    match expected {
        Some((d, Expected::Locked)) if *d != signed => bail!(
            "shire.lock pins {name}@{version} to digest {d}, but the verified log released that version with digest {signed}: refusing to change a locked release (remove it from shire.lock to resolve again)"
        ),
        Some((d, Expected::Resolved)) if *d != signed => bail!(
            "the registry changed {name}@{version} while installing (digest {d} became {signed}): refusing"
        ),
        _ => {}
    }
    let admission = checks::admit(
        &format!("{name}@{version}"),
        &checked.trust.standing,
        allow_unverified,
    )?;
    Ok((checked, admission))
}

/// Why downloaded bytes were refused.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The bytes hash to something other than the signed digest.
    #[error("artifact digest mismatch for {release}: the publisher signed {expected} but the registry sent bytes hashing to {actual}; refusing to install")]
    DigestMismatch {
        /// `org/name@version`.
        release: String,
        /// The signed digest.
        expected: Digest,
        /// What arrived.
        actual: Digest,
    },
    /// More or fewer bytes than announced.
    #[error("artifact size mismatch for {release}: expected {expected} bytes, received {actual}{more}; refusing to install")]
    SizeMismatch {
        /// `org/name@version`.
        release: String,
        /// The registry's size.
        expected: u64,
        /// What arrived.
        actual: u64,
        /// " or more" when the stream was cut off at the limit.
        more: &'static str,
    },
}

/// Checks received bytes against the signed digest and the announced size (pure).
pub fn check_download(
    release: &str,
    expected_digest: &Digest,
    expected_size: u64,
    actual_digest: &Digest,
    actual_size: u64,
) -> Result<(), DownloadError> {
    if actual_size != expected_size {
        return Err(DownloadError::SizeMismatch {
            release: release.to_string(),
            expected: expected_size,
            actual: actual_size.min(expected_size.saturating_add(1)),
            more: if actual_size > expected_size {
                " or more"
            } else {
                ""
            },
        });
    }
    if actual_digest != expected_digest {
        return Err(DownloadError::DigestMismatch {
            release: release.to_string(),
            expected: *expected_digest,
            actual: *actual_digest,
        });
    }
    Ok(())
}

/// Streams `reader` into `dest`, hashing on the way, reading at most `size + 1`
/// bytes, and checks the result against the signed digest.
pub fn save_verified<R: Read>(
    release: &str,
    reader: R,
    dest: &Path,
    expected_digest: &Digest,
    expected_size: u64,
) -> Result<()> {
    let file = File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut w = HashingWriter::new(BufWriter::new(file));
    std::io::copy(&mut reader.take(expected_size.saturating_add(1)), &mut w)
        .with_context(|| format!("downloading {release}"))?;
    let (buf, digest, n) = w.finish();
    // Not synced: the download is a staging file, read back at once and
    // deleted; what an install keeps is made durable by its commit.
    buf.into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", dest.display()))?;
    check_download(release, expected_digest, expected_size, &digest, n)?;
    Ok(())
}

/// The largest artifact this client downloads. The size a registry gives is
/// not signed, so it is bounded here: an archive's gzip stream is never much
/// larger than what it decompresses to, and extraction refuses more than
/// [`ArchiveLimits::max_unpacked_bytes`], so nothing larger could install.
pub fn max_artifact_bytes() -> u64 {
    let unpacked = ArchiveLimits::default().max_unpacked_bytes;
    unpacked + unpacked / 64 + (1 << 20)
}

/// Refuses a claimed artifact size over [`max_artifact_bytes`] (pure).
pub fn check_claimed_size(release: &str, size: u64) -> Result<()> {
    let max = max_artifact_bytes();
    if size > max {
        bail!(
            "refusing to download {release}: the registry says its artifact is {size} bytes, more than the {max} bytes any installable archive can be"
        );
    }
    Ok(())
}

/// Downloads a release's artifact into `dest` with a progress bar, verifying it.
pub fn download(client: &Client, item: &PlanItem, dest: &Path) -> Result<()> {
    let release = item.release();
    check_claimed_size(&release, item.size)?;
    let dl = client
        .artifact(&item.digest())
        .with_context(|| format!("downloading {release}"))?;
    if let Some(len) = dl.length {
        if len != item.size {
            return Err(DownloadError::SizeMismatch {
                release,
                expected: item.size,
                actual: len,
                more: "",
            }
            .into());
        }
    }
    let pb = crate::output::progress(Some(item.size), release.clone());
    let result = save_verified(
        &release,
        pb.wrap_read(dl.body),
        dest,
        &item.digest(),
        item.size,
    );
    pb.finish_and_clear();
    result
}

/// Extracts a `.tar.gz` into `dest` (which must be empty or absent), entry by
/// entry, under the archive rules. Returns the number of entries written.
pub fn extract<R: Read>(reader: R, dest: &Path) -> Result<u64, ArchiveError> {
    std::fs::create_dir_all(dest).map_err(|source| ArchiveError::Write {
        path: dest.display().to_string(),
        source,
    })?;
    let mut count = 0u64;
    archive::walk(reader, &ArchiveLimits::default(), |checked, entry| {
        entry.set_preserve_permissions(false);
        entry.set_unpack_xattrs(false);
        let written = entry
            .unpack_in(dest)
            .map_err(|source| ArchiveError::Write {
                path: checked.path.clone(),
                source,
            })?;
        if !written {
            return Err(ArchiveError::BadPath(
                checked.path.clone(),
                "refused by the extractor",
            ));
        }
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// A staging folder inside the install folder's state folder, holding the
/// install folder's lock; see the module docs.
pub struct Staging {
    root: PathBuf,
    created_root: bool,
    dir: Option<tempfile::TempDir>,
    staged: BTreeMap<PackageName, Tree>,
    lock: Option<journal::DirLock>,
}

/// What a commit did beyond the install itself.
#[derive(Debug, Default)]
pub struct Committed {
    /// Paths discarded because `--force` was given: `(package, paths)`.
    pub discarded: Vec<(PackageName, Vec<String>)>,
}

impl Staging {
    /// Opens a staging folder in `root` (creating `root` if needed), taking
    /// its lock and finishing whatever an interrupted shire left there.
    pub fn new(root: &Path) -> Result<Self> {
        let created_root = !root.exists();
        let state = journal::state_dir(root);
        std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
        let lock = journal::settle(root)?;
        let dir = tempfile::Builder::new()
            .prefix(journal::STAGING_PREFIX)
            .tempdir_in(&state)
            .with_context(|| format!("creating a staging folder in {}", state.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
            created_root,
            dir: Some(dir),
            staged: BTreeMap::new(),
            lock,
        })
    }

    fn path(&self) -> Result<&Path> {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .ok_or_else(|| anyhow!("staging folder already closed"))
    }

    /// A path for a download inside the staging folder.
    pub fn download_path(&self, name: &PackageName) -> Result<PathBuf> {
        Ok(self
            .path()?
            .join("downloads")
            .join(format!("{}-{}.tar.gz", name.org(), name.name())))
    }

    /// Extracts an archive file as the staged content of `name`.
    pub fn extract_file(&mut self, name: &PackageName, archive: &Path) -> Result<u64> {
        let f = File::open(archive).with_context(|| format!("reading {}", archive.display()))?;
        self.extract(name, BufReader::new(f))
    }

    /// Extracts an archive stream as the staged content of `name`, and
    /// records what it wrote.
    pub fn extract<R: Read>(&mut self, name: &PackageName, reader: R) -> Result<u64> {
        let dest = journal::staged_dir(self.path()?, name);
        let n =
            extract(reader, &dest).with_context(|| format!("refusing the archive of {name}"))?;
        let tree = record::scan(&dest)?;
        self.staged.insert(name.clone(), tree);
        Ok(n)
    }

    /// Makes the staged packages the installed ones, removes the folders of
    /// `stale` packages, and writes `lock` and the install record, all in
    /// one crash-safe commit ([`journal`]). Refuses, before changing
    /// anything, to replace or remove a package folder holding files the
    /// install did not put there or that changed since, unless `force`.
    pub fn commit(self, lock: &Lockfile, stale: &[PackageName], force: bool) -> Result<Committed> {
        self.commit_stepped(lock, stale, force, &mut || true)
    }

    /// [`Staging::commit`], asking `step` before each change to the install
    /// folder once the journal is written (see [`journal::apply`]).
    fn commit_stepped(
        mut self,
        lock: &Lockfile,
        stale: &[PackageName],
        force: bool,
        step: &mut dyn FnMut() -> bool,
    ) -> Result<Committed> {
        let staging = self.path()?.to_path_buf();
        let mut record = Record::load(&self.root)?;
        let mut committed = Committed::default();
        let mut refused = Vec::new();
        for name in self.staged.keys().chain(stale) {
            let at_risk = record::at_risk(&self.root, name, &record)?;
            if at_risk.is_empty() {
                continue;
            }
            if force {
                committed.discarded.push((name.clone(), at_risk));
            } else {
                refused.push(format!(
                    "{} ({})",
                    record::package_dir(&self.root, name).display(),
                    crate::output::sample(&at_risk, 5)
                ));
            }
        }
        if !refused.is_empty() {
            bail!(
                "refusing to replace or remove files this install did not put there or that changed since it: {}; move them elsewhere, or give --force to discard them",
                refused.join("; ")
            );
        }
        // Fail here, before anything is decided, if a folder cannot be made.
        for name in self.staged.keys() {
            let org = self.root.join(name.org().as_str());
            std::fs::create_dir_all(&org).with_context(|| format!("creating {}", org.display()))?;
        }
        for name in stale {
            record.packages.remove(name);
        }
        record.format = record::RECORD_FORMAT;
        let replace: Vec<PackageName> = self.staged.keys().cloned().collect();
        for (name, files) in std::mem::take(&mut self.staged) {
            let pinned = lock.get(&name);
            record.packages.insert(
                name,
                record::Installed {
                    version: pinned.map(|p| p.version.clone()),
                    digest: pinned.map(|p| p.digest),
                    files,
                },
            );
        }
        crate::home::write_atomic(&staging.join(LOCK_FILE), lock.render()?.as_bytes(), false)?;
        crate::home::write_atomic(&staging.join(record::RECORD_FILE), &record.render()?, false)?;
        let staging_name = staging
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("the staging folder has no name")?;
        let decided = Journal {
            format: journal::JOURNAL_FORMAT,
            staging: staging_name,
            replace,
            remove: stale.to_vec(),
        };
        // From here the journal owns the staging folder.
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        self.created_root = false;
        journal::write(&self.root, &decided)?;
        journal::apply(&self.root, &decided, step).with_context(|| {
            format!(
                "the install into {} is decided but could not finish; the next shire command there finishes it",
                self.root.display()
            )
        })?;
        Ok(committed)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
        if self.created_root {
            let state = journal::state_dir(&self.root);
            self.lock = None;
            let _ = std::fs::remove_file(state.join(journal::LOCK_NAME));
            let _ = std::fs::remove_dir(&state);
            // Only removes the folder when nothing else is in it.
            let _ = std::fs::remove_dir(&self.root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;
    use crate::transparency::testlog::{cast, Cast, Released};
    use shire_core::archive::testing::{bomb, build, chained_links, BombKind, Item};
    use shire_core::statement::Verdict;

    fn name(s: &str) -> PackageName {
        PackageName::parse(s).unwrap()
    }

    fn lock() -> Lockfile {
        Lockfile::new("http://127.0.0.1:7878", vec![])
    }

    /// Every path under `dir`, relative, sorted (Shire's own state and the
    /// lock left out).
    fn tree(dir: &Path) -> Vec<String> {
        fn go(base: &Path, d: &Path, out: &mut Vec<String>) {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    let p = e.path();
                    if [record::STATE_DIR, LOCK_FILE].contains(&&*e.file_name().to_string_lossy()) {
                        continue;
                    }
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        go(base, &p, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        go(dir, dir, &mut out);
        out.sort();
        out
    }

    #[test]
    fn extracts_an_ordinary_archive_and_drops_setuid() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        let bytes = build(&[
            Item::Dir("app"),
            Item::File("app/main.py", b"print(1)"),
            Item::Symlink("app/readme", "main.py"),
            Item::Hardlink("app/copy", "app/main.py"),
        ]);
        st.extract(&name("a/b"), &bytes[..]).unwrap();
        st.commit(&lock(), &[], false).unwrap();
        let dest = root.join("a/b");
        assert_eq!(
            std::fs::read(dest.join("app/main.py")).unwrap(),
            b"print(1)"
        );
        assert_eq!(std::fs::read(dest.join("app/copy")).unwrap(), b"print(1)");
        assert_eq!(
            tree(&root),
            vec![
                "a",
                "a/b",
                "a/b/app",
                "a/b/app/copy",
                "a/b/app/main.py",
                "a/b/app/readme"
            ]
        );

        // A setuid file arrives without its setuid bit.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            ));
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(2);
            h.set_mode(0o4755);
            b.append_data(&mut h, "suid", &b"hi"[..]).unwrap();
            let bytes = b.into_inner().unwrap().finish().unwrap();
            let dest = tmp.path().join("suid");
            extract(&bytes[..], &dest).unwrap();
            let mode = std::fs::metadata(dest.join("suid"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7000, 0, "setuid bit must be dropped: {mode:o}");
        }
    }

    #[test]
    fn hostile_archives_write_nothing_anywhere() {
        let hostile: Vec<(&str, Vec<u8>)> = vec![
            (
                "parent path",
                build(&[Item::File("ok", b"x"), Item::File("../evil", b"x")]),
            ),
            ("nested parent", build(&[Item::File("a/../../evil", b"x")])),
            (
                "absolute path",
                build(&[
                    Item::File("ok", b"x"),
                    Item::File("/tmp/shire-evil-abs", b"x"),
                ]),
            ),
            (
                "escaping symlink",
                build(&[Item::File("ok", b"x"), Item::Symlink("link", "../../evil")]),
            ),
            (
                "absolute symlink",
                build(&[Item::File("ok", b"x"), Item::Symlink("link", "/etc")]),
            ),
            (
                "write through symlink",
                build(&[
                    Item::Dir("d"),
                    Item::Symlink("d/up", "."),
                    Item::File("d/up/x", b"x"),
                ]),
            ),
            (
                "escaping hardlink",
                build(&[Item::File("ok", b"x"), Item::Hardlink("h", "/etc/passwd")]),
            ),
            (
                "device",
                build(&[Item::File("ok", b"x"), Item::CharDevice("dev")]),
            ),
            ("not an archive", b"definitely not gzip".to_vec()),
            ("chained symlinks", chained_links()),
            ("long-name header bomb", bomb(BombKind::LongName, 1 << 30)),
            ("PAX header bomb", bomb(BombKind::Pax, 1 << 30)),
            (
                "directory carrying data",
                bomb(BombKind::DirectoryData, 4 << 30),
            ),
        ];
        for (what, bytes) in hostile {
            let tmp = tempfile::tempdir().unwrap();
            let outer = tmp.path().join("outer");
            std::fs::create_dir_all(&outer).unwrap();
            let root = outer.join("shire-packages");
            let err = {
                let mut st = Staging::new(&root).unwrap();
                let err = st.extract(&name("a/b"), &bytes[..]).unwrap_err();
                format!("{err:#}")
            };
            assert!(err.contains("refusing the archive of a/b"), "{what}: {err}");
            // Nothing outside, and nothing left in DIR (which this install created).
            assert_eq!(tree(tmp.path()), vec!["outer"], "{what}");
            assert!(!Path::new("/tmp/shire-evil-abs").exists());
        }
    }

    #[test]
    fn refused_install_keeps_an_existing_folder_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        st.commit(&lock(), &[], false).unwrap();
        let before = tree(&root);
        {
            let mut st = Staging::new(&root).unwrap();
            st.extract(&name("a/c"), &build(&[Item::File("ok", b"2")])[..])
                .unwrap();
            assert!(st
                .extract(&name("a/b"), &build(&[Item::File("../evil", b"x")])[..])
                .is_err());
            // Dropped without commit.
        }
        assert_eq!(tree(&root), before);
        assert!(root.exists(), "an existing DIR is never removed");
    }

    #[test]
    fn commit_replaces_and_removes_stale_packages() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        st.extract(&name("z/old"), &build(&[Item::File("f", b"1")])[..])
            .unwrap();
        st.commit(&lock(), &[], false).unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v2", b"2")])[..])
            .unwrap();
        st.commit(&lock(), &[name("z/old")], false).unwrap();
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/v2"]);
    }

    #[test]
    fn a_failed_commit_puts_the_old_packages_back() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        st.commit(&lock(), &[], false).unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v2", b"2")])[..])
            .unwrap();
        st.extract(&name("z/c"), &build(&[Item::File("f", b"3")])[..])
            .unwrap();
        // The organisation folder for z/c cannot be made: a file is in the way.
        std::fs::write(root.join("z"), "in the way").unwrap();
        assert!(st.commit(&lock(), &[], false).is_err());
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/v1", "z"]);
    }

    #[test]
    fn files_the_install_did_not_put_there_are_never_lost_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("app.py", b"1")])[..])
            .unwrap();
        st.extract(&name("a/gone"), &build(&[Item::File("f", b"1")])[..])
            .unwrap();
        st.commit(&lock(), &[], false).unwrap();
        // The user adds a file to one package and edits the other's.
        std::fs::write(root.join("a/b/local.conf"), "mine").unwrap();
        std::fs::write(root.join("a/gone/f"), "edited").unwrap();
        let before = tree(&root);
        let record_before = std::fs::read(Record::path_in(&root)).unwrap();

        // Replacing a/b and removing a/gone would lose both: refused, naming them.
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("app.py", b"2")])[..])
            .unwrap();
        let err = st.commit(&lock(), &[name("a/gone")], false).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("local.conf") && msg.contains("a/gone (f)"),
            "{msg}"
        );
        assert!(msg.contains("--force"), "{msg}");
        assert_eq!(tree(&root), before);
        assert_eq!(
            std::fs::read(Record::path_in(&root)).unwrap(),
            record_before
        );

        // With force, they go, and the commit says which.
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("app.py", b"2")])[..])
            .unwrap();
        let done = st.commit(&lock(), &[name("a/gone")], true).unwrap();
        assert_eq!(
            done.discarded,
            vec![
                (name("a/b"), vec!["local.conf".to_string()]),
                (name("a/gone"), vec!["f".to_string()])
            ]
        );
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/app.py"]);
        let record = Record::load(&root).unwrap();
        assert_eq!(
            record.packages.keys().collect::<Vec<_>>(),
            vec![&name("a/b")]
        );

        // A folder no install recorded (made by hand) is not replaced either.
        std::fs::create_dir_all(root.join("c/hand")).unwrap();
        std::fs::write(root.join("c/hand/notes"), "x").unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("c/hand"), &build(&[Item::File("f", b"1")])[..])
            .unwrap();
        assert!(format!("{:#}", st.commit(&lock(), &[], false).unwrap_err()).contains("notes"));
        assert_eq!(std::fs::read(root.join("c/hand/notes")).unwrap(), b"x");
    }

    /// A commit stopped before any one of its steps, as a kill -9 would stop
    /// it, is finished by the next command: the folder then holds the new
    /// install exactly, with the new lock and record, whatever the moment.
    #[test]
    fn a_commit_killed_at_any_step_is_finished_by_the_next_command() {
        let locked = |v: &str| {
            let text = format!(
                "version = 1\nregistry = \"http://x\"\n\n[[package]]\nname = \"a/b\"\nversion = \"{v}\"\ndigest = \"{}\"\n",
                Digest::of(v.as_bytes())
            );
            Lockfile::parse(&text).unwrap()
        };
        let old_tree = vec!["a", "a/b", "a/b/v1", "z", "z/old", "z/old/f"];
        let new_tree = vec!["a", "a/b", "a/b/v2", "a/c", "a/c/new"];
        let mut k = 0;
        loop {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("pkgs");
            let mut st = Staging::new(&root).unwrap();
            st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
                .unwrap();
            st.extract(&name("z/old"), &build(&[Item::File("f", b"1")])[..])
                .unwrap();
            st.commit(&locked("1.0.0"), &[], false).unwrap();
            assert_eq!(tree(&root), old_tree);

            let mut st = Staging::new(&root).unwrap();
            st.extract(&name("a/b"), &build(&[Item::File("v2", b"2")])[..])
                .unwrap();
            st.extract(&name("a/c"), &build(&[Item::File("new", b"3")])[..])
                .unwrap();
            let (mut allowed, mut stopped) = (k, false);
            st.commit_stepped(&locked("2.0.0"), &[name("z/old")], false, &mut || {
                if allowed == 0 {
                    stopped = true;
                    return false;
                }
                allowed -= 1;
                true
            })
            .unwrap();
            let finished_alone = !stopped;
            // The next command settles the folder.
            drop(journal::settle(&root).unwrap());
            assert_eq!(tree(&root), new_tree, "stopped before step {k}");
            assert_eq!(
                Lockfile::load(&root).unwrap().unwrap().packages[0].version,
                Version::new(2, 0, 0),
                "stopped before step {k}"
            );
            let record = Record::load(&root).unwrap();
            assert_eq!(
                record.packages.keys().cloned().collect::<Vec<_>>(),
                vec![name("a/b"), name("a/c")]
            );
            let state: Vec<String> = std::fs::read_dir(root.join(record::STATE_DIR))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != journal::LOCK_NAME)
                .collect();
            assert_eq!(state, vec![record::RECORD_FILE], "stopped before step {k}");
            if finished_alone {
                break;
            }
            k += 1;
        }
        assert!(k >= 6, "every step was tried: {k}");
    }

    /// A journal planted in the install folder (a cloned project can carry
    /// one) moves and deletes nothing outside `.shire`, nor the user's files.
    #[test]
    fn a_planted_journal_touches_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let victim = tmp.path().join("victim");
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("precious"), "x").unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        st.commit(&lock(), &[], false).unwrap();
        let journal_path = root.join(record::STATE_DIR).join(journal::JOURNAL_FILE);
        for staging in [
            victim.display().to_string(),
            "..".into(),
            "../../victim".into(),
            "staging-x/../..".into(),
        ] {
            let planted = serde_json::json!({
                "format": 1, "staging": staging, "replace": [], "remove": ["a/b"]
            });
            std::fs::write(&journal_path, planted.to_string()).unwrap();
            let err = journal::settle(&root).unwrap_err();
            assert!(
                format!("{err:#}").contains("not one shire makes"),
                "{err:#}"
            );
            assert!(victim.join("precious").exists());
            assert_eq!(tree(&root), vec!["a", "a/b", "a/b/v1"]);
        }
        // A well-formed journal still does not take the user's files.
        std::fs::write(root.join("a/b/local.conf"), "mine").unwrap();
        let planted = serde_json::json!({
            "format": 1, "staging": "staging-abc", "replace": [], "remove": ["a/b"]
        });
        std::fs::write(&journal_path, planted.to_string()).unwrap();
        let err = journal::settle(&root).unwrap_err();
        assert!(format!("{err:#}").contains("a/b/local.conf"), "{err:#}");
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/local.conf", "a/b/v1"]);
        // Nor does a journal that is not a file hang or act.
        std::fs::remove_file(&journal_path).unwrap();
        std::fs::create_dir(&journal_path).unwrap();
        assert!(journal::settle(&root).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn an_organisation_folder_that_is_a_link_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a")).unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        let err = st.commit(&lock(), &[], false).unwrap_err();
        assert!(
            format!("{err:#}").contains("is a link or a file"),
            "{err:#}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // Nor is a state folder that is a link.
        let root2 = tmp.path().join("pkgs2");
        std::fs::create_dir_all(&root2).unwrap();
        std::os::unix::fs::symlink(&outside, root2.join(record::STATE_DIR)).unwrap();
        assert!(Staging::new(&root2).is_err());
        assert!(journal::settle(&root2).is_err());
    }

    /// A kill before the journal is written leaves the old install, and the
    /// next command throws the staged files away.
    #[test]
    fn a_kill_before_the_journal_leaves_the_old_install() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        st.commit(&lock(), &[], false).unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v2", b"2")])[..])
            .unwrap();
        // As a kill would: no destructor runs (the kernel drops the lock).
        st.lock = None;
        std::mem::forget(st);
        let staged: Vec<_> = std::fs::read_dir(root.join(record::STATE_DIR))
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.starts_with(journal::STAGING_PREFIX).then_some(n)
            })
            .collect();
        assert_eq!(staged.len(), 1);
        drop(journal::settle(&root).unwrap());
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/v1"]);
        assert!(!root.join(record::STATE_DIR).join(&staged[0]).exists());
    }

    #[test]
    fn an_artifact_larger_than_any_installable_archive_is_not_downloaded() {
        let max = max_artifact_bytes();
        assert!(max > ArchiveLimits::default().max_unpacked_bytes);
        check_claimed_size("a/b@1.0.0", max).unwrap();
        let err = check_claimed_size("a/b@1.0.0", max + 1).unwrap_err();
        assert!(
            err.to_string().contains("refusing to download a/b@1.0.0"),
            "{err}"
        );
        assert!(check_claimed_size("a/b@1.0.0", u64::MAX).is_err());
    }

    #[test]
    fn tampered_download_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let good = b"the signed bytes".to_vec();
        let signed = Digest::of(&good);
        let dest = tmp.path().join("a.tar.gz");
        save_verified("a/b@1.0.0", &good[..], &dest, &signed, good.len() as u64).unwrap();
        // Same length, other bytes.
        let evil = b"the EVIL!! bytes".to_vec();
        assert_eq!(evil.len(), good.len());
        let err =
            save_verified("a/b@1.0.0", &evil[..], &dest, &signed, good.len() as u64).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("artifact digest mismatch"), "{msg}");
        assert!(msg.contains("refusing to install"), "{msg}");
        // Longer stream: cut at size + 1 and refused.
        let long = vec![0u8; 10_000];
        let err =
            save_verified("a/b@1.0.0", &long[..], &dest, &signed, good.len() as u64).unwrap_err();
        assert!(format!("{err:#}").contains("size mismatch"));
    }

    #[test]
    fn planning_checks_lock_digest_and_trust() {
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        let n = r.name.clone();
        let v = r.version.clone();
        let trusted = policy(&[&c.verifier], 1);
        let plan = |c: &Cast, r: &Released, expected, allow| {
            let replica = c.log.replica();
            plan_item(
                &n,
                &v,
                &r.info,
                &replica.lookup(&n, &v),
                expected,
                &trusted,
                allow,
            )
        };
        // Unapproved: refused, unless --allow-unverified.
        let err = plan(&c, &r, None, false).unwrap_err();
        assert!(err.to_string().contains("not approved"), "{err}");
        let (_, adm) = plan(&c, &r, None, true).unwrap();
        assert!(matches!(adm, Admission::Unverified(_)));
        // Approved by a trusted key in the log: admitted.
        c.approve(&mut r);
        let (checked, adm) = plan(&c, &r, None, false).unwrap();
        assert_eq!(adm, Admission::Approved);
        // A lock pinning other bytes is an error, not a silent update.
        let other = Digest::of(b"older bytes");
        let err = plan(&c, &r, Some((&other, Expected::Locked)), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shire.lock pins"), "{err}");
        let signed = checked.facts.subject.digest;
        plan(&c, &r, Some((&signed, Expected::Locked)), false).unwrap();
        // Revoked in the log: refused even with --allow-unverified, even
        // when the registry's record does not show the revocation.
        let shown = r.clone();
        c.log.verdict(&c.verifier, &mut r, Verdict::Revoke);
        let err = plan(&c, &shown, None, true).unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
        // Not in the log at all: refused, naming the log.
        let ghost = cast();
        let err = plan(&ghost, &shown, None, true).unwrap_err().to_string();
        assert!(
            err.contains("holds no release braintree/crm@1.0.0"),
            "{err}"
        );
    }

    #[test]
    fn candidates_carry_signed_dependencies_and_logged_reasons() {
        let mut c = cast();
        let p = policy(&[&c.verifier], 1);
        let mut r = c.log.release_with(
            &c.publisher,
            "braintree/crm",
            "1.0.0",
            &[("braintree/lib", "^1")],
        );
        let n = r.name.clone();
        let cand = |c: &Cast, info: &VersionInfo| {
            let replica = c.log.replica();
            candidate(&n, info, &replica.lookup(&n, &info.version), &p, false)
        };
        // The registry's unsigned manifest copy lies about dependencies: ignored.
        let mut info = r.info.clone();
        info.manifest.dependencies.clear();
        let got = cand(&c, &info);
        assert_eq!(got.dependencies.len(), 1);
        assert!(got
            .unusable
            .as_deref()
            .unwrap_or("")
            .contains("not approved"));
        c.approve(&mut r);
        assert_eq!(cand(&c, &r.info).unusable, None);
        // Yanked in the log, whatever the registry shows.
        c.log.yank(&r, "broken build", "bt-dev");
        assert_eq!(cand(&c, &r.info).yanked.as_deref(), Some("broken build"));
        // A version the log never released is unusable.
        let ghost = release(&c.publisher, "braintree/crm", "1.0.1", &[], b"y");
        let got = cand(&c, &ghost);
        assert!(got.unusable.unwrap().contains("fails verification"));
    }
}
