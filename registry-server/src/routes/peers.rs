//! `GET /api/v1/peers`: the peers this node follows and how each is doing;
//! `POST /api/v1/peers/{name}/resume` (admins): resumes a stopped peer.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use shire_core::wire::PeerStatus;

/// Every followed peer's status, by name (empty when the node follows none).
#[utoipa::path(
    get, path = "/api/v1/peers", tag = "federation",
    responses((status = 200, description = "every followed peer's status, from what is stored", body = Vec<shire_core::wire::PeerStatus>))
)]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let peers: Vec<PeerStatus> = state
        .federation
        .as_ref()
        .map(|f| f.board.all())
        .unwrap_or_default();
    HttpResponse::Ok().json(peers)
}

/// Resumes a peer stopped for a fault (logged, with the fault it had):
/// its follower passes again at once.
#[utoipa::path(
    post, path = "/api/v1/peers/{name}/resume", tag = "federation", security(("token" = [])),
    params(("name" = String, Path, description = "the peer's name in the node's settings")),
    responses((status = 200, description = "resumed (logged): its follower passes again", body = shire_core::wire::PeerStatus),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn resume(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    caller.require_unscoped("resume peers")?;
    let name = name.into_inner();
    let unknown = || {
        ApiError::NoRoute(format!(
            "this node follows no peer {:?}",
            shire_core::clip(&name)
        ))
    };
    let fed = state.federation.as_ref().ok_or_else(unknown)?;
    let status = fed
        .resume(&name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(unknown)?;
    tracing::warn!(peer = %name, by = %caller.account().username, "peer resumed");
    Ok(HttpResponse::Ok().json(status))
}
