//! The archive rules: what a `.tar.gz` artifact may contain.
//!
//! The server applies them at publish and the client applies them again at
//! install, because no server is trusted. [`walk`] is the one place the rules
//! live; [`inspect`] uses it to list and digest every file, and the client's
//! extractor uses it to unpack:
//!
//! - a path is relative, UTF-8, without `..`, of bounded length and depth,
//!   and holds no backslash and no control or invisible character
//!   ([`crate::is_invisible`]: a bidirectional override would list
//!   `invoice\u{202e}fdp.exe` as `invoiceexe.pdf`); nor does a link's target;
//! - only files, directories, symbolic links and hard links may appear, and
//!   only files carry data;
//! - a symbolic link's target is relative and only descends from the link's
//!   folder: no `..` at all. So no chain of links, whatever their order, can
//!   resolve outside (`up1 -> up0/..` is refused even when `up0 -> .`), and
//!   neither can names a case-insensitive file system takes for one another
//!   (`x/L -> ..` reached as `x/l`); nothing may lie beneath a link, and no
//!   link may replace a directory;
//! - a hard link names an earlier regular file;
//! - every byte the gzip stream decompresses to (tar headers, padding and data
//!   of every entry, directories included) counts against
//!   [`ArchiveLimits::max_unpacked_bytes`], and the extension headers of one
//!   entry (GNU long names, PAX records) against
//!   [`ArchiveLimits::max_header_bytes`] *before* they are held in memory;
//! - the paths and link targets of all entries together are bounded
//!   ([`ArchiveLimits::max_path_total_bytes`]), and so are the distinct
//!   paths, directories included ([`ArchiveLimits::max_paths`]): what the
//!   checker holds in memory, and the listing a node stores, stay small;
//! - error messages show at most [`SHOWN_BYTES`] bytes of any path.

use crate::digest::{Digest, HashingWriter};
use flate2::read::GzDecoder;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Component, Path};
use std::rc::Rc;

/// Most bytes of a path (or link target) an error message shows.
pub const SHOWN_BYTES: usize = 120;

/// Bounds on what one archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most bytes the gzip stream may decompress to: tar headers, padding and
    /// every entry's data included.
    pub max_unpacked_bytes: u64,
    /// Most entries (files, directories, links).
    pub max_entries: u64,
    /// Longest path or link target, in bytes.
    pub max_path_bytes: usize,
    /// Deepest path, in components.
    pub max_depth: usize,
    /// Most bytes of tar headers read for one entry: its own header and any
    /// GNU long-name or PAX extension records before it.
    pub max_header_bytes: u64,
    /// Most bytes of all entries' paths and link targets together.
    pub max_path_total_bytes: u64,
    /// Most distinct paths, the directories entries imply included.
    pub max_paths: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_unpacked_bytes: 1 << 30,
            max_entries: 50_000,
            max_path_bytes: 1024,
            max_depth: 64,
            max_header_bytes: 64 << 10,
            max_path_total_bytes: 16 << 20,
            max_paths: 200_000,
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
    /// A symbolic or hard link points outside the archive, or could through
    /// other links.
    #[error(
        "archive entry {path:?} links to {target:?}, which is or could resolve outside the archive"
    )]
    EscapingLink {
        /// The link's own path.
        path: String,
        /// Where it points.
        target: String,
    },
    /// An entry lies beneath a symbolic link, so where it lands depends on the link.
    #[error("archive entry {0:?} lies beneath a symbolic link")]
    ThroughLink(String),
    /// A link would take the place of a directory other entries lie in.
    #[error("archive entry {0:?} would replace a directory with a link")]
    LinkOverDirectory(String),
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
    /// Too many distinct paths (directories included), or path bytes.
    #[error("archive holds more than {0}")]
    TooManyPaths(String),
    /// Unpacks to more than the limit.
    #[error("archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// One entry's tar headers (long names, PAX records) exceed the limit.
    #[error("an archive entry's tar headers exceed {0} bytes")]
    HeadersTooLarge(u64),
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveSummary {
    /// Every entry.
    pub files: Vec<FileEntry>,
    /// Sum of file content sizes.
    pub unpacked_bytes: u64,
}

