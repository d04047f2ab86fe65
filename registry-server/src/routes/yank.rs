//! `POST` / `DELETE /api/v1/packages/{org}/{name}/{version}/yank`: a publisher
//! of the organisation yanks a release (with a reason) or un-yanks it. Both
//! are logged; yanking a yanked release, or un-yanking one that is not, is 409
//! `invalid_transition`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::packages::{package_name, version_info, VersionPath};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use shire_core::wire::YankRequest;

/// Yanks a release.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
pub async fn yank(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
    body: web::Json<YankRequest>,
) -> Result<HttpResponse, ApiError> {
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    caller.require_publisher_of(&name)?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad_request(
            "missing_reason",
            "a yank needs a reason: it is shown to everyone who resolves this version",
        ));
    }
    let rec = state
        .store
        .set_yank(&name, &version, Some(reason), &caller.account().username)?;
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(version_info(&state, &rec)?))
}

/// Un-yanks a release.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
pub async fn unyank(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
) -> Result<HttpResponse, ApiError> {
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    caller.require_publisher_of(&name)?;
    let rec = state
        .store
        .set_yank(&name, &version, None, &caller.account().username)?;
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(version_info(&state, &rec)?))
}
