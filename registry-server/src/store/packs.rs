//! Small artifacts appended to pack files: `DIR/blobs/packs/<8 digits>.pack`,
//! found through an index in memory that is rebuilt from the packs at every
//! start.
//!
//! Why: creating a file per artifact costs a new inode, a rename and two
//! fsyncs (the file and its folder). On ext4 without a journal, which is what
//! these machines run, the inode allocator also skips every inode freed in
//! the last minute (six if its block is still dirty), reading each one's
//! block to check: after a large folder is deleted, creating a file costs
//! about 1 ms of system CPU instead of 50-70 µs (`docs/performance.md`). Most
//! council artifacts are small; appending them to one open file and sharing
//! one `fdatasync` between the uploads that arrive together spares all of
//! that.
//!
//! **Records describe themselves**: [`MAGIC`], the length, the digest, then
//! the bytes. The packs are therefore their own index, and nothing about a
//! packed artifact is written to the database: an upload is acknowledged once
//! its record is synced. An index in sled was tried first; it cost a database
//! write per upload, and resident memory grew by as much as a map from whole
//! digests (3.6 MiB after the benchmark's 32,000 uploads). This index keys
//! each record by the first 8 bytes of its digest, 12 bytes of location
//! each, and checks the whole digest against the record's header on every
//! lookup; a digest whose first 8 bytes another one already holds (which
//! takes some 2^32 hashes to arrange on purpose) is kept whole, in a side
//! map.
//!
//! **At start** every pack is read header by header. Packs before the last
//! were synced whole before the next one began. In the last pack each record
//! is also re-hashed (at most [`PACK_MAX`] bytes), and the first one that is
//! torn or does not hash to its digest ends it: a sync covers every byte
//! appended before it, so nothing after a torn record was ever acknowledged
//! (but copies, [`Packs::add_copy`], which their bucket gives again), and
//! the pack is cut back to it.
//!
//! **Durability order:** a record enters the index only once it is synced,
//! so no reader ever sees bytes a crash could take back. The exception is a
//! copy of bytes held durably elsewhere ([`Packs::add_copy`]: a shared node's
//! copy of what its bucket holds), which a crash may take back and the bucket
//! gives again. Whoever relies on stored bytes (publish, mirroring, every
//! client) hashes them again anyway.

use shire_core::Digest;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Artifacts up to this size go to a pack; larger ones get a file of their own
/// (they are rare, and a file lets a download stream them).
pub const SMALL_BLOB: usize = 256 * 1024;

/// A pack is closed, and the next one started, once it holds this much. Small
/// enough that re-hashing the last pack at start takes a fraction of a second.
pub const PACK_MAX: u64 = 64 << 20;

// Offsets within a pack are kept in 32 bits.
const _: () = assert!(PACK_MAX + SMALL_BLOB as u64 <= u32::MAX as u64);

/// The first bytes of every record.
pub const MAGIC: [u8; 4] = *b"SHP1";

/// The first bytes of a record whose artifact was taken down: its bytes are
/// zeros, and nothing indexes it again.
pub const ERASED: [u8; 4] = *b"SHP0";

/// Record header: [`MAGIC`], the length (8 bytes, big-endian), the digest.
const HEADER: u64 = 4 + 8 + 32;

/// Where a packed artifact lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Pack number.
    pub pack: u32,
    /// Offset of the artifact's first byte in the pack (after its header).
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// A [`Location`] in 12 bytes (offsets fit: see [`PACK_MAX`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    pack: u32,
    offset: u32,
    len: u32,
}

impl Slot {
    fn of(loc: Location) -> Slot {
        // Both fit by construction: a record starts below PACK_MAX and holds
        // at most SMALL_BLOB bytes.
        Slot {
            pack: loc.pack,
            offset: loc.offset as u32,
            len: loc.len as u32,
        }
    }

    fn location(self) -> Location {
        Location {
            pack: self.pack,
            offset: u64::from(self.offset),
            len: u64::from(self.len),
        }
    }
}

/// The first 8 bytes of a digest, the index's key.
fn prefix(digest: &Digest) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(p)
}

/// Which record holds which digest.
#[derive(Default)]
struct Index {
    /// Digest prefix → record; the record's header holds the whole digest.
    by_prefix: HashMap<u64, Slot>,
    /// Records whose prefix a record of another digest already holds.
    whole: HashMap<Digest, Slot>,
    /// Read handles of every pack, for the header checks and for reads.
    files: HashMap<u32, Arc<File>>,
}

impl Index {
    /// The digest in the header of the record at `slot`.
    fn digest_at(&self, slot: Slot) -> io::Result<Option<Digest>> {
        let Some(file) = self.files.get(&slot.pack) else {
            return Ok(None);
        };
        let mut d = [0u8; 32];
        let at = u64::from(slot.offset)
            .checked_sub(32)
            .ok_or_else(|| io::Error::other("a pack index slot points into a header"))?;
        file.read_exact_at(&mut d, at)?;
        Ok(Some(Digest::from_bytes(d)))
    }

    fn find(&self, digest: &Digest) -> io::Result<Option<Slot>> {
        if let Some(slot) = self.whole.get(digest) {
            return Ok(Some(*slot));
        }
        match self.by_prefix.get(&prefix(digest)) {
            Some(&slot) if self.digest_at(slot)?.as_ref() == Some(digest) => Ok(Some(slot)),
            _ => Ok(None),
        }
    }

    fn insert(&mut self, digest: &Digest, slot: Slot) -> io::Result<()> {
        match self.by_prefix.get(&prefix(digest)) {
            None => {
                self.by_prefix.insert(prefix(digest), slot);
            }
            Some(&held) if self.digest_at(held)?.as_ref() == Some(digest) => {} // a copy
            Some(_) => {
                self.whole.insert(*digest, slot);
            }
        }
        Ok(())
    }
}

/// The pack being appended to.
struct Current {
    no: u32,
    file: Arc<File>,
    len: u64,
    /// A sync of this pack failed: the next append starts a new pack, so
    /// that no acknowledged record ever follows bytes a failed sync may have
    /// lost (at start, the last pack is read only up to its first bad record).
    broken: bool,
    /// Records appended and not yet indexed: an upload of the same bytes
    /// meanwhile waits for that record instead of appending a second copy.
    in_flight: HashMap<Digest, Location>,
}

