//! Building a project's release archive (`shire package`).
//!
//! The archive is deterministic: the same folder content gives the same bytes and
//! so the same digest, whoever builds it and whenever. Entries are sorted by path,
//! every header carries the same mtime, uid/gid 0 and no user names, modes are
//! normalised (0755 for folders and executables, 0644 for other files), and the
//! gzip header holds no time or file name. Which files go in is [`select`]'s
//! business. The finished archive is checked with the same rules the registry
//! and installers apply (`shire_core::archive::inspect`) before it is kept.

pub mod select;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use select::{Selection, Source};
use shire_core::archive::{self, ArchiveLimits, ArchiveSummary};
use shire_core::digest::HashingWriter;
use shire_core::{Digest, Manifest};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The mtime written into every entry (1980-01-01T00:00:00Z, as in zip files).
pub const FIXED_MTIME: u64 = 315_532_800;
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "Shire.toml";

/// A built archive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Packaged {
    /// The manifest it was built from.
    #[serde(skip)]
    pub manifest: Manifest,
    /// `org/name`.
    pub name: String,
    /// The version.
    pub version: String,
    /// Where the archive was written.
    pub path: PathBuf,
    /// Its SHA-256 digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// How many entries it holds.
    pub entries: usize,
    /// Total size of the files' content.
    pub unpacked_bytes: u64,
}

/// Reads and validates `DIR/Shire.toml`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `shire init` first?)", path.display()))?;
    Manifest::from_toml(&text).with_context(|| format!("in {}", path.display()))
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(FIXED_MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Writes the archive of `entries` to `out`, returning what was written's
/// digest and size.
fn write_archive<W: Write>(
    root: &Path,
    entries: Selection,
    out: W,
) -> Result<(W, Digest, u64, usize)> {
    if !entries
        .iter()
        .any(|(_, s)| matches!(s, Source::File { .. }))
    {
        bail!("{} holds no files to package", root.display());
    }
    let hashing = HashingWriter::new(out);
    let gz = GzEncoder::new(hashing, Compression::new(6));
    let mut b = tar::Builder::new(gz);
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    let count = entries.len();
    for (rel, src) in entries {
        match src {
            Source::Dir => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                b.append_data(&mut h, &rel, std::io::empty())
                    .with_context(|| format!("adding {rel}"))?;
            }
            Source::File { path, executable } => {
                let f = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
                let len = f
                    .metadata()
                    .with_context(|| format!("reading {}", path.display()))?
                    .len();
                let mode = if executable { 0o755 } else { 0o644 };
                let mut h = header(tar::EntryType::Regular, mode, len);
                // `take` guards against a file that grows while it is read.
                b.append_data(&mut h, &rel, BufReader::new(f).take_exact(len))
                    .with_context(|| format!("adding {rel}"))?;
            }
            Source::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                b.append_link(&mut h, &rel, &target)
                    .with_context(|| format!("adding link {rel}"))?;
            }
        }
    }
    let gz = b.into_inner().context("finishing the tar stream")?;
    let hashing = gz.finish().context("finishing the gzip stream")?;
    let (out, digest, size) = hashing.finish();
    Ok((out, digest, size, count))
}

/// Reads exactly `len` bytes, failing if the file turns out shorter.
trait TakeExact: std::io::Read + Sized {
    fn take_exact(self, len: u64) -> ExactReader<Self> {
        ExactReader {
            inner: self.take(len),
            remaining: len,
        }
    }
}
impl<R: std::io::Read> TakeExact for R {}

struct ExactReader<R> {
    inner: std::io::Take<R>,
    remaining: u64,
}

impl<R: std::io::Read> std::io::Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while it was being packaged",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The archive's file name: `<bare name>-<version>.tar.gz`.
pub fn archive_file_name(manifest: &Manifest) -> String {
    format!("{}-{}.tar.gz", manifest.name().name(), manifest.version())
}

/// The files `shire package` would put in the archive of the project in
/// `dir`, in archive order (folders left out), with its manifest.
pub fn list(dir: &Path) -> Result<(Manifest, Vec<String>)> {
    let manifest = read_manifest(dir)?;
    let files = select::select(dir, &manifest.package)?
        .into_iter()
        .filter(|(_, s)| !matches!(s, Source::Dir))
        .map(|(p, _)| p)
        .collect();
    Ok((manifest, files))
}

