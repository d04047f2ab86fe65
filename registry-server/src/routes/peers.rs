//! `GET /api/v1/peers`: the peers this node follows and how each is doing.

use crate::state::AppState;
use actix_web::{web, HttpResponse};
use shire_core::wire::PeerStatus;

/// Every followed peer's status, by name (empty when the node follows none).
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let peers: Vec<PeerStatus> = state
        .federation
        .as_ref()
        .map(|f| f.board.all())
        .unwrap_or_default();
    HttpResponse::Ok().json(peers)
}
