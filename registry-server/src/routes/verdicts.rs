//! `POST /api/v1/packages/{org}/{name}/{version}/verdicts`: a verifier's signed
//! approval, rejection or revocation.
//!
//! Checks, in order: the account is a verifier (403 `not_verifier`); the release
//! exists (404); the statement claims this very release (409
//! `subject_mismatch`); the claimed key is registered to the account (404/403);
//! then the ledger's rules (`shire_core::ledger`): the signature and statement
//! verify (400 `bad_signature` / `bad_statement`), the subject is exactly the
//! stored release, name, version and digest (409 `subject_mismatch`: a
//! replayed approval of another version is refused here), the verifier is not
//! of the package's organisation (403 `own_org`), the verdicts already given
//! allow it (409 `invalid_transition`). A verdict the same account already
//! gave is a replay: the same answer, nothing logged. The state follows:
//! `approved` once the node threshold of distinct verifier accounts approved.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::packages::{load_release, package_name, version_info, VersionPath};
use crate::routes::statements::{claimed_release, signing_key};
use crate::state::AppState;
use crate::store::{now, Written};
use actix_web::{web, HttpResponse};
use shire_core::event::LogEvent;
use shire_core::ledger::version_identity;
use shire_core::wire::SubmitEnvelope;

/// Accepts a verdict: 200 `VersionInfo` with the new state.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/packages/{org}/{name}/{version}/verdicts", tag = "releases", security(("token" = [])), params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it"), ("version" = String, Path, description = "the version (semver)")),
    request_body(content = shire_core::wire::SubmitEnvelope, description = "an approval, rejection or revocation signed by a registered verifier key"),
    responses((status = 200, description = "logged; the version with its new state", body = shire_core::wire::VersionInfo),
        (status = 400, description = "a statement the rules refuse", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_verifier`, `own_org`, `key_not_yours`, `key_revoked` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 404, description = "`version_not_found`", body = shire_core::wire::ErrorBody), (status = 409, description = "`invalid_transition`", body = shire_core::wire::ErrorBody))
)]
pub async fn submit(
    state: web::Data<AppState>,
    caller: Caller,
    path: VersionPath,
    body: web::Json<SubmitEnvelope>,
) -> Result<HttpResponse, ApiError> {
    caller.require_verifier()?;
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    let release = load_release(&state, &name, &version)?;
    let envelope = body.into_inner().envelope;
    let (claimed_name, claimed_version) = claimed_release(&envelope)?;
    if claimed_name != name || version_identity(&claimed_version) != version_identity(&version) {
        return Err(ApiError::SubjectMismatch(format!(
            "the verdict is about {claimed_name}@{claimed_version}, but was sent for {name}@{}",
            release.version
        )));
    }
    let key = signing_key(&state.store, &envelope, caller.account())?;
    let event = LogEvent::Verdict {
        envelope,
        key_id: key.key_id,
        at: now(),
    };
    let appended = state.store.append(&event, None)?;
    let record = match appended.written {
        Written::Release(r) => {
            tracing::info!(release = %r.subject(), "verdict");
            *r
        }
        Written::Unchanged(what) => {
            tracing::info!(%what, "verdict replayed");
            load_release(&state, &name, &version)?
        }
        _ => return Err(ApiError::internal("a verdict stored no release record")),
    };
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(version_info(&state, &record)?))
}
