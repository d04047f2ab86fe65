//! Small artifacts appended to pack files: `DIR/blobs/packs/<8 digits>.pack`,
//! with an index in the database (digest → pack, offset, length).
//!
//! Why: creating a file per artifact costs a new inode, a rename and two
//! fsyncs (the file and its folder). On ext4 without a journal, which is what
//! these machines run, the inode allocator also skips every inode freed in
//! the last minute (five if its block is still dirty), reading each one's
//! block to check: after a large folder is deleted, creating a file costs
//! about 1 ms of system CPU instead of 50-70 µs (`docs/performance.md`). Most
//! council artifacts are small; appending them to one open file and sharing
//! one `fdatasync` between the uploads that arrive together spares all of
//! that, and keeps the bytes out of the database, whose memory grew with the
//! data when they were kept in it.
//!
//! **Records describe themselves.** Each artifact is written as a header
//! ([`MAGIC`], its length, its digest) followed by its bytes, so the packs
//! alone say what they hold. An upload is acknowledged once its record is
//! synced and its index entry written, without waiting for a database flush:
//! should the node crash before the index entry reaches the disk, the next
//! start finds the record by scanning the packs from the *scan point* and
//! indexes it again.
//!
//! **The scan point** (kept in the `meta` tree) is a position in the packs
//! below which every record is indexed. It is written only after the index
//! entries of every record below it, so once it is on disk they are too
//! (sled recovers a prefix of its writes). At start the packs are read from
//! there: each whole record whose bytes hash to its digest is indexed, and the
//! first torn or altered one ends the scan. A torn record can only follow the
//! last sync (a sync covers every byte appended before it), so nothing after
//! it was ever acknowledged, and the pack is cut back to it.
//!
//! **Durability order:** a record is synced before its index entry is
//! written, so an index entry always points at complete bytes. Whoever relies
//! on stored bytes (publish, mirroring, every client) hashes them again
//! anyway.

use super::db::{Db, T};
use shire_core::Digest;
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Artifacts up to this size go to a pack; larger ones get a file of their own
/// (they are rare, and a file lets a download stream them).
pub const SMALL_BLOB: usize = 256 * 1024;

/// A pack is closed, and the next one started, once it holds this much.
const PACK_MAX: u64 = 1 << 30;

/// The first bytes of every record.
pub const MAGIC: [u8; 4] = *b"SHP1";

/// Record header: [`MAGIC`], the length (8 bytes, big-endian), the digest.
const HEADER: u64 = 4 + 8 + 32;

/// Key of the scan point in the `meta` tree: pack number (4 bytes) and
/// offset (8 bytes), big-endian.
const SCAN_POINT: &[u8] = b"pack_scan_point";

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

impl Location {
    const ENCODED: usize = 4 + 8 + 8;

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::ENCODED);
        v.extend_from_slice(&self.pack.to_be_bytes());
        v.extend_from_slice(&self.offset.to_be_bytes());
        v.extend_from_slice(&self.len.to_be_bytes());
        v
    }

    fn decode(b: &[u8]) -> Option<Location> {
        if b.len() != Self::ENCODED {
            return None;
        }
        Some(Location {
            pack: u32::from_be_bytes(b[0..4].try_into().ok()?),
            offset: u64::from_be_bytes(b[4..12].try_into().ok()?),
            len: u64::from_be_bytes(b[12..20].try_into().ok()?),
        })
    }
}

/// A position in the packs: pack number, then offset (ordered that way).
type Position = (u32, u64);

fn encode_position((no, offset): Position) -> Vec<u8> {
    let mut v = no.to_be_bytes().to_vec();
    v.extend_from_slice(&offset.to_be_bytes());
    v
}

fn decode_position(b: &[u8]) -> Option<Position> {
    if b.len() != 12 {
        return None;
    }
    Some((
        u32::from_be_bytes(b[0..4].try_into().ok()?),
        u64::from_be_bytes(b[4..12].try_into().ok()?),
    ))
}

/// The pack being appended to, and the records appended but not yet indexed.
struct Current {
    no: u32,
    file: Arc<File>,
    len: u64,
    /// Start of every record appended and not yet indexed (or given up on).
    unindexed: BTreeSet<Position>,
    /// The scan point last written to the database.
    scan_point: Position,
}

