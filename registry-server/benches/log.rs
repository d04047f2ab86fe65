//! Transparency-log benchmark of the node's real store (not a test): append
//! rate through `Store::append` (the ledger's check, the change and the
//! Merkle hashes written in one sled transaction), the cost of making appends
//! durable one by one (a flush each) versus in groups, and inclusion /
//! consistency proof generation over the stored hashes at 10^4 and 10^5
//! entries (10^6 with `SHIRE_BENCH_FULL=1`).
//! Proof time and length grow as log2(n); the startup check's time is shown
//! too.
//!
//! `cargo bench -p shire-registry --bench log` (release build, prints a table);
//! `SHIRE_BENCH_QUICK=1` (or `-- --quick`) stops at 10^4 for a smoke run.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shire_core::event::LogEvent;
use shire_core::OrgName;
use shire_registry::store::{OpenOptions, Store};
use std::time::{Duration, Instant};

/// Random proofs timed per size.
const SAMPLES: usize = 2000;

/// The creation of organisation `o<i>`: an event the ledger accepts once.
fn event(i: u64) -> LogEvent {
    LogEvent::OrgCreated {
        org: OrgName::parse(&format!("o{i}")).expect("valid name"),
        at: "2026-01-01T00:00:00Z".into(),
    }
}

fn open(
    dir: &std::path::Path,
) -> Result<(Store, shire_registry::store::Flusher), Box<dyn std::error::Error>> {
    Ok(Store::open(dir, &OpenOptions::default(), || {
        "bench.log".into()
    })?)
}

fn median_us(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

struct Row {
    size: u64,
    append_per_s: f64,
    check_ms: f64,
    incl_us: f64,
    incl_len: f64,
    cons_us: f64,
    cons_len: f64,
    root_us: f64,
}

fn append_to(store: &Store, to: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let from = store.log_size()?;
    let start = Instant::now();
    for i in from..to {
        store.append(&event(i), None)?;
    }
    Ok((to - from) as f64 / start.elapsed().as_secs_f64())
}

fn measure(store: &Store, size: u64, rng: &mut StdRng) -> Result<Row, Box<dyn std::error::Error>> {
    let append_per_s = append_to(store, size)?;
    let t = Instant::now();
    store.check_log()?;
    let check_ms = t.elapsed().as_secs_f64() * 1e3;
    let view = store.log_view();
    let (mut times, mut len) = (Vec::new(), 0usize);
    for _ in 0..SAMPLES {
        let index = rng.gen_range(0..size);
        let t = Instant::now();
        let proof = shire_tlog::inclusion_proof(index, size, &view)?;
        times.push(t.elapsed());
        len += proof.len();
    }
    let (incl_us, incl_len) = (median_us(times), len as f64 / SAMPLES as f64);
    let (mut times, mut len) = (Vec::new(), 0usize);
    for _ in 0..SAMPLES {
        let old = rng.gen_range(1..size);
        let t = Instant::now();
        let proof = shire_tlog::consistency_proof(old, size, &view)?;
        times.push(t.elapsed());
        len += proof.len();
    }
    let (cons_us, cons_len) = (median_us(times), len as f64 / SAMPLES as f64);
    let mut times = Vec::new();
    for _ in 0..200 {
        let n = rng.gen_range(1..=size);
        let t = Instant::now();
        shire_tlog::tree_hash(n, &view)?;
        times.push(t.elapsed());
    }
    Ok(Row {
        size,
        append_per_s,
        check_ms,
        incl_us,
        incl_len,
        cons_us,
        cons_len,
        root_us: median_us(times),
    })
}

/// Durable appends: one flush per append, then 16 concurrent writers sharing
/// group-commit flushes.
fn durable_rates(dir: &std::path::Path) -> Result<(f64, f64, f64), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (db, flusher) = open(&dir.join("durable"))?;
        let task = tokio::spawn(flusher.run());
        const ONE_BY_ONE: u64 = 300;
        let start = Instant::now();
        for i in 0..ONE_BY_ONE {
            db.append(&event(i), None)?;
            db.durable().await?;
        }
        let serial = ONE_BY_ONE as f64 / start.elapsed().as_secs_f64();
        const WRITERS: u64 = 16;
        const EACH: u64 = 50;
        let flushes = db.flush_count();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let e = event(1_000_000 + w * EACH + i);
                    let db2 = db.clone();
                    tokio::task::spawn_blocking(move || db2.append(&e, None))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                    db.durable().await.map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let grouped = (WRITERS * EACH) as f64 / start.elapsed().as_secs_f64();
        let per_flush = (WRITERS * EACH) as f64 / (db.flush_count() - flushes).max(1) as f64;
        drop(db);
        task.await?;
        Ok((serial, grouped, per_flush))
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let full = std::env::var("SHIRE_BENCH_FULL").is_ok_and(|v| v == "1");
    let quick = std::env::var_os("SHIRE_BENCH_QUICK").is_some_and(|v| v != "0")
        || std::env::args().any(|a| a == "--quick");
    let mut sizes = vec![10_000u64];
    if !quick {
        sizes.push(100_000);
    }
    if full && !quick {
        sizes.push(1_000_000);
    }
    let dir = tempfile::tempdir()?;
    let (db, _flusher) = open(&dir.path().join("db"))?;
    let mut rng = StdRng::seed_from_u64(7);
    println!("Shire node transparency log (sled store, organisation events through the ledger, {SAMPLES} random proofs per size)");
    println!(
        "{:>9} | {:>12} | {:>9} | {:>9} {:>6} | {:>9} {:>6} | {:>8}",
        "entries", "appends/s", "check ms", "incl µs", "hashes", "cons µs", "hashes", "root µs"
    );
    for size in sizes {
        let r = measure(&db, size, &mut rng)?;
        println!(
            "{:>9} | {:>12.0} | {:>9.1} | {:>9.1} {:>6.1} | {:>9.1} {:>6.1} | {:>8.1}",
            r.size,
            r.append_per_s,
            r.check_ms,
            r.incl_us,
            r.incl_len,
            r.cons_us,
            r.cons_len,
            r.root_us
        );
    }
    if !full {
        println!("(10^6 entries: SHIRE_BENCH_FULL=1)");
    }
    let (serial, grouped, per_flush) = durable_rates(dir.path())?;
    println!(
        "durable appends: {serial:.0}/s with one flush each; {grouped:.0}/s from 16 concurrent writers ({per_flush:.1} appends per group-commit flush)"
    );
    Ok(())
}
