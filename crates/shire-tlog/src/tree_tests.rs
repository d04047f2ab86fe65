//! Proofs produced through this crate's API checked against a second,
//! independent computation: a naive recursive RFC 6962 §2.1 MTH / PATH / PROOF
//! written here straight from the RFC (with `sha2`, not `tlog_tiles`), and the
//! RFC 9162 §2.1.3.2 / §2.1.4.2 verification algorithms.

use super::*;
use crate::hash::leaf_hash;
use crate::memory::MemoryLog;
use crate::store::{append_start_index, stored_hash_count, HashStore, StoreError};
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

type H = [u8; 32];

fn sha_leaf(d: &[u8]) -> H {
    let mut s = Sha256::new();
    s.update([0u8]);
    s.update(d);
    s.finalize().into()
}

fn sha_node(l: &H, r: &H) -> H {
    let mut s = Sha256::new();
    s.update([1u8]);
    s.update(l);
    s.update(r);
    s.finalize().into()
}

/// Largest power of two strictly smaller than n (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1 over the data D[0..], memoizing MTH(D[lo:hi]).
struct Naive {
    data: Vec<Vec<u8>>,
    memo: HashMap<(usize, usize), H>,
}

impl Naive {
    fn new(data: Vec<Vec<u8>>) -> Self {
        Self {
            data,
            memo: HashMap::new(),
        }
    }

    /// MTH(D[lo:hi]).
    fn mth(&mut self, lo: usize, hi: usize) -> H {
        if let Some(h) = self.memo.get(&(lo, hi)) {
            return *h;
        }
        let h = match hi - lo {
            0 => Sha256::digest(b"").into(),
            1 => sha_leaf(&self.data[lo]),
            n => {
                let k = split(n);
                let l = self.mth(lo, lo + k);
                let r = self.mth(lo + k, hi);
                sha_node(&l, &r)
            }
        };
        self.memo.insert((lo, hi), h);
        h
    }

