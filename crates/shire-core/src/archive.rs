//! The archive rules: what a `.tar.gz` artifact may contain.
//!
//! The server applies them at publish and the client applies them again at
//! install, because no server is trusted: a path must be relative with no `..`,
//! a link must stay inside the archive, nothing but files, directories and links
//! may appear, and sizes and entry counts are bounded against decompression bombs.
//! [`walk`] is the one place the rules live; [`inspect`] uses it to list and
//! digest every file, and the client's extractor uses it to unpack.

use crate::digest::{Digest, HashingWriter};
use flate2::read::GzDecoder;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Component, Path};

/// Bounds on what one archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most bytes the gzip stream may decompress to (tar headers included).
    pub max_unpacked_bytes: u64,
    /// Most entries (files, directories, links).
    pub max_entries: u64,
    /// Longest path, in bytes.
    pub max_path_bytes: usize,
    /// Deepest path, in components.
    pub max_depth: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_unpacked_bytes: 1 << 30,
            max_entries: 50_000,
            max_path_bytes: 1024,
            max_depth: 64,
        }
    }
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The bytes are not a gzip'd tar, or are truncated.
    #[error("not a valid .tar.gz archive: {0}")]
    Format(String),
    /// A path is absolute.
    #[error("archive entry {0:?} has an absolute path")]
    AbsolutePath(String),
    /// A path climbs with `..`.
    #[error("archive entry {0:?} climbs out with '..'")]
    ParentPath(String),
    /// A path is empty, not UTF-8, too long or too deep.
    #[error("archive entry {0:?} has an unacceptable path: {1}")]
    BadPath(String, &'static str),
    /// A symbolic or hard link points outside the archive.
    #[error("archive entry {path:?} links to {target:?}, outside the archive")]
    EscapingLink {
        /// The link's own path.
        path: String,
        /// Where it points.
        target: String,
    },
    /// An entry lies beneath a symbolic link, so where it lands depends on the link.
    #[error("archive entry {0:?} lies beneath a symbolic link")]
    ThroughLink(String),
    /// A device, FIFO, sparse file or other special entry.
    #[error("archive entry {path:?} is a {kind}, which is not allowed")]
    ForbiddenType {
        /// The entry's path.
        path: String,
        /// What kind of entry it is.
        kind: String,
    },
    /// Too many entries.
    #[error("archive has more than {0} entries")]
    TooManyEntries(u64),
    /// Unpacks to more than the limit.
    #[error("archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// The archive holds no files at all.
    #[error("archive holds no files")]
    Empty,
    /// Writing an entry out failed (extraction only).
    #[error("could not write {path:?}: {source}")]
    Write {
        /// The entry.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
}

/// What kind of entry passed the rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to a path inside the archive.
    Symlink,
    /// A hard link to an earlier file in the archive.
    Hardlink,
}

/// An entry that passed the rules, with its normalised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEntry {
    /// Relative path with `/` separators and no `.` components.
    pub path: String,
    /// The entry's kind.
    pub kind: EntryKind,
    /// Size in bytes of a file's content (0 otherwise).
    pub size: u64,
    /// A link's target, as written in the archive.
    pub link_target: Option<String>,
}

/// One file as listed by [`inspect`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// Normalised relative path.
    pub path: String,
    /// Kind of entry.
    pub kind: EntryKind,
    /// Content size.
    pub size: u64,
    /// Content digest for files; the link target's digest-free text for links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Where a link points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// What [`inspect`] found: every entry, in archive order, and the total size.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchiveSummary {
    /// Every entry.
    pub files: Vec<FileEntry>,
    /// Sum of file content sizes.
    pub unpacked_bytes: u64,
}

/// A reader that fails once more than `limit` bytes have been read through it.
pub struct Limited<R> {
    inner: R,
    remaining: u64,
    limit: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            return Err(io::Error::other(LimitExceeded(self.limit)));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("decompressed data exceeds {0} bytes")]
struct LimitExceeded(u64);

/// An entry handed to a [`walk`] visitor: the tar entry, readable for its content.
pub type ArchiveEntry<'a, R> = tar::Entry<'a, GzDecoder<Limited<R>>>;

fn io_to_archive(e: io::Error) -> ArchiveError {
    if let Some(l) = e.get_ref().and_then(|i| i.downcast_ref::<LimitExceeded>()) {
        return ArchiveError::TooLarge(l.0);
    }
    ArchiveError::Format(e.to_string())
}

