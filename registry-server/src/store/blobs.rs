//! The content-addressed blob store, in two places by size.
//!
//! - **Small blobs** (at most [`INLINE_MAX`] bytes, the common case for a
//!   council's scripts and services) are values of the `inline_blobs` sled
//!   tree, keyed by the 32 digest bytes. They are written without a flush of
//!   their own: the release (or mirrored batch) that names a blob commits
//!   after it, and the group-commit flush that makes that release durable
//!   makes every earlier write durable too, the blob included. A crash before
//!   that flush loses the blob, but then no acknowledged release names it.
//!   This is what lets concurrent publishes share one flush instead of paying
//!   a file creation and two fsyncs each (`docs/performance.md`, finding 2).
//! - **Larger blobs** are files at `DIR/blobs/sha256/<first 2 hex>/<64 hex>`,
//!   written to a temporary file in `DIR/tmp`, hashed as they stream through,
//!   fsynced, renamed into place and their directory fsynced, so a blob path
//!   either does not exist or holds the complete bytes of its digest. An
//!   interrupted upload leaves at most a temporary file, which the next start
//!   removes.
//!
//! An upload starts in memory and moves to a temporary file the moment it
//! passes [`INLINE_MAX`], so no upload holds more than that in memory. Either
//! way a blob is only stored under the digest its bytes hash to; whoever
//! relies on stored bytes (publish, mirroring, every client) hashes them
//! again, because someone may have edited the disk.

use shire_core::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary};
use shire_core::digest::HashingWriter;
use shire_core::Digest;
use std::fs::{self, File};
use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Largest blob kept in the `inline_blobs` tree. Sled writes a node larger
/// than an eighth of its 512 KiB segments to a file of its own, so a leaf of
/// small values must stay well under that.
pub const INLINE_MAX: usize = 64 * 1024;

/// The blob store under a data directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inline: sled::Tree,
    root: PathBuf,
    tmp: PathBuf,
}

/// Why a finished upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The bytes hash to another digest than the one claimed.
    #[error("bytes hash to {actual}, not {expected}")]
    Mismatch {
        /// Claimed digest.
        expected: Digest,
        /// Digest of the bytes.
        actual: Digest,
    },
    /// Disk trouble.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Why a stored blob could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// No blob is stored under the digest.
    #[error("no artifact {0} is stored")]
    NotFound(Digest),
    /// The archive breaks a rule.
    #[error("the artifact breaks an archive rule: {0}")]
    Archive(#[from] ArchiveError),
    /// The stored bytes no longer hash to their digest: someone edited the disk.
    #[error(
        "the stored artifact {expected} no longer hashes to its digest (it hashes to {actual})"
    )]
    Altered {
        /// The digest it is stored under.
        expected: Digest,
        /// What its bytes hash to now.
        actual: Digest,
    },
    /// Disk trouble.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A stored blob, opened for reading.
pub enum Blob {
    /// A small blob's bytes, from the `inline_blobs` tree.
    Inline(Cursor<sled::IVec>),
    /// A larger blob's file.
    File(File),
}

impl Blob {
    /// The blob's size in bytes.
    pub fn size(&self) -> io::Result<u64> {
        match self {
            Blob::Inline(c) => Ok(c.get_ref().len() as u64),
            Blob::File(f) => Ok(f.metadata()?.len()),
        }
    }

    /// Whether the blob is small and already in memory: reading it never
    /// touches the disk, so it need not leave the async worker.
    pub fn is_inline(&self) -> bool {
        matches!(self, Blob::Inline(_))
    }

    /// Applies the archive rules to the blob and checks that its bytes still
    /// hash to `digest`, in one read. Returns its size and listing.
    pub fn inspect(
        self,
        digest: &Digest,
        limits: &ArchiveLimits,
    ) -> Result<(u64, ArchiveSummary), InspectError> {
        let mut reader = HashingReader {
            inner: io::BufReader::new(self),
            hashed: HashingWriter::new(io::sink()),
        };
        let summary = archive::inspect(&mut reader, limits)?;
        io::copy(&mut reader, &mut io::sink())?;
        let (_, actual, size) = reader.hashed.finish();
        if &actual != digest {
            return Err(InspectError::Altered {
                expected: *digest,
                actual,
            });
        }
        Ok((size, summary))
    }
}

