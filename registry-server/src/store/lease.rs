//! Which process runs a background job. On the embedded backend there is one
//! process and it runs them all. On the shared backend several processes
//! serve one node, and a job that writes what it finds (the webhook
//! dispatcher, a peer's follower) runs in one of them at a time: the holder
//! of the job's lease (`shire_leases`, renewed well before it lapses, taken
//! over by another process once it has).

use super::shared::SharedDb;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a lease lasts unless renewed: how long a job may stand still
/// after its process dies, before another takes it over.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// One job's lease, as seen by this process.
pub struct Lease {
    name: String,
    holder: String,
    shared: Option<SharedDb>,
    /// Until when this process is sure to hold it (renewed past a third).
    until: Mutex<Option<Instant>>,
}

impl Lease {
    pub(super) fn new(name: &str, holder: &str, shared: Option<SharedDb>) -> Lease {
        Lease {
            name: name.to_string(),
            holder: holder.to_string(),
            shared,
            until: Mutex::new(None),
        }
    }

    /// Whether this process should run the job now: always on the embedded
    /// backend; on the shared one, while it holds the lease (taking or
    /// renewing it when a third of it is left, or it lapsed). A database
    /// that cannot be asked answers `false`. Blocking (a query, now and then).
    pub fn held(&self) -> bool {
        let Some(db) = &self.shared else {
            return true;
        };
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if until.is_some_and(|u| u > now + LEASE_TTL * 2 / 3) {
            return true;
        }
        match db.lease(&self.name, &self.holder, LEASE_TTL) {
            Ok(true) => {
                // Counted from before the query: never longer than the database's.
                *until = Some(now + LEASE_TTL);
                true
            }
            Ok(false) => {
                *until = None;
                false
            }
            Err(e) => {
                tracing::warn!(job = %self.name, error = %e, "cannot renew a job's lease");
                // What was held stays held until it lapses.
                until.is_some_and(|u| u > Instant::now())
            }
        }
    }
}
