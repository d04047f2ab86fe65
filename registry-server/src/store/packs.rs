//! Small artifacts appended to pack files: `DIR/blobs/packs/<8 digits>.pack`,
//! with an index in the database (digest → pack, offset, length).
//!
//! Why: on the disks measured here, creating a file costs about 1 ms of CPU
//! (ext4 without a journal checks candidate inodes for a recent deletion), and
//! a file per artifact also needs two fsyncs (the file and its folder) and a
//! rename. Most council artifacts are small; appending them to one open file
//! and sharing one `fdatasync` between the uploads that arrive together spares
//! all of that (`docs/performance.md` has the figures). The bytes stay out of
//! the database, whose memory grew with the data when they were kept in it.
//!
//! Durability order: the bytes are appended and synced **before** their index
//! entry is written, so an index entry that survives a crash always points at
//! complete bytes; a crash between the two leaves only unreferenced bytes.
//! Whoever relies on stored bytes (publish, mirroring, every client) hashes
//! them again anyway.

use super::db::{Db, T};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Artifacts up to this size go to a pack; larger ones get a file of their own
/// (they are rare, and a file lets a download stream them).
pub const SMALL_BLOB: usize = 256 * 1024;

/// A pack is closed, and the next one started, once it holds this much.
const PACK_MAX: u64 = 1 << 30;

/// Where a packed artifact lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Pack number.
    pub pack: u32,
    /// Offset of the first byte in the pack.
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

/// The pack being appended to.
struct Current {
    no: u32,
    file: Arc<File>,
    len: u64,
}

/// How far the packs are known to be on disk: every pack before `no`, and
/// `no` up to `upto` bytes.
#[derive(Clone, Copy)]
struct Synced {
    no: u32,
    upto: u64,
}

/// The pack files of a data folder and their index.
pub struct Packs {
    dir: PathBuf,
    pack_max: u64,
    db: Db,
    current: Mutex<Current>,
    synced: Mutex<Synced>,
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

impl Packs {
    /// Opens the packs under `blobs_dir/packs`, creating the folder and the
    /// first pack if needed, and appends to the highest-numbered pack.
    pub fn open(blobs_dir: &Path, db: Db) -> io::Result<Packs> {
        let dir = blobs_dir.join("packs");
        fs::create_dir_all(&dir)?;
        let mut highest = 0u32;
        for entry in fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let no = name
                .to_str()
                .and_then(|n| n.strip_suffix(".pack"))
                .and_then(|n| n.parse::<u32>().ok());
            highest = highest.max(no.unwrap_or(0));
        }
        let no = highest.max(1);
        let file = open_for_append(&dir, no)?;
        if highest == 0 {
            sync_dir(&dir)?;
        }
        // Bytes past the last synced write of a crashed run may be torn; no
        // index entry points at them, so appending after them is safe.
        let len = file.metadata()?.len();
        Ok(Packs {
            current: Mutex::new(Current {
                no,
                file: Arc::new(file),
                len,
            }),
            synced: Mutex::new(Synced { no, upto: len }),
            dir,
            db,
            pack_max: PACK_MAX,
        })
    }

    /// Where the artifact is packed, if it is.
    pub fn locate(&self, digest: &shire_core::Digest) -> io::Result<Option<Location>> {
        let found = self
            .db
            .tree(T::PackIndex)
            .get(digest.as_bytes())
            .map_err(io::Error::other)?;
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

    /// Stores `bytes` (already checked to hash to `digest`): appends them,
    /// waits until they are on disk (one sync shared with the appends made
    /// meanwhile), then indexes them. Returns whether they were new.
    /// Blocking: call from a blocking task.
    pub fn add(&self, digest: &shire_core::Digest, bytes: &[u8]) -> io::Result<bool> {
        if self.locate(digest)?.is_some() {
            return Ok(false);
        }
        let loc = self.append(bytes)?;
        self.sync_through(loc)?;
        let key = digest.as_bytes().to_vec();
        self.db
            .transact(|tx| tx.put_raw(T::PackIndex, &key, loc.encode()))
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(true)
    }

    fn append(&self, bytes: &[u8]) -> io::Result<Location> {
        let mut cur = lock(&self.current);
        if cur.len > 0 && cur.len + bytes.len() as u64 > self.pack_max {
            // Close this pack for good before anyone writes to the next one,
            // so a sync of the next pack covers every earlier pack too.
            cur.file.sync_data()?;
            let next = cur.no + 1;
            let file = open_for_append(&self.dir, next)?;
            sync_dir(&self.dir)?;
            *cur = Current {
                no: next,
                file: Arc::new(file),
                len: 0,
            };
        }
        // Written under the lock: a sync that reads `len` must find every
        // byte below it written.
        cur.file.write_all_at(bytes, cur.len)?;
        let loc = Location {
            pack: cur.no,
            offset: cur.len,
            len: bytes.len() as u64,
        };
        cur.len += loc.len;
        Ok(loc)
    }

    /// Returns once the bytes at `loc` are on disk. Callers queue on the
    /// `synced` lock; the first runs one `fdatasync` covering everything
    /// appended so far, and those behind it usually find their bytes covered.
    fn sync_through(&self, loc: Location) -> io::Result<()> {
        let mut synced = lock(&self.synced);
        let end = loc.offset + loc.len;
        if synced.no > loc.pack || (synced.no == loc.pack && synced.upto >= end) {
            return Ok(());
        }
        let (no, file, len) = {
            let cur = lock(&self.current);
            (cur.no, cur.file.clone(), cur.len)
        };
        if no > loc.pack {
            // The pack was closed, and synced, when the next one began.
            *synced = Synced { no, upto: 0 };
            return Ok(());
        }
        file.sync_data()?;
        *synced = Synced { no, upto: len };
        Ok(())
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
        let want = buf.len().min(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
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
        assert_eq!(loc.offset, (a.len() + b.len()) as u64, "appends after the old end");
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
        let (p, _db) = packs(dir.path());
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
        let total: usize = blobs.iter().map(Vec::len).sum();
        let pack = dir.path().join("blobs/packs").join(pack_name(1));
        assert_eq!(fs::metadata(pack).unwrap().len(), total as u64);
    }

    #[test]
    fn a_full_pack_is_closed_and_the_next_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let (mut p, db) = packs(dir.path());
        p.pack_max = 100;
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
        assert_eq!((loc.pack, loc.offset), (3, 40));
    }

    #[test]
    fn a_garbled_index_entry_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (p, db) = packs(dir.path());
        let d = Digest::of(b"x");
        db.tree(T::PackIndex).insert(d.as_bytes(), &b"short"[..]).unwrap();
        assert!(p.locate(&d).is_err());
    }
}
