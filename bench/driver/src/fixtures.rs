//! Test data: pseudo-random bytes, `.tar.gz` archives, package names, descriptions
//! and search queries drawn from one vocabulary so every server gets the same.

use flate2::write::GzEncoder;
use flate2::Compression;
use rand::{RngCore, SeedableRng};
use std::io::Write;

/// Words descriptions, keywords and queries are made of.
pub const VOCABULARY: &[&str] = &[
    "planning",
    "housing",
    "waste",
    "parking",
    "library",
    "booking",
    "licensing",
    "council",
    "tax",
    "benefits",
    "schools",
    "transport",
    "highways",
    "permits",
    "recycling",
    "elections",
    "registrar",
    "cemetery",
    "allotments",
    "leisure",
    "museum",
    "archive",
    "grants",
    "tenancy",
    "repairs",
    "complaints",
    "consultation",
    "democracy",
    "committee",
    "minutes",
    "payments",
    "invoices",
    "procurement",
    "contracts",
    "assets",
    "estates",
    "gis",
    "mapping",
    "addresses",
    "gazetteer",
    "streetworks",
    "lighting",
    "drainage",
    "flooding",
    "trees",
    "parks",
    "events",
    "tourism",
    "business",
    "rates",
    "social",
    "care",
    "adults",
    "children",
    "fostering",
    "adoption",
    "safeguarding",
    "youth",
    "careers",
    "skills",
    "employment",
    "training",
    "crm",
    "forms",
];

/// `n` pseudo-random (incompressible) bytes, the same for the same seed.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; n];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut out);
    out
}

/// A `.tar.gz` holding the given files (gzip level 1, or stored when `store`).
pub fn tar_gz(files: &[(&str, &[u8])], store: bool) -> std::io::Result<Vec<u8>> {
    let level = if store {
        Compression::none()
    } else {
        Compression::fast()
    };
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), level));
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *data)?;
    }
    let mut gz = builder.into_inner()?;
    gz.flush()?;
    gz.finish()
}

fn word(i: usize, k: usize) -> &'static str {
    // A cheap, deterministic mix so words spread over packages.
    let h = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((k as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    VOCABULARY[((h >> 29) as usize) % VOCABULARY.len()]
}

/// The bare name of fill package `i` (`p00042`).
pub fn fill_name(i: usize) -> String {
    format!("p{i:05}")
}

/// Description of fill package `i`.
pub fn description(i: usize) -> String {
    format!(
        "A {} and {} service for {} teams, with {} reports",
        word(i, 1),
        word(i, 2),
        word(i, 3),
        word(i, 4)
    )
}

/// Keywords of fill package `i`.
pub fn keywords(i: usize) -> Vec<String> {
    vec![word(i, 5).to_string(), word(i, 6).to_string()]
}

/// The `j`th search query over a fill of `stored` packages: three of four are a
/// vocabulary word, one is an exact package name. Returns (query, is_exact_name).
pub fn query(j: usize, stored: usize) -> (String, bool) {
    if j % 4 == 3 {
        (fill_name((j * 7919) % stored.max(1)), true)
    } else {
        (word(j, 9).to_string(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::archive::{inspect, ArchiveLimits};

    #[test]
    fn archives_pass_the_registry_archive_rules() {
        let data = random_bytes(10 * 1024, 7);
        for store in [false, true] {
            let archive = tar_gz(
                &[("Shire.toml", b"[package]\n"), ("data.bin", &data)],
                store,
            )
            .expect("in-memory archive");
            let summary = inspect(&archive[..], &ArchiveLimits::default()).expect("valid archive");
            let paths: Vec<&str> = summary.files.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(paths, ["Shire.toml", "data.bin"]);
            assert_eq!(summary.unpacked_bytes, 10 + data.len() as u64);
        }
    }

    #[test]
    fn random_bytes_are_reproducible_and_incompressible_enough() {
        assert_eq!(random_bytes(64, 1), random_bytes(64, 1));
        assert_ne!(random_bytes(64, 1), random_bytes(64, 2));
        let data = random_bytes(64 * 1024, 3);
        let gz = tar_gz(&[("x", &data)], false).expect("in-memory archive");
        assert!(gz.len() > data.len(), "random data should not shrink");
    }

    #[test]
    fn every_fourth_query_is_an_exact_stored_name() {
        for j in 0..40 {
            let (q, exact) = query(j, 1_000);
            assert_eq!(exact, j % 4 == 3);
            if exact {
                let n: usize = q[1..].parse().expect("p<number>");
                assert!(n < 1_000);
            } else {
                assert!(VOCABULARY.contains(&q.as_str()));
            }
        }
    }
}
