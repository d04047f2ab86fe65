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
