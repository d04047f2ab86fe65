//! The transparency log, read-only: `GET /api/v1/log/checkpoint`, `/entries`,
//! `/proof/inclusion`, `/proof/consistency`, and the C2SP tlog-tiles views
//! `GET /checkpoint` and `GET /tile/...`.
//!
//! Everything is answered for the **durable** log size
//! ([`crate::store::Store::durable_log_size`]): the checkpoint signs that size,
//! and entries, proofs and tiles never reach past it. An entry whose
//! transaction is committed but not yet flushed is invisible here until its
//! group-commit flush completes, which happens before its writer is answered;
//! so whatever a client is told about (a `log_index`) is already provable, and
//! a node never signs a tree a crash could take back.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::log::LogView;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use shire_core::wire::{ConsistencyProof, InclusionProof, LogEntries, LogEntry};
use shire_tlog::{Origin, TileError, TileId};

/// Most entries one `/entries` request returns; a client pages with `start`.
pub const MAX_ENTRIES_PER_REQUEST: u64 = 1000;

/// Cache header of tiles: their bytes never change for a given path.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `?start=S&end=E` (end exclusive).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// The first entry's index.
    pub(crate) start: u64,
    /// One past the last entry's index.
    pub(crate) end: u64,
}

/// `?index=I&size=N`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry's index.
    pub(crate) index: u64,
    /// The tree size the proof is for.
    pub(crate) size: u64,
}

/// `?from=M&size=N`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub(crate) from: u64,
    /// The newer tree size.
    pub(crate) size: u64,
}

fn bad_query(message: String) -> ApiError {
    ApiError::bad_request("bad_query", message)
}

/// The current durable size and a view to read the log at that size.
fn durable(state: &AppState) -> (u64, LogView<'_>) {
    (state.store.durable_log_size(), state.store.log_view())
}

/// The signed checkpoint for the durable size (C2SP signed note).
pub fn current_checkpoint(state: &AppState) -> Result<String, ApiError> {
    let (size, view) = durable(state);
    let root = shire_tlog::tree_hash(size, &view)
        .map_err(|e| ApiError::Internal(format!("log root at size {size}: {e}")))?;
    let origin = Origin::parse(&state.origin)
        .map_err(|e| ApiError::Internal(format!("node origin: {e}")))?;
    Ok(shire_tlog::sign_checkpoint(
        &origin,
        size,
        &root,
        state.node_key.dalek(),
    ))
}

/// `GET /api/v1/log/checkpoint` and `GET /checkpoint`: the latest signed
/// checkpoint as `text/plain`, never cached.
#[utoipa::path(
    get, path = "/api/v1/log/checkpoint", tag = "log",
    responses((status = 200, description = "the latest signed checkpoint (C2SP signed note)", body = String, content_type = "text/plain"))
)]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let note = current_checkpoint(&state)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(note))
}

/// `GET /api/v1/log/entries?start=S&end=E`: entries `S..E`, at most
/// [`MAX_ENTRIES_PER_REQUEST`], none at or past the durable size.
#[utoipa::path(
    get, path = "/api/v1/log/entries", tag = "log", params(EntriesQuery),
    responses((status = 200, description = "entries start..end (end exclusive), at most 1000", body = shire_core::wire::LogEntries),
        (status = 400, description = "a bad range", body = shire_core::wire::ErrorBody))
)]
pub async fn entries(
    state: web::Data<AppState>,
    q: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    if q.start > q.end {
        return Err(bad_query(format!(
            "start ({}) is after end ({})",
            q.start, q.end
        )));
    }
    let (size, view) = durable(&state);
    let end = q
        .end
        .min(size)
        .min(q.start.saturating_add(MAX_ENTRIES_PER_REQUEST));
    let entries = view
        .entries(q.start, end)?
        .into_iter()
        .map(|(index, bytes)| LogEntry {
            index,
            data: B64.encode(bytes),
        })
        .collect();
    Ok(HttpResponse::Ok().json(LogEntries { entries }))
}

