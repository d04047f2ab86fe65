//! `POST` / `DELETE /api/v1/packages/{org}/{name}/{version}/yank`: a publisher
//! of the organisation yanks a release (with a reason) or un-yanks it; and
//! `POST .../takedown`: the node's admin takes its artifact down. All are
//! logged; the ledger refuses yanking a yanked release, or un-yanking one
//! that is not (409 `invalid_transition`), and a reason that is empty or over
//! `shire_core::ledger::MAX_REASON_CHARS` (400 `missing_reason`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::packages::{load_release, package_name, version_info, VersionPath};
use crate::state::AppState;
use crate::store::{now, Written};
use actix_web::{web, HttpResponse};
use shire_core::event::LogEvent;
use shire_core::wire::YankRequest;

/// Yanks a release.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/packages/{org}/{name}/{version}/yank", tag = "releases", security(("token" = [])), params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it"), ("version" = String, Path, description = "the version (semver)")),
    request_body = shire_core::wire::YankRequest,
    responses((status = 200, description = "yanked (logged)", body = shire_core::wire::VersionInfo),
        (status = 400, description = "`bad_path` or no reason", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`wrong_org` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`version_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn yank(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
    body: web::Json<YankRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.reason.trim().to_string();
    change(state, caller, path, Some(reason)).await
}

/// Takes a release's artifact down (admins): logs a `takedown` with the
/// reason, erases the bytes, and from then on downloads and uploads of those
/// bytes answer 410 `taken_down` with the reason. For a leaked secret, or
/// anything else that must not stay downloadable; the log keeps the release.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/packages/{org}/{name}/{version}/takedown", tag = "operations", security(("token" = [])), params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it"), ("version" = String, Path, description = "the version (semver)")),
    request_body = shire_core::wire::YankRequest,
    responses((status = 200, description = "taken down (logged): the bytes are erased", body = shire_core::wire::VersionInfo),
        (status = 400, description = "`bad_path` or no reason", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin`, `not_home` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`version_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn takedown(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
    body: web::Json<YankRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    let rec = load_release(&state, &name, &version)?;
    if rec.origin.is_some() {
        return Err(ApiError::NotHome(format!(
            "{name} is mirrored: its home node's operator takes it down, and this node follows"
        )));
    }
    // The same bytes may be another release's too (a content-addressed
    // store): erasing them would take that one down unasked.
    let shared: Vec<String> = state
        .store
        .releases_with_digest(&rec.digest)?
        .into_iter()
        .filter(|r| !r.taken_down && r.release != format!("{name}@{}", rec.version))
        .map(|r| r.release)
        .collect();
    if !shared.is_empty() {
        return Err(ApiError::InvalidTransition(format!(
            "the artifact of {name}@{} is also the artifact of {}: take those down first",
            rec.version,
            shared.join(", ")
        )));
    }
    let event = LogEvent::Takedown {
        name,
        version: rec.version,
        digest: rec.digest,
        reason: body.reason.trim().to_string(),
        by: caller.account().username.clone(),
        at: now(),
    };
    let Written::Release(rec) = state.store.append(&event, None)?.written else {
        return Err(ApiError::internal("a takedown stored no release record"));
    };
    state.store.durable().await?;
    let store = state.store.clone();
    web::block(move || store.erase_taken_down())
        .await
        .map_err(ApiError::internal)??;
    tracing::warn!(digest = %rec.digest, "artifact taken down");
    Ok(HttpResponse::Ok().json(version_info(&state, &rec)?))
}

/// Un-yanks a release.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    delete, path = "/api/v1/packages/{org}/{name}/{version}/yank", tag = "releases", security(("token" = [])), params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it"), ("version" = String, Path, description = "the version (semver)")),
    responses((status = 200, description = "un-yanked (logged)", body = shire_core::wire::VersionInfo),
        (status = 400, description = "`bad_path`", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`wrong_org` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`version_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn unyank(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
) -> Result<HttpResponse, ApiError> {
    change(state, caller, path, None).await
}

async fn change(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    caller.require_publisher_of(&name)?;
    let rec = load_release(&state, &name, &version)?;
    let by = caller.account().username.clone();
    let at = now();
    let event = match reason {
        Some(reason) => LogEvent::Yank {
            name,
            version: rec.version,
            digest: rec.digest,
            reason,
            by,
            at,
        },
        None => LogEvent::Unyank {
            name,
            version: rec.version,
            digest: rec.digest,
            by,
            at,
        },
    };
    let Written::Release(rec) = state.store.append(&event, None)?.written else {
        return Err(ApiError::internal("a yank stored no release record"));
    };
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(version_info(&state, &rec)?))
}