impl Read for Blob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Blob::Inline(c) => c.read(buf),
            Blob::File(f) => f.read(buf),
        }
    }
}

impl BlobStore {
    /// Opens the store under `data_dir` with `inline` as the tree of small
    /// blobs, creating its folders and clearing leftovers of interrupted
    /// uploads.
    pub fn open(data_dir: &Path, inline: sled::Tree) -> io::Result<Self> {
        let root = data_dir.join("blobs").join("sha256");
        let tmp = data_dir.join("tmp");
        fs::create_dir_all(&root)?;
        if tmp.exists() {
            for entry in fs::read_dir(&tmp)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        fs::create_dir_all(&tmp)?;
        Ok(Self { inline, root, tmp })
    }

    /// Where a larger blob's file lives (whether or not it exists; small
    /// blobs are never there).
    pub fn file_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Whether the blob is stored.
    pub fn exists(&self, digest: &Digest) -> io::Result<bool> {
        Ok(self
            .inline
            .contains_key(digest.as_bytes())
            .map_err(io::Error::other)?
            || self.file_path(digest).is_file())
    }

    /// Opens the stored blob, if it exists.
    pub fn open_blob(&self, digest: &Digest) -> io::Result<Option<Blob>> {
        if let Some(bytes) = self
            .inline
            .get(digest.as_bytes())
            .map_err(io::Error::other)?
        {
            return Ok(Some(Blob::Inline(Cursor::new(bytes))));
        }
        match File::open(self.file_path(digest)) {
            Ok(f) => Ok(Some(Blob::File(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Applies the archive rules to a stored blob and checks that its bytes
    /// still hash to `digest`, in one read. Returns its size and listing.
    /// Blocking: call from a blocking task.
    pub fn inspect(
        &self,
        digest: &Digest,
        limits: &ArchiveLimits,
    ) -> Result<(u64, ArchiveSummary), InspectError> {
        let blob = self
            .open_blob(digest)?
            .ok_or(InspectError::NotFound(*digest))?;
        blob.inspect(digest, limits)
    }

    /// Starts an upload, in memory until it outgrows [`INLINE_MAX`].
    pub fn writer(&self) -> BlobWriter {
        BlobWriter {
            out: HashingWriter::new(SpillingSink {
                sink: Sink::Memory(Vec::new()),
                tmp_dir: self.tmp.clone(),
            }),
            store: self.clone(),
        }
    }
}

/// Where an upload's bytes go so far.
enum Sink {
    /// Still small enough to be inlined.
    Memory(Vec<u8>),
    /// Spilled to a temporary file.
    File { tmp: NamedTempFile, file: File },
}

impl Sink {
    /// Moves the buffered bytes to a temporary file in `dir`.
    fn spill(buf: &[u8], dir: &Path) -> io::Result<Sink> {
        let tmp = NamedTempFile::new_in(dir)?;
        let mut file = tmp.reopen()?;
        file.write_all(buf)?;
        Ok(Sink::File { tmp, file })
    }
}

/// An upload in progress. Dropping it without [`BlobWriter::finish`] stores
/// nothing (and deletes its temporary file, if it had one).
pub struct BlobWriter {
    out: HashingWriter<SpillingSink>,
    store: BlobStore,
}

/// A [`Sink`] that knows where to spill.
struct SpillingSink {
    sink: Sink,
    tmp_dir: PathBuf,
}

impl Write for SpillingSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Sink::Memory(buf) = &mut self.sink {
            if buf.len() + data.len() <= INLINE_MAX {
                buf.extend_from_slice(data);
                return Ok(data.len());
            }
            self.sink = Sink::spill(buf, &self.tmp_dir)?;
        }
        match &mut self.sink {
            Sink::File { file, .. } => file.write(data),
            Sink::Memory(buf) => {
                buf.extend_from_slice(data);
                Ok(data.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::File { file, .. } => file.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

impl BlobWriter {
    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.out.write_all(chunk)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.written()
    }

    /// Whether the upload is still small enough to be kept in sled: then
    /// [`BlobWriter::finish`] only hashes and inserts, without disk I/O of
    /// its own, and need not leave the async worker.
    pub fn is_inline(&self) -> bool {
        self.written() <= INLINE_MAX as u64
    }

    /// Checks the digest and stores the bytes: a small blob in the
    /// `inline_blobs` tree (durable with the next group-commit flush), a
    /// larger one made durable and moved into place. Returns the size and
    /// whether the blob was new. Blocking: call from a blocking task.
    pub fn finish(self, expected: &Digest) -> Result<(u64, bool), BlobError> {
        let (sink, actual, size) = self.out.finish();
        if &actual != expected {
            return Err(BlobError::Mismatch {
                expected: *expected,
                actual,
            });
        }
        let store = self.store;
        // A blob's size decides where it lives, so only that place is checked.
        match sink.sink {
            Sink::Memory(bytes) => {
                let key = actual.as_bytes();
                if store.inline.contains_key(key).map_err(io::Error::other)? {
                    return Ok((size, false));
                }
                store.inline.insert(key, bytes).map_err(io::Error::other)?;
            }
            Sink::File { tmp, file } => {
                let dest = store.file_path(&actual);
                if dest.is_file() {
                    return Ok((size, false));
                }
                file.sync_all()?;
                drop(file);
                let dir = dest.parent().unwrap_or(&store.root).to_path_buf();
                let new_dir = !dir.exists();
                fs::create_dir_all(&dir)?;
                tmp.persist(&dest).map_err(|e| e.error)?;
                sync_dir(&dir)?;
                if new_dir {
                    sync_dir(&store.root)?;
                }
            }
        }
        Ok((size, true))
    }
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hashed: HashingWriter<io::Sink>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hashed.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> BlobStore {
        let db = sled::Config::new().temporary(true).open().unwrap();
        BlobStore::open(dir, db.open_tree("inline_blobs").unwrap()).unwrap()
    }

    fn put(store: &BlobStore, data: &[u8], chunk: usize) -> Result<(u64, bool), BlobError> {
        let mut w = store.writer();
        for c in data.chunks(chunk) {
            w.write(c).unwrap();
        }
        assert_eq!(w.is_inline(), data.len() <= INLINE_MAX);
        w.finish(&Digest::of(data))
    }

    fn read(store: &BlobStore, d: &Digest) -> Vec<u8> {
        let mut out = Vec::new();
        let mut blob = store.open_blob(d).unwrap().unwrap();
        blob.read_to_end(&mut out).unwrap();
        assert_eq!(blob.size().unwrap(), out.len() as u64);
        out
    }

    #[test]
    fn small_blobs_are_inlined_and_large_ones_are_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let small = b"some artifact bytes".to_vec();
        let at_limit = vec![7u8; INLINE_MAX];
        let large: Vec<u8> = (0..INLINE_MAX + 1).map(|i| (i % 251) as u8).collect();
        for data in [&small, &at_limit, &large] {
            let d = Digest::of(data);
            assert!(!store.exists(&d).unwrap());
            assert_eq!(put(&store, data, 5000).unwrap(), (data.len() as u64, true));
            assert!(store.exists(&d).unwrap());
            assert_eq!(&read(&store, &d), data);
            let blob = store.open_blob(&d).unwrap().unwrap();
            assert_eq!(blob.is_inline(), data.len() <= INLINE_MAX);
            // Again: already stored.
            assert_eq!(put(&store, data, 999).unwrap(), (data.len() as u64, false));
            let is_file = store.file_path(&d).is_file();
            assert_eq!(is_file, data.len() > INLINE_MAX, "{} bytes", data.len());
        }
        let p = store.file_path(&Digest::of(&large));
        let hex = Digest::of(&large).hex();
        assert!(p.ends_with(format!("blobs/sha256/{}/{hex}", &hex[..2])));
        assert_eq!(store.inline.len(), 2);
        // Nothing left behind in tmp.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn mismatched_bytes_are_stored_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let other = Digest::of(b"other");
        for data in [b"small".to_vec(), vec![1u8; INLINE_MAX * 2]] {
            let mut w = store.writer();
            w.write(&data).unwrap();
            assert!(matches!(w.finish(&other), Err(BlobError::Mismatch { .. })));
            assert!(!store.exists(&other).unwrap());
            assert!(!store.exists(&Digest::of(&data)).unwrap());
        }
        assert!(store.open_blob(&other).unwrap().is_none());
        assert_eq!(store.inline.len(), 0);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