impl Current {
    /// Every record before this position is indexed.
    fn indexed_through(&self) -> Position {
        self.unindexed
            .first()
            .copied()
            .unwrap_or((self.no, self.len))
    }
}

/// How far the packs are known to be on disk: every pack before `no`, and
/// `no` up to `upto` bytes; and whether a sync is running.
struct Synced {
    no: u32,
    upto: u64,
    running: bool,
}

/// The pack files of a data folder and their index.
pub struct Packs {
    dir: PathBuf,
    pack_max: u64,
    db: Db,
    current: Mutex<Current>,
    synced: Mutex<Synced>,
    sync_done: Condvar,
}

fn pack_name(no: u32) -> String {
    format!("{no:08}.pack")
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    // A panic while holding these locks leaves consistent state (offsets are
    // only advanced after a write succeeded), so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
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

fn db_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
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

/// Reads the record at `offset` of `file` (of length `file_len`): its digest
/// and location, or `None` when no whole record whose bytes hash to its digest
/// starts there.
fn read_record(
    file: &File,
    no: u32,
    offset: u64,
    file_len: u64,
) -> io::Result<Option<(Digest, Location)>> {
    if file_len.saturating_sub(offset) < HEADER {
        return Ok(None);
    }
    let mut head = [0u8; HEADER as usize];
    file.read_exact_at(&mut head, offset)?;
    if head[..4] != MAGIC {
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
    let mut bytes = Vec::new();
    Section::new(file.try_clone()?, start, len).read_to_end(&mut bytes)?;
    if Digest::of(&bytes) != digest {
        return Ok(None);
    }
    Ok(Some((
        digest,
        Location {
            pack: no,
            offset: start,
            len,
        },
    )))
}

impl Packs {
    /// Opens the packs under `blobs_dir/packs`, creating the folder and the
    /// first pack if needed; indexes the records a crash left unindexed (see
    /// the module comment) and appends to the highest-numbered pack.
    pub fn open(blobs_dir: &Path, db: Db) -> io::Result<Packs> {
        let dir = blobs_dir.join("packs");
        fs::create_dir_all(&dir)?;
        let numbers = pack_numbers(&dir)?;
        let no = numbers.last().copied().unwrap_or(1);
        let file = open_for_append(&dir, no)?;
        if numbers.is_empty() {
            sync_dir(&dir)?;
        }
        let scan_from = db
            .tree(T::Meta)
            .get(SCAN_POINT)
            .map_err(db_err)?
            .and_then(|v| decode_position(&v))
            .unwrap_or((0, 0));
        let mut len = file.metadata()?.len();
        let mut recovered = 0usize;
        for &pack in numbers.iter().filter(|&&n| n >= scan_from.0) {
            let f = if pack == no {
                file.try_clone()?
            } else {
                File::open(dir.join(pack_name(pack)))?
            };
            let f_len = f.metadata()?.len();
            let mut at = if pack == scan_from.0 { scan_from.1 } else { 0 };
            while let Some((digest, loc)) = read_record(&f, pack, at, f_len)? {
                let index = db.tree(T::PackIndex);
                if index.get(digest.as_bytes()).map_err(db_err)?.is_none() {
                    index
                        .insert(digest.as_bytes(), loc.encode())
                        .map_err(db_err)?;
                    recovered += 1;
                }
                at = loc.offset + loc.len;
            }
            if at < f_len {
                if pack == no {
                    // A torn tail: nothing in it was acknowledged.
                    tracing::warn!(pack, at, len = f_len, "cutting a torn record off the pack");
                    f.set_len(at)?;
                    f.sync_all()?;
                    len = at;
                } else {
                    tracing::error!(
                        pack,
                        at,
                        "a closed pack holds bytes that are not a whole record"
                    );
                }
            }
        }
        let scan_point = (no, len);
        db.tree(T::Meta)
            .insert(SCAN_POINT, encode_position(scan_point))
            .map_err(db_err)?;
        db.tree(T::Meta).flush().map_err(db_err)?;
        if recovered > 0 {
            tracing::info!(
                records = recovered,
                "indexed packed artifacts a crash left unindexed"
            );
        }
        Ok(Packs {
            current: Mutex::new(Current {
                no,
                file: Arc::new(file),
                len,
                unindexed: BTreeSet::new(),
                scan_point,
            }),
            synced: Mutex::new(Synced {
                no,
                upto: len,
                running: false,
            }),
            sync_done: Condvar::new(),
            dir,
            db,
            pack_max: PACK_MAX,
        })
    }

    /// Where the artifact is packed, if it is.
    pub fn locate(&self, digest: &Digest) -> io::Result<Option<Location>> {
        let found = self
            .db
            .tree(T::PackIndex)
            .get(digest.as_bytes())
            .map_err(db_err)?;
        let Some(v) = found else {
            return Ok(None);
        };
        Location::decode(&v).map(Some).ok_or_else(|| {
            io::Error::other(format!("the pack index entry of {digest} does not decode"))
        })
    }

    /// The file of pack number `no`.
    pub fn path(&self, no: u32) -> PathBuf {
        self.dir.join(pack_name(no))
    }

    /// Opens the bytes at `loc` for reading.
    pub fn read(&self, loc: Location) -> io::Result<Section> {
        let file = File::open(self.path(loc.pack))?;
        Ok(Section::new(file, loc.offset, loc.len))
    }

    /// Stores `bytes` (already checked to hash to `digest`, at most
    /// [`SMALL_BLOB`]): appends their record, waits until it is on disk (one
    /// sync shared with the appends made meanwhile), then indexes it. Returns
    /// whether they were new. Blocking: call from a blocking task.
    pub fn add(&self, digest: &Digest, bytes: &[u8]) -> io::Result<bool> {
        if bytes.len() > SMALL_BLOB {
            return Err(io::Error::other("an artifact too large for a pack"));
        }
        if self.locate(digest)?.is_some() {
            return Ok(false);
        }
        let (record, loc) = self.append(digest, bytes)?;
        let indexed = self.sync_through(loc).and_then(|()| {
            self.db
                .tree(T::PackIndex)
                .insert(digest.as_bytes(), loc.encode())
                .map_err(db_err)
        });
        // Indexed or given up on: either way the scan point may move past it
        // (an upload that failed was never acknowledged).
        let moved = self.settle(record);
        indexed?;
        moved?;
        self.db.note_write();
        Ok(true)
    }

    /// Appends the record; returns where it starts and where its bytes are.
    fn append(&self, digest: &Digest, bytes: &[u8]) -> io::Result<(Position, Location)> {
        let mut record = Vec::with_capacity(HEADER as usize + bytes.len());
        record.extend_from_slice(&MAGIC);
        record.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        record.extend_from_slice(digest.as_bytes());
        record.extend_from_slice(bytes);
        let mut cur = lock(&self.current);
        if cur.len > 0 && cur.len + record.len() as u64 > self.pack_max {
            // Close this pack for good before anyone writes to the next one,
            // so a sync of the next pack covers every earlier pack too.
            cur.file.sync_data()?;
            let next = cur.no + 1;
            let file = open_for_append(&self.dir, next)?;
            sync_dir(&self.dir)?;
            cur.no = next;
            cur.file = Arc::new(file);
            cur.len = 0;
        }
        // Written under the lock: a sync that reads `len` must find every
        // byte below it written.
        cur.file.write_all_at(&record, cur.len)?;
        let start = (cur.no, cur.len);
        let loc = Location {
            pack: cur.no,
            offset: cur.len + HEADER,
            len: bytes.len() as u64,
        };
        cur.len += record.len() as u64;
        cur.unindexed.insert(start);
        Ok((start, loc))
    }

    /// Marks the record at `start` as done with and moves the scan point as
    /// far as every record before it allows. The new point is written after
    /// the index entries it vouches for, under the lock, so points reach the
    /// database in order.
    fn settle(&self, start: Position) -> io::Result<()> {
        let mut cur = lock(&self.current);
        cur.unindexed.remove(&start);
        let point = cur.indexed_through();
        if point > cur.scan_point {
            self.db
                .tree(T::Meta)
                .insert(SCAN_POINT, encode_position(point))
                .map_err(db_err)?;
            cur.scan_point = point;
        }
        Ok(())
    }

    /// Returns once the bytes at `loc` are on disk. The first caller to find
    /// them unsynced runs one `fdatasync` covering everything appended so
    /// far; those arriving meanwhile wait for it and usually find their bytes
    /// covered.
    fn sync_through(&self, loc: Location) -> io::Result<()> {
        let end = loc.offset + loc.len;
        let covered = |s: &Synced| s.no > loc.pack || (s.no == loc.pack && s.upto >= end);
        let mut synced = lock(&self.synced);
        loop {
            if covered(&synced) {
                return Ok(());
            }
            if !synced.running {
                break;
            }
            synced = self
                .sync_done
                .wait(synced)
                .unwrap_or_else(|p| p.into_inner());
        }
        synced.running = true;
        drop(synced);
        let (no, file, len) = {
            let cur = lock(&self.current);
            (cur.no, cur.file.clone(), cur.len)
        };
        // A pack before `no` was synced when the next one began.
        let result = file.sync_data();
        let mut synced = lock(&self.synced);
        synced.running = false;
        if result.is_ok() {
            synced.no = no;
            synced.upto = len;
        }
        self.sync_done.notify_all();
        result
    }
}

/// A byte range of a file, read with positioned reads (so several readers can
/// share nothing and need no seeking).
pub struct Section {
    file: File,
    pos: u64,
    end: u64,
}

impl Section {
    /// `len` bytes of `file` from `offset`.
    pub fn new(file: File, offset: u64, len: u64) -> Section {
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
    use shire_core::Digest;

    fn packs(dir: &Path) -> (Packs, Db) {
        let (db, _flusher) = Db::open(&dir.join("db")).unwrap();
        (Packs::open(&dir.join("blobs"), db.clone()).unwrap(), db)
    }

    fn read(p: &Packs, d: &Digest) -> Vec<u8> {
        let loc = p.locate(d).unwrap().expect("indexed");
        let mut out = Vec::new();
        p.read(loc).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn appended_blobs_read_back_exactly_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = b"first artifact".to_vec();
        let b = vec![7u8; 5000];
        let (da, db_) = (Digest::of(&a), Digest::of(&b));
        {
            let (p, _db) = packs(dir.path());
            assert!(p.add(&da, &a).unwrap());
            assert!(p.add(&db_, &b).unwrap());
            assert!(!p.add(&da, &a).unwrap(), "already packed");
            assert_eq!(read(&p, &da), a);
            assert_eq!(read(&p, &db_), b);
            assert_eq!(p.locate(&Digest::of(b"never")).unwrap(), None);
        }
        let (p, _db) = packs(dir.path());
        assert_eq!(read(&p, &db_), b);
        let c = b"after the reopen".to_vec();
        let dc = Digest::of(&c);
        p.add(&dc, &c).unwrap();
        let loc = p.locate(&dc).unwrap().unwrap();
        let end = (a.len() + b.len()) as u64 + 2 * HEADER;
        assert_eq!(loc.offset, end + HEADER, "appends after the old end");
        assert_eq!(read(&p, &dc), c);
    }

    #[test]
    fn a_section_never_reads_past_its_end_or_hides_a_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let mut s = Section::new(File::open(&path).unwrap(), 2, 5);
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"23456");
        // An index entry longer than the file (a torn pack) is an error, not
        // a short artifact.
        let mut s = Section::new(File::open(&path).unwrap(), 8, 5);
        let err = s.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn concurrent_adds_all_land_and_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let (p, db) = packs(dir.path());
        let p = Arc::new(p);
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
        let pack = dir.path().join("blobs/packs").join(pack_name(1));
        assert_eq!(fs::metadata(pack).unwrap().len(), total);
        assert_eq!(scan_point(&db), (1, total), "every record indexed");
    }

    #[test]
    fn a_full_pack_is_closed_and_the_next_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let (mut p, db) = packs(dir.path());
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
        // A reopen appends to the highest pack.
        drop((p, db));
        let (p, _db) = packs(dir.path());
        let c = vec![9u8; 10];
        p.add(&Digest::of(&c), &c).unwrap();
        let loc = p.locate(&Digest::of(&c)).unwrap().unwrap();
        assert_eq!((loc.pack, loc.offset), (3, 2 * HEADER + 40));
    }

    fn scan_point(db: &Db) -> Position {
        decode_position(&db.tree(T::Meta).get(SCAN_POINT).unwrap().unwrap()).unwrap()
    }

    fn pack_file(dir: &Path, no: u32) -> PathBuf {
        dir.join("blobs/packs").join(pack_name(no))
    }

    /// What a crash before the database flush leaves: the records synced in
    /// the pack, but neither their index entries nor the scan point past them.
    fn forget_index(db: &Db, digests: &[Digest], point: Position) {
        for d in digests {
            db.tree(T::PackIndex).remove(d.as_bytes()).unwrap();
        }
        db.tree(T::Meta)
            .insert(SCAN_POINT, encode_position(point))
            .unwrap();
    }

    #[test]
    fn records_whose_index_entries_were_lost_are_indexed_again_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let blobs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 100 + i as usize]).collect();
        let digests: Vec<Digest> = blobs.iter().map(|b| Digest::of(b)).collect();
        {
            let (p, db) = packs(dir.path());
            p.add(&digests[0], &blobs[0]).unwrap();
            let after_first = scan_point(&db);
            for (d, b) in digests.iter().zip(&blobs).skip(1) {
                p.add(d, b).unwrap();
            }
            forget_index(&db, &digests[1..], after_first);
            assert_eq!(p.locate(&digests[2]).unwrap(), None);
        }
        let (p, db) = packs(dir.path());
        for (d, b) in digests.iter().zip(&blobs) {
            assert_eq!(&read(&p, d), b, "every synced record is found again");
        }
        let len = fs::metadata(pack_file(dir.path(), 1)).unwrap().len();
        assert_eq!(scan_point(&db), (1, len));
    }

    #[test]
    fn a_torn_or_altered_tail_is_cut_off_and_never_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let good = vec![1u8; 300];
        let (torn, altered) = (vec![2u8; 300], vec![3u8; 300]);
        let (dg, dt, da) = (Digest::of(&good), Digest::of(&torn), Digest::of(&altered));
        let end_of_good;
        {
            let (p, db) = packs(dir.path());
            p.add(&dg, &good).unwrap();
            end_of_good = scan_point(&db);
            p.add(&da, &altered).unwrap();
            // The attack: the stored bytes of the second record are changed,
            // and its index entry had not reached the disk.
            let f = OpenOptions::new()
                .write(true)
                .open(pack_file(dir.path(), 1))
                .unwrap();
            f.write_all_at(b"evil", end_of_good.1 + HEADER + 10)
                .unwrap();
            // Then a third record torn halfway by the crash.
            let mut record = MAGIC.to_vec();
            record.extend_from_slice(&300u64.to_be_bytes());
            record.extend_from_slice(dt.as_bytes());
            record.extend_from_slice(&torn[..120]);
            let len = f.metadata().unwrap().len();
            f.write_all_at(&record, len).unwrap();
            forget_index(&db, &[da], end_of_good);
        }
        let (p, db) = packs(dir.path());
        assert_eq!(read(&p, &dg), good);
        assert_eq!(
            p.locate(&da).unwrap(),
            None,
            "altered bytes are not indexed"
        );
        assert_eq!(p.locate(&dt).unwrap(), None, "a torn record is not indexed");
        let cut = end_of_good.1;
        assert_eq!(fs::metadata(pack_file(dir.path(), 1)).unwrap().len(), cut);
        assert_eq!(scan_point(&db), (1, cut));
        // The next upload goes where the torn tail was, and reads back whole.
        assert!(p.add(&dt, &torn).unwrap());
        assert_eq!(p.locate(&dt).unwrap().unwrap().offset, cut + HEADER);
        assert_eq!(read(&p, &dt), torn);
    }

    #[test]
    fn the_scan_point_never_passes_a_record_still_being_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let (p, db) = packs(dir.path());
        let (a, b) = (vec![1u8; 10], vec![2u8; 10]);
        let (ra, _) = p.append(&Digest::of(&a), &a).unwrap();
        let (rb, _) = p.append(&Digest::of(&b), &b).unwrap();
        p.settle(rb).unwrap();
        assert_eq!(
            scan_point(&db),
            (1, 0),
            "the first record is not indexed yet"
        );
        p.settle(ra).unwrap();
        assert_eq!(scan_point(&db), (1, 2 * (HEADER + 10)));
    }

    #[test]
    fn a_garbled_index_entry_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (p, db) = packs(dir.path());
        let d = Digest::of(b"x");
        db.tree(T::PackIndex)
            .insert(d.as_bytes(), &b"short"[..])
            .unwrap();
        assert!(p.locate(&d).is_err());
    }
}
