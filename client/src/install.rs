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
use crate::lockfile::Pin;
use crate::resolve::{Candidate, Catalog};
use crate::transparency::replica::Lookup;
use crate::transparency::Logs;
use anyhow::{anyhow, bail, Context, Result};
use shire_core::archive::{self, ArchiveError, ArchiveLimits};
use shire_core::digest::HashingWriter;
use shire_core::policy::TrustPolicy;
use shire_core::wire::VersionInfo;
use shire_core::{Digest, PackageName, Version};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

/// What the registry listed for one package.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The package's home, as the registry names it (its releases are
    /// looked up in that origin's verified log).
    pub origin: String,
    /// Every version record, for the statements and sizes.
    pub versions: Vec<VersionInfo>,
}

/// Reads the registry's packages for the resolver, and decides every
/// candidate from the replica of its home's verified log: a version the log
/// does not hold, whose statement is not the logged one, or that the trust
/// policy does not admit (from the logged verdicts), is marked unusable with
/// the reason; yanks come from the log too.
pub struct RegistryCatalog<'a, 'l> {
    client: &'a Client,
    logs: &'a mut Logs<'l>,
    policy: &'a TrustPolicy,
    allow_unverified: bool,
    listed: BTreeMap<PackageName, Listing>,
}

impl<'a, 'l> RegistryCatalog<'a, 'l> {
    /// A catalog over `client`'s packages, decided by `logs` under `policy`.
    pub fn new(
        client: &'a Client,
        logs: &'a mut Logs<'l>,
        policy: &'a TrustPolicy,
        allow_unverified: bool,
    ) -> Self {
        Self {
            client,
            logs,
            policy,
            allow_unverified,
            listed: BTreeMap::new(),
        }
    }

    /// What the registry listed for `name` (once the resolver asked for it).
    pub fn listing(&self, name: &PackageName) -> Option<&Listing> {
        self.listed.get(name)
    }

    /// The replicas the catalog reads.
    pub fn logs(&mut self) -> &mut Logs<'l> {
        self.logs
    }
}

impl Catalog for RegistryCatalog<'_, '_> {
    fn candidates(&mut self, name: &PackageName) -> Result<Vec<Candidate>> {
        let info = self
            .client
            .package(name)
            .with_context(|| format!("looking up {name}"))?;
        let replica = self.logs.of(&info.origin, &name.to_string())?;
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
            let unusable = checks::admit(
                &format!("{name}@{}", vi.version),
                &c.trust.standing,
                allow_unverified,
            )
            .err()
            .map(|_| format!("is {}", checks::standing_text(&c.trust.standing)));
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
    buf.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
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

/// A staging folder inside the install folder; see the module docs.
pub struct Staging {
    root: PathBuf,
    created_root: bool,
    dir: Option<tempfile::TempDir>,
    staged: Vec<PackageName>,
}

impl Staging {
    /// Opens a staging folder in `root`, creating `root` if needed.
    pub fn new(root: &Path) -> Result<Self> {
        let created_root = !root.exists();
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(".shire-staging-")
            .tempdir_in(root)
            .with_context(|| format!("creating a staging folder in {}", root.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
            created_root,
            dir: Some(dir),
            staged: Vec::new(),
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

    /// Extracts an archive stream as the staged content of `name`.
    pub fn extract<R: Read>(&mut self, name: &PackageName, reader: R) -> Result<u64> {
        let dest = self
            .path()?
            .join("packages")
            .join(name.org().as_str())
            .join(name.name());
        let n =
            extract(reader, &dest).with_context(|| format!("refusing the archive of {name}"))?;
        self.staged.push(name.clone());
        Ok(n)
    }

    /// Moves every staged package to `root/<org>/<name>` (replacing what was
    /// there) and removes the folders of `stale` packages. If a move fails, the
    /// moves already made are undone, so the old packages stay in place.
    pub fn commit(mut self, stale: &[PackageName]) -> Result<()> {
        let staging = self.path()?.to_path_buf();
        let old = staging.join("replaced");
        std::fs::create_dir_all(&old).with_context(|| format!("creating {}", old.display()))?;
        // (from, to) renames done so far, undone in reverse on failure.
        let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
        let result = self.move_all(&staging, &old, stale, &mut done);
        if result.is_err() {
            for (from, to) in done.iter().rev() {
                let _ = std::fs::rename(to, from);
            }
            return result;
        }
        for name in stale {
            // Remove the organisation folder when it is now empty.
            let _ = std::fs::remove_dir(self.root.join(name.org().as_str()));
        }
        self.created_root = false;
        Ok(())
    }

    fn move_all(
        &self,
        staging: &Path,
        old: &Path,
        stale: &[PackageName],
        done: &mut Vec<(PathBuf, PathBuf)>,
    ) -> Result<()> {
        let mut rename = |from: PathBuf, to: PathBuf| -> Result<()> {
            std::fs::rename(&from, &to)
                .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
            done.push((from, to));
            Ok(())
        };
        let target = |name: &PackageName| self.root.join(name.org().as_str()).join(name.name());
        let aside = |name: &PackageName| old.join(format!("{}-{}", name.org(), name.name()));
        for name in &self.staged {
            let to = target(name);
            if to.symlink_metadata().is_ok() {
                rename(to.clone(), aside(name))?;
            }
            let org_dir = self.root.join(name.org().as_str());
            std::fs::create_dir_all(&org_dir)
                .with_context(|| format!("creating {}", org_dir.display()))?;
            let from = staging
                .join("packages")
                .join(name.org().as_str())
                .join(name.name());
            rename(from, to)?;
        }
        for name in stale {
            let to = target(name);
            if to.symlink_metadata().is_ok() {
                rename(to, aside(name))?;
            }
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
        if self.created_root {
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

    /// Every path under `dir`, relative, sorted.
    fn tree(dir: &Path) -> Vec<String> {
        fn go(base: &Path, d: &Path, out: &mut Vec<String>) {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    let p = e.path();
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
        st.commit(&[]).unwrap();
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
        st.commit(&[]).unwrap();
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
        st.commit(&[]).unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v2", b"2")])[..])
            .unwrap();
        st.commit(&[name("z/old")]).unwrap();
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/v2"]);
    }

    #[test]
    fn a_failed_commit_puts_the_old_packages_back() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkgs");
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v1", b"1")])[..])
            .unwrap();
        st.commit(&[]).unwrap();
        let mut st = Staging::new(&root).unwrap();
        st.extract(&name("a/b"), &build(&[Item::File("v2", b"2")])[..])
            .unwrap();
        st.extract(&name("z/c"), &build(&[Item::File("f", b"3")])[..])
            .unwrap();
        // The organisation folder for z/c cannot be made: a file is in the way.
        std::fs::write(root.join("z"), "in the way").unwrap();
        assert!(st.commit(&[]).is_err());
        assert_eq!(tree(&root), vec!["a", "a/b", "a/b/v1", "z"]);
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