/// Normalises a relative path lexically; `None` if it climbs above its start.
fn normalise(base: &[String], rel: &Path) -> Result<Vec<String>, &'static str> {
    let mut out: Vec<String> = base.to_vec();
    for c in rel.components() {
        match c {
            Component::Normal(s) => out.push(s.to_str().ok_or("not UTF-8")?.to_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err("climbs");
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err("absolute"),
        }
    }
    Ok(out)
}

fn check_path(raw: &Path, limits: &ArchiveLimits) -> Result<Vec<String>, ArchiveError> {
    let shown = raw.to_string_lossy().to_string();
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or(ArchiveError::BadPath(shown.clone(), "not UTF-8"))?
                    .to_string(),
            ),
            Component::CurDir => {}
            Component::ParentDir => return Err(ArchiveError::ParentPath(shown)),
            Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::AbsolutePath(shown))
            }
        }
    }
    if parts.is_empty() {
        return Err(ArchiveError::BadPath(shown, "empty"));
    }
    if shown.len() > limits.max_path_bytes {
        return Err(ArchiveError::BadPath(shown, "too long"));
    }
    if parts.len() > limits.max_depth {
        return Err(ArchiveError::BadPath(shown, "too deep"));
    }
    if parts.iter().any(|p| p.contains('\\') || p.contains('\0')) {
        return Err(ArchiveError::BadPath(shown, "holds a backslash or NUL"));
    }
    Ok(parts)
}

/// Walks a `.tar.gz`, applying every rule to every entry before handing it to
/// `visit`. Stops at the first entry that breaks a rule.
pub fn walk<R, F>(reader: R, limits: &ArchiveLimits, mut visit: F) -> Result<u64, ArchiveError>
where
    R: Read,
    F: FnMut(&CheckedEntry, &mut ArchiveEntry<'_, R>) -> Result<(), ArchiveError>,
{
    let limited = Limited {
        inner: reader,
        remaining: limits.max_unpacked_bytes,
        limit: limits.max_unpacked_bytes,
    };
    let mut archive = tar::Archive::new(GzDecoder::new(limited));
    let mut count = 0u64;
    let mut unpacked = 0u64;
    let mut symlinks: BTreeSet<String> = BTreeSet::new();
    let mut files: BTreeSet<String> = BTreeSet::new();
    let mut seen_file = false;
    for entry in archive.entries().map_err(io_to_archive)? {
        let mut entry = entry.map_err(io_to_archive)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        let raw_path = entry.path().map_err(io_to_archive)?.into_owned();
        let parts = check_path(&raw_path, limits)?;
        let path = parts.join("/");
        // Nothing may sit beneath a symlink: where it lands would depend on the link.
        for i in 1..parts.len() {
            if symlinks.contains(&parts[..i].join("/")) {
                return Err(ArchiveError::ThroughLink(path));
            }
        }
        let header = entry.header();
        let etype = header.entry_type();
        let (kind, size, link_target) = match etype {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = header.size().map_err(io_to_archive)?;
                (EntryKind::File, size, None)
            }
            tar::EntryType::Directory => (EntryKind::Dir, 0, None),
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(io_to_archive)?
                    .ok_or_else(|| ArchiveError::Format(format!("link {path:?} has no target")))?
                    .into_owned();
                let target_text = target.to_string_lossy().to_string();
                let escaping = || ArchiveError::EscapingLink {
                    path: path.clone(),
                    target: target_text.clone(),
                };
                if etype == tar::EntryType::Symlink {
                    let parent = &parts[..parts.len() - 1];
                    normalise(parent, &target).map_err(|_| escaping())?;
                    (EntryKind::Symlink, 0, Some(target_text.clone()))
                } else {
                    // A hard link names a path from the archive root, and must be
                    // an earlier regular file.
                    let resolved = normalise(&[], &target).map_err(|_| escaping())?;
                    if !files.contains(&resolved.join("/")) {
                        return Err(escaping());
                    }
                    (EntryKind::Hardlink, 0, Some(target_text.clone()))
                }
            }
            other => {
                return Err(ArchiveError::ForbiddenType {
                    path,
                    kind: format!("{other:?}").to_lowercase(),
                })
            }
        };
        unpacked = unpacked.saturating_add(size);
        if unpacked > limits.max_unpacked_bytes {
            return Err(ArchiveError::TooLarge(limits.max_unpacked_bytes));
        }
        match kind {
            EntryKind::Symlink => {
                symlinks.insert(path.clone());
                files.remove(&path);
            }
            EntryKind::File | EntryKind::Hardlink => {
                seen_file = true;
                files.insert(path.clone());
                symlinks.remove(&path);
            }
            EntryKind::Dir => {
                if symlinks.contains(&path) {
                    return Err(ArchiveError::ThroughLink(path));
                }
            }
        }
        let checked = CheckedEntry {
            path,
            kind,
            size,
            link_target,
        };
        visit(&checked, &mut entry)?;
    }
    if !seen_file {
        return Err(ArchiveError::Empty);
    }
    Ok(unpacked)
}