/// At most [`SHOWN_BYTES`] of `bytes`, as text with its invisible characters
/// escaped ([`crate::escape_invisible`]), for error messages.
pub fn shown(bytes: &[u8]) -> String {
    let cut = bytes.len().min(SHOWN_BYTES);
    let mut s = crate::escape_invisible(&String::from_utf8_lossy(&bytes[..cut]));
    if bytes.len() > cut {
        s.push('…');
    }
    s
}

/// How many decompressed bytes may still be read, in all and in the current
/// step (the reading of one entry's headers).
struct Meter {
    total: u64,
    left: Cell<u64>,
    header_limit: u64,
    step: Cell<Option<u64>>,
}

#[derive(Debug, thiserror::Error)]
enum Exceeded {
    #[error("decompressed data exceeds {0} bytes")]
    Total(u64),
    #[error("an entry's tar headers exceed {0} bytes")]
    Headers(u64),
}

/// The decompressed stream, counting every byte the tar reader takes. The
/// tar crate reads an entry's headers and extension records (and skips the
/// rest of the previous entry) only inside its iterator's `next`; [`walk`]
/// gives each such step its own budget, so an extension header claiming a
/// gigabyte fails after [`ArchiveLimits::max_header_bytes`], before the
/// crate has held it.
pub struct Metered<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let m = &self.meter;
        let allow = match m.step.get() {
            Some(s) => s.min(m.left.get()),
            None => m.left.get(),
        };
        // One byte past the allowance, so running over is seen, not stalled.
        let want = buf
            .len()
            .min(usize::try_from(allow.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])? as u64;
        if n > m.left.get() {
            return Err(io::Error::other(Exceeded::Total(m.total)));
        }
        m.left.set(m.left.get() - n);
        if let Some(s) = m.step.get() {
            if n > s {
                return Err(io::Error::other(Exceeded::Headers(m.header_limit)));
            }
            m.step.set(Some(s - n));
        }
        Ok(n as usize)
    }
}

/// An entry handed to a [`walk`] visitor: the tar entry, readable for its content.
pub type ArchiveEntry<'a, R> = tar::Entry<'a, Metered<GzDecoder<R>>>;

fn io_to_archive(e: io::Error) -> ArchiveError {
    match e.get_ref().and_then(|i| i.downcast_ref::<Exceeded>()) {
        Some(Exceeded::Total(n)) => ArchiveError::TooLarge(*n),
        Some(Exceeded::Headers(n)) => ArchiveError::HeadersTooLarge(*n),
        None => ArchiveError::Format(shown(e.to_string().as_bytes())),
    }
}

/// Splits a relative path into its named components: `.` dropped, `..`
/// and absolute paths refused, length and depth bounded.
fn check_path(raw: &[u8], limits: &ArchiveLimits) -> Result<Vec<String>, ArchiveError> {
    if raw.len() > limits.max_path_bytes {
        return Err(ArchiveError::BadPath(shown(raw), "too long"));
    }
    let text =
        std::str::from_utf8(raw).map_err(|_| ArchiveError::BadPath(shown(raw), "not UTF-8"))?;
    let mut parts = Vec::new();
    for c in Path::new(text).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or_default().to_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err(ArchiveError::ParentPath(shown(raw))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::AbsolutePath(shown(raw)))
            }
        }
    }
    if parts.is_empty() {
        return Err(ArchiveError::BadPath(shown(raw), "empty"));
    }
    if parts.len() > limits.max_depth {
        return Err(ArchiveError::BadPath(shown(raw), "too deep"));
    }
    if parts
        .iter()
        .any(|p| p.contains('\\') || crate::has_invisible(p))
    {
        return Err(ArchiveError::BadPath(
            shown(raw),
            "holds a backslash or a control or invisible character",
        ));
    }
    Ok(parts)
}

