//! `GET /healthz`, `/livez`, `/readyz`, `GET /api/v1/node`,
//! `GET /.well-known/shire/node-key`.
//!
//! Kubernetes-style probes: `/livez` answers 200 while the process serves
//! requests at all; `/readyz` answers 200 only while the node can accept
//! writes (its database is not failed, its disk has the free space it keeps),
//! 503 otherwise, and 200 again by itself once that is back. `/healthz`
//! tells the same truth: 200 `ok`, or 503 `degraded` with the reason.

use crate::identity;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use shire_core::wire::{ErrorBody, ErrorDetail, Health, NodeInfo};

fn health(state: &AppState, status: &str, reason: Option<String>) -> Health {
    Health {
        status: status.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        origin: state.origin.clone(),
        reason,
    }
}

/// Health: `ok`, or 503 `degraded` while the node cannot write.
#[utoipa::path(
    get, path = "/healthz", tag = "node",
    responses((status = 200, description = "`ok`: the node can write", body = shire_core::wire::Health),
        (status = 503, description = "`degraded`, with the reason", body = shire_core::wire::Health))
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.writable() {
        Ok(()) => HttpResponse::Ok().json(health(&state, "ok", None)),
        Err(e) => {
            HttpResponse::ServiceUnavailable().json(health(&state, "degraded", Some(e.to_string())))
        }
    }
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/livez", tag = "node",
    responses((status = 200, description = "`alive`: the process answers", body = shire_core::wire::Health))
)]
pub async fn livez(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(health(&state, "alive", None))
}

/// Readiness: the node can accept writes.
#[utoipa::path(
    get, path = "/readyz", tag = "node",
    responses((status = 200, description = "`ready`: the node can accept writes", body = shire_core::wire::Health),
        (status = 503, description = "`not_ready`, with the reason", body = shire_core::wire::ErrorBody))
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.writable() {
        Ok(()) => HttpResponse::Ok().json(health(&state, "ready", None)),
        Err(e) => HttpResponse::ServiceUnavailable().json(ErrorBody {
            error: ErrorDetail {
                code: "not_ready".into(),
                message: e.to_string(),
            },
        }),
    }
}

/// The node's identity: origin, public key, key id, signed-note verifier key.
#[utoipa::path(
    get, path = "/api/v1/node", tag = "node",
    responses((status = 200, description = "the node's identity", body = shire_core::wire::NodeInfo))
)]
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
#[utoipa::path(
    get, path = "/.well-known/shire/node-key", tag = "node",
    responses((status = 200, description = "the signed-note verifier key", body = String, content_type = "text/plain"))
)]
pub async fn node_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "{}\n",
            identity::note_key(&state.origin, &state.node_key)
        ))
}