    /// PATH(m, D[lo:hi]).
    fn path(&mut self, m: usize, lo: usize, hi: usize) -> Vec<H> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// SUBPROOF(m, D[lo:hi], b).
    fn subproof(&mut self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<H> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// PROOF(m, D[n]).
    fn proof(&mut self, m: usize, n: usize) -> Vec<H> {
        self.subproof(m, 0, n, true)
    }
}

/// RFC 9162 §2.1.3.2 inclusion verification.
fn naive_verify_inclusion(index: u64, size: u64, leaf: &H, proof: &[H], root: &H) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnn, mut sn, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fnn & 1 == 1 || fnn == sn {
            r = sha_node(p, &r);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = sha_node(&r, p);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2 consistency verification (0 < first < second).
fn naive_verify_consistency(first: u64, second: u64, h1: &H, h2: &H, proof: &[H]) -> bool {
    if first == 0 || first >= second || proof.is_empty() {
        return false;
    }
    let mut path: Vec<H> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *h1);
    }
    let (mut fnn, mut sn) = (first - 1, second - 1);
    while fnn & 1 == 1 {
        fnn >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fnn & 1 == 1 || fnn == sn {
            fr = sha_node(c, &fr);
            sr = sha_node(c, &sr);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = sha_node(&sr, c);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    fr == *h1 && sr == *h2 && sn == 0
}

fn entry(i: usize) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn raw(p: &[Hash]) -> Vec<H> {
    p.iter().map(|h| h.0).collect()
}

const BIG: usize = 3000;

/// One log of BIG entries and its naive twin, shared by the property tests.
fn fixture() -> &'static (MemoryLog, std::sync::Mutex<Naive>) {
    static F: OnceLock<(MemoryLog, std::sync::Mutex<Naive>)> = OnceLock::new();
    F.get_or_init(|| {
        let data: Vec<Vec<u8>> = (0..BIG).map(entry).collect();
        let log = MemoryLog::from_entries(&data).unwrap();
        (log, std::sync::Mutex::new(Naive::new(data)))
    })
}

/// Checks every inclusion and consistency proof of a tree of `n` entries
/// against the naive computation, both ways, and that tampering is refused.
fn check_all_proofs_for_size(log: &MemoryLog, naive: &mut Naive, n: usize) {
    let size = n as u64;
    let root = log.root_at(size).unwrap();
    assert_eq!(root.0, naive.mth(0, n), "root of size {n}");

    for m in 0..n {
        let proof = log.inclusion_proof(m as u64, size).unwrap();
        assert_eq!(raw(&proof), naive.path(m, 0, n), "PATH({m}, D[{n}])");
        let leaf = leaf_hash(&entry(m));
        verify_inclusion(&proof, m as u64, size, &root, &leaf).unwrap();
        assert!(naive_verify_inclusion(
            m as u64,
            size,
            &leaf.0,
            &raw(&proof),
            &root.0
        ));
        // Wrong index, wrong leaf, wrong root: refused.
        if n > 1 {
            let other = (m + 1) % n;
            assert!(verify_inclusion(&proof, other as u64, size, &root, &leaf).is_err());
            let other_leaf = leaf_hash(&entry(other));
            assert!(verify_inclusion(&proof, m as u64, size, &root, &other_leaf).is_err());
        }
        assert!(verify_inclusion(&proof, m as u64, size, &leaf, &leaf).is_err() || n == 1);
    }

    for old in 1..=n {
        let proof = log.consistency_proof(old as u64, size).unwrap();
        assert_eq!(raw(&proof), naive.proof(old, n), "PROOF({old}, D[{n}])");
        let old_root = log.root_at(old as u64).unwrap();
        verify_consistency(&proof, old as u64, &old_root, size, &root).unwrap();
        if old < n {
            assert!(naive_verify_consistency(
                old as u64,
                size,
                &old_root.0,
                &root.0,
                &raw(&proof)
            ));
            // A root of another size in place of the old root: refused.
            let wrong = log.root_at(old as u64 - 1).unwrap();
            assert!(verify_consistency(&proof, old as u64, &wrong, size, &root).is_err());
        }
    }
}

#[test]
fn proofs_match_naive_rfc6962_for_every_size_up_to_300() {
    let data: Vec<Vec<u8>> = (0..300).map(entry).collect();
    let mut naive = Naive::new(data.clone());
    let mut log = MemoryLog::new();
    for (i, d) in data.iter().enumerate() {
        log.append(d).unwrap();
        check_all_proofs_for_size(&log, &mut naive, i + 1);
    }
}

#[test]
fn empty_tree_and_trivial_consistency() {
    let log = MemoryLog::from_entries((0..5).map(entry)).unwrap();
    assert_eq!(tree_hash(0, &log).unwrap(), EMPTY_ROOT);
    assert!(consistency_proof(0, 5, &log).unwrap().is_empty());
    let root = log.root().unwrap();
    verify_consistency(&[], 0, &EMPTY_ROOT, 5, &root).unwrap();
    assert!(verify_consistency(&[], 0, &root, 5, &root).is_err());
    assert!(verify_consistency(&[root], 0, &EMPTY_ROOT, 5, &root).is_err());
    // Same size: proof empty and roots equal.
    verify_consistency(&[], 5, &root, 5, &root).unwrap();
    let other = log.root_at(4).unwrap();
    assert!(verify_consistency(&[], 5, &other, 5, &root).is_err());
}

#[test]
fn appended_hashes_land_at_consecutive_stored_indexes() {
    let mut log = MemoryLog::new();
    for n in 0..600u64 {
        let new = hashes_to_append(n, &entry(n as usize), &log).unwrap();
        assert_eq!(new[0], leaf_hash(&entry(n as usize)));
        assert_eq!(append_start_index(n), stored_hash_count(n));
        assert_eq!(
            append_start_index(n) + new.len() as u64,
            stored_hash_count(n + 1)
        );
        log.append(&entry(n as usize)).unwrap();
        assert_eq!(log.stored_hashes().len() as u64, stored_hash_count(n + 1));
    }
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let log = MemoryLog::from_entries((0..10).map(entry)).unwrap();
    let root = log.root().unwrap();
    let leaf = leaf_hash(&entry(3));
    assert!(matches!(
        inclusion_proof(10, 10, &log),
        Err(TreeError::IndexOutOfRange {
            index: 10,
            size: 10
        })
    ));
    assert!(matches!(
        inclusion_proof(0, 0, &log),
        Err(TreeError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        consistency_proof(6, 5, &log),
        Err(TreeError::SizesOutOfOrder { old: 6, new: 5 })
    ));
    assert!(matches!(
        tree_hash(u64::MAX, &log),
        Err(TreeError::TooLarge(_))
    ));
    assert!(matches!(
        hashes_to_append(u64::MAX, b"x", &log),
        Err(TreeError::TooLarge(_))
    ));
    assert!(verify_inclusion(&[], 3, 10, &root, &leaf).is_err());
    assert!(verify_inclusion(&[], 0, 0, &root, &leaf).is_err());
    assert!(verify_inclusion(&[root; 200], 3, 10, &root, &leaf).is_err());
    assert!(matches!(
        verify_inclusion(&[root; 200], 3, 10, &root, &leaf),
        Err(TreeError::ProofTooLong(200))
    ));
    assert!(verify_inclusion(&[root; 3], 3, u64::MAX, &root, &leaf).is_err());
    assert!(verify_consistency(&[root; 3], 3, &root, u64::MAX, &root).is_err());
    assert!(verify_consistency(&[root; 3], 7, &root, 3, &root).is_err());
    // Beyond what the store holds: a store error, not a panic.
    assert!(matches!(
        tree_hash(11, &log),
        Err(TreeError::Store(StoreError::MissingHash(_)))
    ));
    assert!(matches!(
        inclusion_proof(3, 50, &log),
        Err(TreeError::Store(StoreError::MissingHash(_)))
    ));
}

#[test]
fn entries_too_long_for_a_bundle_are_refused_at_append() {
    let mut log = MemoryLog::new();
    assert!(log.append(&vec![7u8; 65535]).is_ok());
    assert!(matches!(
        log.append(&vec![7u8; 65536]),
        Err(TreeError::EntryTooLarge(65536))
    ));
    assert_eq!(log.size(), 1);
}

/// A store that answers with the wrong number of hashes: tlog_tiles would
/// panic on it, this crate must return an error.
struct ShortStore;
impl HashStore for ShortStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        Ok(vec![Hash::default(); indexes.len().saturating_sub(1)])
    }
}