/// Checks an archive against the rules and lists every entry with its digest.
pub fn inspect<R: Read>(reader: R, limits: &ArchiveLimits) -> Result<ArchiveSummary, ArchiveError> {
    let mut files = Vec::new();
    let unpacked_bytes = walk(reader, limits, |e, entry| {
        let digest = if e.kind == EntryKind::File {
            let mut w = HashingWriter::new(io::sink());
            io::copy(entry, &mut w).map_err(io_to_archive)?;
            let (_, d, n) = w.finish();
            if n != e.size {
                return Err(ArchiveError::Format(format!("{:?} is truncated", e.path)));
            }
            Some(d)
        } else {
            None
        };
        files.push(FileEntry {
            path: e.path.clone(),
            kind: e.kind.clone(),
            size: e.size,
            digest,
            target: e.link_target.clone(),
        });
        Ok(())
    })?;
    Ok(ArchiveSummary {
        files,
        unpacked_bytes,
    })
}

/// How two archives differ, file by file: what a verifier reviews.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileChanges {
    /// Paths only in the new archive.
    pub added: Vec<String>,
    /// Paths only in the old archive.
    pub removed: Vec<String>,
    /// Paths in both whose content or kind differs.
    pub changed: Vec<String>,
}

impl FileChanges {
    /// Compares an old and a new archive listing.
    pub fn between(old: &ArchiveSummary, new: &ArchiveSummary) -> Self {
        let index = |s: &ArchiveSummary| -> BTreeMap<String, FileEntry> {
            s.files
                .iter()
                .filter(|f| f.kind != EntryKind::Dir)
                .map(|f| (f.path.clone(), f.clone()))
                .collect()
        };
        let (a, b) = (index(old), index(new));
        let mut out = FileChanges::default();
        for (p, f) in &b {
            match a.get(p) {
                None => out.added.push(p.clone()),
                Some(o) if o != f => out.changed.push(p.clone()),
                Some(_) => {}
            }
        }
        out.removed = a.keys().filter(|p| !b.contains_key(*p)).cloned().collect();
        out
    }
}

/// Test helpers that build archives, including hostile ones, for this crate's
/// tests and for the binaries' tests.
pub mod testing {
    use flate2::write::GzEncoder;
    use flate2::Compression;

