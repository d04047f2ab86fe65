//! Backups of a node, taken while it serves (`shire-registry backup`),
//! checked on their own (`verify-backup`) and restored into a new data
//! folder (`restore`).
//!
//! A backup is a folder:
//! - `shire-backup.json`: the format, the data layout, the origin, the log
//!   size, when, and how many artifacts;
//! - `db/<tree>.jsonl`: every entry of every database tree, one JSON line
//!   each (`{"k": base64, "v": base64}`), read as one moment: no
//!   transaction runs while they are read, so the backup holds every event
//!   of a prefix of the log and the state that prefix made, nothing
//!   half-written;
//! - `blobs/<hex>`: the artifact of every release the backup holds (but
//!   taken-down ones), each checked against its digest as it is copied;
//! - `checkpoint`: the node's signed checkpoint of the backup's log size;
//! - `node-key`, `admin-token` (mode 0600): the node keeps its key, and so
//!   its log's name, across a restore.
//!
//! `verify` recomputes the log's root from the backed-up entries and checks
//! it against the signed checkpoint, and every artifact against its digest.
//! `restore` verifies first, then writes a new data folder.

use crate::identity;
use crate::store::records::{adoption_key, AdoptionRecord, ReleaseRecord, SupportRecord};
use crate::store::{Store, DATA_FORMAT};
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shire_core::{Digest, KeyPair};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The backup format this node writes and reads.
pub const BACKUP_FORMAT: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "shire-backup.json";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `shire-backup.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BackupManifest)]
pub struct Manifest {
    /// Always [`BACKUP_FORMAT`].
    pub format: u32,
    /// The data layout of the node backed up (`store::DATA_FORMAT`).
    pub data_format: u64,
    /// The node's origin.
    pub origin: String,
    /// Entries of the node's log the backup holds.
    pub log_size: u64,
    /// When it was taken (RFC 3339).
    pub created_at: String,
    /// Artifacts it holds.
    pub artifacts: usize,
}

#[derive(Serialize, Deserialize)]
struct Line {
    k: String,
    v: String,
}

fn ensure_empty(dir: &Path, what: &str) -> Result<()> {
    if let Ok(mut entries) = fs::read_dir(dir) {
        if entries.next().is_some() {
            bail!("{} is not empty: {what} needs a new folder", dir.display());
        }
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700 where it is new.
fn private_dir(dir: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Refuses anything in a backup that is not a regular file (a link to a
/// device or elsewhere must not be read as part of it).
fn regular(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file: not part of a backup",
            path.display()
        );
    }
    Ok(())
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Backs up the node whose store is `store` and data folder `data_dir` into
/// the new folder `to` (see the module docs), while it serves.
pub fn backup(store: &Store, data_dir: &Path, node_key: &KeyPair, to: &Path) -> Result<Manifest> {
    if to
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!(
            "{} holds `..`: name the backup folder plainly",
            to.display()
        );
    }
    ensure_empty(to, "a backup")?;
    // Never inside the data folder it copies (nor the data folder itself).
    let data =
        fs::canonicalize(data_dir).with_context(|| format!("resolving {}", data_dir.display()))?;
    let mut probe = to.to_path_buf();
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p.to_path_buf(),
            None => break,
        }
    }
    if fs::canonicalize(&probe).is_ok_and(|p| p.starts_with(&data)) {
        bail!(
            "{} is inside the data folder {}: a backup goes elsewhere",
            to.display(),
            data.display()
        );
    }
    // Only the node's user reads a backup: it holds the node key, the admin
    // token and every token's hash.
    for dir in [to.to_path_buf(), to.join("db"), to.join("blobs")] {
        private_dir(&dir)?;
    }
    let mut writers: BTreeMap<String, BufWriter<File>> = BTreeMap::new();
    let mut digests: BTreeSet<Digest> = BTreeSet::new();
    let log_size = store.export(|tree, k, v| {
        if tree == "releases" {
            if let Ok(r) = serde_json::from_slice::<ReleaseRecord>(v) {
                if r.taken_down.is_none() {
                    digests.insert(r.digest);
                }
            }
        }
        let w = match writers.get_mut(tree) {
            Some(w) => w,
            None => {
                let f = File::create(to.join("db").join(format!("{tree}.jsonl")))?;
                writers.entry(tree.to_string()).or_insert(BufWriter::new(f))
            }
        };
        let line = serde_json::to_string(&Line {
            k: B64.encode(k),
            v: B64.encode(v),
        })?;
        writeln!(w, "{line}")
    })?;
    for (_, w) in writers {
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .context("writing the database's entries")?;
    }
    fsync_dir(&to.join("db"))?;
    for d in &digests {
        let mut from = store
            .blobs
            .read(d)?
            .with_context(|| format!("the artifact {d} of a stored release is missing"))?;
        let dest = to.join("blobs").join(d.hex());
        let mut out = shire_core::digest::HashingWriter::new(BufWriter::new(File::create(&dest)?));
        std::io::copy(&mut from, &mut out).with_context(|| format!("copying {d}"))?;
        let (w, got, _) = out.finish();
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {}", dest.display()))?;
        if got != *d {
            bail!("the stored artifact {d} hashes to {got}: the node's disk was altered");
        }
    }
    fsync_dir(&to.join("blobs"))?;
    let root = shire_tlog::tree_hash(log_size, &store.log_view())
        .map_err(|e| anyhow::anyhow!("the log's root at {log_size}: {e}"))?;
    let origin = shire_tlog::Origin::parse(store.origin()).context("the node's origin")?;
    let note = shire_tlog::sign_checkpoint(&origin, log_size, &root, node_key.dalek());
    fs::write(to.join("checkpoint"), note).context("writing the checkpoint")?;
    for secret in [identity::NODE_KEY_FILE, identity::ADMIN_TOKEN_FILE] {
        let text = fs::read_to_string(data_dir.join(secret))
            .with_context(|| format!("reading {secret} in {}", data_dir.display()))?;
        identity::write_secret(to, secret, &text)?;
    }
    let manifest = Manifest {
        format: BACKUP_FORMAT,
        data_format: DATA_FORMAT,
        origin: store.origin().to_string(),
        log_size,
        created_at: crate::store::now(),
        artifacts: digests.len(),
    };
    fs::write(to.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)
        .context("writing the manifest")?;
    fsync_dir(to)?;
    Ok(manifest)
}

fn read_manifest(from: &Path) -> Result<Manifest> {
    let path = from.join(MANIFEST);
    let m: Manifest = serde_json::from_slice(
        &fs::read(&path)
            .with_context(|| format!("reading {} (is it a backup?)", path.display()))?,
    )
    .with_context(|| format!("reading {}", path.display()))?;
    if m.format != BACKUP_FORMAT {
        bail!(
            "{} is backup format {}, this node reads {BACKUP_FORMAT}",
            from.display(),
            m.format
        );
    }
    if m.data_format != DATA_FORMAT {
        bail!(
            "{} holds data layout {}, this node reads {DATA_FORMAT}",
            from.display(),
            m.data_format
        );
    }
    Ok(m)
}

/// Every entry of the backed-up tree `tree`, decoded.
fn tree_lines(from: &Path, tree: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let path = from.join("db").join(format!("{tree}.jsonl"));
    if path.symlink_metadata().is_ok() {
        regular(&path)?;
    }
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    BufReader::new(f)
        .lines()
        .map(|l| {
            let l = l.with_context(|| format!("reading {}", path.display()))?;
            let line: Line =
                serde_json::from_str(&l).with_context(|| format!("in {}", path.display()))?;
            Ok((B64.decode(line.k)?, B64.decode(line.v)?))
        })
        .collect()
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// The verified root, base64.
    pub root: String,
}

/// Checks a backup on its own: the log's root recomputed from its entries
/// is the one its checkpoint signs (under the backed-up node key, for its
/// origin), and every artifact hashes to its digest and every release it
/// holds has its artifact.
pub fn verify(from: &Path, expected_key: Option<&str>) -> Result<Verified> {
    let manifest = read_manifest(from)?;
    for name in [
        MANIFEST,
        "checkpoint",
        identity::NODE_KEY_FILE,
        identity::ADMIN_TOKEN_FILE,
    ] {
        regular(&from.join(name))?;
    }
    for entry in fs::read_dir(from.join("db")).context("listing the database's entries")? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let known = name
            .strip_suffix(".jsonl")
            .is_some_and(|t| crate::store::TREE_NAMES.contains(&t));
        if !known {
            bail!("db/{name} is not a tree this node keeps");
        }
        regular(&entry.path())?;
    }
    let key_text =
        fs::read_to_string(from.join(identity::NODE_KEY_FILE)).context("reading the node key")?;
    let key = KeyPair::from_secret_file(&key_text).context("the backed-up node key")?;
    let origin = shire_tlog::Origin::parse(&manifest.origin).context("the backup's origin")?;
    // Whoever can write a backup can re-sign it with the key it holds: the
    // operator's own copy of the node's public key settles whose it is.
    if let Some(want) = expected_key {
        let have = identity::note_key(&manifest.origin, &key);
        if have != want.trim() {
            bail!(
                "the backup's node key is {have}, not the one given ({})",
                want.trim()
            );
        }
    }
    let note = fs::read_to_string(from.join("checkpoint")).context("reading the checkpoint")?;
    let cp = shire_tlog::open_checkpoint(&note, &origin, key.public().dalek())
        .map_err(|e| anyhow::anyhow!("the checkpoint does not verify under the node key: {e}"))?;
    if cp.size() != manifest.log_size {
        bail!(
            "the checkpoint is of {} entries, the manifest says {}",
            cp.size(),
            manifest.log_size
        );
    }
    let mut entries = tree_lines(from, "log_entries")?;
    entries.sort();
    if entries.len() as u64 != manifest.log_size {
        bail!(
            "the backup holds {} log entries, its checkpoint {}",
            entries.len(),
            manifest.log_size
        );
    }
    for (i, (k, _)) in entries.iter().enumerate() {
        if k.as_slice() != (i as u64).to_be_bytes() {
            bail!("the backed-up log has no entry {i}");
        }
    }
    let bytes: Vec<Vec<u8>> = entries.into_iter().map(|(_, v)| v).collect();
    let log = shire_tlog::MemoryLog::from_entries(&bytes)
        .map_err(|e| anyhow::anyhow!("rebuilding the log: {e}"))?;
    let root = log
        .root_at(manifest.log_size)
        .map_err(|e| anyhow::anyhow!("the log's root: {e}"))?;
    if root != cp.root() {
        bail!("the backed-up log's root is not the one its checkpoint signs");
    }
    let mut held = BTreeSet::new();
    for entry in fs::read_dir(from.join("blobs")).context("listing the artifacts")? {
        let entry = entry?;
        regular(&entry.path())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let want = Digest::parse(&format!("sha256:{name}"))
            .with_context(|| format!("artifact file {name}"))?;
        let mut f = File::open(entry.path())?;
        let mut w = shire_core::digest::HashingWriter::new(std::io::sink());
        std::io::copy(&mut f, &mut w)?;
        let got = w.finish().1;
        if got != want {
            bail!("artifact {want} hashes to {got}");
        }
        held.insert(want);
    }
    // Every release of this node's own log is the one its log entry holds,
    // and is taken down only where the log says so.
    let taken: BTreeSet<(String, String)> = bytes
        .iter()
        .filter_map(|b| match shire_core::event::LogEvent::from_bytes(b) {
            Ok(shire_core::event::LogEvent::Takedown { name, version, .. }) => {
                Some((name.to_string(), version.to_string()))
            }
            _ => None,
        })
        .collect();
    for (_, v) in tree_lines(from, "releases")? {
        let r: ReleaseRecord = serde_json::from_slice(&v).context("a backed-up release")?;
        let id = format!("{}@{}", r.name, r.version);
        if r.origin.is_none() {
            let entry = usize::try_from(r.log_index)
                .ok()
                .and_then(|i| bytes.get(i))
                .with_context(|| format!("{id} names log entry {}, beyond the log", r.log_index))?;
            match shire_core::event::LogEvent::from_bytes(entry) {
                Ok(shire_core::event::LogEvent::Release { envelope, .. })
                    if envelope == r.envelope => {}
                _ => bail!(
                    "{id} is not the release its log entry {} holds",
                    r.log_index
                ),
            }
            let down = taken.contains(&(r.name.to_string(), r.version.to_string()));
            if r.taken_down.is_some() != down {
                bail!("{id} is marked taken down where the log does not say so, or the reverse");
            }
        }
        if r.taken_down.is_none() && !held.contains(&r.digest) {
            bail!("the backup holds {id} but not its artifact {}", r.digest);
        }
    }
    check_adoptions(from, &bytes)?;
    Ok(Verified {
        manifest,
        root: root.to_base64(),
    })
}

/// Every adoption record of this node's own log is the latest statement its
/// log holds for that organisation and package, and every such statement
/// has its record: the state the ledger judges the next one against.
fn check_adoptions(from: &Path, log: &[Vec<u8>]) -> Result<()> {
    use shire_core::event::LogEvent;
    let mut latest: BTreeMap<Vec<u8>, (u64, shire_core::dsse::Envelope)> = BTreeMap::new();
    for (i, b) in log.iter().enumerate() {
        if let Ok(LogEvent::Adoption { envelope, .. }) = LogEvent::from_bytes(b) {
            let st: shire_core::statement::AdoptionStatement =
                serde_json::from_slice(&envelope.payload_bytes()?)
                    .with_context(|| format!("log entry {i} holds no adoption statement"))?;
            latest.insert(
                adoption_key(&st.subject.name, &st.org),
                (i as u64, envelope),
            );
        }
    }
    let own_orgs: BTreeSet<Vec<u8>> = tree_lines(from, "orgs")?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for (k, v) in tree_lines(from, "adoptions")? {
        let r: AdoptionRecord = serde_json::from_slice(&v).context("a backed-up adoption")?;
        let what = format!("the adoption of {} by {}", r.fact.subject.name, r.fact.org);
        if k != adoption_key(&r.fact.subject.name, &r.fact.org) {
            bail!("{what} is filed under another key");
        }
        if r.origin.is_some() {
            // A mirrored log speaks only for organisations not home here.
            if own_orgs.contains(r.fact.org.as_str().as_bytes()) {
                bail!("{what} claims a mirrored log for an organisation of this node");
            }
            continue;
        }
        match latest.remove(&k) {
            Some((index, envelope)) if index == r.fact.index && envelope == r.envelope => {}
            _ => bail!("{what} is not the latest statement the log holds for it"),
        }
    }
    if let Some((_, (index, _))) = latest.into_iter().next() {
        bail!("the log's adoption statement at entry {index} has no record in the backup");
    }
    check_supports(from, log, &own_orgs)
}

/// The same for support statements: every support record of this node's
/// own log is what replaying its log's offers and acceptances makes, field
/// by field (the latest offer, the agreed terms and both envelopes).
fn check_supports(from: &Path, log: &[Vec<u8>], own_orgs: &BTreeSet<Vec<u8>>) -> Result<()> {
    use shire_core::dsse::Envelope;
    use shire_core::event::LogEvent;
    use shire_core::statement::{SupportAcceptance, SupportOffer};
    /// What the log makes of one supporter's statements about one package.
    struct Expected {
        offer: Envelope,
        terms: SupportOffer,
        offer_index: u64,
        accepted_index: Option<u64>,
        agreed: Option<(Envelope, Envelope, SupportOffer, u64, u64)>,
        index: u64,
    }
    let mut expected: BTreeMap<Vec<u8>, Expected> = BTreeMap::new();
    for (i, b) in log.iter().enumerate() {
        let i = i as u64;
        let Ok(LogEvent::Support { envelope, .. }) = LogEvent::from_bytes(b) else {
            continue;
        };
        let bytes = envelope.payload_bytes()?;
        if let Ok(o) = serde_json::from_slice::<SupportOffer>(&bytes) {
            let key = adoption_key(&o.package, &o.supporter);
            let agreed = expected.remove(&key).and_then(|e| e.agreed);
            expected.insert(
                key,
                Expected {
                    offer: envelope,
                    terms: o,
                    offer_index: i,
                    accepted_index: None,
                    agreed,
                    index: i,
                },
            );
        } else {
            let a: SupportAcceptance = serde_json::from_slice(&bytes)
                .with_context(|| format!("log entry {i} holds no support statement"))?;
            let e = expected
                .get_mut(&adoption_key(&a.package, &a.supporter))
                .with_context(|| format!("log entry {i} accepts an offer the log does not hold"))?;
            e.accepted_index = Some(i);
            e.agreed = Some((e.offer.clone(), envelope, e.terms.clone(), e.offer_index, i));
            e.index = i;
        }
    }
    for (k, v) in tree_lines(from, "supports")? {
        let r: SupportRecord = serde_json::from_slice(&v).context("a backed-up support record")?;
        let what = format!("the support of {} by {}", r.fact.package, r.fact.supporter);
        if k != adoption_key(&r.fact.package, &r.fact.supporter) {
            bail!("{what} is filed under another key");
        }
        if r.origin.is_some() {
            if own_orgs.contains(r.fact.package.org().as_str().as_bytes()) {
                bail!("{what} claims a mirrored log for a package of this node");
            }
            continue;
        }
        let Some(e) = expected.remove(&k) else {
            bail!("{what} is not in the log");
        };
        let f = &r.fact;
        let offer_digest = Digest::of(&e.offer.payload_bytes()?);
        let latest_ok = r.offer == e.offer
            && f.offer == offer_digest
            && f.offer_index == e.offer_index
            && f.versions == e.terms.versions
            && f.until == e.terms.until
            && f.accepted_index == e.accepted_index
            && f.index == e.index;
        let agreed_ok = match (&e.agreed, &f.agreed) {
            (None, None) => r.agreed_offer.is_none() && r.acceptance.is_none(),
            (Some((offer, acceptance, terms, offer_index, accepted_index)), Some(a)) => {
                r.agreed_offer.as_ref() == Some(offer)
                    && r.acceptance.as_ref() == Some(acceptance)
                    && a.versions == terms.versions
                    && a.until == terms.until
                    && a.offer_index == *offer_index
                    && a.accepted_index == *accepted_index
            }
            _ => false,
        };
        if !latest_ok || !agreed_ok {
            bail!("{what} is not what the log's statements make of it");
        }
    }
    if let Some((_, e)) = expected.into_iter().next() {
        bail!(
            "the log's support statement at entry {} has no record in the backup",
            e.index
        );
    }
    Ok(())
}

/// Verifies the backup `from` (against `expected_key`, the node's note key,
/// when given), then writes it into the new data folder `data_dir` (which
/// must be empty or absent): into a folder beside it first, renamed into
/// place once whole, so a failed restore leaves nothing half-written.
pub fn restore(from: &Path, data_dir: &Path, expected_key: Option<&str>) -> Result<Verified> {
    ensure_empty(data_dir, "a restore")?;
    let verified = verify(from, expected_key)?;
    let name = data_dir
        .file_name()
        .with_context(|| format!("{} names no folder", data_dir.display()))?
        .to_string_lossy()
        .into_owned();
    let staging = data_dir.with_file_name(format!(".{name}.restoring-{}", std::process::id()));
    let result = restore_into(from, &staging, &verified.manifest.origin);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    if data_dir.exists() {
        fs::remove_dir(data_dir)
            .with_context(|| format!("replacing the empty {}", data_dir.display()))?;
    }
    fs::rename(&staging, data_dir)
        .with_context(|| format!("moving the restored folder to {}", data_dir.display()))?;
    if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsync_dir(parent)?;
    }
    Ok(verified)
}

fn restore_into(from: &Path, data_dir: &Path, origin: &str) -> Result<()> {
    private_dir(data_dir)?;
    for secret in [identity::NODE_KEY_FILE, identity::ADMIN_TOKEN_FILE] {
        let text = fs::read_to_string(from.join(secret))?;
        identity::write_secret(data_dir, secret, &text)?;
    }
    identity::record_origin(data_dir, origin)?;
    let mut trees = Vec::new();
    for entry in fs::read_dir(from.join("db"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(tree) = name.strip_suffix(".jsonl") {
            trees.push(tree.to_string());
        }
    }
    let mut all = Vec::new();
    for tree in &trees {
        for (k, v) in tree_lines(from, tree)? {
            all.push(Ok((tree.clone(), k, v)));
        }
    }
    Store::import(data_dir, all.into_iter())?;
    let blobs = crate::store::blobs::BlobStore::open(data_dir)?;
    for entry in fs::read_dir(from.join("blobs"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let digest = Digest::parse(&format!("sha256:{name}"))?;
        let mut w = blobs.writer()?;
        let mut f = File::open(entry.path())?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            w.write(&buf[..n])?;
        }
        w.finish(&digest)
            .map_err(|e| anyhow::anyhow!("restoring artifact {digest}: {e}"))?;
    }
    fsync_dir(data_dir)?;
    Ok(())
}
