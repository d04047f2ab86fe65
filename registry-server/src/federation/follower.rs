//! Following one peer: one verified pass over the origin's log ([`pass`]),
//! and the background loop that repeats it with polling and backoff
//! ([`run_peer`]).
//!
//! A pass: fetch the origin's signed checkpoint (from the peer, or from a
//! relay's mirror path), open it with the configured origin key, refuse a
//! rollback or a fork against the last checkpoint mirrored (consistency
//! proof), then fetch the missing entries in batches. For each batch the
//! tree is extended over the mirrored hashes and its root is tied to the
//! checkpoint (equal at the end, or by a consistency proof), every entry is
//! checked by the ledger ([`super::apply::check_batch`]), artifacts are
//! fetched by digest and checked, and the batch is committed in one
//! transaction (`Store::commit_mirror_batch`, which asks the ledger again)
//! and made durable before the next.

use super::apply::{self, store_fault, Fault};
use super::config::PeerConfig;
use super::{witness, Federation};
use crate::store::blobs::InspectError;
use crate::store::mirror::{MirrorBatch, MirrorRecord, Overlay};
use crate::store::{Artifact, StoreError};
use base64::Engine as _;
use futures_util::StreamExt as _;
use shire_core::archive::ArchiveSummary;
use shire_core::wire::{ConsistencyProof, LogEntries};
use shire_core::Digest;
use shire_tlog::{open_checkpoint, tree_hash, verify_consistency, Checkpoint, Hash};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// What a successful pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Size of the origin checkpoint now mirrored.
    pub checkpoint_size: u64,
    /// Entries applied by this pass.
    pub applied: u64,
    /// Bytes received from the peer (answers and artifacts).
    pub bytes: u64,
}

fn fatal(msg: impl Into<String>) -> Fault {
    Fault::Fatal(msg.into())
}

/// Largest checkpoint note accepted.
const MAX_NOTE: usize = 64 * 1024;
/// Largest JSON answer accepted: a batch of entries (at most `batch`
/// entries of at most a tile bundle's entry size each, base64) or a proof.
const MAX_JSON: usize = 16 * 1024 * 1024;

struct Fetch<'a> {
    fed: &'a Federation,
    peer: &'a PeerConfig,
    /// Bytes received (shared by the artifact fetches that run together).
    bytes: std::sync::atomic::AtomicU64,
}

/// Artifacts fetched from a peer at once.
const ARTIFACT_FETCHES: usize = 8;