/// A position in the packs: pack number, then offset. Ordered that way, so
/// a record ending at `(pack, end)` is on disk once the synced position is at
/// least that.
type Position = (u32, u64);

/// What the syncer has done, as waiters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    /// Every byte before this position is on disk, except what `lost` says.
    synced: Position,
    /// For each pack a sync of which failed, the offset from which its bytes
    /// may not be on disk. Nothing from there on in that pack is ever counted
    /// stored, whatever a later sync reports: Linux may report success for a
    /// file whose earlier write-back failed, and a later pack's sync says
    /// nothing of it. One entry per failed pack (appends then go to a new
    /// one), so the list stays as short as the failures.
    lost: Arc<Vec<Position>>,
}

impl Progress {
    /// Records that a sync of pack `no` failed.
    fn lose(&mut self, no: u32) {
        if self.lost.iter().any(|&(pack, _)| pack == no) {
            return;
        }
        // What a sync of this pack covered before stays on disk; a pack never
        // synced since it began holds nothing that was.
        let from = if self.synced.0 == no {
            self.synced.1
        } else {
            0
        };
        Arc::make_mut(&mut self.lost).push((no, from));
    }
}

/// The syncer's queue: how far waiters need the packs on disk.
struct SyncState {
    wanted: Position,
    progress: Progress,
    stop: bool,
}

/// What the packs and their syncer thread share.
struct Shared {
    current: Mutex<Current>,
    state: Mutex<SyncState>,
    /// Wakes the syncer.
    work: Condvar,
    /// Wakes blocking waiters after each sync.
    done: Condvar,
    /// Tells async waiters after each sync.
    progress: tokio::sync::watch::Sender<Progress>,
}

/// The pack files of a data folder and their index.
///
/// One thread, the syncer, runs every `fdatasync` of the packs: a waiter
/// asks for its record's end and sleeps; the syncer syncs everything
/// appended so far and wakes them all, so the uploads that arrive during one
/// sync share the next. Async callers ([`Packs::add_async`]) wait without
/// holding a thread.
pub struct Packs {
    dir: PathBuf,
    pack_max: u64,
    index: RwLock<Index>,
    shared: Arc<Shared>,
    syncer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Packs {
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.work.notify_one();
        if let Some(handle) = lock(&self.syncer).take() {
            let _ = handle.join();
        }
    }
}

/// After a failed sync, wait this long before the next try.
const RETRY_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_millis(100);

/// The syncer thread: syncs whenever a waiter wants more on disk than is,
/// until told to stop.
fn run_syncer(shared: Arc<Shared>) {
    let mut last_failed = false;
    loop {
        let mut st = lock(&shared.state);
        while st.wanted <= st.progress.synced && !st.stop {
            st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        // Stopping, and nobody waits; or the disk fails and nobody will
        // retry: the waiters were told, and a stop must not hang on it.
        if st.wanted <= st.progress.synced || (st.stop && last_failed) {
            return;
        }
        drop(st);
        let (no, file, len) = {
            let cur = lock(&shared.current);
            (cur.no, cur.file.clone(), cur.len)
        };
        // Packs before `no` were synced when the next one began.
        let result = file.sync_data();
        let mut st = lock(&shared.state);
        match &result {
            Ok(()) => st.progress.synced = st.progress.synced.max((no, len)),
            Err(e) => {
                st.progress.lose(no);
                tracing::error!(error = %e, pack = no, "syncing a pack failed; appends go to a new pack");
                let mut cur = lock(&shared.current);
                if cur.no == no {
                    cur.broken = true;
                }
            }
        }
        let progress = st.progress.clone();
        drop(st);
        shared.done.notify_all();
        shared.progress.send_replace(progress);
        last_failed = result.is_err();
        if last_failed {
            std::thread::sleep(RETRY_AFTER_FAILURE);
        }
    }
}

fn pack_name(no: u32) -> String {
    format!("{no:08}.pack")
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    // A panic while holding these locks leaves consistent state (offsets are
    // only advanced after a write succeeded), so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_lock<X>(m: &RwLock<X>) -> RwLockReadGuard<'_, X> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<X>(m: &RwLock<X>) -> RwLockWriteGuard<'_, X> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Makes a folder's entries durable (after a file in it was created or renamed).
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn open_for_append(dir: &Path, no: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(pack_name(no)))
}

/// The numbers of the pack files in `dir`, in order.
fn pack_numbers(dir: &Path) -> io::Result<Vec<u32>> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(no) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".pack"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            numbers.push(no);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Reads the record at `offset` of pack `no` (`file`, of length `file_len`):
/// its digest and location, or `None` when no whole record starts there (or,
/// with `rehash`, when its bytes do not hash to its digest).
fn read_record(
    file: &File,
    no: u32,
    offset: u64,
    file_len: u64,
    rehash: bool,
) -> io::Result<Option<(Digest, bool, Location)>> {
    if file_len.saturating_sub(offset) < HEADER {
        return Ok(None);
    }
    let mut head = [0u8; HEADER as usize];
    file.read_exact_at(&mut head, offset)?;
    let erased = head[..4] == ERASED;
    if head[..4] != MAGIC && !erased {
        return Ok(None);
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&head[4..12]);
    let len = u64::from_be_bytes(len_bytes);
    let mut digest_bytes = [0u8; 32];
    digest_bytes.copy_from_slice(&head[12..]);
    let digest = Digest::from_bytes(digest_bytes);
    let start = offset + HEADER;
    if len > SMALL_BLOB as u64 || file_len.saturating_sub(start) < len {
        return Ok(None);
    }
    if rehash && !erased {
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(&mut bytes, start)?;
        if Digest::of(&bytes) != digest {
            return Ok(None);
        }
    }
    Ok(Some((
        digest,
        erased,
        Location {
            pack: no,
            offset: start,
            len,
        },
    )))
}

/// Zeroes the bytes of the erased record at `loc` in `path` unless they are
/// zeros already (only erased records are read here: they are rare).
fn zero_erased(path: &Path, loc: Location) -> io::Result<()> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut bytes = vec![0u8; loc.len as usize];
    file.read_exact_at(&mut bytes, loc.offset)?;
    if bytes.iter().any(|&b| b != 0) {
        tracing::warn!(path = %path.display(), offset = loc.offset, "zeroing an erased record an interrupted takedown left");
        file.write_all_at(&vec![0u8; loc.len as usize], loc.offset)?;
        file.sync_data()?;
    }
    Ok(())
}

