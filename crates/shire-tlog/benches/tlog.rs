//! Transparency-log benchmark (not a test): append rate, and inclusion and
//! consistency proof generation time, over a [`MemoryLog`] of 10^4, 10^5 and
//! 10^6 entries. Prints one table row per size; the proof lengths show the
//! log2(n) growth.
//!
//! `cargo bench -p shire-tlog` runs all sizes (a few seconds in release mode);
//! `SHIRE_BENCH_QUICK=1 cargo bench -p shire-tlog` (or
//! `cargo bench -p shire-tlog --bench tlog -- --quick`) stops at 10^5 for a CI
//! smoke run.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shire_tlog::{leaf_hash, verify_consistency, verify_inclusion, MemoryLog};
use std::time::{Duration, Instant};

/// Random proofs timed per size.
const SAMPLES: usize = 2000;
/// Bytes per entry: about a small signed event.
const ENTRY_LEN: usize = 128;

fn entry(i: u64) -> Vec<u8> {
    let mut e = format!("{{\"event\":{i},\"padding\":\"").into_bytes();
    e.resize(ENTRY_LEN - 2, b'x');
    e.extend_from_slice(b"\"}");
    e
}

fn median_us(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

struct Row {
    size: u64,
    append_per_s: f64,
    incl_us: f64,
    incl_len: f64,
    incl_verify_us: f64,
    cons_us: f64,
    cons_len: f64,
    cons_verify_us: f64,
}

fn measure(size: u64, rng: &mut StdRng) -> Result<Row, shire_tlog::TreeError> {
    let entries: Vec<Vec<u8>> = (0..size).map(entry).collect();
    let mut log = MemoryLog::new();
    let start = Instant::now();
    for e in &entries {
        log.append(e)?;
    }
    let append_per_s = size as f64 / start.elapsed().as_secs_f64();
    let root = log.root()?;

    let (mut gen, mut ver, mut len) = (Vec::new(), Vec::new(), 0usize);
    for _ in 0..SAMPLES {
        let index = rng.gen_range(0..size);
        let t = Instant::now();
        let proof = log.inclusion_proof(index, size)?;
        gen.push(t.elapsed());
        len += proof.len();
        let leaf = leaf_hash(&entries[index as usize]);
        let t = Instant::now();
        verify_inclusion(&proof, index, size, &root, &leaf)?;
        ver.push(t.elapsed());
    }
    let (incl_us, incl_verify_us, incl_len) =
        (median_us(gen), median_us(ver), len as f64 / SAMPLES as f64);

    let (mut gen, mut ver, mut len) = (Vec::new(), Vec::new(), 0usize);
    for _ in 0..SAMPLES {
        let old = rng.gen_range(1..size);
        let old_root = log.root_at(old)?;
        let t = Instant::now();
        let proof = log.consistency_proof(old, size)?;
        gen.push(t.elapsed());
        len += proof.len();
        let t = Instant::now();
        verify_consistency(&proof, old, &old_root, size, &root)?;
        ver.push(t.elapsed());
    }
    Ok(Row {
        size,
        append_per_s,
        incl_us,
        incl_len,
        incl_verify_us,
        cons_us: median_us(gen),
        cons_len: len as f64 / SAMPLES as f64,
        cons_verify_us: median_us(ver),
    })
}

fn main() {
    let quick = std::env::var_os("SHIRE_BENCH_QUICK").is_some_and(|v| v != "0")
        || std::env::args().any(|a| a == "--quick");
    let sizes: &[u64] = if quick {
        &[10_000, 100_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    println!(
        "shire-tlog benchmark: MemoryLog, {ENTRY_LEN}-byte entries, medians over {SAMPLES} random proofs{}",
        if quick { " (quick mode)" } else { "" }
    );
    println!(
        "{:>9} | {:>12} | {:>10} {:>7} {:>10} | {:>10} {:>7} {:>10}",
        "entries", "append/s", "incl µs", "hashes", "verify µs", "cons µs", "hashes", "verify µs"
    );
    println!("{}", "-".repeat(92));
    let mut rng = StdRng::seed_from_u64(6962);
    let started = Instant::now();
    for &size in sizes {
        match measure(size, &mut rng) {
            Ok(r) => println!(
                "{:>9} | {:>12.0} | {:>10.2} {:>7.1} {:>10.2} | {:>10.2} {:>7.1} {:>10.2}",
                r.size,
                r.append_per_s,
                r.incl_us,
                r.incl_len,
                r.incl_verify_us,
                r.cons_us,
                r.cons_len,
                r.cons_verify_us
            ),
            Err(e) => {
                eprintln!("benchmark failed at {size} entries: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}
