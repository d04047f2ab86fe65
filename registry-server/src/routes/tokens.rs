//! `GET/POST /api/v1/tokens` and `DELETE /api/v1/tokens/{id}`: an account's
//! own API tokens, with scopes and expiry. Only a token without scopes may
//! manage tokens (see `shire_core::token`).

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::now;
use crate::store::records::TokenRecord;
use crate::store::StoreError;
use actix_web::{web, HttpResponse};
use shire_core::token::{CreateToken, Scope, TokenInfo, MAX_SCOPES, MAX_TOKEN_NAME};
use shire_core::wire::Role;

fn info(id: String, t: TokenRecord, token: Option<String>) -> TokenInfo {
    TokenInfo {
        id,
        account: t.account,
        name: t.name,
        scopes: t.scopes,
        created_at: t.created_at,
        expires_at: t.expires_at,
        token,
    }
}

/// The caller's tokens (never the tokens themselves).
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "tokens", security(("token" = [])),
    responses((status = 200, description = "the caller's tokens, never the tokens themselves", body = Vec<shire_core::token::TokenInfo>),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody))
)]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mine = state.store.tokens(Some(&caller.account().username))?;
    Ok(HttpResponse::Ok().json(
        mine.into_iter()
            .map(|(id, t)| info(id, t, None))
            .collect::<Vec<_>>(),
    ))
}

/// Checks a new token's name, scopes and expiry against the caller's account.
fn check(caller: &Caller, body: &CreateToken) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::bad_request("bad_token", m);
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME || shire_core::has_invisible(name) {
        return Err(bad(format!(
            "a token's name is 1 to {MAX_TOKEN_NAME} visible characters"
        )));
    }
    if body.scopes.len() > MAX_SCOPES {
        return Err(bad(format!("a token has at most {MAX_SCOPES} scopes")));
    }
    let a = caller.account();
    for s in &body.scopes {
        let fits = match s {
            Scope::Publish => a.role == Role::Publisher,
            Scope::PublishOrg(o) => a.role == Role::Publisher && a.org.as_ref() == Some(o),
            Scope::PublishPackage(p) => {
                a.role == Role::Publisher && a.org.as_ref() == Some(p.org())
            }
            Scope::Verify => a.role == Role::Verifier,
            Scope::Admin => a.role == Role::Admin,
        };
        if !fits {
            return Err(bad(format!(
                "scope {s} is beyond what account {} ({}) may do",
                a.username, a.role
            )));
        }
    }
    if let Some(at) = &body.expires_at {
        let parsed =
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    bad(format!(
                        "expires_at {:?} is not an RFC 3339 time",
                        shire_core::clip(at)
                    ))
                })?;
        if parsed <= time::OffsetDateTime::now_utc() {
            return Err(bad("expires_at is in the past".into()));
        }
    }
    Ok(())
}

/// Makes a token for the caller's account; the answer holds it, once.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "tokens", security(("token" = [])),
    request_body = shire_core::token::CreateToken,
    responses((status = 201, description = "the new token (shown once)", body = shire_core::token::TokenInfo),
        (status = 400, description = "`bad_token`", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`out_of_scope`", body = shire_core::wire::ErrorBody))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("manage tokens")?;
    let body = body.into_inner();
    check(&caller, &body)?;
    let (token, hash) = auth::new_token();
    let mut scopes = body.scopes;
    scopes.sort();
    scopes.dedup();
    // Stored in one form, whatever form the caller wrote (checked above).
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(at) => {
            let t = time::OffsetDateTime::parse(at, rfc3339)
                .map_err(|_| ApiError::bad_request("bad_token", "expires_at does not parse"))?;
            Some(
                t.to_offset(time::UtcOffset::UTC)
                    .format(rfc3339)
                    .map_err(ApiError::internal)?,
            )
        }
    };
    let record = TokenRecord {
        account: caller.account().username.clone(),
        name: body.name.trim().to_string(),
        scopes,
        created_at: now(),
        expires_at,
    };
    state.store.create_token(&hash, &record)?;
    state.store.durable().await?;
    let id = hash
        .chars()
        .take(crate::store::tokens::TOKEN_ID_LEN)
        .collect();
    Ok(HttpResponse::Created().json(info(id, record, Some(token))))
}

/// Revokes one of the caller's tokens (an admin may revoke anyone's): it
/// stops working at once.
#[tracing::instrument(skip_all, fields(user = %caller.account().username, token = %id))]
#[utoipa::path(
    delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("token" = [])),
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 200, description = "revoked: it stops working at once", body = shire_core::token::TokenInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`token_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("manage tokens")?;
    let id = id.into_inner();
    let me = caller.account();
    let is_admin = me.role == Role::Admin;
    let removed = state.store.revoke_token(&id, |t| {
        if t.account == me.username || is_admin {
            Ok(())
        } else {
            Err(StoreError::TokenNotFound(shire_core::clip(&id)))
        }
    })?;
    let Some(t) = removed else {
        return Err(StoreError::TokenNotFound(shire_core::clip(&id)).into());
    };
    state.store.durable().await?;
    tracing::info!("token revoked");
    Ok(HttpResponse::Ok().json(info(id, t, None)))
}

/// Replaces the calling token by a new one with the same name, scopes and
/// expiry; the old one stops working at once. The answer holds the new
/// token, once (`shire token rotate`, `shire-registry admin-token rotate`).
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/tokens/rotate", tag = "tokens", security(("token" = [])),
    responses((status = 200, description = "the new token (shown once); the old one stops at once", body = shire_core::token::TokenInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody))
)]
pub async fn rotate(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("no bearer token".into()))?;
    let old = auth::hash_token(presented);
    let (token, hash) = auth::new_token();
    let record = state
        .store
        .rotate_token(&old, &hash)?
        .ok_or_else(|| ApiError::Unauthorized("the token is not valid on this registry".into()))?;
    state.store.durable().await?;
    tracing::warn!("token rotated");
    let id = hash
        .chars()
        .take(crate::store::tokens::TOKEN_ID_LEN)
        .collect();
    Ok(HttpResponse::Ok().json(info(id, record, Some(token))))
}
