//! Giving freed heap memory back to the operating system.
//!
//! glibc keeps what a thread frees in that thread's arena for later reuse and
//! returns it to the system only from the top of a heap. The database's
//! threads, the HTTP workers and the blocking pool each allocate in an arena of
//! their own, so free pages pile up between live allocations in every arena.
//! The node asks glibc every [`TRIM_EVERY`] to release the free pages of every
//! arena (`malloc_trim`). It does not reach memory that is free but shares a
//! page with a live allocation; see also the download route, which allocates
//! its chunks on the worker for the same reason. `docs/performance.md` has
//! the figures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often free heap pages are returned to the system.
pub const TRIM_EVERY: Duration = Duration::from_secs(2);

/// The periodic trim, running on the runtime that started it. Stopped by
/// [`Trimmer::stop`] (or when the runtime shuts down).
pub struct Trimmer {
    task: JoinHandle<()>,
    trims: Arc<AtomicU64>,
}

impl Trimmer {
    /// Starts trimming every `every` on the current runtime: glibc only, so
    /// elsewhere there is nothing to start and this is `None`.
    pub fn spawn(every: Duration) -> Option<Trimmer> {
        if !cfg!(all(target_os = "linux", target_env = "gnu")) {
            return None;
        }
        let trims = Arc::new(AtomicU64::new(0));
        let count = trims.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // Walking the arenas takes their locks: keep it off the workers.
                let _ = tokio::task::spawn_blocking(trim).await;
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Some(Trimmer { task, trims })
    }

    /// How many trims have run so far: grows while the trimmer lives (tests
    /// read it to see that a running node keeps trimming).
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.trims.clone()
    }

    /// Stops trimming.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Returns free heap pages to the system; whether any were released.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim has no preconditions; it only takes the
        // allocator's own locks and releases pages that hold no allocation.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_trimmer_keeps_trimming_until_stopped() {
        let Some(trimmer) = Trimmer::spawn(Duration::from_millis(20)) else {
            return; // not glibc: nothing to trim
        };
        let count = trimmer.counter();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while count.load(Ordering::Relaxed) < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the trimmer stalled"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        trimmer.stop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stopped_at = count.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(count.load(Ordering::Relaxed), stopped_at);
    }
}
