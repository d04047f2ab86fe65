//! C2SP tlog-tiles (tile height 8): tile paths, and the bytes of hash tiles and
//! entry bundles computed from the stores for a given tree size, so a node can
//! serve `/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]` and a mirror or
//! CDN can serve the same bytes as static files.
//!
//! A hash tile at level `L`, index `N`, width `W` is the `W` concatenated
//! 32-byte Merkle tree hashes of the subtrees of `256^L` entries starting at
//! entry `(N·256 + i)·256^L`; at level 0 those are the leaf hashes. An entry
//! bundle at index `N` holds entries `N·256 .. N·256+W`, each as a big-endian
//! `u16` length followed by the entry bytes, so no entry may be longer than
//! [`MAX_BUNDLE_ENTRY_LEN`] bytes ([`crate::hashes_to_append`] refuses longer
//! ones). Tiles never change once they exist: every width `W` of the tile at
//! `N` describes the same entries for every tree size that contains them.

use crate::store::read_exact;
use crate::store::{stored_hash_index, EntryStore, HashStore, StoreError};
use crate::tree::MAX_TREE_SIZE;
use std::fmt;

/// Tile height: each tile spans 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes in a full tile, entries in a full bundle.
pub const TILE_WIDTH: u16 = 256;

/// Longest entry an entry bundle can hold (its length is a `u16`).
pub const MAX_BUNDLE_ENTRY_LEN: usize = u16::MAX as usize;

/// Highest level a tile path may name (C2SP tlog-tiles).
const MAX_LEVEL: u8 = 63;

/// Why a tile could not be named or produced.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The path is not a canonical C2SP tile path.
    #[error("{0:?} is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])")]
    BadPath(String),
    /// Level or width out of range.
    #[error("tile level must be 0..=63 and width 1..=256")]
    BadCoordinates,
    /// The tile covers entries beyond the tree.
    #[error("tile {path} is not part of the tree of size {size}")]
    NotInTree {
        /// The tile's path.
        path: String,
        /// The tree size asked about.
        size: u64,
    },
    /// An entry too long for a bundle.
    #[error("log entry {index} has {len} bytes, more than an entry bundle can hold")]
    EntryTooLarge {
        /// Entry index.
        index: u64,
        /// Its length.
        len: usize,
    },
    /// Entry bundle bytes that do not parse.
    #[error("entry bundle is malformed: {0}")]
    BadBundle(&'static str),
    /// The store could not supply hashes or entries.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at tree level `8 · level`.
    Hashes {
        /// Tile level (0 = leaf hashes).
        level: u8,
    },
    /// Entries (an entry bundle), aligned with level-0 hash tiles.
    Entries,
}

