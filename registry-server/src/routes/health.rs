//! `GET /healthz`, `GET /api/v1/node`, `GET /.well-known/shire/node-key`.

use crate::identity;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use shire_core::wire::{Health, NodeInfo};

/// Liveness and the node's origin.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        origin: state.origin.clone(),
    })
}

/// The node's identity: origin, public key, key id, signed-note verifier key.
pub async fn node(state: web::Data<AppState>) -> HttpResponse {
    let key = &state.node_key;
    HttpResponse::Ok().json(NodeInfo {
        origin: state.origin.clone(),
        public_key: key.public(),
        key_id: key.key_id(),
        note_key: identity::note_key(&state.origin, key),
    })
}

/// The signed-note verifier key as plain text.
pub async fn node_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "{}\n",
            identity::note_key(&state.origin, &state.node_key)
        ))
}
