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
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::list(&state.store)?))
}

/// The origin's checkpoint as mirrored (`text/plain`).
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
pub async fn entries(
    state: web::Data<AppState>,
    origin: web::Path<String>,
    q: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::entries(&state.store, &origin, q.start, q.end)?))
}

/// Inclusion proof in the mirrored tree.
pub async fn inclusion(
    state: web::Data<AppState>,
    origin: web::Path<String>,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::inclusion(&state.store, &origin, q.index, q.size)?))
}

/// Consistency proof in the mirrored tree.
pub async fn consistency(
    state: web::Data<AppState>,
    origin: web::Path<String>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relay::consistency(&state.store, &origin, q.from, q.size)?))
}
