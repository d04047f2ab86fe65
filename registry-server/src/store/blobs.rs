//! The content-addressed blob store. An artifact of at most
//! [`SMALL_BLOB`] bytes is appended to a pack file (`store::packs`); a larger
//! one gets a file of its own at `DIR/blobs/sha256/<first 2 hex>/<64 hex>`.
//!
//! Every upload is hashed as it streams in and refused unless it hashes to the
//! digest it claims. A small one is held in memory until it ends; a larger one
//! spills to a temporary file in `DIR/tmp`, which is fsynced, renamed into
//! place and its directory fsynced. Either way a stored blob is complete on
//! disk before it can be found (until someone edits the disk: whoever relies
//! on stored bytes, publish, mirroring and every client, hashes them again).
//! An interrupted upload leaves at most a temporary file, which the next start
//! removes.
//!
//! Small blobs once lived in a sled tree, to spare each publish a file
//! creation and two fsyncs; sled's memory then grew with the data held in it
//! beyond its cache cap (59 MiB resident after 5,000 publishes and a
//! 10,000-package fill, against 31 MiB with files). Pack files spare the same
//! costs and keep the bytes out of sled (`docs/performance.md`).
//!
//! On the shared backend the artifacts are in object storage
//! (`super::objects`) and the data folder keeps copies of those uploaded or
//! served here (checked against their digest as they arrive): a small upload
//! in a pack, as on the embedded backend, anything else in a file of its own. A copy is
//! served without asking the bucket: a taken-down artifact is refused by its
//! tombstone in the shared database before any read, and `erase` removes the
//! bucket's object and this process's copy (every process erases its own
//! copies of tombstoned artifacts at start). Whether an artifact is stored
//! (`exists`) is the bucket's answer alone.
//!
//! A shared node's copies are a cache, bounded by `[storage] copies_mib`
//! ([`BlobStore::keeping_copies_within`]): past the bound the oldest
//! written go, whole closed packs and files alike, down to nine tenths of
//! it. A copy wanted again is fetched from the bucket again, and opened
//! before it counts against the bound; one dropped by another request
//! between its fetch and its opening is fetched again (three tries, then
//! an error: the bound is too small for the load).

use super::objects::Objects;
pub use super::packs::SMALL_BLOB;
use super::packs::{sync_dir, Packs, Section};
use shire_core::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary};
use shire_core::digest::HashingWriter;
use shire_core::Digest;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::NamedTempFile;

/// How long a redirected download's signed URL stays valid.
pub const REDIRECT_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// The blob store under a data directory.
#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
    packs: Arc<Packs>,
    /// The shared backend's bucket (`None`: embedded, the folder is all).
    objects: Option<Arc<Objects>>,
    /// The bound on a shared node's copies (`None`: none, or embedded).
    bound: Option<Arc<CopyBound>>,
}

/// How many bytes of copies a shared node keeps, and how many it holds.
struct CopyBound {
    /// Bytes kept at most.
    max: u64,
    /// Bytes held: as last counted, plus what was copied since.
    held: AtomicU64,
    /// One trim at a time; others carry on without waiting.
    trimming: Mutex<()>,
}

