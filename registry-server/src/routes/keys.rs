//! `POST /api/v1/keys`, `GET /api/v1/keys/{key_id}`, `DELETE
//! /api/v1/keys/{key_id}` (revocation), `GET /api/v1/verifiers`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::to_key_info;
use actix_web::{web, HttpResponse};
use shire_core::wire::{KeyInfo, RegisterKey};
use shire_core::KeyId;

/// Registers a public key to the calling account (logged): 201, or 200 when it
/// already is this account's; 409 `key_taken` when another account's.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RegisterKey>,
) -> Result<HttpResponse, ApiError> {
    let (rec, new) = state
        .store
        .register_key(&body.public_key, caller.account())?;
    let info = to_key_info(&rec, caller.account());
    if new {
        state.store.durable().await?;
        Ok(HttpResponse::Created().json(info))
    } else {
        Ok(HttpResponse::Ok().json(info))
    }
}

/// One key.
pub async fn show(
    state: web::Data<AppState>,
    id: web::Path<KeyId>,
) -> Result<HttpResponse, ApiError> {
    let (k, a) = state
        .store
        .key(&id)?
        .ok_or_else(|| ApiError::KeyNotFound(format!("no key {id} is registered here")))?;
    Ok(HttpResponse::Ok().json(to_key_info(&k, &a)))
}

/// Revokes a key: by the account it is registered to, or an admin. Logged as a
/// `KeyRevoked` event; 200 `KeyInfo` with `revoked_at` (also when it already
/// was revoked, logging nothing again); 404 `key_not_found`; 403
/// `key_not_yours` for another account's key.
#[tracing::instrument(skip_all, fields(user = %caller.account().username, key = %id))]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<KeyId>,
) -> Result<HttpResponse, ApiError> {
    let (rec, new) = state.store.revoke_key(&id, caller.account())?;
    if new {
        state.store.durable().await?;
        tracing::info!("key revoked");
    }
    let (k, a) = state
        .store
        .key(&rec.key_id)?
        .ok_or_else(|| ApiError::Internal(format!("revoked key {id} vanished")))?;
    Ok(HttpResponse::Ok().json(to_key_info(&k, &a)))
}

/// Keys of verifier accounts: advertised, never trusted automatically.
pub async fn verifiers(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<KeyInfo> = state
        .store
        .verifier_keys()?
        .iter()
        .map(|(k, a)| to_key_info(k, a))
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}