/// Whether a symbolic link's `target` stays inside its folder however other
/// links resolve and however the file system compares names: relative, and
/// nothing but named components (and `.`), and no character that would show
/// it as another target.
fn link_stays_inside(target: &str) -> bool {
    if target.is_empty() || target.contains('\\') || crate::has_invisible(target) {
        return false;
    }
    Path::new(target)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The components of a hard link's target (from the archive root).
fn hardlink_target(target: &str, limits: &ArchiveLimits) -> Option<Vec<String>> {
    check_path(target.as_bytes(), limits).ok()
}

/// Refuses PAX records Shire does not accept: sparse-file records, and a
/// `path`/`linkpath` that disagrees with the name the entry ends up with (a
/// GNU long name and a PAX path naming two different files).
fn check_pax(
    entry: &mut tar::Entry<'_, impl Read>,
    path: &[u8],
    link: Option<&[u8]>,
) -> Result<(), ArchiveError> {
    let Some(exts) = entry.pax_extensions().map_err(io_to_archive)? else {
        return Ok(());
    };
    for ext in exts {
        let ext = ext.map_err(|_| ArchiveError::Format("a PAX record is malformed".into()))?;
        let key = ext.key_bytes();
        if key.starts_with(b"GNU.sparse.") {
            return Err(ArchiveError::ForbiddenType {
                path: shown(path),
                kind: "sparse file".into(),
            });
        }
        let conflicting = (key == b"path" && ext.value_bytes() != path)
            || (key == b"linkpath" && Some(ext.value_bytes()) != link);
        if conflicting {
            return Err(ArchiveError::Format(format!(
                "entry {:?} carries two different names (a long name and a PAX record)",
                shown(path)
            )));
        }
    }
    Ok(())
}

/// What a path of the archive is so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// A directory (an entry, or implied by an entry beneath it).
    Dir,
    /// A regular file or hard link.
    File,
    /// A symbolic link.
    Symlink,
}

/// What [`walk`] has seen so far, to judge each entry against the earlier
/// ones: a tree of path components, each stored once (a deep path does not
/// store every prefix of itself), bounded by [`ArchiveLimits::max_paths`].
struct Tree {
    /// Child of (parent, component) → its index in `nodes`; 0 is the root.
    children: std::collections::HashMap<(u32, Box<str>), u32>,
    nodes: Vec<Node>,
    max_paths: u64,
}

impl Tree {
    fn new(limits: &ArchiveLimits) -> Self {
        Tree {
            children: std::collections::HashMap::new(),
            nodes: vec![Node::Dir],
            max_paths: limits.max_paths,
        }
    }

    /// The node of `parts` below `parent`, if it exists.
    fn find(&self, parts: &[String]) -> Option<u32> {
        let mut at = 0u32;
        for p in parts {
            at = *self.children.get(&(at, p.as_str().into()))?;
        }
        Some(at)
    }

    /// Walks to the folder an entry at `parts` lies in, making the
    /// directories it implies; refuses one beneath a link or a file. Returns
    /// that folder and the entry's own node, if it exists already.
    fn enter(&mut self, parts: &[String], path: &str) -> Result<(u32, Option<u32>), ArchiveError> {
        let mut at = 0u32;
        let (last, folders) = parts
            .split_last()
            .ok_or_else(|| ArchiveError::BadPath(shown(path.as_bytes()), "empty"))?;
        for p in folders {
            at = match self.children.get(&(at, p.as_str().into())) {
                Some(&child) => match self.nodes[child as usize] {
                    Node::Dir => child,
                    Node::Symlink => return Err(ArchiveError::ThroughLink(shown(path.as_bytes()))),
                    Node::File => {
                        return Err(ArchiveError::BadPath(
                            shown(path.as_bytes()),
                            "lies beneath a file",
                        ))
                    }
                },
                None => self.add(at, p, Node::Dir)?,
            };
        }
        let own = self.children.get(&(at, last.as_str().into())).copied();
        Ok((at, own))
    }

