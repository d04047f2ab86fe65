//! `POST /api/v1/packages/{org}/{name}/{version}/verdicts`: a verifier's signed
//! approval, rejection or revocation.
//!
//! Checks, in order: the account is a verifier (403 `not_verifier`); the release
//! exists (404); the claimed key is registered to the account (404/403); the
//! signature and statement verify (400 `bad_signature` / `bad_statement`); the
//! subject is exactly the stored release, name, version and digest (409
//! `subject_mismatch`: a replayed approval of another version is refused here);
//! the verifier is not of the package's organisation (403 `own_org`); the
//! release's state allows the verdict (409 `invalid_transition`). The store
//! then recomputes the state: `approved` once the node threshold of distinct
//! keys approved, each key counting once.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::packages::{load_release, package_name, version_info, VersionPath};
use crate::routes::statements::{signing_key, verify_error};
use crate::state::AppState;
use crate::store::{subject_mismatch, subject_of, NewVerdict};
use actix_web::{web, HttpResponse};
use shire_core::wire::SubmitEnvelope;

/// Accepts a verdict: 200 `VersionInfo` with the new state.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
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
    let key = signing_key(&state.store, &envelope, caller.account())?;
    let statement =
        shire_core::verify::verdict(&envelope, &key.public_key).map_err(verify_error)?;
    let stored = subject_of(&release);
    if statement.subject != stored {
        return Err(subject_mismatch(&statement.subject, &stored));
    }
    if caller.account().org.as_ref() == Some(name.org()) {
        return Err(ApiError::OwnOrg(format!(
            "{} is a verifier of {}: it cannot judge its own organisation's release {stored}",
            caller.account().username,
            name.org()
        )));
    }
    tracing::info!(release = %stored, verdict = %statement.verdict, "verdict");
    let record = state.store.add_verdict(
        &NewVerdict {
            statement,
            envelope,
            account: caller.account().clone(),
        },
        state.threshold,
    )?;
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(version_info(&state, &record)?))
}