/// A tile's coordinates: kind, index within its level, width (256 = full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TileId {
    /// A tile of `kind` at `index` with `width` items (1..=256).
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<Self, TileError> {
        let level_ok = match kind {
            TileKind::Hashes { level } => level <= MAX_LEVEL,
            TileKind::Entries => true,
        };
        if !level_ok || width == 0 || width > TILE_WIDTH {
            return Err(TileError::BadCoordinates);
        }
        Ok(Self { kind, index, width })
    }

    /// Parses a canonical tile path such as `tile/0/x001/234`,
    /// `tile/1/005.p/17` or `tile/entries/000.p/3` (a leading `/` is allowed).
    /// Non-canonical spellings (leading zeros, missing `x`, `.p/256`) are refused.
    pub fn parse(path: &str) -> Result<Self, TileError> {
        let bad = || TileError::BadPath(path.chars().take(80).collect());
        let rest = path.strip_prefix('/').unwrap_or(path);
        let rest = rest.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind_part, rest) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if kind_part == "entries" {
            TileKind::Entries
        } else {
            TileKind::Hashes {
                level: parse_decimal(kind_part)
                    .and_then(|l| u8::try_from(l).ok())
                    .filter(|l| *l <= MAX_LEVEL)
                    .ok_or_else(bad)?,
            }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index_part, w)) => {
                let w = parse_decimal(w)
                    .and_then(|w| u16::try_from(w).ok())
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(bad)?;
                (index_part, w)
            }
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(index_part).ok_or_else(bad)?;
        let tile = Self::new(kind, index, width).map_err(|_| bad())?;
        if tile.path() != rest_path(path) {
            return Err(bad());
        }
        Ok(tile)
    }

    /// The canonical path, without a leading `/`.
    pub fn path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_string(),
        };
        let mut n = self.index;
        let mut index = format!("{:03}", n % 1000);
        while n >= 1000 {
            n /= 1000;
            index = format!("x{:03}/{index}", n % 1000);
        }
        if self.is_partial() {
            format!("tile/{kind}/{index}.p/{}", self.width)
        } else {
            format!("tile/{kind}/{index}")
        }
    }

    /// What the tile holds.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// Index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes or entries (256 for a full tile).
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile has fewer than 256 items.
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// Smallest tree size that contains this tile, or `None` if no tree of
    /// `u64` size does.
    pub fn min_tree_size(&self) -> Option<u64> {
        let level = match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        };
        if level >= 8 {
            return None;
        }
        let items = u128::from(self.index) * u128::from(TILE_WIDTH) + u128::from(self.width);
        let span = 1u128 << (8 * u32::from(level));
        u64::try_from(items.checked_mul(span)?).ok()
    }

    fn check_in_tree(&self, size: u64) -> Result<(), TileError> {
        match self.min_tree_size() {
            Some(min) if min <= size && size <= MAX_TREE_SIZE => Ok(()),
            _ => Err(TileError::NotInTree {
                path: self.path(),
                size,
            }),
        }
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

fn rest_path(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

/// A decimal number without sign or leading zeros (C2SP: "no additional leading zeroes").
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// `x001/x234/067` → 1234067 (canonical form is checked by the caller re-printing it).
fn parse_index(s: &str) -> Option<u64> {
    let mut n: u64 = 0;
    let parts: Vec<&str> = s.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() {
            part.strip_prefix('x')?
        } else {
            part
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d: u64 = digits.parse().ok()?;
        n = n.checked_mul(1000)?.checked_add(d)?;
    }
    Some(n)
}

/// The bytes of a hash tile in the tree of `size` entries: `width` 32-byte hashes.
pub fn hash_tile<S: HashStore + ?Sized>(
    tile: &TileId,
    size: u64,
    store: &S,
) -> Result<Vec<u8>, TileError> {
    let TileKind::Hashes { level } = tile.kind else {
        return Err(TileError::BadCoordinates);
    };
    tile.check_in_tree(size)?;
    // check_in_tree guarantees level < 8 and no overflow below.
    let first = tile.index * u64::from(TILE_WIDTH);
    let indexes: Vec<u64> = (0..u64::from(tile.width))
        .map(|i| stored_hash_index(level * TILE_HEIGHT, first + i))
        .collect();
    let hashes = read_exact(store, &indexes)?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// The bytes of an entry bundle in the tree of `size` entries.
pub fn entry_bundle<E: EntryStore + ?Sized>(
    tile: &TileId,
    size: u64,
    store: &E,
) -> Result<Vec<u8>, TileError> {
    if tile.kind != TileKind::Entries {
        return Err(TileError::BadCoordinates);
    }
    tile.check_in_tree(size)?;
    let start = tile.index * u64::from(TILE_WIDTH);
    let end = start + u64::from(tile.width);
    let entries = store.read_entries(start, end)?;
    if entries.len() != usize::from(tile.width) {
        return Err(StoreError::WrongCount {
            want: usize::from(tile.width),
            got: entries.len(),
        }
        .into());
    }
    encode_entries(start, &entries)
}

/// The bytes of any tile (hash tile or entry bundle) in the tree of `size` entries.
pub fn tile_data<S: HashStore + ?Sized, E: EntryStore + ?Sized>(
    tile: &TileId,
    size: u64,
    hashes: &S,
    entries: &E,
) -> Result<Vec<u8>, TileError> {
    match tile.kind {
        TileKind::Hashes { .. } => hash_tile(tile, size, hashes),
        TileKind::Entries => entry_bundle(tile, size, entries),
    }
}

fn encode_entries<T: AsRef<[u8]>>(first_index: u64, entries: &[T]) -> Result<Vec<u8>, TileError> {
    let total: usize = entries.iter().map(|e| e.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for (i, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            index: first_index + i as u64,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Encodes entries as an entry bundle (`u16` big-endian length, then bytes, each).
pub fn encode_entry_bundle<T: AsRef<[u8]>>(entries: &[T]) -> Result<Vec<u8>, TileError> {
    encode_entries(0, entries)
}

/// Splits an entry bundle into its entries.
pub fn decode_entry_bundle(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, TileError> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes
            .split_first_chunk::<2>()
            .ok_or(TileError::BadBundle("truncated length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err(TileError::BadBundle("entry runs past the end"));
        }
        let (entry, rest) = rest.split_at(len);
        entries.push(entry.to_vec());
        bytes = rest;
        if entries.len() > usize::from(TILE_WIDTH) {
            return Err(TileError::BadBundle("more than 256 entries"));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, Hash};
    use crate::memory::MemoryLog;

    fn t(path: &str) -> TileId {
        TileId::parse(path).unwrap()
    }

    #[test]
    fn paths_round_trip_in_canonical_form() {
        let cases = [
            ("tile/0/000", TileKind::Hashes { level: 0 }, 0, 256),
            (
                "tile/0/x001/x234/067",
                TileKind::Hashes { level: 0 },
                1_234_067,
                256,
            ),
            (
                "tile/1/x001/x234/067.p/8",
                TileKind::Hashes { level: 1 },
                1_234_067,
                8,
            ),
            ("tile/63/999", TileKind::Hashes { level: 63 }, 999, 256),
            ("tile/entries/x001/000.p/255", TileKind::Entries, 1000, 255),
            ("tile/entries/005", TileKind::Entries, 5, 256),
        ];
        for (path, kind, index, width) in cases {
            let tile = t(path);
            assert_eq!(
                (tile.kind(), tile.index(), tile.width()),
                (kind, index, width)
            );
            assert_eq!(tile.path(), path);
            assert_eq!(TileId::parse(&format!("/{path}")).unwrap(), tile);
        }
        let max = TileId::new(TileKind::Entries, u64::MAX, 1).unwrap();
        assert_eq!(TileId::parse(&max.path()).unwrap(), max);
    }

    #[test]
    fn non_canonical_or_bad_paths_are_refused() {
        for bad in [
            "",
            "tile",
            "tile/0",
            "tile/0/1",
            "tile/0/01",
            "tile/0/0001",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/256/000",
            "tile/-1/000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x01/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/000.p/1/2",
            "tile/data/000",
            "tile/8/0/000",
            "tiles/0/000",
            "tile/entries/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x018/x446/x744/x073/x709/x551/x615/000",
        ] {
            assert!(TileId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TileId::new(TileKind::Hashes { level: 64 }, 0, 1).is_err());
        assert!(TileId::new(TileKind::Entries, 0, 0).is_err());
        assert!(TileId::new(TileKind::Entries, 0, 257).is_err());
    }

    /// A store of made-up hashes for any index: enough to test which tiles exist.
    struct AnyHashes;
    impl HashStore for AnyHashes {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
            Ok(indexes
                .iter()
                .map(|i| leaf_hash(&i.to_be_bytes()))
                .collect())
        }
    }

    #[test]
    fn which_tiles_a_tree_of_70000_has() {
        // The example of C2SP tlog-tiles: 273 full level-0 tiles, one of width
        // 112, one full level-1 tile, one of width 17, one level-2 tile of width 1.
        let size = 70_000;
        let exists = |p: &str| hash_tile(&t(p), size, &AnyHashes).map(|b| b.len());
        assert_eq!(exists("tile/0/272").unwrap(), 256 * 32);
        assert!(matches!(
            exists("tile/0/273"),
            Err(TileError::NotInTree { .. })
        ));
        assert_eq!(exists("tile/0/273.p/112").unwrap(), 112 * 32);
        assert!(exists("tile/0/273.p/113").is_err());
        assert!(exists("tile/0/273.p/1").is_ok());
        assert!(exists("tile/1/000").is_ok());
        assert!(exists("tile/1/001").is_err());
        assert_eq!(exists("tile/1/001.p/17").unwrap(), 17 * 32);
        assert!(exists("tile/1/001.p/18").is_err());
        assert_eq!(exists("tile/2/000.p/1").unwrap(), 32);
        assert!(exists("tile/2/000.p/2").is_err());
        assert!(exists("tile/3/000.p/1").is_err());
        assert!(exists("tile/7/000.p/1").is_err());
        assert!(exists("tile/63/000.p/1").is_err());
        assert!(exists(
            &TileId::new(TileKind::Hashes { level: 0 }, u64::MAX, 256)
                .unwrap()
                .path()
        )
        .is_err());
        // A tile exists exactly when its first tree does.
        assert_eq!(t("tile/1/001.p/17").min_tree_size(), Some((256 + 17) * 256));
        assert_eq!(t("tile/entries/273.p/112").min_tree_size(), Some(70_000));
    }

    #[test]
    fn tile_contents_are_the_tree_hashes() {
        let entries: Vec<Vec<u8>> = (0..(256 * 3 + 5))
            .map(|i: u32| i.to_be_bytes().repeat(1 + (i % 5) as usize))
            .collect();
        let log = MemoryLog::from_entries(&entries).unwrap();
        let size = log.size();

        // Level 0: the leaf hashes.
        let tile = hash_tile(&t("tile/0/001"), size, &log).unwrap();
        let want: Vec<u8> = entries[256..512]
            .iter()
            .flat_map(|e| leaf_hash(e).0)
            .collect();
        assert_eq!(tile, want);
        let partial = hash_tile(&t("tile/0/003.p/5"), size, &log).unwrap();
        let want: Vec<u8> = entries[768..773]
            .iter()
            .flat_map(|e| leaf_hash(e).0)
            .collect();
        assert_eq!(partial, want);
        // A narrower partial tile is a prefix of a wider one: tiles never change.
        assert_eq!(
            hash_tile(&t("tile/0/003.p/2"), size, &log).unwrap(),
            want[..64]
        );

        // Level 1: the root of each full 256-entry subtree.
        let tile = hash_tile(&t("tile/1/000.p/3"), size, &log).unwrap();
        let want: Vec<u8> = (0..3)
            .flat_map(|i| {
                MemoryLog::from_entries(&entries[256 * i..256 * (i + 1)])
                    .unwrap()
                    .root()
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(tile, want);

        // Entry bundles hold the entries, length-prefixed.
        let bundle = entry_bundle(&t("tile/entries/003.p/5"), size, &log).unwrap();
        assert_eq!(decode_entry_bundle(&bundle).unwrap(), entries[768..773]);
        assert_eq!(&bundle[..2], &(entries[768].len() as u16).to_be_bytes());
        let full = tile_data(&t("tile/entries/000"), size, &log, &log).unwrap();
        assert_eq!(decode_entry_bundle(&full).unwrap(), entries[..256]);
        assert!(entry_bundle(&t("tile/entries/003.p/6"), size, &log).is_err());
        assert!(entry_bundle(&t("tile/0/000"), size, &log).is_err());
        assert!(hash_tile(&t("tile/entries/000"), size, &log).is_err());
        // Beyond what the store holds (a lying size): a store error, not a panic.
        assert!(matches!(
            hash_tile(&t("tile/0/004"), 5 * 256, &log),
            Err(TileError::Store(_))
        ));
    }

    struct HugeEntry;
    impl EntryStore for HugeEntry {
        fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
            Ok((start..end)
                .map(|i| vec![0; if i == 2 { 70_000 } else { 3 }])
                .collect())
        }
    }

    #[test]
    fn bundles_refuse_entries_longer_than_u16() {
        let err = entry_bundle(&t("tile/entries/000.p/4"), 4, &HugeEntry).unwrap_err();
        assert!(
            matches!(
                err,
                TileError::EntryTooLarge {
                    index: 2,
                    len: 70_000
                }
            ),
            "{err}"
        );
        assert!(encode_entry_bundle(&[vec![0u8; 65_535]]).is_ok());
        assert!(encode_entry_bundle(&[vec![0u8; 65_536]]).is_err());
    }

    #[test]
    fn malformed_bundles_are_refused() {
        assert_eq!(decode_entry_bundle(&[]).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(
            decode_entry_bundle(&[0, 0]).unwrap(),
            vec![Vec::<u8>::new()]
        );
        assert!(decode_entry_bundle(&[0]).is_err());
        assert!(decode_entry_bundle(&[0, 3, 1, 2]).is_err());
        let too_many = encode_entry_bundle(&vec![vec![1u8]; 257]).unwrap();
        assert!(decode_entry_bundle(&too_many).is_err());
        let round = vec![b"a".to_vec(), vec![], vec![9; 300]];
        assert_eq!(
            decode_entry_bundle(&encode_entry_bundle(&round).unwrap()).unwrap(),
            round
        );
    }

    /// Serves this crate's tiles to tlog_tiles' `TileHashReader` (Go's tile
    /// client, which authenticates every tile against the checkpoint root) and
    /// checks proofs built from them.
    struct ServedTiles<'a>(&'a MemoryLog);
    impl tlog_tiles::TileReader for ServedTiles<'_> {
        fn height(&self) -> u8 {
            TILE_HEIGHT
        }
        fn read_tiles(
            &self,
            tiles: &[tlog_tiles::Tile],
        ) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
            tiles
                .iter()
                .map(|t| {
                    let id = TileId::new(
                        TileKind::Hashes { level: t.level() },
                        t.level_index(),
                        t.width() as u16,
                    )
                    .map_err(|_| tlog_tiles::Error::InvalidTile)?;
                    hash_tile(&id, self.0.size(), self.0)
                        .map_err(|_| tlog_tiles::Error::InvalidTile)
                })
                .collect()
        }
        fn save_tiles(&self, _tiles: &[tlog_tiles::Tile], _data: &[Vec<u8>]) {}
    }

    #[test]
    fn tiles_authenticate_against_the_root_with_the_go_tile_client() {
        for size in [1u64, 255, 256, 257, 256 * 256 + 3] {
            let log = MemoryLog::from_entries((0..size).map(|i| i.to_be_bytes())).unwrap();
            let root = log.root().unwrap();
            let served = ServedTiles(&log);
            let reader = tlog_tiles::TileHashReader::new(size, root.into(), &served);
            for index in [0, size / 2, size - 1] {
                let proof = tlog_tiles::prove_record(size, index, &reader).unwrap();
                let proof: Vec<Hash> = proof.into_iter().map(Hash::from).collect();
                assert_eq!(proof, log.inclusion_proof(index, size).unwrap());
            }
            // Tiles of a forked log (one entry changed) are caught by the Go client.
            let forked = MemoryLog::from_entries(
                (0..size).map(|i| if i == size / 2 { u64::MAX } else { i }.to_be_bytes()),
            )
            .unwrap();
            let wrong = ServedTiles(&forked);
            let reader = tlog_tiles::TileHashReader::new(size, root.into(), &wrong);
            // (A one-entry tree's proof is empty: nothing is read to authenticate.)
            if size > 1 {
                let proof = tlog_tiles::prove_record(size, size / 2, &reader);
                assert!(proof.is_err(), "forked tiles accepted at size {size}");
            }
        }
    }
}