#[test]
fn a_store_answering_short_is_an_error() {
    assert!(matches!(
        tree_hash(5, &ShortStore),
        Err(TreeError::Store(StoreError::WrongCount { .. }))
    ));
    assert!(matches!(
        inclusion_proof(1, 5, &ShortStore),
        Err(TreeError::Store(StoreError::WrongCount { .. }))
    ));
    assert!(matches!(
        consistency_proof(3, 5, &ShortStore),
        Err(TreeError::Store(StoreError::WrongCount { .. }))
    ));
    assert!(matches!(
        hashes_to_append(3, b"x", &ShortStore),
        Err(TreeError::Store(StoreError::WrongCount { .. }))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_large_sizes_match_naive(size in 301usize..=BIG, pick in any::<u64>(), pick2 in any::<u64>()) {
        let (log, naive) = fixture();
        let mut naive = naive.lock().unwrap();
        let n = size as u64;
        let index = pick % n;
        let old = 1 + pick2 % n;
        let root = log.root_at(n).unwrap();
        prop_assert_eq!(root.0, naive.mth(0, size));

        let proof = log.inclusion_proof(index, n).unwrap();
        prop_assert_eq!(raw(&proof), naive.path(index as usize, 0, size));
        let leaf = leaf_hash(&entry(index as usize));
        prop_assert!(verify_inclusion(&proof, index, n, &root, &leaf).is_ok());
        prop_assert!(naive_verify_inclusion(index, n, &leaf.0, &raw(&proof), &root.0));

        let cproof = log.consistency_proof(old, n).unwrap();
        prop_assert_eq!(raw(&cproof), naive.proof(old as usize, size));
        let old_root = log.root_at(old).unwrap();
        prop_assert!(verify_consistency(&cproof, old, &old_root, n, &root).is_ok());
        if old < n {
            prop_assert!(naive_verify_consistency(old, n, &old_root.0, &root.0, &raw(&cproof)));
        }
    }

    #[test]
    fn tampered_proofs_are_refused(size in 2usize..=BIG, pick in any::<u64>(), pick2 in any::<u64>(), which in any::<usize>(), bit in 0u8..8) {
        let (log, _) = fixture();
        let n = size as u64;
        let index = pick % n;
        let root = log.root_at(n).unwrap();
        let leaf = leaf_hash(&entry(index as usize));

        let proof = log.inclusion_proof(index, n).unwrap();
        let mut bad = proof.clone();
        let k = which % bad.len();
        bad[k].0[(which / 7) % 32] ^= 1 << bit;
        prop_assert!(verify_inclusion(&bad, index, n, &root, &leaf).is_err());
        // Dropped or extra hash.
        prop_assert!(verify_inclusion(&proof[..proof.len() - 1], index, n, &root, &leaf).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&longer, index, n, &root, &leaf).is_err());
        // Wrong root.
        let mut wrong_root = root;
        wrong_root.0[0] ^= 1;
        prop_assert!(verify_inclusion(&proof, index, n, &wrong_root, &leaf).is_err());

        let old = 1 + pick2 % (n - 1);
        let old_root = log.root_at(old).unwrap();
        let cproof = log.consistency_proof(old, n).unwrap();
        prop_assert!(!cproof.is_empty());
        let mut bad = cproof.clone();
        let k = which % bad.len();
        bad[k].0[(which / 7) % 32] ^= 1 << bit;
        prop_assert!(verify_consistency(&bad, old, &old_root, n, &root).is_err());
        prop_assert!(verify_consistency(&cproof[..cproof.len() - 1], old, &old_root, n, &root).is_err());
        prop_assert!(verify_consistency(&cproof, old, &old_root, n, &wrong_root).is_err());
        let mut wrong_old = old_root;
        wrong_old.0[31] ^= 1;
        prop_assert!(verify_consistency(&cproof, old, &wrong_old, n, &root).is_err());
    }
}