/// The log at its durable size, refusing a proof request for a larger tree.
fn durable_up_to(state: &AppState, size: u64) -> Result<LogView<'_>, ApiError> {
    let (current, view) = durable(state);
    if size > current {
        return Err(bad_query(format!(
            "size {size} is larger than the log ({current} entries)"
        )));
    }
    Ok(view)
}

/// `GET /api/v1/log/proof/inclusion?index=I&size=N`.
#[utoipa::path(
    get, path = "/api/v1/log/proof/inclusion", tag = "log", params(InclusionQuery),
    responses((status = 200, description = "the inclusion proof of entry `index` in the tree of `size`", body = shire_core::wire::InclusionProof),
        (status = 400, description = "a bad index or size", body = shire_core::wire::ErrorBody))
)]
pub async fn inclusion(
    state: web::Data<AppState>,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = durable_up_to(&state, q.size)?;
    if q.index >= q.size {
        return Err(bad_query(format!(
            "entry {} is not in a tree of size {}",
            q.index, q.size
        )));
    }
    let hashes = shire_tlog::inclusion_proof(q.index, q.size, &view)
        .map_err(|e| ApiError::Internal(format!("inclusion proof: {e}")))?;
    Ok(HttpResponse::Ok().json(InclusionProof {
        index: q.index,
        size: q.size,
        hashes: hashes.iter().map(|h| h.to_base64()).collect(),
    }))
}

/// `GET /api/v1/log/proof/consistency?from=M&size=N`.
#[utoipa::path(
    get, path = "/api/v1/log/proof/consistency", tag = "log", params(ConsistencyQuery),
    responses((status = 200, description = "the consistency proof from `from` to `size`", body = shire_core::wire::ConsistencyProof),
        (status = 400, description = "bad sizes", body = shire_core::wire::ErrorBody))
)]
pub async fn consistency(
    state: web::Data<AppState>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = durable_up_to(&state, q.size)?;
    if q.from > q.size {
        return Err(bad_query(format!(
            "from ({}) is larger than size ({})",
            q.from, q.size
        )));
    }
    let hashes = shire_tlog::consistency_proof(q.from, q.size, &view)
        .map_err(|e| ApiError::Internal(format!("consistency proof: {e}")))?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from: q.from,
        size: q.size,
        hashes: hashes.iter().map(|h| h.to_base64()).collect(),
    }))
}

/// `GET /checkpoint`: the same as [`checkpoint`], at the path C2SP
/// tlog-tiles clients ask.
#[utoipa::path(
    get, path = "/checkpoint", tag = "log",
    responses((status = 200, description = "the latest signed checkpoint, at the path C2SP tlog-tiles clients ask", body = String, content_type = "text/plain"))
)]
pub async fn checkpoint_root(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    checkpoint(state).await
}

/// `GET /tile/<L>/<N>[.p/<W>]` and `GET /tile/entries/<N>[.p/<W>]` (C2SP
/// tlog-tiles): `application/octet-stream`, cacheable forever (a path names
/// the same bytes for every tree size that contains it); 404 `tile_not_found`
/// for a tile beyond the durable tree, 400 `bad_path` for a non-canonical path.
#[utoipa::path(
    get, path = "/tile/{tail}", tag = "log",
    params(("tail" = String, Path, description = "`L/N[.p/W]` or `entries/N[.p/W]` (C2SP tlog-tiles)")),
    responses((status = 200, description = "the tile's bytes, cacheable forever", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "`bad_path`", body = shire_core::wire::ErrorBody), (status = 404, description = "`tile_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn tile(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id =
        TileId::parse(req.path()).map_err(|e| ApiError::bad_request("bad_path", e.to_string()))?;
    let (size, view) = durable(&state);
    let bytes = shire_tlog::tile_data(&id, size, &view, &view).map_err(|e| match e {
        TileError::NotInTree { .. } => ApiError::TileNotFound(e.to_string()),
        TileError::BadPath(_) | TileError::BadCoordinates => {
            ApiError::bad_request("bad_path", e.to_string())
        }
        other => ApiError::Internal(format!("tile {id}: {other}")),
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/octet-stream"))
        .insert_header((CACHE_CONTROL, IMMUTABLE))
        .body(bytes))
}
