//! Giving freed heap memory back to the operating system.
//!
//! glibc keeps what a thread frees in that thread's arena for later reuse and
//! returns it to the system only from the top of a heap. Downloads read their
//! 256 KiB chunks on the blocking pool's threads, so after a burst of
//! concurrent downloads about 12 MiB stayed resident for good: 44.8 MiB after
//! 64 concurrent downloads, the metadata load and the 10,000-package fill,
//! against 33.0 MiB when glibc was made to map every such chunk separately,
//! which cut downloads from 1,679 to 502 MiB/s (`docs/performance.md`).
//! Instead, the node asks glibc every [`TRIM_EVERY`] to release the free
//! pages of every arena (`malloc_trim`): 38.1 MiB after the same workloads,
//! with downloads as fast (1,710 MiB/s). It does not reach memory that is
//! free but scattered between live allocations; see also the download
//! route, which allocates its chunks on the worker for the same reason.

use std::time::Duration;
use tokio::task::JoinHandle;

/// How often free heap pages are returned to the system.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Starts the periodic trim on the current runtime (glibc only; elsewhere
/// there is nothing to start). Abort the handle to stop it.
pub fn spawn_trimmer() -> Option<JoinHandle<()>> {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return None;
    }
    Some(tokio::spawn(async {
        let mut every = tokio::time::interval(TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // Walking the arenas takes their locks: keep it off the workers.
            let _ = tokio::task::spawn_blocking(trim).await;
        }
    }))
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
