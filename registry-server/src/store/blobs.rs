//! The content-addressed blob store: artifacts at
//! `DIR/blobs/sha256/<first 2 hex>/<64 hex>`.
//!
//! A blob is written to a temporary file in `DIR/tmp`, hashed as it streams
//! through, fsynced, renamed into place and its directory fsynced, so a blob
//! path either does not exist or holds the complete bytes of its digest (until
//! someone edits the disk: whoever relies on stored bytes, publish, mirroring
//! and every client, hashes them again). An interrupted upload leaves at most
//! a temporary file, which the next start removes.
//!
//! Small blobs once lived in a sled tree, to spare each publish a file
//! creation and two fsyncs; sled's memory then grew with the data held in it
//! beyond its cache cap (59 MiB resident after 5,000 publishes and a
//! 10,000-package fill, against 31 MiB with files), so every blob is a file
//! (`docs/performance.md`).

use shire_core::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary};
use shire_core::digest::HashingWriter;
use shire_core::Digest;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// The blob store under a data directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
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

impl BlobStore {
    /// Opens the store under `data_dir`, creating its folders and clearing
    /// leftovers of interrupted uploads.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
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
        Ok(Self { root, tmp })
    }

    /// Where the blob for `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Whether the blob is stored.
    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens the stored blob, if it exists.
    fn open_blob(&self, digest: &Digest) -> io::Result<Option<File>> {
        match File::open(self.path(digest)) {
            Ok(f) => Ok(Some(f)),
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
        let file = self
            .open_blob(digest)?
            .ok_or(InspectError::NotFound(*digest))?;
        let mut reader = HashingReader {
            inner: io::BufReader::new(file),
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

    /// Moves the blobs an older node kept in sled (`tree`, keyed by the
    /// 32-byte digest) into files, each checked against its digest and made
    /// durable before the tree is emptied, so a crash midway only repeats
    /// the move. A value that does not hash to its key is dropped with an
    /// error in the log: no client would accept it. Returns how many moved.
    pub fn move_inline_blobs(&self, tree: &sled::Tree) -> io::Result<usize> {
        let mut moved = 0;
        for item in tree.iter() {
            let (key, bytes) = item.map_err(io::Error::other)?;
            let Ok(raw) = <[u8; 32]>::try_from(key.as_ref()) else {
                tracing::error!(key = %hex::encode(&key), "dropping an inline blob: its key is not a digest");
                continue;
            };
            let digest = Digest::from_bytes(raw);
            let mut w = self.writer()?;
            w.write(&bytes)?;
            match w.finish(&digest) {
                Ok(_) => moved += 1,
                Err(BlobError::Mismatch { actual, .. }) => {
                    tracing::error!(%digest, %actual, "dropping an inline blob: its bytes do not hash to its digest");
                }
                Err(BlobError::Io(e)) => return Err(e),
            }
        }
        tree.clear().map_err(io::Error::other)?;
        tree.flush().map_err(io::Error::other)?;
        Ok(moved)
    }

    /// Starts an upload into a temporary file.
    pub fn writer(&self) -> io::Result<BlobWriter> {
        let tmp = NamedTempFile::new_in(&self.tmp)?;
        let file = tmp.reopen()?;
        Ok(BlobWriter {
            tmp,
            out: HashingWriter::new(file),
            root: self.root.clone(),
        })
    }
}

/// An upload in progress. Dropping it without [`BlobWriter::finish`] deletes the
/// temporary file.
pub struct BlobWriter {
    tmp: NamedTempFile,
    out: HashingWriter<File>,
    root: PathBuf,
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

    /// Checks the digest, makes the bytes durable and moves them into place.
    /// Returns the size and whether the blob was new. Blocking: call from a
    /// blocking task.
    pub fn finish(self, expected: &Digest) -> Result<(u64, bool), BlobError> {
        let (file, actual, size) = self.out.finish();
        if &actual != expected {
            return Err(BlobError::Mismatch {
                expected: *expected,
                actual,
            });
        }
        let hex = actual.hex();
        let dir = self.root.join(&hex[..2]);
        let dest = dir.join(&hex);
        if dest.is_file() {
            return Ok((size, false));
        }
        file.sync_all()?;
        drop(file);
        let new_dir = !dir.exists();
        fs::create_dir_all(&dir)?;
        self.tmp.persist(&dest).map_err(|e| e.error)?;
        sync_dir(&dir)?;
        if new_dir {
            sync_dir(&self.root)?;
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
    use shire_core::archive::testing::{build, Item};

    #[test]
    fn stores_by_digest_and_refuses_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let data = b"some artifact bytes";
        let d = Digest::of(data);

        let mut w = store.writer().unwrap();
        w.write(&data[..5]).unwrap();
        w.write(&data[5..]).unwrap();
        assert_eq!(w.finish(&d).unwrap(), (data.len() as u64, true));
        let p = store.path(&d);
        assert!(p.ends_with(format!("blobs/sha256/{}/{}", &d.hex()[..2], d.hex())));
        assert_eq!(fs::read(&p).unwrap(), data);

        let mut w = store.writer().unwrap();
        w.write(data).unwrap();
        assert_eq!(w.finish(&d).unwrap(), (data.len() as u64, false));

        let other = Digest::of(b"other");
        let mut w = store.writer().unwrap();
        w.write(data).unwrap();
        assert!(matches!(w.finish(&other), Err(BlobError::Mismatch { .. })));
        assert!(!store.exists(&other));
        assert!(store.open_blob(&other).unwrap().is_none());
        // Nothing left behind in tmp.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn blobs_an_older_node_kept_in_sled_become_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let sled_db = sled::Config::new().temporary(true).open().unwrap();
        let tree = sled_db.open_tree("inline_blobs").unwrap();
        let good = b"a small artifact".to_vec();
        let d = Digest::of(&good);
        tree.insert(d.as_bytes(), good.clone()).unwrap();
        // Altered bytes and a key that is no digest are dropped, not moved.
        let forged = Digest::of(b"what was signed");
        tree.insert(forged.as_bytes(), &b"something else"[..])
            .unwrap();
        tree.insert(b"short", &b"x"[..]).unwrap();
        assert_eq!(store.move_inline_blobs(&tree).unwrap(), 1);
        assert_eq!(fs::read(store.path(&d)).unwrap(), good);
        assert!(!store.exists(&forged));
        assert!(tree.is_empty());
        // Running it again (after a crash midway) moves nothing more.
        assert_eq!(store.move_inline_blobs(&tree).unwrap(), 0);
    }

    #[test]
    fn inspection_applies_the_archive_rules_and_rehashes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let limits = ArchiveLimits::default();
        let good = build(&[Item::File("a.txt", b"hello")]);
        let d = Digest::of(&good);
        let mut w = store.writer().unwrap();
        w.write(&good).unwrap();
        w.finish(&d).unwrap();
        let (size, summary) = store.inspect(&d, &limits).unwrap();
        assert_eq!((size, summary.files.len()), (good.len() as u64, 1));

        // Bytes altered on disk are refused, not inspected as they are now.
        let other = build(&[Item::File("b.txt", b"bye")]);
        fs::write(store.path(&d), &other).unwrap();
        assert!(matches!(
            store.inspect(&d, &limits),
            Err(InspectError::Altered { .. })
        ));
        // Not an archive at all.
        fs::write(store.path(&d), b"not gzip").unwrap();
        assert!(matches!(
            store.inspect(&d, &limits),
            Err(InspectError::Archive(_))
        ));
        let missing = Digest::of(b"never stored");
        assert!(matches!(
            store.inspect(&missing, &limits),
            Err(InspectError::NotFound(_))
        ));
    }
}