/// One copy a trim may drop: a closed pack, or a file of its own.
enum KeptCopy {
    Pack(u32),
    File(PathBuf),
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
    /// Opens the store under `data_dir`, creating its folders, clearing
    /// leftovers of interrupted uploads and indexing the packs.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let blobs = data_dir.join("blobs");
        let root = blobs.join("sha256");
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
        let packs = Arc::new(Packs::open(&blobs)?);
        Ok(Self {
            root,
            tmp,
            packs,
            objects: None,
            bound: None,
        })
    }

    /// Keeps this shared node's copies within `max` bytes (see the module
    /// comment), trimming what the folder holds past it now.
    pub fn keeping_copies_within(mut self, max: u64) -> io::Result<Self> {
        if self.objects.is_none() {
            return Ok(self);
        }
        // A shared process started on an embedded node's folder (instead of
        // on `migrate`'s): its packs may be the only copy of its artifacts.
        if let Some(data_dir) = self.tmp.parent() {
            if data_dir.join("db").exists() {
                tracing::warn!(
                    folder = %data_dir.display(),
                    "this data folder holds an embedded node's database: its artifact \
                     copies are kept whole, whatever copies_mib says"
                );
                return Ok(self);
            }
        }
        self.bound = Some(Arc::new(CopyBound {
            max,
            held: AtomicU64::new(0),
            trimming: Mutex::new(()),
        }));
        self.trim_copies()?;
        Ok(self)
    }

    /// Counts `bytes` of a new copy against the bound, and trims the copies
    /// when they are past it. A failed trim is logged: the copy is served.
    fn copied(&self, bytes: u64) {
        let Some(bound) = &self.bound else { return };
        let held = bound.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if held > bound.max {
            if let Err(e) = self.trim_copies() {
                tracing::warn!(error = %e, "trimming this process's artifact copies");
            }
        }
    }

    /// Drops the oldest copies (closed packs and own files, by when they
    /// were last written) until they hold at most nine tenths of the bound;
    /// the pack being appended to stays. Recounts what is held. Blocking.
    fn trim_copies(&self) -> io::Result<()> {
        let Some(bound) = &self.bound else {
            return Ok(());
        };
        let Ok(_one) = bound.trimming.try_lock() else {
            return Ok(());
        };
        // Copies made while this trim counts are added to its count at the end.
        let counted_from = bound.held.load(Ordering::Relaxed);
        let mut copies: Vec<(std::time::SystemTime, u64, KeptCopy)> = self
            .packs
            .closed()?
            .into_iter()
            .map(|(no, len, at)| (at, len, KeptCopy::Pack(no)))
            .collect();
        for dir in fs::read_dir(&self.root)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(dir.path())? {
                let file = file?;
                let meta = match file.metadata() {
                    Ok(meta) => meta,
                    // Erased by a takedown since the listing.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if meta.is_file() {
                    copies.push((meta.modified()?, meta.len(), KeptCopy::File(file.path())));
                }
            }
        }
        let mut held = self.packs.current_len() + copies.iter().map(|c| c.1).sum::<u64>();
        let target = bound.max / 10 * 9;
        copies.sort_by_key(|c| c.0);
        let (mut dropped, mut freed) = (0usize, 0u64);
        for (_, len, copy) in copies {
            if held <= target {
                break;
            }
            let gone = match copy {
                KeptCopy::Pack(no) => self.packs.drop_closed(no)?,
                KeptCopy::File(path) => match fs::remove_file(&path) {
                    Ok(()) => len,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
                    Err(e) => return Err(e),
                },
            };
            held -= len.min(held);
            freed += gone;
            dropped += 1;
        }
        if dropped > 0 {
            tracing::info!(
                dropped,
                freed,
                held,
                max = bound.max,
                "dropped the oldest artifact copies"
            );
        }
        // What was copied since the count began stays counted.
        let _ = bound
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(held + now.saturating_sub(counted_from))
            });
        Ok(())
    }

    /// Opens the store of a shared node: the artifacts are in `objects`,
    /// and `data_dir` keeps copies of the ones served.
    pub fn open_shared(data_dir: &Path, objects: Objects) -> io::Result<Self> {
        let mut store = Self::open(data_dir)?;
        store.objects = Some(Arc::new(objects));
        Ok(store)
    }

    /// Where the blob for `digest` lives when it has a file of its own
    /// (whether or not it exists; small blobs are packed instead).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Whether the blob is stored.
    pub fn exists(&self, digest: &Digest) -> io::Result<bool> {
        if let Some(objects) = &self.objects {
            return objects.exists(digest);
        }
        Ok(self.packs.locate(digest)?.is_some() || self.path(digest).is_file())
    }

    /// Whether any bytes of the blob are kept where this process can reach
    /// them: [`BlobStore::exists`], or on a shared node also this process's
    /// own copy (which a takedown by another process leaves behind until
    /// [`BlobStore::erase`] here).
    pub fn held_anywhere(&self, digest: &Digest) -> io::Result<bool> {
        let own_copy = self.objects.is_some()
            && (self.packs.locate(digest)?.is_some() || self.path(digest).is_file());
        Ok(own_copy || self.exists(digest)?)
    }

    /// Where the blob's bytes are on disk: the file holding them, the offset
    /// of the first byte and the length (for operators' tools and tests).
    pub fn location(&self, digest: &Digest) -> io::Result<Option<(PathBuf, u64, u64)>> {
        if let Some(loc) = self.packs.locate(digest)? {
            return Ok(Some((self.packs.path(loc.pack), loc.offset, loc.len)));
        }
        let path = self.path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(Some((path, 0, m.len()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Erases the blob's bytes for good, however it is stored (a takedown);
    /// whether there were any. Blocking: call from a blocking task.
    pub fn erase(&self, digest: &Digest) -> io::Result<bool> {
        let in_bucket = match &self.objects {
            Some(objects) => objects.delete(digest)?,
            None => false,
        };
        let packed = self.packs.erase(digest)? > 0;
        let path = self.path(digest);
        let own_file = match fs::remove_file(&path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    sync_dir(dir)?;
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        Ok(in_bucket || packed || own_file)
    }

    /// Where a client should fetch the blob instead of from this node: a URL
    /// the bucket signed, on a shared node that redirects downloads and holds
    /// it (`None`: stream it from [`BlobStore::read`]). Blocking.
    pub fn redirect(&self, digest: &Digest) -> io::Result<Option<String>> {
        match &self.objects {
            Some(objects) if objects.redirects() => {
                if !objects.exists(digest)? {
                    return Ok(None);
                }
                objects.signed_url(digest, REDIRECT_FOR)
            }
            _ => Ok(None),
        }
    }

    /// Opens the stored blob for reading, if it exists: its bytes, however
    /// it is stored. Blocking: call from a blocking task.
    pub fn read(&self, digest: &Digest) -> io::Result<Option<Section>> {
        let Some(objects) = &self.objects else {
            return self.read_here(digest);
        };
        if let Some(section) = self.read_here(digest)? {
            return Ok(Some(section));
        }
        // A fetched copy is opened before it counts against the bound, so a
        // trim it sets off (even of this copy) leaves this read whole. One
        // trimmed by another request before it was opened is fetched again.
        for _ in 0..3 {
            let path = self.path(digest);
            if !objects.fetch(digest, &self.tmp, &path)? {
                return Ok(None);
            }
            let section = self.read_here(digest)?;
            self.copied(section.as_ref().map_or(0, Section::remaining));
            if section.is_some() {
                return Ok(section);
            }
        }
        Err(io::Error::other(format!(
            "the copy of {digest} was dropped as soon as it was fetched, three times: \
             [storage] copies_mib is too small for the load"
        )))
    }

    /// The blob's bytes in this folder, if they are here. On a shared node
    /// a pack dropped since the lookup (its copies trimmed) counts as absent.
    fn read_here(&self, digest: &Digest) -> io::Result<Option<Section>> {
        if let Some(loc) = self.packs.locate(digest)? {
            match self.packs.read(loc) {
                Ok(section) => return Ok(Some(section)),
                Err(e) if e.kind() == io::ErrorKind::NotFound && self.objects.is_some() => {}
                Err(e) => return Err(e),
            }
        }
        match File::open(self.path(digest)) {
            Ok(f) => {
                let len = f.metadata()?.len();
                Ok(Some(Section::new(Arc::new(f), 0, len)))
            }
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
        let blob = self.read(digest)?.ok_or(InspectError::NotFound(*digest))?;
        let mut reader = HashingReader {
            inner: io::BufReader::new(blob),
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

    /// Every stored blob's bytes: the files under `DIR/blobs` by path, or on
    /// the shared backend the bucket's objects by key (for tests that show a
    /// refused request stored nothing). Blocking.
    pub fn dump(&self) -> io::Result<std::collections::BTreeMap<String, Vec<u8>>> {
        if let Some(objects) = &self.objects {
            return objects.dump();
        }
        let mut out = std::collections::BTreeMap::new();
        let mut dirs = vec![self.root.parent().unwrap_or(&self.root).to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    dirs.push(entry.path());
                } else {
                    out.insert(entry.path().display().to_string(), fs::read(entry.path())?);
                }
            }
        }
        Ok(out)
    }

    /// Starts an upload (in memory until it outgrows [`SMALL_BLOB`]).
    pub fn writer(&self) -> io::Result<BlobWriter> {
        Ok(BlobWriter {
            out: HashingWriter::new(Spill {
                tmp_dir: self.tmp.clone(),
                state: SpillState::Memory(Vec::new()),
            }),
            store: self.clone(),
        })
    }
}

/// Where an upload's bytes go: memory while small, then a temporary file.
struct Spill {
    tmp_dir: PathBuf,
    state: SpillState,
}

enum SpillState {
    Memory(Vec<u8>),
    File(NamedTempFile, File),
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let SpillState::Memory(held) = &mut self.state {
            if held.len() + buf.len() <= SMALL_BLOB {
                held.extend_from_slice(buf);
                return Ok(buf.len());
            }
            let tmp = NamedTempFile::new_in(&self.tmp_dir)?;
            let mut file = tmp.reopen()?;
            file.write_all(held)?;
            self.state = SpillState::File(tmp, file);
        }
        match &mut self.state {
            SpillState::File(_, file) => file.write(buf),
            SpillState::Memory(_) => Err(io::Error::other("upload buffer state")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            SpillState::File(_, file) => file.flush(),
            SpillState::Memory(_) => Ok(()),
        }
    }
}

/// An upload in progress. Dropping it without [`BlobWriter::finish`] stores
/// nothing (and deletes its temporary file, if it made one).
pub struct BlobWriter {
    out: HashingWriter<Spill>,
    store: BlobStore,
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

    /// Checks the digest, makes the bytes durable and puts them in place.
    /// Returns the size and whether the blob was new. Blocking: call from a
    /// blocking task.
    pub fn finish(self, expected: &Digest) -> Result<(u64, bool), BlobError> {
        let store = self.store.clone();
        if let Some(objects) = store.objects.clone() {
            return store.finish_shared(&objects, self, expected);
        }
        match self.checked(expected)? {
            (size, Checked::Held) => Ok((size, false)),
            (size, Checked::Small(held)) => Ok((size, store.packs.add(expected, &held)?)),
            (size, Checked::Large(tmp, file)) => store.place(expected, size, tmp, file),
        }
    }

    /// [`BlobWriter::finish`] for async callers: a small blob waits for its
    /// pack's sync without holding a thread; a large one is fsynced and
    /// renamed on the blocking pool.
    pub async fn finish_async(self, expected: &Digest) -> Result<(u64, bool), BlobError> {
        let store = self.store.clone();
        if store.objects.is_some() {
            let expected = *expected;
            return tokio::task::spawn_blocking(move || self.finish(&expected))
                .await
                .map_err(io::Error::other)?;
        }
        match self.checked(expected)? {
            (size, Checked::Held) => Ok((size, false)),
            (size, Checked::Small(held)) => {
                Ok((size, store.packs.add_async(expected, &held).await?))
            }
            (size, Checked::Large(tmp, file)) => {
                let expected = *expected;
                tokio::task::spawn_blocking(move || store.place(&expected, size, tmp, file))
                    .await
                    .map_err(io::Error::other)?
            }
        }
    }

    /// Checks the digest and whether the blob is already stored in a file of
    /// its own (a small one, by a node from before the packs). Whether it is
    /// packed, `Packs::add` checks: a large blob never is.
    fn checked(self, expected: &Digest) -> Result<(u64, Checked), BlobError> {
        let (spill, actual, size) = self.out.finish();
        if &actual != expected {
            return Err(BlobError::Mismatch {
                expected: *expected,
                actual,
            });
        }
        if self.store.path(expected).is_file() {
            return Ok((size, Checked::Held));
        }
        Ok(match spill.state {
            SpillState::Memory(held) => (size, Checked::Small(held)),
            SpillState::File(tmp, file) => (size, Checked::Large(tmp, file)),
        })
    }
}

/// A finished upload whose digest matched.
enum Checked {
    /// Already stored.
    Held,
    /// Small: its bytes, for a pack.
    Small(Vec<u8>),
    /// Large: its temporary file.
    Large(NamedTempFile, File),
}

impl BlobStore {
    /// Finishes an upload of a shared node: checks the digest, then stores
    /// the bytes in the bucket unless it holds them already. A large one's
    /// temporary file is kept as this process's copy. Blocking.
    fn finish_shared(
        &self,
        objects: &Objects,
        writer: BlobWriter,
        expected: &Digest,
    ) -> Result<(u64, bool), BlobError> {
        let (spill, actual, size) = writer.out.finish();
        if &actual != expected {
            return Err(BlobError::Mismatch {
                expected: *expected,
                actual,
            });
        }
        match spill.state {
            SpillState::Memory(held) => {
                let new = objects.put_bytes(expected, held.clone())?;
                // This process's copy goes to a pack, as an embedded node's
                // artifact does: a file per upload cost more CPU than the
                // rest of the upload (`store::packs`). Only once the bucket
                // holds the bytes, and without waiting for a sync: the
                // bucket's copy is the durable one.
                if self.packs.add_copy(expected, &held)? {
                    self.copied(size);
                }
                return Ok((size, new));
            }
            SpillState::File(_, _) if objects.exists(expected)? => return Ok((size, false)),
            SpillState::File(tmp, file) => {
                file.sync_all()?;
                objects.put_file(expected, tmp.path())?;
                if !self.path(expected).is_file() {
                    self.place(expected, size, tmp, file)?;
                    self.copied(size);
                }
            }
        }
        Ok((size, true))
    }

    /// Makes a large upload's temporary file durable and renames it into
    /// place. Blocking.
    fn place(
        &self,
        expected: &Digest,
        size: u64,
        tmp: NamedTempFile,
        file: File,
    ) -> Result<(u64, bool), BlobError> {
        let dest = self.path(expected);
        let dir = dest
            .parent()
            .ok_or_else(|| io::Error::other("a blob path has no folder"))?
            .to_path_buf();
        file.sync_all()?;
        drop(file);
        let new_dir = !dir.exists();
        fs::create_dir_all(&dir)?;
        tmp.persist(&dest).map_err(|e| e.error)?;
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

impl<R: io::Read> io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hashed.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::archive::testing::{build, noise, Item};
    use std::io::Read as _;
    use std::os::unix::fs::FileExt as _;

    fn store(dir: &Path) -> BlobStore {
        BlobStore::open(dir).unwrap()
    }

    fn put(store: &BlobStore, data: &[u8]) -> (u64, bool) {
        let mut w = store.writer().unwrap();
        for part in data.chunks(64 * 1024) {
            w.write(part).unwrap();
        }
        w.finish(&Digest::of(data)).unwrap()
    }

    fn read_back(store: &BlobStore, d: &Digest) -> Vec<u8> {
        let mut out = Vec::new();
        store
            .read(d)
            .unwrap()
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// `len` bytes of noise that differ for each `i`.
    fn distinct(len: usize, i: u32) -> Vec<u8> {
        let mut b = noise(len);
        b[..4].copy_from_slice(&i.to_be_bytes());
        b
    }

    /// Bytes of copies in a shared node's folder: packs and own files.
    fn local_bytes(dir: &Path) -> u64 {
        let mut total = 0;
        let mut dirs = vec![dir.join("blobs")];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    dirs.push(e.path());
                } else {
                    total += e.metadata().unwrap().len();
                }
            }
        }
        total
    }

    #[test]
    fn a_shared_nodes_copies_stay_within_their_bound_and_dropped_ones_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = tempfile::tempdir().unwrap();
        let node = dir.path().join("node");
        let url = format!("file://{}", bucket.path().display());
        let objects = Objects::open(&url, &Default::default()).unwrap();
        const MAX: u64 = 300_000;
        let mut store = BlobStore::open_shared(&node, objects)
            .unwrap()
            .keeping_copies_within(MAX)
            .unwrap();
        store.packs = Arc::new(
            Packs::open(&node.join("blobs"))
                .unwrap()
                .with_pack_max(100_000),
        );
        let mut blobs: Vec<Vec<u8>> = (0..30u32).map(|i| distinct(20_000, i)).collect();
        blobs.insert(10, distinct(SMALL_BLOB + 1_000, 100));
        blobs.insert(25, distinct(SMALL_BLOB + 2_000, 101));
        for b in &blobs {
            assert_eq!(put(&store, b), (b.len() as u64, true));
            assert!(
                local_bytes(&node) <= MAX,
                "{} bytes held",
                local_bytes(&node)
            );
        }
        // The oldest were dropped, the newest kept.
        assert!(store.location(&Digest::of(&blobs[0])).unwrap().is_none());
        let last = blobs.last().unwrap();
        assert!(store.location(&Digest::of(last)).unwrap().is_some());
        // Every artifact reads back whole: dropped ones from the bucket,
        // which holds them all, and the bound holds throughout.
        for b in blobs.iter().chain(blobs.iter().rev()) {
            assert_eq!(&read_back(&store, &Digest::of(b)), b);
            assert!(store.exists(&Digest::of(b)).unwrap());
            assert!(
                local_bytes(&node) <= MAX,
                "{} bytes held",
                local_bytes(&node)
            );
        }
        // An embedded node's packs are its artifacts: never trimmed, even
        // when a bound is asked for, or when a shared process is started on
        // an embedded node's folder.
        let embedded_dir = dir.path().join("embedded");
        let mut embedded = BlobStore::open(&embedded_dir).unwrap();
        embedded.packs = Arc::new(
            Packs::open(&embedded_dir.join("blobs"))
                .unwrap()
                .with_pack_max(100_000),
        );
        for b in &blobs {
            put(&embedded, b);
        }
        assert!(embedded.packs.closed().unwrap().len() > 2);
        let embedded = embedded.keeping_copies_within(1).unwrap();
        put(&embedded, &distinct(20_000, 1_000));
        for b in &blobs {
            assert_eq!(&read_back(&embedded, &Digest::of(b)), b);
        }
        drop(embedded);
        fs::create_dir_all(embedded_dir.join("db")).unwrap();
        let url = format!("file://{}", bucket.path().display());
        let shared = BlobStore::open_shared(
            &embedded_dir,
            Objects::open(&url, &Default::default()).unwrap(),
        )
        .unwrap()
        .keeping_copies_within(1)
        .unwrap();
        for b in &blobs {
            assert!(shared.location(&Digest::of(b)).unwrap().is_some());
        }
    }

    #[test]
    fn small_blobs_are_packed_large_ones_get_files_and_mismatches_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let small = b"some artifact bytes".to_vec();
        let large: Vec<u8> = (0..SMALL_BLOB + 1).map(|i| (i % 251) as u8).collect();
        for data in [&small, &large] {
            let d = Digest::of(data);
            assert!(!store.exists(&d).unwrap());
            assert_eq!(put(&store, data), (data.len() as u64, true));
            assert!(store.exists(&d).unwrap());
            assert_eq!(&read_back(&store, &d), data);
            assert_eq!(put(&store, data), (data.len() as u64, false));
        }
        assert!(!store.path(&Digest::of(&small)).exists(), "small: packed");
        let p = store.path(&Digest::of(&large));
        let d = Digest::of(&large);
        assert!(p.ends_with(format!("blobs/sha256/{}/{}", &d.hex()[..2], d.hex())));
        assert_eq!(fs::read(&p).unwrap(), large);

        for data in [&small, &large] {
            let other = Digest::of(b"other");
            let mut w = store.writer().unwrap();
            w.write(data).unwrap();
            assert!(matches!(w.finish(&other), Err(BlobError::Mismatch { .. })));
            assert!(!store.exists(&other).unwrap());
            assert!(store.read(&other).unwrap().is_none());
        }
        // Nothing left behind in tmp.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn inspection_applies_the_archive_rules_and_rehashes_packed_and_file_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let limits = ArchiveLimits::default();
        let small = build(&[Item::File("a.txt", b"hello")]);
        // Incompressible bytes, so the archive outgrows SMALL_BLOB.
        let noise = noise(SMALL_BLOB * 2);
        let large = build(&[Item::File("big.bin", &noise)]);
        assert!(
            large.len() > SMALL_BLOB,
            "the large archive must not be packed"
        );
        for good in [&small, &large] {
            let d = Digest::of(good);
            put(&store, good);
            let (size, summary) = store.inspect(&d, &limits).unwrap();
            assert_eq!((size, summary.files.len()), (good.len() as u64, 1));
        }

        // Bytes altered on disk are refused, not inspected as they are now:
        // in a pack...
        let d = Digest::of(&small);
        let loc = store.packs.locate(&d).unwrap().unwrap();
        let pack = fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("blobs/packs/00000001.pack"))
            .unwrap();
        let other = build(&[Item::File("b.txt", b"bye")]);
        let mut forged = other.clone();
        forged.resize(small.len(), 0);
        pack.write_all_at(&forged, loc.offset).unwrap();
        assert!(matches!(
            store.inspect(&d, &limits),
            Err(InspectError::Altered { .. }) | Err(InspectError::Archive(_))
        ));
        pack.write_all_at(&vec![b'x'; small.len()], loc.offset)
            .unwrap();
        assert!(matches!(
            store.inspect(&d, &limits),
            Err(InspectError::Archive(_))
        ));
        // ...and in a file of its own.
        let d = Digest::of(&large);
        fs::write(store.path(&d), &other).unwrap();
        assert!(matches!(
            store.inspect(&d, &limits),
            Err(InspectError::Altered { .. })
        ));
        let missing = Digest::of(b"never stored");
        assert!(matches!(
            store.inspect(&missing, &limits),
            Err(InspectError::NotFound(_))
        ));
    }
}