/// Whether the wait for the record at `loc` is over: an error once its bytes
/// may be lost to a failed sync, `Ok` once a sync covered them.
fn outcome(loc: Location, p: &Progress) -> Option<io::Result<()>> {
    let end = loc.offset + loc.len;
    // Loss first: after a failure, a later sync of a new pack (or a false
    // success of this one) covers this position without these bytes.
    if p.lost
        .iter()
        .any(|&(pack, from)| pack == loc.pack && end > from)
    {
        Some(Err(io::Error::other(
            "syncing the pack failed: the artifact is not stored",
        )))
    } else if p.synced >= (loc.pack, end) {
        Some(Ok(()))
    } else {
        None
    }
}

impl Packs {
    /// Opens the packs under `blobs_dir/packs`, creating the folder and the
    /// first pack if needed, and rebuilds the index from them (see the module
    /// comment); appends to the highest-numbered pack.
    pub fn open(blobs_dir: &Path) -> io::Result<Packs> {
        let dir = blobs_dir.join("packs");
        fs::create_dir_all(&dir)?;
        let mut numbers = pack_numbers(&dir)?;
        let no = numbers.last().copied().unwrap_or(1);
        let file = open_for_append(&dir, no)?;
        if numbers.is_empty() {
            sync_dir(&dir)?;
            numbers.push(no);
        }
        let mut index = Index::default();
        let mut len = 0;
        for &pack in &numbers {
            let last = pack == no;
            let f = if last {
                file.try_clone()?
            } else {
                File::open(dir.join(pack_name(pack)))?
            };
            index.files.insert(pack, Arc::new(f.try_clone()?));
            let f_len = f.metadata()?.len();
            let mut at = 0;
            while let Some((digest, erased, loc)) = read_record(&f, pack, at, f_len, last)? {
                if erased {
                    // An erasure stopped after its header: finish zeroing.
                    zero_erased(&dir.join(pack_name(pack)), loc)?;
                } else {
                    index.insert(&digest, Slot::of(loc))?;
                }
                at = loc.offset + loc.len;
            }
            if last && at == f_len {
                // What a node killed before its last sync left in the page
                // cache is read back as if stored: put it on disk before the
                // syncer counts it synced.
                f.sync_data()?;
            }
            if at < f_len {
                if last {
                    // A torn tail: nothing in it was acknowledged.
                    tracing::warn!(pack, at, len = f_len, "cutting a torn record off the pack");
                    f.set_len(at)?;
                    f.sync_all()?;
                } else {
                    tracing::error!(
                        pack,
                        at,
                        "a closed pack holds bytes that are not a whole record after this offset"
                    );
                }
            }
            if last {
                len = at;
            }
        }
        let progress = Progress {
            synced: (no, len),
            lost: Arc::default(),
        };
        let shared = Arc::new(Shared {
            current: Mutex::new(Current {
                no,
                file: Arc::new(file),
                len,
                broken: false,
                in_flight: HashMap::new(),
            }),
            state: Mutex::new(SyncState {
                wanted: (no, len),
                progress: progress.clone(),
                stop: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            progress: tokio::sync::watch::Sender::new(progress),
        });
        let syncer = std::thread::Builder::new()
            .name("shire-pack-sync".into())
            .spawn({
                let shared = shared.clone();
                move || run_syncer(shared)
            })?;
        Ok(Packs {
            index: RwLock::new(index),
            shared,
            syncer: Mutex::new(Some(syncer)),
            dir,
            pack_max: PACK_MAX,
        })
    }

    /// These packs, closing each at `max` bytes instead of [`PACK_MAX`]
    /// (tests that need many packs).
    #[cfg(test)]
    pub fn with_pack_max(mut self, max: u64) -> Packs {
        self.pack_max = max;
        self
    }

    /// Erases every packed copy of `digest` for good: its bytes become
    /// zeros and its record is marked [`ERASED`], synced, and out of the
    /// index. Walks every pack's headers (a takedown is rare). Returns how
    /// many records were erased. Blocking: call from a blocking task.
    pub fn erase(&self, digest: &Digest) -> io::Result<usize> {
        let mut index = write_lock(&self.index);
        let mut erased = 0;
        for pack in pack_numbers(&self.dir)? {
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.path(pack))
            {
                Ok(file) => file,
                // A shared node's pack of copies, dropped (out of the index
                // first, its file unlinked after) since the listing.
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound && !index.files.contains_key(&pack) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            let len = file.metadata()?.len();
            let mut at = 0;
            let mut changed = false;
            while let Some((found, _, loc)) = read_record(&file, pack, at, len, false)? {
                if found == *digest {
                    // The header first: a record marked erased is never
                    // re-hashed at start, so a crash before its zeros are on
                    // disk cannot cut the pack there (and the start
                    // finishes the zeroing). Zeros under an intact header
                    // would fail the re-hash and cut every record after it.
                    file.write_all_at(&ERASED, loc.offset - HEADER)?;
                    file.sync_data()?;
                    file.write_all_at(&vec![0u8; loc.len as usize], loc.offset)?;
                    changed = true;
                    erased += 1;
                }
                at = loc.offset + loc.len;
            }
            if changed {
                file.sync_data()?;
            }
        }
        index.whole.remove(digest);
        if let Some(&slot) = index.by_prefix.get(&prefix(digest)) {
            // The header now reads ERASED, but still names the digest.
            if index.digest_at(slot)?.as_ref() == Some(digest) {
                index.by_prefix.remove(&prefix(digest));
            }
        }
        Ok(erased)
    }

    /// Where the artifact is packed, if it is.
    pub fn locate(&self, digest: &Digest) -> io::Result<Option<Location>> {
        Ok(read_lock(&self.index).find(digest)?.map(Slot::location))
    }

    /// How many artifacts are packed.
    pub fn len(&self) -> usize {
        let index = read_lock(&self.index);
        index.by_prefix.len() + index.whole.len()
    }

    /// Whether no artifact is packed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pack but the one being appended to: its number, its size in
    /// bytes and when it was last written.
    pub fn closed(&self) -> io::Result<Vec<(u32, u64, std::time::SystemTime)>> {
        let current = lock(&self.shared.current).no;
        let mut out = Vec::new();
        for no in pack_numbers(&self.dir)? {
            if no == current {
                continue;
            }
            match fs::metadata(self.path(no)) {
                Ok(m) => out.push((no, m.len(), m.modified()?)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The size of the pack being appended to.
    pub fn current_len(&self) -> u64 {
        lock(&self.shared.current).len
    }

    /// Forgets closed pack `no` and deletes its file: for a shared node's
    /// copies only, whose bytes the bucket holds (an embedded node's packs
    /// are its artifacts). The pack being appended to is never dropped.
    /// Sections opened before keep reading it (the file stays open).
    /// Returns the bytes freed.
    pub fn drop_closed(&self, no: u32) -> io::Result<u64> {
        // Pack numbers only grow: a closed pack stays closed.
        if no >= lock(&self.shared.current).no {
            return Ok(0);
        }
        {
            let mut index = write_lock(&self.index);
            index.by_prefix.retain(|_, slot| slot.pack != no);
            index.whole.retain(|_, slot| slot.pack != no);
            index.files.remove(&no);
        }
        // Unlinked with no lock held; a reader that found a record before
        // keeps reading the file it opened.
        let path = self.path(no);
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        fs::remove_file(&path)?;
        Ok(len)
    }

    /// The file of pack number `no`.
    pub fn path(&self, no: u32) -> PathBuf {
        self.dir.join(pack_name(no))
    }

    /// Opens the bytes at `loc` for reading.
    pub fn read(&self, loc: Location) -> io::Result<Section> {
        let file = read_lock(&self.index).files.get(&loc.pack).cloned();
        let file = match file {
            Some(f) => f,
            None => Arc::new(File::open(self.path(loc.pack))?),
        };
        Ok(Section::new(file, loc.offset, loc.len))
    }

    /// Stores `bytes` (already checked to hash to `digest`, at most
    /// [`SMALL_BLOB`]): appends their record, waits until it is on disk (one
    /// sync shared with the appends made meanwhile), then indexes it. Returns
    /// whether they were new. Blocking: call from a blocking task.
    pub fn add(&self, digest: &Digest, bytes: &[u8]) -> io::Result<bool> {
        if self.held_already(digest, bytes)? {
            return Ok(false);
        }
        let record = self.append(digest, bytes)?;
        let loc = record.loc;
        self.want(loc);
        let mut st = lock(&self.shared.state);
        let done = loop {
            if let Some(done) = outcome(loc, &st.progress) {
                break done;
            }
            st = self.shared.done.wait(st).unwrap_or_else(|p| p.into_inner());
        };
        drop(st);
        self.settle(record, done)
    }

    /// Stores a copy of `bytes` that another store already holds durably
    /// (a shared node's bucket): appends the record and indexes it at once,
    /// without waiting for a sync. A crash may take the copy back (the start
    /// cuts the last pack at its first torn record); the bytes are then
    /// fetched from that other store again when wanted. Returns whether they
    /// were new. Blocking: call from a blocking task.
    pub fn add_copy(&self, digest: &Digest, bytes: &[u8]) -> io::Result<bool> {
        if self.held_already(digest, bytes)? {
            return Ok(false);
        }
        let record = self.append(digest, bytes)?;
        self.settle(record, Ok(()))
    }

    /// Whether `digest` is packed already; refuses `bytes` too large for a
    /// pack. What every add asks first.
    fn held_already(&self, digest: &Digest, bytes: &[u8]) -> io::Result<bool> {
        if bytes.len() > SMALL_BLOB {
            return Err(io::Error::other("an artifact too large for a pack"));
        }
        Ok(self.locate(digest)?.is_some())
    }

    /// Indexes a record once its sync succeeded (whoever waited on it does:
    /// the appender, or an upload of the same bytes, in case the appender
    /// was cancelled meanwhile), and lets the next upload of the same bytes
    /// append again if it failed. Returns whether this call appended it.
    fn settle(&self, record: Appended<'_>, done: io::Result<()>) -> io::Result<bool> {
        done?;
        let mut index = write_lock(&self.index);
        // A copy's pack may have been closed and dropped (`drop_closed`)
        // since the append: nothing to index then.
        if index.files.contains_key(&record.loc.pack) {
            index.insert(&record.digest, Slot::of(record.loc))?;
        }
        Ok(record.new)
    }

    /// [`Packs::add`] for async callers: the append is a write to the page
    /// cache, done in place; the wait for the sync holds no thread. (When
    /// the append closes a full pack, that pack's final sync runs in place,
    /// once every [`PACK_MAX`] bytes.)
    pub async fn add_async(&self, digest: &Digest, bytes: &[u8]) -> io::Result<bool> {
        if self.held_already(digest, bytes)? {
            return Ok(false);
        }
        let mut progress = self.shared.progress.subscribe();
        let record = self.append(digest, bytes)?;
        let loc = record.loc;
        self.want(loc);
        let done = match progress.wait_for(|p| outcome(loc, p).is_some()).await {
            Ok(seen) => outcome(loc, &seen)
                .unwrap_or_else(|| Err(io::Error::other("the pack syncer has stopped"))),
            Err(_) => Err(io::Error::other("the pack syncer has stopped")),
        };
        self.settle(record, done)
    }

    /// Asks the syncer to put everything up to the end of `loc` on disk.
    fn want(&self, loc: Location) {
        let end = (loc.pack, loc.offset + loc.len);
        let mut st = lock(&self.shared.state);
        st.wanted = st.wanted.max(end);
        drop(st);
        self.shared.work.notify_one();
    }

    /// Appends the record; returns where its bytes are, and whether this
    /// call appended them (not if a concurrent upload of the same bytes did,
    /// whether or not its record is indexed yet).
    fn append(&self, digest: &Digest, bytes: &[u8]) -> io::Result<Appended<'_>> {
        let mut header = [0u8; HEADER as usize];
        header[..4].copy_from_slice(&MAGIC);
        header[4..12].copy_from_slice(&(bytes.len() as u64).to_be_bytes());
        header[12..].copy_from_slice(digest.as_bytes());
        let record_len = HEADER + bytes.len() as u64;
        let mut cur = lock(&self.shared.current);
        let held = match cur.in_flight.get(digest) {
            Some(loc) => Some(*loc),
            // Indexed (and out of flight) since this upload looked.
            None => read_lock(&self.index).find(digest)?.map(Slot::location),
        };
        if let Some(loc) = held {
            return Ok(Appended::held(self, *digest, loc));
        }
        if cur.broken || (cur.len > 0 && cur.len + record_len > self.pack_max) {
            // Close this pack for good before anyone writes to the next one,
            // so a sync of the next pack covers every earlier pack too (a
            // broken pack is not synced again: its waiters were told).
            if !cur.broken {
                cur.file.sync_data()?;
            }
            let next = cur.no + 1;
            let file = Arc::new(open_for_append(&self.dir, next)?);
            sync_dir(&self.dir)?;
            write_lock(&self.index).files.insert(next, file.clone());
            cur.no = next;
            cur.file = file;
            cur.len = 0;
            cur.broken = false;
        }
        // Written under the lock: a sync that reads `len` must find every
        // byte below it written. Two writes, so that no buffer the size of
        // the artifact is allocated again on this (blocking) thread.
        cur.file.write_all_at(&header, cur.len)?;
        cur.file.write_all_at(bytes, cur.len + HEADER)?;
        let loc = Location {
            pack: cur.no,
            offset: cur.len + HEADER,
            len: bytes.len() as u64,
        };
        cur.len += record_len;
        cur.in_flight.insert(*digest, loc);
        Ok(Appended {
            packs: self,
            digest: *digest,
            loc,
            new: true,
        })
    }
}

/// A record appended (or found held) by one upload. The appender's takes the
/// record out of flight when dropped: after it is indexed, or when its upload
/// is cancelled while it waits for the sync (a dropped future), so an entry
/// never outlives its appender.
struct Appended<'a> {
    packs: &'a Packs,
    digest: Digest,
    loc: Location,
    /// This upload appended the record (and owns its in-flight entry).
    new: bool,
}

impl<'a> Appended<'a> {
    /// A record another upload appended.
    fn held(packs: &'a Packs, digest: Digest, loc: Location) -> Appended<'a> {
        Appended {
            packs,
            digest,
            loc,
            new: false,
        }
    }
}

impl Drop for Appended<'_> {
    fn drop(&mut self) {
        if self.new {
            let mut cur = lock(&self.packs.shared.current);
            if cur.in_flight.get(&self.digest) == Some(&self.loc) {
                cur.in_flight.remove(&self.digest);
            }
        }
    }
}

/// A byte range of a file, read with positioned reads (so several readers can
/// share nothing and need no seeking).
pub struct Section {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Section {
    /// `len` bytes of `file` from `offset`.
    pub fn new(file: Arc<File>, offset: u64, len: u64) -> Section {
        Section {
            file,
            pos: offset,
            end: offset.saturating_add(len),
        }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stored artifact is shorter than its index says",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packs(dir: &Path) -> Packs {
        Packs::open(&dir.join("blobs")).unwrap()
    }

    fn read(p: &Packs, d: &Digest) -> Vec<u8> {
        let loc = p.locate(d).unwrap().expect("indexed");
        let mut out = Vec::new();
        p.read(loc).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    fn pack_file(dir: &Path, no: u32) -> PathBuf {
        dir.join("blobs/packs").join(pack_name(no))
    }

    #[test]
    fn an_erased_record_is_gone_for_good_and_a_cut_short_erasure_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let blobs: Vec<Vec<u8>> = (0..3u8).map(|i| vec![b'a' + i; 3000]).collect();
        let digests: Vec<Digest> = blobs.iter().map(|b| Digest::of(b)).collect();
        {
            let p = packs(dir.path());
            for (d, b) in digests.iter().zip(&blobs) {
                p.add(d, b).unwrap();
            }
            assert_eq!(p.erase(&digests[1]).unwrap(), 1);
            assert!(p.locate(&digests[1]).unwrap().is_none());
            assert_eq!(read(&p, &digests[2]), blobs[2]);
        }
        let on_disk = std::fs::read(pack_file(dir.path(), 1)).unwrap();
        assert!(!on_disk.windows(64).any(|w| w == &blobs[1][..64]));
        // Reopened (the last pack is re-hashed): the others are all there,
        // the erased one is not indexed again.
        let p = packs(dir.path());
        assert!(p.locate(&digests[1]).unwrap().is_none());
        assert_eq!(read(&p, &digests[0]), blobs[0]);
        assert_eq!(read(&p, &digests[2]), blobs[2]);
        drop(p);

        // A crash after the header was marked but before the zeros: the
        // next open finishes the zeroing and keeps every other record.
        let mut bytes = std::fs::read(pack_file(dir.path(), 1)).unwrap();
        let c = bytes
            .windows(64)
            .position(|w| w == &blobs[2][..64])
            .unwrap();
        bytes[c - HEADER as usize..c - HEADER as usize + 4].copy_from_slice(&ERASED);
        std::fs::write(pack_file(dir.path(), 1), &bytes).unwrap();
        let p = packs(dir.path());
        assert!(p.locate(&digests[2]).unwrap().is_none());
        assert_eq!(read(&p, &digests[0]), blobs[0]);
        let on_disk = std::fs::read(pack_file(dir.path(), 1)).unwrap();
        assert!(!on_disk.windows(64).any(|w| w == &blobs[2][..64]));
    }

    #[test]
    fn a_copy_is_readable_at_once_and_a_torn_copy_is_cut_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![3u8; 4000];
        let b = vec![9u8; 6000];
        let (da, db) = (Digest::of(&a), Digest::of(&b));
        {
            let p = packs(dir.path());
            assert!(p.add_copy(&da, &a).unwrap());
            assert!(!p.add_copy(&da, &a).unwrap(), "already held");
            assert!(p.add_copy(&db, &b).unwrap());
            assert_eq!(read(&p, &da), a);
            assert_eq!(read(&p, &db), b);
        }
        // A crash that kept the first copy whole and tore the second: the
        // first is found again, the second is gone (its bucket gives it).
        let file = pack_file(dir.path(), 1);
        let len = std::fs::metadata(&file).unwrap().len();
        let torn = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        torn.set_len(len - 100).unwrap();
        drop(torn);
        let p = packs(dir.path());
        assert_eq!(read(&p, &da), a);
        assert_eq!(p.locate(&db).unwrap(), None);
        assert!(p.add_copy(&db, &b).unwrap(), "stored again");
        assert_eq!(read(&p, &db), b);
    }

    #[test]
    fn appended_blobs_read_back_exactly_and_are_found_again_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = b"first artifact".to_vec();
        let b = vec![7u8; 5000];
        let (da, db) = (Digest::of(&a), Digest::of(&b));
        {
            let p = packs(dir.path());
            assert!(p.add(&da, &a).unwrap());
            assert!(p.add(&db, &b).unwrap());
            assert!(!p.add(&da, &a).unwrap(), "already packed");
            assert_eq!(read(&p, &da), a);
            assert_eq!(read(&p, &db), b);
            assert_eq!(p.locate(&Digest::of(b"never")).unwrap(), None);
        }
        // Nothing but the pack says where they are.
        let p = packs(dir.path());
        assert_eq!(p.len(), 2);
        assert_eq!(read(&p, &da), a);
        assert_eq!(read(&p, &db), b);
        let c = b"after the reopen".to_vec();
        let dc = Digest::of(&c);
        p.add(&dc, &c).unwrap();
        let end = (a.len() + b.len()) as u64 + 2 * HEADER;
        assert_eq!(
            p.locate(&dc).unwrap().unwrap().offset,
            end + HEADER,
            "appends after the old end"
        );
        assert_eq!(read(&p, &dc), c);
    }

    #[test]
    fn a_section_never_reads_past_its_end_or_hides_a_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let mut s = Section::new(Arc::new(File::open(&path).unwrap()), 2, 5);
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"23456");
        // A location past the end of the file (a pack cut short by hand) is
        // an error, not a short artifact.
        let mut s = Section::new(Arc::new(File::open(&path).unwrap()), 8, 5);
        let err = s.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn concurrent_adds_all_land_and_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let p = Arc::new(packs(dir.path()));
        let blobs: Vec<Vec<u8>> = (0..64u32).map(|i| i.to_be_bytes().repeat(300)).collect();
        std::thread::scope(|s| {
            for chunk in blobs.chunks(8) {
                let p = p.clone();
                s.spawn(move || {
                    for b in chunk {
                        p.add(&Digest::of(b), b).unwrap();
                    }
                });
            }
        });
        for b in &blobs {
            assert_eq!(&read(&p, &Digest::of(b)), b);
        }
        let total: u64 = blobs.iter().map(|b| b.len() as u64 + HEADER).sum();
        assert_eq!(fs::metadata(pack_file(dir.path(), 1)).unwrap().len(), total);
    }

    #[test]
    fn concurrent_uploads_of_one_blob_store_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = Arc::new(packs(dir.path()));
        let bytes = b"the same small artifact".repeat(100);
        let d = Digest::of(&bytes);
        let new = std::sync::atomic::AtomicUsize::new(0);
        // Many rounds, each a race of eight uploads of other bytes.
        for round in 0..20u32 {
            let bytes = [&bytes[..], &round.to_be_bytes()].concat();
            let d = Digest::of(&bytes);
            std::thread::scope(|s| {
                for _ in 0..8 {
                    let (p, bytes, new) = (p.clone(), &bytes, &new);
                    s.spawn(move || {
                        if p.add(&d, bytes).unwrap() {
                            new.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    });
                }
            });
            assert_eq!(&read(&p, &d), &bytes);
        }
        assert_eq!(new.into_inner(), 20, "one upload of each stored it");
        let one = (bytes.len() as u64 + 4 + HEADER) * 20;
        assert_eq!(fs::metadata(pack_file(dir.path(), 1)).unwrap().len(), one);
        assert!(p.locate(&d).unwrap().is_none());
    }

    #[test]
    fn a_dropped_pack_loses_only_its_own_records_and_the_current_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = packs(dir.path());
        p.pack_max = 2 * (HEADER + 40) + 10;
        let blobs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 40]).collect();
        for b in &blobs {
            p.add_copy(&Digest::of(b), b).unwrap();
        }
        let closed: Vec<(u32, u64)> = p.closed().unwrap().iter().map(|c| (c.0, c.1)).collect();
        assert_eq!(closed, [(1, 2 * (HEADER + 40)), (2, 2 * (HEADER + 40))]);
        assert_eq!(p.current_len(), HEADER + 40);
        // A reader that opened a record before the drop reads it whole.
        let open = p
            .read(p.locate(&Digest::of(&blobs[0])).unwrap().unwrap())
            .unwrap();
        assert_eq!(p.drop_closed(1).unwrap(), 2 * (HEADER + 40));
        assert!(!pack_file(dir.path(), 1).exists());
        let mut out = Vec::new();
        let mut open = open;
        open.read_to_end(&mut out).unwrap();
        assert_eq!(out, blobs[0]);
        for (i, b) in blobs.iter().enumerate() {
            assert_eq!(
                p.locate(&Digest::of(b)).unwrap().is_some(),
                i >= 2,
                "blob {i}"
            );
        }
        // A location found before the drop and read after it: not found.
        let gone = Location {
            pack: 2,
            offset: HEADER,
            len: 40,
        };
        let before = p.read(gone).unwrap();
        assert_eq!(p.drop_closed(2).unwrap(), 2 * (HEADER + 40));
        assert_eq!(
            before.remaining(),
            40,
            "a section opened before still reads"
        );
        let err = p.read(gone).err().expect("a dropped pack");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // A takedown after a drop still erases what the other packs hold.
        assert_eq!(p.erase(&Digest::of(&blobs[4])).unwrap(), 1);
        assert!(p.locate(&Digest::of(&blobs[4])).unwrap().is_none());
        // The pack being appended to is never dropped, nor any after it.
        assert_eq!(p.drop_closed(3).unwrap(), 0);
        assert_eq!(p.drop_closed(4).unwrap(), 0);
        assert!(pack_file(dir.path(), 3).exists());
        // A dropped record can be copied in again; a reopen agrees.
        p.add_copy(&Digest::of(&blobs[0]), &blobs[0]).unwrap();
        assert_eq!(p.locate(&Digest::of(&blobs[0])).unwrap().unwrap().pack, 3);
        drop(p);
        let p = packs(dir.path());
        for (i, b) in blobs.iter().enumerate() {
            assert_eq!(
                p.locate(&Digest::of(b)).unwrap().is_some(),
                i == 0,
                "blob {i}"
            );
        }
        assert_eq!(&read(&p, &Digest::of(&blobs[0])), &blobs[0]);
        // A takedown skips a pack dropped between its listing and its
        // opening (a name left without a file), and no other missing pack.
        std::os::unix::fs::symlink(dir.path().join("nowhere"), pack_file(dir.path(), 1)).unwrap();
        assert_eq!(p.erase(&Digest::of(&blobs[3])).unwrap(), 0);
        fs::remove_file(pack_file(dir.path(), 3)).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), pack_file(dir.path(), 3)).unwrap();
        assert!(
            p.erase(&Digest::of(&blobs[0])).is_err(),
            "a pack the index holds is missing"
        );
    }

    #[test]
    fn a_copy_whose_pack_was_dropped_before_it_settled_is_not_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let p = packs(dir.path()).with_pack_max(2 * (HEADER + 40) + 10);
        let (a, b, c) = (vec![1u8; 40], vec![2u8; 40], vec![3u8; 40]);
        let record = p.append(&Digest::of(&a), &a).unwrap();
        p.add_copy(&Digest::of(&b), &b).unwrap();
        p.add_copy(&Digest::of(&c), &c).unwrap();
        assert_eq!(p.locate(&Digest::of(&c)).unwrap().unwrap().pack, 2);
        assert!(p.drop_closed(1).unwrap() > 0);
        assert!(p.settle(record, Ok(())).unwrap());
        assert_eq!(p.len(), 1, "only the copy in pack 2 is indexed");
        assert!(p.locate(&Digest::of(&a)).unwrap().is_none());
    }

    #[test]
    fn a_full_pack_is_closed_and_the_next_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = packs(dir.path());
        p.pack_max = 2 * (HEADER + 40) + 10;
        let blobs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 40]).collect();
        for b in &blobs {
            p.add(&Digest::of(b), b).unwrap();
        }
        let numbers: Vec<u32> = blobs
            .iter()
            .map(|b| p.locate(&Digest::of(b)).unwrap().unwrap().pack)
            .collect();
        assert_eq!(numbers, [1, 1, 2, 2, 3]);
        for b in &blobs {
            assert_eq!(&read(&p, &Digest::of(b)), b);
        }
        // A reopen finds the records of every pack and appends to the highest.
        drop(p);
        let p = packs(dir.path());
        for b in &blobs {
            assert_eq!(&read(&p, &Digest::of(b)), b);
        }
        let c = vec![9u8; 10];
        p.add(&Digest::of(&c), &c).unwrap();
        let loc = p.locate(&Digest::of(&c)).unwrap().unwrap();
        assert_eq!((loc.pack, loc.offset), (3, 2 * HEADER + 40));
    }

    #[test]
    fn a_torn_or_altered_tail_is_cut_off_and_never_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let good = vec![1u8; 300];
        let (torn, altered) = (vec![2u8; 300], vec![3u8; 300]);
        let (dg, dt, da) = (Digest::of(&good), Digest::of(&torn), Digest::of(&altered));
        let cut = HEADER + 300;
        {
            let p = packs(dir.path());
            p.add(&dg, &good).unwrap();
            p.add(&da, &altered).unwrap();
        }
        // The attack: the stored bytes of the second record are changed.
        let f = OpenOptions::new()
            .write(true)
            .open(pack_file(dir.path(), 1))
            .unwrap();
        f.write_all_at(b"evil", cut + HEADER + 10).unwrap();
        // Then a third record torn halfway by a crash.
        let mut record = MAGIC.to_vec();
        record.extend_from_slice(&300u64.to_be_bytes());
        record.extend_from_slice(dt.as_bytes());
        record.extend_from_slice(&torn[..120]);
        let len = f.metadata().unwrap().len();
        f.write_all_at(&record, len).unwrap();

        let p = packs(dir.path());
        assert_eq!(read(&p, &dg), good);
        assert_eq!(
            p.locate(&da).unwrap(),
            None,
            "altered bytes are not indexed"
        );
        assert_eq!(p.locate(&dt).unwrap(), None, "a torn record is not indexed");
        assert_eq!(fs::metadata(pack_file(dir.path(), 1)).unwrap().len(), cut);
        // The next upload goes where the torn tail was, and reads back whole.
        assert!(p.add(&dt, &torn).unwrap());
        assert_eq!(p.locate(&dt).unwrap().unwrap().offset, cut + HEADER);
        assert_eq!(read(&p, &dt), torn);
    }

    #[test]
    fn a_closed_pack_is_trusted_by_its_headers_and_never_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = packs(dir.path());
        p.pack_max = HEADER + 50;
        let (a, b) = (vec![1u8; 50], vec![2u8; 50]);
        p.add(&Digest::of(&a), &a).unwrap();
        p.add(&Digest::of(&b), &b).unwrap();
        drop(p);
        // Garbage after the only record of the closed pack 1.
        let f = OpenOptions::new()
            .write(true)
            .open(pack_file(dir.path(), 1))
            .unwrap();
        f.write_all_at(b"garbage", HEADER + 50).unwrap();
        let p = packs(dir.path());
        assert_eq!(read(&p, &Digest::of(&a)), a);
        assert_eq!(read(&p, &Digest::of(&b)), b);
        assert_eq!(
            fs::metadata(pack_file(dir.path(), 1)).unwrap().len(),
            HEADER + 50 + 7,
            "only the last pack is ever cut"
        );
    }

    #[test]
    fn an_upload_dropped_while_it_waits_leaves_nothing_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let p = packs(dir.path());
        let a = b"cancelled upload".to_vec();
        let d = Digest::of(&a);
        // What a cancelled `add_async` leaves: its record appended, then
        // dropped before the sync it waited for.
        drop(p.append(&d, &a).unwrap());
        assert!(lock(&p.shared.current).in_flight.is_empty());
        assert!(p.add(&d, &a).unwrap(), "stored again, not left waiting");
        assert_eq!(read(&p, &d), a);
        assert!(!p.add(&d, &a).unwrap(), "held");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_waiter_indexes_the_record_its_cancelled_appender_left() {
        let dir = tempfile::tempdir().unwrap();
        let p = packs(dir.path());
        let a = b"two uploads of one artifact".to_vec();
        let d = Digest::of(&a);
        let first = p.append(&d, &a).unwrap();
        let second = p.append(&d, &a).unwrap();
        assert!(
            first.new && !second.new,
            "the second waits on the first's record"
        );
        assert_eq!(second.loc, first.loc);
        drop(first); // the first upload is cancelled
        assert!(lock(&p.shared.current).in_flight.is_empty());
        assert!(!p.settle(second, Ok(())).unwrap());
        assert_eq!(read(&p, &d), a);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn an_append_of_bytes_indexed_since_the_upload_looked_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = packs(dir.path());
        let a = b"indexed meanwhile".to_vec();
        let d = Digest::of(&a);
        assert!(p.add(&d, &a).unwrap());
        let size = fs::metadata(pack_file(dir.path(), 1)).unwrap().len();
        // What an upload that looked before that add finished does next.
        let late = p.append(&d, &a).unwrap();
        assert!(!late.new);
        assert_eq!(Some(late.loc), p.locate(&d).unwrap());
        drop(late);
        assert_eq!(fs::metadata(pack_file(dir.path(), 1)).unwrap().len(), size);
    }

    #[test]
    fn a_digest_sharing_another_ones_first_bytes_is_never_taken_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = packs(dir.path());
        let a = b"the artifact".to_vec();
        let da = Digest::of(&a);
        // Digests with the same first 8 bytes as `da` (crafted: finding real
        // ones takes some 2^32 hashes, and `add` trusts its caller's check).
        let twin = |last: u8| {
            let mut raw = *da.as_bytes();
            raw[31] ^= last;
            Digest::from_bytes(raw)
        };
        let (db, dc) = (twin(1), twin(2));
        p.add(&da, &a).unwrap();
        assert_eq!(
            p.locate(&db).unwrap(),
            None,
            "a prefix match is not a match"
        );
        let b = b"other bytes".to_vec();
        assert!(p.add(&db, &b).unwrap(), "stored, not taken as already held");
        assert_eq!(read(&p, &da), a);
        assert_eq!(read(&p, &db), b);
        assert_eq!(p.locate(&dc).unwrap(), None);
        assert_eq!(p.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_adds_all_land_and_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let p = Arc::new(packs(dir.path()));
        let blobs: Vec<Vec<u8>> = (0..48u32).map(|i| i.to_be_bytes().repeat(200)).collect();
        let tasks: Vec<_> = blobs
            .iter()
            .cloned()
            .map(|b| {
                let p = p.clone();
                tokio::spawn(async move { p.add_async(&Digest::of(&b), &b).await.unwrap() })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "each is new");
        }
        for b in &blobs {
            assert_eq!(&read(&p, &Digest::of(b)), b);
            assert!(!p.add_async(&Digest::of(b), b).await.unwrap(), "held");
        }
        let total: u64 = blobs.iter().map(|b| b.len() as u64 + HEADER).sum();
        assert_eq!(fs::metadata(pack_file(dir.path(), 1)).unwrap().len(), total);
    }

    #[test]
    fn a_wait_ends_when_a_sync_covers_the_record_or_its_bytes_are_lost() {
        let loc = Location {
            pack: 2,
            offset: 100,
            len: 50,
        };
        let at = |no, upto, lost: &[Position]| Progress {
            synced: (no, upto),
            lost: Arc::new(lost.to_vec()),
        };
        assert!(outcome(loc, &at(2, 149, &[])).is_none(), "one byte short");
        assert!(matches!(outcome(loc, &at(2, 150, &[])), Some(Ok(()))));
        assert!(
            matches!(outcome(loc, &at(3, 0, &[])), Some(Ok(()))),
            "a later pack"
        );
        assert!(
            matches!(outcome(loc, &at(2, 150, &[(1, 0), (2, 150)])), Some(Ok(()))),
            "synced before its pack failed"
        );
        assert!(
            matches!(outcome(loc, &at(2, 120, &[(2, 120)])), Some(Err(_))),
            "lost"
        );
        assert!(
            matches!(outcome(loc, &at(3, 10, &[(2, 120)])), Some(Err(_))),
            "a later pack's sync does not bring it back"
        );
        assert!(
            matches!(outcome(loc, &at(2, 900, &[(2, 0)])), Some(Err(_))),
            "nor does a later success reported for its own pack"
        );
    }

    #[test]
    fn a_failed_pack_is_lost_from_what_its_last_good_sync_covered() {
        let mut p = Progress {
            synced: (2, 300),
            lost: Arc::default(),
        };
        p.lose(2);
        p.synced = (2, 900); // a false success after the failure
        p.lose(2);
        p.lose(3);
        assert_eq!(*p.lost, vec![(2, 300), (3, 0)]);
    }

    #[test]
    fn after_a_failed_sync_appends_go_to_a_new_pack() {
        let dir = tempfile::tempdir().unwrap();
        let p = packs(dir.path());
        let (a, b) = (vec![1u8; 30], vec![2u8; 30]);
        p.add(&Digest::of(&a), &a).unwrap();
        // What the syncer records when an fdatasync of pack 1 fails.
        lock(&p.shared.current).broken = true;
        p.add(&Digest::of(&b), &b).unwrap();
        assert_eq!(p.locate(&Digest::of(&b)).unwrap().unwrap().pack, 2);
        assert_eq!(read(&p, &Digest::of(&a)), a);
        assert_eq!(read(&p, &Digest::of(&b)), b);
        drop(p);
        let p = packs(dir.path());
        assert_eq!(p.len(), 2, "both found again at open");
    }
}
