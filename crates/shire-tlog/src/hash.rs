//! SHA-256 hashes as RFC 6962 uses them: the [`Hash`](struct@Hash) type, leaf and interior
//! node hashing, and the root of the empty tree.
//!
//! The hashing itself is `tlog_tiles` (a port of Go's `golang.org/x/mod/sumdb/tlog`);
//! this module only gives it a type with `Eq`, `Ord`, `std::hash::Hash` and serde
//! support, so the rest of Shire never names `tlog_tiles` types.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Length of a hash in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
///
/// Shown, parsed and serialized as standard base64 (with padding), as RFC 6962,
/// C2SP checkpoints and Shire's JSON API write hashes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

/// Why bytes or text are not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The text is not standard base64.
    #[error("hash is not valid base64")]
    Base64,
    /// The bytes are not exactly 32 long.
    #[error("hash has {0} bytes, expected 32")]
    Length(usize),
}

impl Hash {
    /// Parses standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, HashParseError> {
        let bytes = B64.decode(text).map_err(|_| HashParseError::Base64)?;
        Self::from_slice(&bytes)
    }

    /// Takes exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashParseError::Length(bytes.len()))
    }

    /// The hash as standard base64.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl FromStr for Hash {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_base64(s)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

impl From<tlog_tiles::Hash> for Hash {
    fn from(h: tlog_tiles::Hash) -> Self {
        Hash(h.0)
    }
}

impl From<Hash> for tlog_tiles::Hash {
    fn from(h: Hash) -> Self {
        tlog_tiles::Hash(h.0)
    }
}

/// Root hash of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = Hash(tlog_tiles::EMPTY_HASH.0);

/// RFC 6962 leaf hash of a log entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry).into()
}

/// RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    tlog_tiles::node_hash((*left).into(), (*right).into()).into()
}

pub(crate) fn to_tlog(hashes: &[Hash]) -> Vec<tlog_tiles::Hash> {
    hashes.iter().map(|h| tlog_tiles::Hash(h.0)).collect()
}

pub(crate) fn from_tlog(hashes: Vec<tlog_tiles::Hash>) -> Vec<Hash> {
    hashes.into_iter().map(Hash::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn leaf_and_node_hashes_follow_rfc6962_prefixes() {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(b"entry");
        assert_eq!(leaf_hash(b"entry").0, <[u8; 32]>::from(h.finalize()));

        let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l.0);
        h.update(r.0);
        assert_eq!(node_hash(&l, &r).0, <[u8; 32]>::from(h.finalize()));
        assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn base64_round_trip_and_refusals() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert_eq!(h.to_string().parse::<Hash>(), Ok(h));
        assert_eq!(Hash::from_base64("!!"), Err(HashParseError::Base64));
        assert_eq!(Hash::from_base64("AAAA"), Err(HashParseError::Length(3)));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_base64()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hash>("\"AAAA\"").is_err());
    }
}
