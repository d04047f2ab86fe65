//! `POST /api/v1/keys`, `GET /api/v1/keys/{key_id}`, `DELETE
//! /api/v1/keys/{key_id}` (revocation), `GET /api/v1/verifiers`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::to_key_info;
use crate::store::{now, Written};
use actix_web::{web, HttpResponse};
use shire_core::event::LogEvent;
use shire_core::wire::{KeyInfo, RegisterKey, Role};
use shire_core::KeyId;

/// Registers a public key to the calling account (logged), at the request
/// of whoever holds it: `proof` is a key statement signed by the key for
/// this account, its organisation and role, and this node (400 `bad_proof`
/// otherwise). 201, or 200 when it already is this account's; 409
/// `key_taken` when it is another account's or was revoked.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/keys", tag = "keys", security(("token" = [])),
    request_body = shire_core::wire::RegisterKey,
    responses((status = 201, description = "registered and logged", body = shire_core::wire::KeyInfo),
        (status = 200, description = "already this account's", body = shire_core::wire::KeyInfo),
        (status = 400, description = "`bad_proof`", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`out_of_scope`", body = shire_core::wire::ErrorBody), (status = 409, description = "`key_taken`", body = shire_core::wire::ErrorBody))
)]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RegisterKey>,
) -> Result<HttpResponse, ApiError> {
    let RegisterKey { public_key, proof } = body.into_inner();
    caller.require_unscoped("manage keys")?;
    let a = caller.account();
    let id = public_key.key_id();
    let event = LogEvent::KeyRegistered {
        key_id: id.clone(),
        public_key,
        account: a.username.clone(),
        org: a.org.clone(),
        role: a.role,
        proof,
        at: now(),
    };
    let appended = state.store.append(&event, None)?;
    state.store.durable().await?;
    let (k, account) = state
        .store
        .key(&id)?
        .ok_or_else(|| ApiError::internal(format!("registered key {id} vanished")))?;
    let info = to_key_info(&k, &account);
    Ok(match appended.written {
        Written::Key(_) => HttpResponse::Created().json(info),
        _ => HttpResponse::Ok().json(info),
    })
}

/// One key.
#[utoipa::path(
    get, path = "/api/v1/keys/{key_id}", tag = "keys",
    params(("key_id" = shire_core::KeyId, Path, description = "the key's id")),
    responses((status = 200, description = "the key", body = shire_core::wire::KeyInfo),
        (status = 404, description = "`key_not_found`", body = shire_core::wire::ErrorBody))
)]
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
#[utoipa::path(
    delete, path = "/api/v1/keys/{key_id}", tag = "keys", security(("token" = [])),
    params(("key_id" = shire_core::KeyId, Path, description = "the key's id")),
    responses((status = 200, description = "revoked (logged once)", body = shire_core::wire::KeyInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`key_not_yours` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`key_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<KeyId>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("manage keys")?;
    let id = id.into_inner();
    let (k, _) = state
        .store
        .key(&id)?
        .ok_or_else(|| ApiError::KeyNotFound(format!("no key {id} is registered here")))?;
    let me = caller.account();
    if k.account != me.username && me.role != Role::Admin {
        return Err(ApiError::KeyNotYours(id.to_string()));
    }
    let event = LogEvent::KeyRevoked {
        key_id: id.clone(),
        at: now(),
    };
    if state.store.append(&event, None)?.index.is_some() {
        tracing::info!("key revoked");
    }
    state.store.durable().await?;
    let (k, a) = state
        .store
        .key(&id)?
        .ok_or_else(|| ApiError::internal(format!("revoked key {id} vanished")))?;
    Ok(HttpResponse::Ok().json(to_key_info(&k, &a)))
}

/// Keys of verifier accounts: advertised, never trusted automatically.
#[utoipa::path(
    get, path = "/api/v1/verifiers", tag = "keys",
    responses((status = 200, description = "keys of verifier accounts: advertised, never trusted automatically", body = Vec<shire_core::wire::KeyInfo>))
)]
pub async fn verifiers(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<KeyInfo> = state
        .store
        .verifier_keys()?
        .iter()
        .map(|(k, a)| to_key_info(k, a))
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}
