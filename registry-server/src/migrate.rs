//! `shire-registry migrate`: copies an embedded node (sled and pack files in
//! a data folder) into the shared backend (PostgreSQL and object storage).
//!
//! Every tree is copied byte for byte, log entries, Merkle hashes and size
//! included, so the shared node's log is the embedded one's: the same entries
//! under the same root, signed by the same node key. A client that pinned the
//! node key before the migration sees no fork. Every artifact is read back,
//! checked against its digest, and uploaded, before the trees are written.
//! The target database must be empty (checked again under the lock); the
//! source node must be stopped (sled's lock refuses a running one).

use crate::identity;
use crate::store::blobs::BlobStore;
use crate::store::objects::Objects;
use crate::store::shared::SharedStorage;
use crate::store::{OpenOptions, Store};
use anyhow::{bail, Context, Result};
use shire_core::Digest;
use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The node's origin.
    pub origin: String,
    /// Entries of its log.
    pub log_size: u64,
    /// Database entries copied (every tree).
    pub entries: u64,
    /// Artifacts uploaded.
    pub artifacts: usize,
}

/// Copies the embedded node in `from` into `to`, then opens the shared node
/// to check its log (the startup check) and compares its size. When
/// `process_dir` is given, it is made a data folder for a shared process:
/// the node key, the admin token and the origin, copied from `from`.
pub fn migrate(from: &Path, to: &SharedStorage, process_dir: Option<&Path>) -> Result<Migrated> {
    let key = identity::load_existing_key(from).with_context(|| {
        format!(
            "{} holds no node key: is it a node's data folder?",
            from.display()
        )
    })?;
    let options = OpenOptions {
        node_key: Some(key.public()),
        ..OpenOptions::default()
    };
    let (source, _flusher) = Store::open(from, &options, || identity::default_origin(&key))
        .with_context(|| {
            format!(
                "opening the embedded node in {} (is it still running?)",
                from.display()
            )
        })?;
    let origin = source.origin().to_string();

    let db = crate::store::shared::SharedDb::connect(&to.postgres, to.max_connections)
        .context("connecting to the shared database")?;
    if !db.is_empty()? {
        bail!("the shared database already holds a node: migrate into an empty one");
    }

    // The artifacts first (every release's, own and mirrored, unless taken
    // down): they are content-addressed, so a migration cut short is run
    // again; the database, written last in one transaction, stays empty until
    // every artifact it names is in the bucket.
    let staging = tempfile::tempdir().context("a staging folder for uploads")?;
    let objects = Objects::open(&to.objects, &to.options)?;
    let target = BlobStore::open_shared(staging.path(), objects)?;
    let mut digests: BTreeSet<Digest> = BTreeSet::new();
    for r in source.all_releases()? {
        if r.taken_down.is_none() {
            digests.insert(r.digest);
        }
    }
    let mut artifacts = 0;
    for digest in &digests {
        let Some(mut blob) = source.blobs.read(digest)? else {
            bail!("the embedded node lists {digest} but does not hold its bytes");
        };
        let mut w = target.writer()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = blob.read(&mut buf)?;
            if n == 0 {
                break;
            }
            w.write(&buf[..n])?;
        }
        w.finish(digest)
            .map_err(|e| anyhow::anyhow!("uploading artifact {digest}: {e}"))?;
        artifacts += 1;
    }
    // The trees, streamed from one moment of the source into one transaction.
    let (tx, rx) = std::sync::mpsc::sync_channel(1024);
    let exporter = {
        let source = source.clone();
        std::thread::spawn(move || {
            source.export(|tree, k, v| {
                tx.send(Ok((tree.to_string(), k.to_vec(), v.to_vec())))
                    .map_err(|_| std::io::Error::other("the import stopped"))
            })
        })
    };
    let entries =
        Store::import_shared(&db, rx.into_iter()).context("writing the trees into PostgreSQL")?;
    let log_size = exporter
        .join()
        .map_err(|_| anyhow::anyhow!("reading the embedded database panicked"))?
        .context("reading the embedded database")?;

    drop(source);

    // The shared node as a process opens it: its log must check out.
    let shared_options = OpenOptions {
        node_key: Some(key.public()),
        shared: Some(to.clone()),
        origin: Some(origin.clone()),
        ..OpenOptions::default()
    };
    let check_dir = tempfile::tempdir()?;
    let (shared, _flusher) = Store::open(check_dir.path(), &shared_options, || origin.clone())
        .context("opening the migrated node")?;
    if shared.log_size()? != log_size {
        bail!(
            "the shared node's log holds {} entries where the embedded one holds {log_size}",
            shared.log_size()?
        );
    }
    if let Some(dir) = process_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for secret in [identity::NODE_KEY_FILE, identity::ADMIN_TOKEN_FILE] {
            let text = std::fs::read_to_string(from.join(secret))
                .with_context(|| format!("reading {secret} in {}", from.display()))?;
            identity::write_secret(dir, secret, &text)?;
        }
        identity::record_origin(dir, &origin)?;
    }
    Ok(Migrated {
        origin,
        log_size,
        entries,
        artifacts,
    })
}