    fn add(&mut self, parent: u32, name: &str, node: Node) -> Result<u32, ArchiveError> {
        if self.nodes.len() as u64 >= self.max_paths {
            return Err(ArchiveError::TooManyPaths(format!(
                "{} distinct paths (directories included)",
                self.max_paths
            )));
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        self.children.insert((parent, name.into()), id);
        Ok(id)
    }

    /// Records the entry `name` in folder `parent` as `node`.
    fn set(
        &mut self,
        parent: u32,
        name: &str,
        own: Option<u32>,
        node: Node,
    ) -> Result<(), ArchiveError> {
        match own {
            Some(id) => self.nodes[id as usize] = node,
            None => {
                self.add(parent, name, node)?;
            }
        }
        Ok(())
    }
}

/// Walks a `.tar.gz`, applying every rule to every entry before handing it to
/// `visit`. Stops at the first entry that breaks a rule. Returns the sum of
/// the files' sizes.
pub fn walk<R, F>(reader: R, limits: &ArchiveLimits, mut visit: F) -> Result<u64, ArchiveError>
where
    R: Read,
    F: FnMut(&CheckedEntry, &mut ArchiveEntry<'_, R>) -> Result<(), ArchiveError>,
{
    let meter = Rc::new(Meter {
        total: limits.max_unpacked_bytes,
        left: Cell::new(limits.max_unpacked_bytes),
        header_limit: limits.max_header_bytes,
        step: Cell::new(None),
    });
    let mut archive = tar::Archive::new(Metered {
        inner: GzDecoder::new(reader),
        meter: meter.clone(),
    });
    let mut entries = archive.entries().map_err(io_to_archive)?;
    let mut count = 0u64;
    let mut unpacked = 0u64;
    let mut tree = Tree::new(limits);
    let mut path_total = 0u64;
    let mut seen_file = false;
    loop {
        meter.step.set(Some(limits.max_header_bytes));
        let next = entries.next();
        meter.step.set(None);
        let Some(entry) = next else { break };
        let mut entry = entry.map_err(io_to_archive)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        use tar::EntryType as E;
        let etype = entry.header().entry_type();
        // The type first: the data of any other kind is never read.
        if !matches!(
            etype,
            E::Regular | E::Continuous | E::Directory | E::Symlink | E::Link
        ) {
            return Err(ArchiveError::ForbiddenType {
                path: shown(&entry.path_bytes()),
                kind: format!("{etype:?}").to_lowercase(),
            });
        }
        let raw_path = entry.path_bytes().into_owned();
        let raw_link = entry.link_name_bytes().map(|l| l.into_owned());
        if raw_link
            .as_ref()
            .is_some_and(|l| l.len() > limits.max_path_bytes)
        {
            return Err(ArchiveError::BadPath(
                shown(&raw_path),
                "link target too long",
            ));
        }
        check_pax(&mut entry, &raw_path, raw_link.as_deref())?;
        let parts = check_path(&raw_path, limits)?;
        let path = parts.join("/");
        let link_len = raw_link.as_ref().map_or(0, |l| l.len());
        path_total = path_total.saturating_add((raw_path.len() + link_len) as u64);
        if path_total > limits.max_path_total_bytes {
            return Err(ArchiveError::TooManyPaths(format!(
                "{} bytes of paths",
                limits.max_path_total_bytes
            )));
        }
        let (folder, own) = tree.enter(&parts, &path)?;
        let name = parts.last().map(String::as_str).unwrap_or_default();
        let own_node = own.map(|id| tree.nodes[id as usize]);
        // The size as the crate reads the entry (a PAX `size` record included).
        let size = entry.size();
        let is_file = matches!(etype, E::Regular | E::Continuous);
        if !is_file && size != 0 {
            return Err(ArchiveError::Format(format!(
                "entry {:?} is not a file but carries {size} bytes of data",
                shown(path.as_bytes())
            )));
        }
        let (kind, link_target) = match etype {
            E::Regular | E::Continuous => (EntryKind::File, None),
            E::Directory => (EntryKind::Dir, None),
            _ => {
                let raw = raw_link.ok_or_else(|| {
                    ArchiveError::Format(format!("link {:?} has no target", shown(path.as_bytes())))
                })?;
                let escaping = || ArchiveError::EscapingLink {
                    path: shown(path.as_bytes()),
                    target: shown(&raw),
                };
                let target = String::from_utf8(raw.clone()).map_err(|_| escaping())?;
                if etype == E::Symlink {
                    if !link_stays_inside(&target) {
                        return Err(escaping());
                    }
                    (EntryKind::Symlink, Some(target))
                } else {
                    // A hard link names an earlier regular file, from the root.
                    let earlier_file = hardlink_target(&target, limits)
                        .and_then(|t| tree.find(&t))
                        .is_some_and(|id| tree.nodes[id as usize] == Node::File);
                    if !earlier_file {
                        return Err(escaping());
                    }
                    (EntryKind::Hardlink, Some(target))
                }
            }
        };
        unpacked = unpacked.saturating_add(size);
        if unpacked > limits.max_unpacked_bytes {
            return Err(ArchiveError::TooLarge(limits.max_unpacked_bytes));
        }
        let node = match kind {
            EntryKind::Symlink => {
                if own_node == Some(Node::Dir) {
                    return Err(ArchiveError::LinkOverDirectory(shown(path.as_bytes())));
                }
                Node::Symlink
            }
            EntryKind::File | EntryKind::Hardlink => {
                if own_node == Some(Node::Dir) {
                    return Err(ArchiveError::BadPath(
                        shown(path.as_bytes()),
                        "is a directory already",
                    ));
                }
                seen_file = true;
                Node::File
            }
            EntryKind::Dir => {
                match own_node {
                    Some(Node::Symlink) => {
                        return Err(ArchiveError::ThroughLink(shown(path.as_bytes())))
                    }
                    Some(Node::File) => {
                        return Err(ArchiveError::BadPath(
                            shown(path.as_bytes()),
                            "is a file already",
                        ))
                    }
                    _ => {}
                }
                Node::Dir
            }
        };
        tree.set(folder, name, own, node)?;
        let checked = CheckedEntry {
            path,
            kind,
            size,
            link_target,
        };
        visit(&checked, &mut entry)?;
        // Whatever the visitor left unread is read here, counted, not skipped
        // inside the next step's header budget.
        io::copy(&mut entry, &mut io::sink()).map_err(io_to_archive)?;
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    /// The chained-symlink escape of the security review: `up0 -> .`, then
    /// `upN -> up{N-1}/..` for N = 1..12, then `passwd -> up12/etc/passwd`,
    /// after a `README`. Each target looks internal on its own; together
    /// they resolve outside the folder the archive is unpacked in.
    pub fn chained_links() -> Vec<u8> {
        let names: Vec<(String, String)> = (1..=12)
            .map(|n| (format!("up{n}"), format!("up{}/..", n - 1)))
            .collect();
        let mut items = vec![Item::File("README", b"x"), Item::Symlink("up0", ".")];
        items.extend(names.iter().map(|(p, t)| Item::Symlink(p, t)));
        items.push(Item::Symlink("passwd", "up12/etc/passwd"));
        build(&items)
    }

    /// What precedes the bomb's zeros in [`bomb`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BombKind {
        /// A GNU long-name (`L`) header whose name is the zeros.
        LongName,
        /// A PAX (`x`) extension header whose records are the zeros.
        Pax,
        /// A directory entry carrying the zeros as data.
        DirectoryData,
    }

    /// A small `.tar.gz` that decompresses to one tar header of `kind`
    /// declaring `zeros` bytes, then that many zero bytes (about 1 KiB of
    /// gzip per MiB of zeros): the decompression bombs of the security
    /// review, made in milliseconds. The stream is cut off after the zeros.
    pub fn bomb(kind: BombKind, zeros: u64) -> Vec<u8> {
        use flate2::{Compress, FlushCompress};
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(match kind {
            BombKind::LongName => tar::EntryType::GNULongName,
            BombKind::Pax => tar::EntryType::XHeader,
            BombKind::DirectoryData => tar::EntryType::Directory,
        });
        raw_set(&mut h.as_old_mut().name, "././@LongLink");
        h.set_size(zeros);
        h.set_mode(0o755);
        h.set_cksum();
        let deflate = |input: &[u8], flush| {
            let mut c = Compress::new(Compression::best(), false);
            let mut out = Vec::with_capacity(input.len() / 8 + 1024);
            // A fresh compressor per chunk: each chunk decodes on its own,
            // so copies of one chunk decode to copies of its input.
            let _ = c.compress_vec(input, &mut out, flush);
            out
        };
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gz.extend(deflate(h.as_bytes(), FlushCompress::Full));
        let chunk_len: u64 = 1 << 20;
        let chunk = deflate(&vec![0u8; chunk_len as usize], FlushCompress::Full);
        let mut left = zeros;
        while left >= chunk_len {
            gz.extend_from_slice(&chunk);
            left -= chunk_len;
        }
        gz.extend(deflate(&vec![0u8; left as usize], FlushCompress::Full));
        gz
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
            Item::Symlink("app/readme", "main.py"),
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
    fn names_that_would_show_as_other_names_are_refused() {
        for path in [
            "invoice\u{202e}fdp.exe",
            "app/ma\u{200b}in.py",
            "x\u{1b}[2K",
            "a\u{2028}b",
            "a\\..\\b",
        ] {
            let got = check(&[Item::File(path, b"x")]);
            assert!(
                matches!(got, Err(ArchiveError::BadPath(..))),
                "{path:?}: {got:?}"
            );
            let message = got.unwrap_err().to_string();
            assert!(!crate::has_invisible(&message), "{message:?}");
        }
        for target in ["ma\u{202e}in.py", "main.py\u{feff}"] {
            let got = check(&[Item::File("main.py", b"x"), Item::Symlink("l", target)]);
            assert!(
                matches!(got, Err(ArchiveError::EscapingLink { .. })),
                "{target:?}: {got:?}"
            );
        }
        assert!(check(&[Item::File("Caerdydd/ŵyr – café.txt", b"x")]).is_ok());
    }

    #[test]
    fn link_targets_count_towards_the_paths_bound() {
        let limits = ArchiveLimits {
            max_path_total_bytes: 200,
            ..ArchiveLimits::default()
        };
        // Each 1 + 90 bytes; a tar header holds targets of up to 100.
        let long = "t".repeat(90);
        let items = [
            Item::File("f", b"x"),
            Item::Symlink("a", &long),
            Item::Symlink("b", &long),
            Item::Symlink("c", &long),
        ];
        assert!(matches!(
            inspect(&build(&items)[..], &limits),
            Err(ArchiveError::TooManyPaths(_))
        ));
        assert!(inspect(&build(&items[..3])[..], &limits).is_ok());
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
    fn chained_symlinks_escape_the_install_folder() {
        // Each target looks internal on its own; together they climb out.
        let chained = super::testing::chained_links();
        let err = inspect(&chained[..], &ArchiveLimits::default()).unwrap_err();
        assert!(
            matches!(&err, ArchiveError::EscapingLink { path, target } if path == "up1" && target == "up0/.."),
            "{err}"
        );
        // The same chain in the other order: the later link changes what an
        // earlier one means, so the earlier one is judged on its own shape.
        assert!(matches!(
            check(&[
                Item::File("README", b"x"),
                Item::Dir("d"),
                Item::Symlink("d/a", "x/.."),
                Item::Symlink("d/x", "."),
            ]),
            Err(ArchiveError::EscapingLink { .. })
        ));
        // No `..` at all, even one that looks harmless: on a file system
        // that ignores case, `x/l` is the link `x/L`, so the checker's view
        // of which names are links cannot be trusted to judge a climb.
        for (link, target) in [("a/b/l", "../lib/x"), ("x/l/x/l/e", "../../../etc")] {
            assert!(
                matches!(
                    check(&[Item::File("a/lib/x", b"x"), Item::Symlink(link, target)]),
                    Err(ArchiveError::EscapingLink { .. })
                ),
                "{link} -> {target}"
            );
        }
        // Descending links stay inside, and so do links to links.
        check(&[
            Item::Dir("a/b"),
            Item::File("a/lib/x", b"x"),
            Item::Symlink("a/l", "lib/x"),
            Item::Symlink("top", "a/l"),
            Item::Symlink("a/here", "."),
            Item::Symlink("a/b/self", "./"),
        ])
        .unwrap();
        // A link may not take the place of a directory entries lie in.
        assert!(matches!(
            check(&[Item::File("d/f", b"x"), Item::Symlink("d", ".")]),
            Err(ArchiveError::LinkOverDirectory(_))
        ));
    }

    #[test]
    fn extension_header_bombs_are_refused_before_they_are_read() {
        use super::testing::{bomb, BombKind};
        for kind in [BombKind::LongName, BombKind::Pax] {
            let b = bomb(kind, 1 << 30);
            assert!(
                b.len() < 2 << 20,
                "{kind:?}: a small upload ({} bytes)",
                b.len()
            );
            let err = inspect(&b[..], &ArchiveLimits::default()).unwrap_err();
            assert!(
                matches!(err, ArchiveError::HeadersTooLarge(n) if n == 64 << 10),
                "{kind:?}: {err}"
            );
            assert!(err.to_string().len() < 200);
        }
        // A directory carrying data: refused from its header, nothing read.
        let err = inspect(
            &bomb(BombKind::DirectoryData, 4 << 30)[..],
            &ArchiveLimits::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("carries 4294967296 bytes"),
            "{err}"
        );
        // Every decompressed byte counts, headers and padding included.
        let limits = ArchiveLimits {
            max_unpacked_bytes: 16 << 10,
            ..ArchiveLimits::default()
        };
        let many: Vec<String> = (0..64).map(|i| format!("f{i}")).collect();
        let items: Vec<Item<'_>> = many.iter().map(|p| Item::File(p, b"")).collect();
        assert!(matches!(
            inspect(&build(&items)[..], &limits),
            Err(ArchiveError::TooLarge(_))
        ));
    }

    #[test]
    fn many_deep_distinct_paths_are_bounded_in_memory() {
        // Each entry implies 30 directories below a distinct first one:
        // the checker holds each component once, and counts them.
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for i in 0..2_000 {
            let path = format!("{i:06}{}/{}f", "p".repeat(100), "a/".repeat(30));
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, &path, &b""[..]).unwrap();
        }
        let bytes = b.into_inner().unwrap().finish().unwrap();
        let limits = ArchiveLimits {
            max_paths: 10_000,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            inspect(&bytes[..], &limits),
            Err(ArchiveError::TooManyPaths(_))
        ));
        let limits = ArchiveLimits {
            max_path_total_bytes: 100_000,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            inspect(&bytes[..], &limits),
            Err(ArchiveError::TooManyPaths(_))
        ));
        inspect(&bytes[..], &ArchiveLimits::default()).unwrap();
    }

    #[test]
    fn long_names_and_links_within_the_limits_are_accepted_and_errors_stay_short() {
        let long = format!("{}/file", "d".repeat(300));
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"hi"[..]).unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "link", &long).unwrap();
        let bytes = b.into_inner().unwrap().finish().unwrap();
        let s = inspect(&bytes[..], &ArchiveLimits::default()).unwrap();
        assert_eq!(s.files[0].path, long);
        // Over the path limit: refused, and the message shows a bounded part.
        let limits = ArchiveLimits {
            max_path_bytes: 100,
            ..ArchiveLimits::default()
        };
        let err = inspect(&bytes[..], &limits).unwrap_err().to_string();
        assert!(err.contains("too long") && err.len() < 300, "{err}");
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
