//! Relayed logs: `GET /api/v1/mirrors` and, per mirrored origin,
//! `/api/v1/mirrors/{origin}/log/checkpoint`, `/entries`, `/proof/inclusion`,
//! `/proof/consistency` — the origin's log as this node verified it, with the
//! origin's own signed checkpoint (cosigned by this node when it witnesses it).

use super::log::{ConsistencyQuery, EntriesQuery, InclusionQuery};
use crate::error::ApiError;
use crate::federation::relay;
use crate::state::AppState;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{web, HttpResponse};

/// Every mirrored origin.
#[utoipa::path(
    get, path = "/api/v1/mirrors", tag = "federation",
    responses((status = 200, description = "every mirrored origin", body = Vec<shire_core::wire::MirrorInfo>))
)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::list(&state.store)?))
}

/// The origin's checkpoint as mirrored (`text/plain`).
#[utoipa::path(
    get, path = "/api/v1/mirrors/{origin}/log/checkpoint", tag = "federation", params(("origin" = String, Path, description = "the mirrored origin (may hold `/`)")),
    responses((status = 200, description = "the origin's checkpoint as mirrored, with cosignatures", body = String, content_type = "text/plain"),
        (status = 404, description = "`not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn checkpoint(
    state: web::Data<AppState>,
    origin: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let note = relay::checkpoint(&state.store, &origin)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(note))
}

/// Mirrored entries.
#[utoipa::path(
    get, path = "/api/v1/mirrors/{origin}/log/entries", tag = "federation", params(("origin" = String, Path, description = "the mirrored origin (may hold `/`)"), EntriesQuery),
    responses((status = 200, description = "mirrored entries", body = shire_core::wire::LogEntries),
        (status = 400, description = "a bad range", body = shire_core::wire::ErrorBody), (status = 404, description = "`not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn entries(
    state: web::Data<AppState>,
    origin: web::Path<String>,
    q: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::entries(&state.store, &origin, q.start, q.end)?))
}

/// Inclusion proof in the mirrored tree.
#[utoipa::path(
    get, path = "/api/v1/mirrors/{origin}/log/proof/inclusion", tag = "federation", params(("origin" = String, Path, description = "the mirrored origin (may hold `/`)"), InclusionQuery),
    responses((status = 200, description = "an inclusion proof in the mirrored tree", body = shire_core::wire::InclusionProof),
        (status = 400, description = "a bad index or size", body = shire_core::wire::ErrorBody), (status = 404, description = "`not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn inclusion(
    state: web::Data<AppState>,
    origin: web::Path<String>,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::inclusion(&state.store, &origin, q.index, q.size)?))
}

/// Consistency proof in the mirrored tree.
#[utoipa::path(
    get, path = "/api/v1/mirrors/{origin}/log/proof/consistency", tag = "federation", params(("origin" = String, Path, description = "the mirrored origin (may hold `/`)"), ConsistencyQuery),
    responses((status = 200, description = "a consistency proof in the mirrored tree", body = shire_core::wire::ConsistencyProof),
        (status = 400, description = "bad sizes", body = shire_core::wire::ErrorBody), (status = 404, description = "`not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn consistency(
    state: web::Data<AppState>,
    origin: web::Path<String>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::consistency(&state.store, &origin, q.from, q.size)?))
}
