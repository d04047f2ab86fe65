//! `POST /api/v1/accounts` (admin) and `GET /api/v1/whoami`.

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::now;
use crate::store::records::AccountRecord;
use actix_web::{web, HttpResponse};
use shire_core::wire::{AccountInfo, CreateAccount};

fn info(a: &AccountRecord, token: Option<String>) -> AccountInfo {
    AccountInfo {
        username: a.username.clone(),
        org: a.org.clone(),
        role: a.role,
        token,
        disabled_at: a.disabled_at.clone(),
    }
}

/// Creates an account in an organisation; the answer holds its token, once.
#[tracing::instrument(skip_all, fields(user = %body.username, org = %body.org, role = %body.role))]
#[utoipa::path(
    post, path = "/api/v1/accounts", tag = "accounts", security(("token" = [])),
    request_body = shire_core::wire::CreateAccount,
    responses((status = 201, description = "the account, with its token (shown once)", body = shire_core::wire::AccountInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`org_not_found`", body = shire_core::wire::ErrorBody), (status = 409, description = "`account_exists`", body = shire_core::wire::ErrorBody))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateAccount>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    // A new account comes with an unscoped token: only an unscoped token
    // may make one, or an admin-scoped token would mint a wider one.
    caller.require_unscoped("create accounts")?;
    let (token, hash) = auth::new_token();
    let rec = AccountRecord {
        username: body.username.to_string(),
        org: Some(body.org.clone()),
        role: body.role,
        token_hash: hash,
        created_at: now(),
        disabled_at: None,
    };
    state.store.create_account(&rec)?;
    state.store.durable().await?;
    Ok(HttpResponse::Created().json(info(&rec, Some(token))))
}

/// Disables an account (admins, unscoped token): its tokens stop working at
/// once; what it signed stays in the log.
#[utoipa::path(
    post, path = "/api/v1/accounts/{name}/disable", tag = "accounts", security(("token" = [])),
    params(("name" = String, Path, description = "the account")),
    responses((status = 200, description = "disabled: its tokens are refused", body = shire_core::wire::AccountInfo),
        (status = 400, description = "`own_account` or `admin_account`", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`account_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn disable(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_disabled(state, caller, name.into_inner(), Some(now())).await
}

/// Enables a disabled account again (admins, unscoped token).
#[utoipa::path(
    post, path = "/api/v1/accounts/{name}/enable", tag = "accounts", security(("token" = [])),
    params(("name" = String, Path, description = "the account")),
    responses((status = 200, description = "enabled again", body = shire_core::wire::AccountInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`account_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn enable(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_disabled(state, caller, name.into_inner(), None).await
}

async fn set_disabled(
    state: web::Data<AppState>,
    caller: Caller,
    name: String,
    disabled_at: Option<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    caller.require_unscoped("disable or enable accounts")?;
    if name == caller.account().username {
        return Err(ApiError::bad_request(
            "own_account",
            "an admin cannot disable or enable its own account",
        ));
    }
    // Two admins disabling each other would leave no one to run the node:
    // an admin's access is ended by rotating or revoking its token instead.
    if state
        .store
        .account(&name)?
        .is_some_and(|a| a.role == shire_core::wire::Role::Admin)
    {
        return Err(ApiError::bad_request(
            "admin_account",
            "admin accounts are not disabled; revoke or rotate their tokens",
        ));
    }
    let account = state
        .store
        .set_disabled(&name, disabled_at)?
        .ok_or_else(|| {
            ApiError::AccountNotFound(format!(
                "no account {} exists here",
                shire_core::clip(&name)
            ))
        })?;
    state.store.durable().await?;
    tracing::warn!(account = %name, disabled = account.disabled_at.is_some(), by = %caller.account().username, "account status changed");
    Ok(HttpResponse::Ok().json(info(&account, None)))
}

/// The calling account.
#[utoipa::path(
    get, path = "/api/v1/whoami", tag = "accounts", security(("token" = [])),
    responses((status = 200, description = "the calling account", body = shire_core::wire::AccountInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody))
)]
pub async fn whoami(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(info(caller.account(), None))
}

/// `POST /api/v1/admin/backup`: what to back up into.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// A new (or empty) folder on the node's machine, by absolute path.
    #[schema(value_type = String)]
    pub to: std::path::PathBuf,
}

/// Backs the node up while it serves (admins, unscoped token): see
/// `crate::backup`. Answers the backup's manifest.
#[utoipa::path(
    post, path = "/api/v1/admin/backup", tag = "operations", security(("token" = [])),
    request_body = BackupRequest,
    responses((status = 200, description = "the backup's manifest", body = crate::backup::Manifest),
        (status = 400, description = "`bad_path` or `backup_failed`", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin` or `out_of_scope`", body = shire_core::wire::ErrorBody))
)]
pub async fn backup(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BackupRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    caller.require_unscoped("take backups")?;
    let to = body.into_inner().to;
    if !to.is_absolute() {
        return Err(ApiError::bad_request(
            "bad_path",
            "the backup folder must be an absolute path",
        ));
    }
    let st = state.clone();
    let manifest = web::block(move || {
        crate::backup::backup(&st.store, st.store.data_dir(), &st.node_key, &to)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::bad_request("backup_failed", format!("{e:#}")))?;
    tracing::warn!(by = %caller.account().username, log_size = manifest.log_size, "backup taken");
    Ok(HttpResponse::Ok().json(manifest))
}