impl Fetch<'_> {
    async fn get(&mut self, url: &str) -> Result<reqwest::Response, Fault> {
        let resp = self
            .fed
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Fault::Transient(format!("peer {}: {url}: {e}", self.peer.name)))?;
        if !resp.status().is_success() {
            return Err(Fault::Transient(format!(
                "peer {}: {url} answered {}",
                self.peer.name,
                resp.status()
            )));
        }
        Ok(resp)
    }

    async fn body(&mut self, url: &str, max: usize) -> Result<Vec<u8>, Fault> {
        let mut resp = self.get(url).await?;
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Fault::Transient(format!("peer {}: {url}: {e}", self.peer.name)))?
        {
            self.bytes
                .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if out.len() + chunk.len() > max {
                return Err(fatal(format!(
                    "peer {}: {url}: answer over {max} bytes",
                    self.peer.name
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn json<T: serde::de::DeserializeOwned>(&mut self, url: &str) -> Result<T, Fault> {
        let body = self.body(url, MAX_JSON).await?;
        serde_json::from_slice(&body).map_err(|e| {
            fatal(format!(
                "peer {}: {url}: malformed answer: {e}",
                self.peer.name
            ))
        })
    }

    async fn checkpoint(&mut self) -> Result<(String, Checkpoint), Fault> {
        let url = format!("{}/checkpoint", self.peer.log_base());
        let body = self.body(&url, MAX_NOTE).await?;
        let note = String::from_utf8(body).map_err(|_| {
            fatal(format!(
                "peer {}: the checkpoint is not text",
                self.peer.name
            ))
        })?;
        let cp = open_checkpoint(&note, &self.peer.origin, &self.peer.key).map_err(|e| {
            fatal(format!(
                "peer {}: checkpoint of {} refused: {e}",
                self.peer.name, self.peer.origin
            ))
        })?;
        Ok((note, cp))
    }

    async fn consistency(&mut self, from: u64, size: u64) -> Result<Vec<Hash>, Fault> {
        let url = format!(
            "{}/proof/consistency?from={from}&size={size}",
            self.peer.log_base()
        );
        let p: ConsistencyProof = self.json(&url).await?;
        if p.from != from || p.size != size {
            return Err(fatal(format!(
                "peer {}: consistency proof for other sizes",
                self.peer.name
            )));
        }
        decode_hashes(&p.hashes).map_err(|e| fatal(format!("peer {}: {e}", self.peer.name)))
    }

    /// Entries `start..end`, in as many requests as the peer needs.
    async fn all_entries(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Fault> {
        let mut out = Vec::new();
        while start + (out.len() as u64) < end {
            let got = self.entries(start + out.len() as u64, end).await?;
            out.extend(got);
        }
        Ok(out)
    }

    async fn entries(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Fault> {
        let url = format!("{}/entries?start={start}&end={end}", self.peer.log_base());
        let got: LogEntries = self.json(&url).await?;
        if got.entries.is_empty() || got.entries.len() as u64 > end - start {
            return Err(fatal(format!(
                "peer {}: asked for entries {start}..{end}, got {}",
                self.peer.name,
                got.entries.len()
            )));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        got.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                if e.index != start + i as u64 {
                    return Err(fatal(format!(
                        "peer {}: entry {} came where {} was due",
                        self.peer.name,
                        e.index,
                        start + i as u64
                    )));
                }
                b64.decode(&e.data).map_err(|_| {
                    fatal(format!(
                        "peer {}: entry {} is not base64",
                        self.peer.name, e.index
                    ))
                })
            })
            .collect()
    }

    /// Fetches an artifact into the blob store (streaming, digest checked)
    /// unless held. False when the peer answers 410 (its operator took the
    /// artifact down: a later entry of its log must say so) or this node
    /// took these bytes down itself.
    async fn artifact(&self, digest: &Digest) -> Result<bool, Fault> {
        let store = &self.fed.store;
        let local = |e: io::Error| Fault::Transient(format!("writing an artifact: {e}"));
        if store.blobs.exists(digest).map_err(local)? {
            return Ok(true);
        }
        if store
            .takedown_of(digest)
            .map_err(|e| Fault::Transient(format!("reading takedowns: {e}")))?
            .is_some()
        {
            return Ok(false);
        }
        store
            .writable()
            .map_err(|e| Fault::Transient(format!("not fetching artifact {digest}: {e}")))?;
        let url = format!("{}/api/v1/artifacts/{digest}", self.peer.url);
        let mut resp = self
            .fed
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Fault::Transient(format!("peer {}: {url}: {e}", self.peer.name)))?;
        if resp.status() == reqwest::StatusCode::GONE {
            tracing::warn!(peer = %self.peer.name, %digest, "the peer took this artifact down; mirroring its release without the bytes");
            return Ok(false);
        }
        if !resp.status().is_success() {
            return Err(Fault::Transient(format!(
                "peer {}: {url} answered {}",
                self.peer.name,
                resp.status()
            )));
        }
        let mut w = store.blobs.writer().map_err(local)?;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Fault::Transient(format!("peer {}: {url}: {e}", self.peer.name)))?
        {
            self.bytes
                .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            w.write(&chunk).map_err(local)?;
            if w.written() > self.fed.max_artifact {
                return Err(fatal(format!(
                    "peer {}: artifact {digest} is larger than this node accepts ({} bytes)",
                    self.peer.name, self.fed.max_artifact
                )));
            }
        }
        // As the upload route does: no blocking sync on the async worker.
        match w.finish_async(digest).await {
            Ok(_) => Ok(true),
            Err(crate::store::blobs::BlobError::Mismatch { actual, .. }) => Err(fatal(format!(
                "peer {}: changed artifact: {digest} was served with bytes hashing to {actual}",
                self.peer.name
            ))),
            Err(crate::store::blobs::BlobError::Io(e)) => Err(local(e)),
        }
    }
}

fn decode_hashes(hashes: &[String]) -> Result<Vec<Hash>, String> {
    hashes
        .iter()
        .map(|h| Hash::from_base64(h).map_err(|e| format!("bad proof hash: {e}")))
        .collect()
}

/// One pass over `peer`: mirror everything its latest checkpoint holds.
pub async fn pass(fed: &Federation, peer: &PeerConfig) -> Result<PassReport, Fault> {
    let lock = fed.origin_lock(peer.origin.as_str());
    let _guard = lock.lock().await;
    let origin = peer.origin.as_str();
    let store = &fed.store;
    let mut f = Fetch {
        fed,
        peer,
        bytes: Default::default(),
    };
    let local = |e: StoreError| Fault::Transient(format!("reading this node's store: {e}"));

    let (note, cp) = f.checkpoint().await?;
    let mut rec = store.mirror_record(origin).map_err(local)?;
    fed.board.update(&peer.name, |s| {
        s.entries_behind = cp.size().saturating_sub(rec.size);
    });

    // Never aside: a checkpoint no larger than what is mirrored must match
    // the mirrored tree (an older one is merely stale, e.g. a lagging relay);
    // a larger one must extend the last checkpoint mirrored.
    if cp.size() <= rec.size {
        if mirrored_root(store, origin, cp.size())? != cp.root() {
            return Err(fatal(format!(
                "peer {}: fork: checkpoint of {origin} at size {} disagrees with the entries mirrored",
                peer.name,
                cp.size()
            )));
        }
    } else if let Some(old_root) = rec.checkpoint_root {
        let proof = f.consistency(rec.checkpoint_size, cp.size()).await?;
        verify_consistency(
            &proof,
            rec.checkpoint_size,
            &old_root,
            cp.size(),
            &cp.root(),
        )
        .map_err(|e| {
            fatal(format!(
                "peer {}: inconsistent checkpoint of {origin} (size {} → {}): {e}",
                peer.name,
                rec.checkpoint_size,
                cp.size()
            ))
        })?;
    }

    let mut applied = 0;
    // Set when the peer answered 410 for an artifact of the batch: the batch
    // is read again up to the checkpoint, so the takedown that explains the
    // 410 is checked in it (a 410 no checked takedown explains is a fault).
    let mut widened = false;
    while rec.size < cp.size() {
        let start = rec.size;
        let want = if widened {
            cp.size().min(start + MAX_WIDENED_BATCH)
        } else {
            (start + fed.options.batch).min(cp.size())
        };
        let entries = if widened {
            f.all_entries(start, want).await?
        } else {
            f.entries(start, want).await?
        };
        let end = start + entries.len() as u64;
        let mut ov = Overlay {
            base: store.mirror_hashes(origin),
            start: shire_tlog::append_start_index(start),
            new: Vec::new(),
        };
        for (i, e) in entries.iter().enumerate() {
            let h = shire_tlog::hashes_to_append(start + i as u64, e, &ov).map_err(|e| {
                fatal(format!(
                    "peer {}: entry {}: {e}",
                    peer.name,
                    start + i as u64
                ))
            })?;
            ov.new.extend(h);
        }
        let root =
            tree_hash(end, &ov).map_err(|e| Fault::Transient(format!("mirror hashes: {e}")))?;
        if end == cp.size() {
            if root != cp.root() {
                return Err(fatal(format!(
                    "peer {}: entries {start}..{end} of {origin} do not hash to its checkpoint's root",
                    peer.name
                )));
            }
        } else {
            let proof = f.consistency(end, cp.size()).await?;
            verify_consistency(&proof, end, &root, cp.size(), &cp.root()).map_err(|_| {
                fatal(format!(
                    "peer {}: entries {start}..{end} of {origin} are not a prefix of its checkpoint",
                    peer.name
                ))
            })?;
        }
        let mut artifacts = BTreeMap::new();
        let checked = apply::check_batch(store, peer, start, &entries)?;
        refuse_shared_takedowns(store, peer, &checked.taken_down)?;
        let mut unexplained = None;
        // Several at once: a follower catching up is bound by round trips.
        let fetched: Vec<Result<(Digest, Option<Artifact>), Fault>> =
            futures_util::stream::iter(checked.fetch.iter().copied())
                .map(|digest| {
                    let f = &f;
                    async move {
                        if !f.artifact(&digest).await? {
                            return Ok((digest, None));
                        }
                        let (size, files) = inspect(fed, digest).await?;
                        Ok((digest, Some(Artifact { size, files })))
                    }
                })
                .buffer_unordered(ARTIFACT_FETCHES)
                .collect()
                .await;
        for r in fetched {
            match r? {
                (digest, Some(a)) => {
                    artifacts.insert(digest, a);
                }
                (digest, None) => unexplained = Some(digest),
            }
        }
        if let Some(digest) = unexplained {
            if widened || end == cp.size() {
                return Err(Fault::Transient(format!(
                    "peer {}: artifact {digest} answers 410, but no takedown of it is in the log up to its checkpoint",
                    peer.name
                )));
            }
            widened = true;
            continue;
        }
        widened = false;
        // Releases the batch also takes down are stored without bytes.
        for digest in &checked.taken_down {
            artifacts.entry(*digest).or_insert(Artifact {
                size: 0,
                files: Default::default(),
            });
        }
        let mut next = MirrorRecord {
            size: end,
            ..rec.clone()
        };
        if end == cp.size() {
            finish_checkpoint(fed, peer, &mut next, &note, &cp);
        }
        let hashes = std::mem::take(&mut ov.new);
        let may_home = |o: &shire_core::OrgName| peer.is_home_of(o);
        store
            .commit_mirror_batch(
                origin,
                &peer.log_name(),
                &may_home,
                &MirrorBatch {
                    start,
                    entries: &entries,
                    hashes: &hashes,
                    artifacts: &artifacts,
                    record: &next,
                },
            )
            .map_err(|e| store_fault(peer, e))?;
        store.durable().await.map_err(local)?;
        if !checked.taken_down.is_empty() {
            let s = store.clone();
            tokio::task::spawn_blocking(move || s.erase_taken_down())
                .await
                .map_err(|e| Fault::Transient(format!("erasing taken-down artifacts: {e}")))?
                .map_err(|e| store_fault(peer, e))?;
        }
        applied += end - start;
        rec = next;
        fed.board.update(&peer.name, |s| {
            s.mirrored = rec.size;
            s.entries_behind = cp.size().saturating_sub(rec.size);
        });
    }
    // A newer checkpoint over entries already mirrored, or a witness that has
    // not cosigned the current one yet.
    let newer = cp.size() > rec.checkpoint_size && cp.size() == rec.size;
    let uncosigned = peer.witness && cp.size() == rec.checkpoint_size && rec.cosigned.is_none();
    if newer || uncosigned {
        if newer && mirrored_root(store, origin, cp.size())? != cp.root() {
            return Err(fatal(format!(
                "peer {}: checkpoint of {origin} at size {} disagrees with the entries mirrored",
                peer.name,
                cp.size()
            )));
        }
        finish_checkpoint(fed, peer, &mut rec, &note, &cp);
        store.save_mirror_record(origin, &rec).map_err(local)?;
        store.durable().await.map_err(local)?;
    }
    fed.board.update(&peer.name, |s| {
        s.checkpoint_size = rec.checkpoint_size;
        s.checkpoint_root = rec.checkpoint_root.map(|h| h.to_base64());
        s.mirrored = rec.size;
        s.entries_behind = cp.size().saturating_sub(rec.size);
    });
    Ok(PassReport {
        checkpoint_size: rec.checkpoint_size,
        applied,
        bytes: f.bytes.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// The root of the mirrored copy of `origin`'s log at `size` entries.
fn mirrored_root(store: &crate::store::Store, origin: &str, size: u64) -> Result<Hash, Fault> {
    tree_hash(size, &store.mirror_hashes(origin))
        .map_err(|e| Fault::Transient(format!("mirror hashes: {e}")))
}

/// Records `cp` as the mirrored checkpoint, cosigned when this node witnesses `peer`.
fn finish_checkpoint(
    fed: &Federation,
    peer: &PeerConfig,
    rec: &mut MirrorRecord,
    note: &str,
    cp: &Checkpoint,
) {
    rec.checkpoint_size = cp.size();
    rec.checkpoint_root = Some(cp.root());
    rec.checkpoint = Some(note.to_string());
    rec.cosigned = if peer.witness {
        match witness::cosign(note, &fed.own_origin, &fed.node_key) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::error!(peer = %peer.name, error = %e, "cannot cosign");
                None
            }
        }
    } else {
        None
    };
}

/// Applies the archive rules to a fetched artifact and checks its bytes
/// still hash to the digest; returns its size and listing.
async fn inspect(fed: &Federation, digest: Digest) -> Result<(u64, ArchiveSummary), Fault> {
    let blobs = fed.store.blobs.clone();
    let limits = fed.archive_limits;
    tokio::task::spawn_blocking(move || blobs.inspect(&digest, &limits))
        .await
        .map_err(|e| Fault::Transient(format!("inspecting an artifact: {e}")))?
        .map_err(|e| match e {
            InspectError::Archive(e) => {
                fatal(format!("artifact {digest} breaks an archive rule: {e}"))
            }
            e => Fault::Transient(format!("artifact {digest}: {e}")),
        })
}

/// The background loop for one peer: passes every poll interval while all
/// is well, retries with capped exponential backoff while the peer is down,
/// and stops on a fault (kept in the store, so a restart keeps it stopped)
/// until the operator resumes it (`shire-registry peers resume`).
pub async fn run_peer(fed: Arc<Federation>, peer: PeerConfig) {
    let mut failures: u32 = 0;
    // On a shared node, one process follows each peer.
    let lease = fed.store.lease(&format!("follow {}", peer.name));
    loop {
        if !lease.held() {
            tokio::time::sleep(
                fed.options
                    .poll_interval
                    .min(std::time::Duration::from_secs(5)),
            )
            .await;
            continue;
        }
        if fed.is_stopped(&peer.name) {
            fed.resumed(&peer.name).await;
            failures = 0;
        }
        let outcome = pass(&fed, &peer).await;
        fed.record_outcome(&peer, &outcome).await;
        let delay = match outcome {
            Ok(report) => {
                failures = 0;
                if report.applied > 0 {
                    tracing::info!(peer = %peer.name, applied = report.applied, size = report.checkpoint_size, "mirrored");
                }
                fed.options.poll_interval
            }
            Err(Fault::Transient(msg)) => {
                failures = failures.saturating_add(1);
                tracing::warn!(peer = %peer.name, failures, error = %msg, "peer unreachable; retrying");
                super::peer_state::backoff(failures, fed.options.retry_min, fed.options.retry_max)
            }
            Err(Fault::Fatal(msg)) => {
                tracing::error!(peer = %peer.name, error = %msg, "peer stopped until an operator resumes it");
                // Whether or not the stop could be stored: wait for a resume.
                fed.resumed(&peer.name).await;
                failures = 0;
                continue;
            }
        };
        tokio::time::sleep(delay).await;
    }
}

/// Most entries a batch widened to explain a 410 reads at once.
const MAX_WIDENED_BATCH: u64 = 50_000;

/// Refuses a batch whose takedowns would erase bytes this node also holds
/// for a release that is not the peer's and is not taken down: a peer takes
/// down its own releases, never another organisation's bytes.
fn refuse_shared_takedowns(
    store: &crate::store::Store,
    peer: &PeerConfig,
    digests: &[Digest],
) -> Result<(), Fault> {
    for digest in digests {
        let others: Vec<String> = store
            .releases_with_digest(digest)
            .map_err(|e| store_fault(peer, e))?
            .into_iter()
            .filter(|r| !r.taken_down && r.origin.as_deref() != Some(peer.origin.as_str()))
            .map(|r| r.release)
            .collect();
        if !others.is_empty() {
            return Err(fatal(format!(
                "peer {}: its log takes down artifact {digest}, which this node also holds for {}: refusing to erase it",
                peer.name,
                others.join(", ")
            )));
        }
    }
    Ok(())
}