    /// `len` bytes that do not compress (xorshift), for archives that must
    /// stay large once gzipped.
    pub fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// One entry of a hand-built archive.
    pub enum Item<'a> {
        /// A file with content.
        File(&'a str, &'a [u8]),
        /// A directory.
        Dir(&'a str),
        /// A symbolic link and its target.
        Symlink(&'a str, &'a str),
        /// A hard link and its target.
        Hardlink(&'a str, &'a str),
        /// A character device.
        CharDevice(&'a str),
    }

    /// Builds a `.tar.gz` from items, writing paths raw into the header so that
    /// hostile paths (`../x`, `/etc/x`) survive.
    pub fn build(items: &[Item<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for item in items {
            let mut h = tar::Header::new_gnu();
            let (path, data): (&str, &[u8]) = match item {
                Item::File(p, d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    (p, d)
                }
                Item::Dir(p) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    (p, &[])
                }
                Item::Symlink(p, t) | Item::Hardlink(p, t) => {
                    h.set_entry_type(if matches!(item, Item::Symlink(..)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    });
                    h.set_size(0);
                    raw_set(&mut h.as_old_mut().linkname, t);
                    (p, &[])
                }
                Item::CharDevice(p) => {
                    h.set_entry_type(tar::EntryType::Char);
                    h.set_size(0);
                    (p, &[])
                }
            };
            raw_set(&mut h.as_old_mut().name, path);
            h.set_mode(0o644);
            h.set_cksum();
            // Appending to an in-memory Vec cannot fail.
            let _ = b.append(&h, data);
        }
        b.into_inner()
            .and_then(|gz| gz.finish())
            .unwrap_or_default()
    }

    fn raw_set(field: &mut [u8], value: &str) {
        let bytes = value.as_bytes();
        let n = bytes.len().min(field.len());
        field[..n].copy_from_slice(&bytes[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{build, Item};
    use super::*;

    fn check(items: &[Item<'_>]) -> Result<ArchiveSummary, ArchiveError> {
        inspect(&build(items)[..], &ArchiveLimits::default())
    }

    #[test]
    fn accepts_an_ordinary_tree() {
        let s = check(&[
            Item::Dir("app"),
            Item::File("app/main.py", b"print(1)"),
            Item::File("./README", b"hi"),
            Item::Symlink("app/readme", "../README"),
            Item::Hardlink("app/copy", "app/main.py"),
        ])
        .unwrap();
        assert_eq!(s.files.len(), 5);
        assert_eq!(s.files[2].path, "README");
        assert_eq!(s.unpacked_bytes, 10);
        assert_eq!(s.files[1].digest, Some(Digest::of(b"print(1)")));
    }

    #[test]
    fn refuses_traversal_absolute_and_escaping_links() {
        assert!(matches!(
            check(&[Item::File("../evil", b"x")]),
            Err(ArchiveError::ParentPath(_))
        ));
        assert!(matches!(
            check(&[Item::File("a/../../evil", b"x")]),
            Err(ArchiveError::ParentPath(_))
        ));
        assert!(matches!(
            check(&[Item::File("/etc/evil", b"x")]),
            Err(ArchiveError::AbsolutePath(_))
        ));
        assert!(matches!(
            check(&[
                Item::File("a", b"x"),
                Item::Symlink("l", "../../etc/passwd")
            ]),
            Err(ArchiveError::EscapingLink { .. })
        ));
        assert!(matches!(
            check(&[Item::File("a", b"x"), Item::Symlink("l", "/etc/passwd")]),
            Err(ArchiveError::EscapingLink { .. })
        ));
        assert!(matches!(
            check(&[Item::File("a", b"x"), Item::Hardlink("l", "/etc/passwd")]),
            Err(ArchiveError::EscapingLink { .. })
        ));
        assert!(matches!(
            check(&[Item::File("a", b"x"), Item::Hardlink("l", "missing")]),
            Err(ArchiveError::EscapingLink { .. })
        ));
        // A link to "." then a write beneath it.
        assert!(matches!(
            check(&[
                Item::Dir("d"),
                Item::Symlink("d/up", "."),
                Item::Symlink("d/up/x", "../../etc"),
            ]),
            Err(ArchiveError::ThroughLink(_))
        ));
        assert!(matches!(
            check(&[Item::File("a", b"x"), Item::CharDevice("dev")]),
            Err(ArchiveError::ForbiddenType { .. })
        ));
    }

    #[test]
    fn refuses_garbage_empty_and_bombs() {
        assert!(matches!(
            inspect(&b"not gzip"[..], &ArchiveLimits::default()),
            Err(ArchiveError::Format(_))
        ));
        assert!(matches!(check(&[Item::Dir("a")]), Err(ArchiveError::Empty)));
        let big = vec![0u8; 1 << 20];
        let limits = ArchiveLimits {
            max_unpacked_bytes: 64 * 1024,
            ..ArchiveLimits::default()
        };
        let bomb = build(&[Item::File("zeros", &big)]);
        assert!(bomb.len() < 16 * 1024, "compresses well");
        assert!(matches!(
            inspect(&bomb[..], &limits),
            Err(ArchiveError::TooLarge(_))
        ));
        let many: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let items: Vec<Item<'_>> = many.iter().map(|p| Item::File(p, b"x")).collect();
        let limits = ArchiveLimits {
            max_entries: 10,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            inspect(&build(&items)[..], &limits),
            Err(ArchiveError::TooManyEntries(10))
        ));
    }

    #[test]
    fn file_changes_between_versions() {
        let a = check(&[Item::File("a", b"1"), Item::File("b", b"2")]).unwrap();
        let b = check(&[Item::File("b", b"3"), Item::File("c", b"4")]).unwrap();
        let d = FileChanges::between(&a, &b);
        assert_eq!(d.added, vec!["c"]);
        assert_eq!(d.removed, vec!["a"]);
        assert_eq!(d.changed, vec!["b"]);
    }
}
