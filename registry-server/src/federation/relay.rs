//! Re-serving the logs this node mirrors, so another node can follow an
//! origin through this one and still check everything against the origin's
//! own key: the origin's signed checkpoint (with this node's cosignature when
//! it witnesses that origin), entries, and proofs computed over the mirrored
//! stored hashes. Only what was verified is served.

use crate::error::ApiError;
use crate::store::Store;
use base64::Engine as _;
use shire_core::wire::{ConsistencyProof, InclusionProof, LogEntries, LogEntry, MirrorInfo};
use shire_tlog::{consistency_proof, inclusion_proof, WitnessName};

/// Most entries one `entries` answer holds.
pub const MAX_ENTRIES: u64 = 1000;

fn unknown(origin: &str) -> ApiError {
    ApiError::NoRoute(format!("this node mirrors no log of origin {origin}"))
}

/// `GET /api/v1/mirrors`: every origin mirrored, with what is served.
pub fn list(store: &Store) -> Result<Vec<MirrorInfo>, ApiError> {
    Ok(store
        .mirror_records()?
        .into_iter()
        .filter(|(_, r)| r.checkpoint.is_some())
        .map(|(origin, r)| {
            let cosigned_by = r
                .cosigned
                .as_deref()
                .map(cosigner_names)
                .unwrap_or_default();
            MirrorInfo {
                origin,
                size: r.size,
                checkpoint_size: r.checkpoint_size,
                cosigned_by,
            }
        })
        .collect())
}

/// Names on the `— name sig` lines of a note beyond its first signature.
fn cosigner_names(note: &str) -> Vec<String> {
    let sigs = note.split("\n\n").nth(1).unwrap_or("");
    sigs.lines()
        .skip(1)
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split(' ').next())
        .filter(|n| WitnessName::parse(n).is_ok())
        .map(str::to_string)
        .collect()
}

/// The origin's checkpoint as mirrored (cosigned when witnessed).
pub fn checkpoint(store: &Store, origin: &str) -> Result<String, ApiError> {
    let r = store.mirror_record(origin)?;
    r.cosigned.or(r.checkpoint).ok_or_else(|| unknown(origin))
}

/// Entries `start..end` (fewer when past the mirror or over [`MAX_ENTRIES`]).
pub fn entries(store: &Store, origin: &str, start: u64, end: u64) -> Result<LogEntries, ApiError> {
    let r = store.mirror_record(origin)?;
    if r.checkpoint.is_none() {
        return Err(unknown(origin));
    }
    if start >= end || start >= r.size {
        return Err(ApiError::bad_request(
            "bad_query",
            format!(
                "entries {start}..{end}: the mirror of {origin} holds {}",
                r.size
            ),
        ));
    }
    let end = end.min(r.size).min(start.saturating_add(MAX_ENTRIES));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity((end - start) as usize);
    for index in start..end {
        let bytes = store
            .mirror_entry(origin, index)?
            .ok_or_else(|| ApiError::Internal(format!("mirror of {origin} lacks entry {index}")))?;
        out.push(LogEntry {
            index,
            data: b64.encode(bytes),
        });
    }
    Ok(LogEntries { entries: out })
}

fn proof_error(e: shire_tlog::TreeError) -> ApiError {
    ApiError::bad_request("bad_query", e.to_string())
}

/// Refuses a proof for an origin this node does not mirror, or for a size
/// beyond what it holds of that origin's log.
fn proof_bounds(store: &Store, origin: &str, size: u64) -> Result<(), ApiError> {
    let r = store.mirror_record(origin)?;
    if r.checkpoint.is_none() {
        return Err(unknown(origin));
    }
    if size > r.size {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("the mirror of {origin} holds {} entries", r.size),
        ));
    }
    Ok(())
}

/// Inclusion proof of entry `index` in the mirrored tree of `size` entries.
pub fn inclusion(
    store: &Store,
    origin: &str,
    index: u64,
    size: u64,
) -> Result<InclusionProof, ApiError> {
    proof_bounds(store, origin, size)?;
    let hashes = inclusion_proof(index, size, &store.mirror_hashes(origin)).map_err(proof_error)?;
    Ok(InclusionProof {
        index,
        size,
        hashes: hashes.iter().map(|h| h.to_base64()).collect(),
    })
}

/// Consistency proof between two sizes of the mirrored tree.
pub fn consistency(
    store: &Store,
    origin: &str,
    from: u64,
    size: u64,
) -> Result<ConsistencyProof, ApiError> {
    proof_bounds(store, origin, size)?;
    let hashes =
        consistency_proof(from, size, &store.mirror_hashes(origin)).map_err(proof_error)?;
    Ok(ConsistencyProof {
        from,
        size,
        hashes: hashes.iter().map(|h| h.to_base64()).collect(),
    })
}