/// Builds `DIR/target/shire/<name>-<version>.tar.gz` from the project in `dir`,
/// re-checks it with the archive rules, and returns where it is and its digest.
/// Refuses a manifest still holding `shire init`'s placeholders.
pub fn package(dir: &Path) -> Result<Packaged> {
    let manifest = read_manifest(dir)?;
    let placeholders = manifest.placeholders();
    if !placeholders.is_empty() {
        bail!(
            "{} in {} still holds the placeholder `shire init` wrote; say what the software does before packaging it",
            placeholders.join(", "),
            dir.join(MANIFEST_FILE).display()
        );
    }
    let entries = select::select(dir, &manifest.package)
        .with_context(|| format!("packaging {}", dir.display()))?;
    let out_dir = dir.join("target").join("shire");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out_path = out_dir.join(archive_file_name(&manifest));
    let tmp = tempfile::NamedTempFile::new_in(&out_dir)
        .with_context(|| format!("creating a temporary file in {}", out_dir.display()))?;
    let (writer, digest, size, entries) = write_archive(dir, entries, BufWriter::new(tmp))
        .with_context(|| format!("packaging {}", dir.display()))?;
    let tmp = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the archive")?;
    tmp.as_file().sync_all().context("writing the archive")?;
    let summary =
        check_archive(tmp.path()).context("the archive just built breaks the archive rules")?;
    tmp.persist(&out_path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", out_path.display()))?;
    Ok(Packaged {
        name: manifest.name().to_string(),
        version: manifest.version().to_string(),
        manifest,
        path: out_path,
        digest,
        size,
        entries,
        unpacked_bytes: summary.unpacked_bytes,
    })
}

/// Applies the archive rules to an archive file.
pub fn check_archive(path: &Path) -> Result<ArchiveSummary> {
    let f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(archive::inspect(
        BufReader::new(f),
        &ArchiveLimits::default(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[package]\nname = \"braintree/crm\"\nversion = \"1.0.0\"\ndescription = \"CRM\"\nlicense = \"EUPL-1.2\"\n";

    #[test]
    fn refuses_the_placeholder_description() {
        let a = tempfile::tempdir().unwrap();
        project(a.path());
        let m = Manifest::skeleton(shire_core::PackageName::parse("braintree/crm").unwrap());
        std::fs::write(a.path().join(MANIFEST_FILE), m.to_toml().unwrap()).unwrap();
        let err = format!("{:#}", package(a.path()).unwrap_err());
        assert!(err.contains("package.description"), "{err}");
        assert!(!a.path().join("target/shire").exists());
    }

    fn project(dir: &Path) {
        std::fs::write(dir.join(MANIFEST_FILE), MANIFEST).unwrap();
        std::fs::create_dir_all(dir.join("src/lib")).unwrap();
        std::fs::write(dir.join("src/main.py"), "print(1)\n").unwrap();
        std::fs::write(dir.join("src/lib/util.py"), "x = 2\n").unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(dir.join(".git/HEAD"), "ref").unwrap();
        std::fs::create_dir_all(dir.join("shire-packages/a")).unwrap();
        std::fs::write(dir.join("shire-packages/a/x"), "installed").unwrap();
    }

    #[test]
    fn same_content_gives_the_same_digest() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        project(a.path());
        project(b.path());
        // Different mtimes and creation order must not matter.
        std::fs::write(b.path().join("zz-late"), "z").unwrap();
        std::fs::write(a.path().join("zz-late"), "z").unwrap();
        let pa = package(a.path()).unwrap();
        let pb = package(b.path()).unwrap();
        assert_eq!(pa.digest, pb.digest);
        assert_eq!(pa.path, a.path().join("target/shire/crm-1.0.0.tar.gz"));
        // Packaging again (with the output now in target/) gives the same bytes.
        let again = package(a.path()).unwrap();
        assert_eq!(again.digest, pa.digest);
        let bytes = std::fs::read(&pa.path).unwrap();
        assert_eq!(Digest::of(&bytes), pa.digest);
        assert_eq!(bytes.len() as u64, pa.size);
        // Content changes change the digest.
        std::fs::write(b.path().join("src/main.py"), "print(2)\n").unwrap();
        assert_ne!(package(b.path()).unwrap().digest, pa.digest);
    }

    #[test]
    fn skips_vcs_output_and_install_folders() {
        let a = tempfile::tempdir().unwrap();
        project(a.path());
        let p = package(a.path()).unwrap();
        let s = check_archive(&p.path).unwrap();
        let paths: Vec<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "Shire.toml",
                "src",
                "src/lib",
                "src/lib/util.py",
                "src/main.py"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_an_escaping_symlink_in_the_project() {
        let a = tempfile::tempdir().unwrap();
        project(a.path());
        std::os::unix::fs::symlink("../../etc/passwd", a.path().join("src/evil")).unwrap();
        let err = format!("{:#}", package(a.path()).unwrap_err());
        assert!(err.contains("outside the archive"), "{err}");
        assert!(!a.path().join("target/shire/crm-1.0.0.tar.gz").exists());
    }

    #[test]
    fn needs_a_valid_manifest() {
        let a = tempfile::tempdir().unwrap();
        assert!(package(a.path()).is_err());
        std::fs::write(
            a.path().join(MANIFEST_FILE),
            MANIFEST.replace("1.0.0", "1.0"),
        )
        .unwrap();
        assert!(package(a.path()).is_err());
    }
}
