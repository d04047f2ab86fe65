//! What only the shared backend has: leases for background jobs, and
//! downloads redirected to URLs the bucket signed (a real PostgreSQL and S3
//! API).

use crate::helpers::{shared_storage, Release};
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
    // Asked afresh (no expiry remembered), the holder renews it.
    assert!(first.lease("webhooks").held(), "and the holder keeps it");
    assert!(!second.lease("webhooks").held());
    assert!(second.lease("follow peer-1").held(), "each job has its own");

    // Once a lease lapses, another holder takes it over (the database's clock).
    let db = SharedDb::connect(&storage.postgres, 2).unwrap();
    assert!(db.lease("short", "p1", Duration::from_millis(300)).unwrap());
    assert!(!db.lease("short", "p2", Duration::from_millis(300)).unwrap());
    std::thread::sleep(Duration::from_millis(400));
    assert!(db.lease("short", "p2", Duration::from_secs(10)).unwrap());
    assert!(!db.lease("short", "p1", Duration::from_secs(10)).unwrap());
}

#[tokio::test]
async fn downloads_can_redirect_to_a_url_the_bucket_signed() {
    let mut storage = shared_storage();
    storage.redirect_downloads = true;
    let c = crate::club_with(|config| config.storage = Some(storage)).await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = plain
        .get(format!("{}/api/v1/artifacts/{}", c.app.url, r.digest()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 307);
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("X-Amz-Signature="), "a signed URL: {to}");
    let got = plain.get(&to).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), r.archive);
    // An artifact the node does not hold is the node's 404, not the bucket's.
    let missing = shire_core::Digest::of(b"never uploaded");
    let resp = plain
        .get(format!("{}/api/v1/artifacts/{missing}", c.app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}
