//! Background jobs on a shared node: one process at a time holds a job's
//! lease (on a real PostgreSQL).

use crate::helpers::shared_storage;
use shire_registry::store::shared::SharedDb;
use shire_registry::store::{OpenOptions, Store};
use std::time::Duration;

#[test]
fn one_process_holds_a_jobs_lease_until_it_lapses() {
    let storage = shared_storage();
    let options = OpenOptions {
        shared: Some(storage.clone()),
        ..OpenOptions::default()
    };
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, _f1) = Store::open(dir1.path(), &options, || "lease.test".into()).unwrap();
    let (second, _f2) = Store::open(dir2.path(), &options, || "lease.test".into()).unwrap();
    let (a, b) = (first.lease("webhooks"), second.lease("webhooks"));
    assert!(a.held(), "the first to ask takes it");
    assert!(!b.held(), "the other process does not");
    assert!(a.held(), "and the holder keeps it");
    assert!(second.lease("follow peer-1").held(), "each job has its own");

    // Once a lease lapses, another holder takes it over (the database's clock).
    let db = SharedDb::connect(&storage.postgres, 2).unwrap();
    assert!(db.lease("short", "p1", Duration::from_millis(300)).unwrap());
    assert!(!db.lease("short", "p2", Duration::from_millis(300)).unwrap());
    std::thread::sleep(Duration::from_millis(400));
    assert!(db.lease("short", "p2", Duration::from_secs(10)).unwrap());
    assert!(!db.lease("short", "p1", Duration::from_secs(10)).unwrap());
}
