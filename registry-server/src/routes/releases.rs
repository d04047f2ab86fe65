//! `POST /api/v1/releases`: publish a signed release statement.
//!
//! Checks, in order (first failure wins, nothing is stored on any failure):
//! the account publishes for the package's organisation (403 `wrong_org`); the
//! claimed key is registered to it (404 `key_not_found`, 403 `key_not_yours`);
//! the signature and statement verify (400 `bad_signature`, `bad_statement`,
//! `invalid_manifest`); the version is unused, even if yanked (409
//! `version_exists`); every dependency exists here (400 `unknown_dependency`);
//! the blob was uploaded (404 `blob_not_found`); the archive keeps every rule
//! and its bytes still hash to the digest (400 `bad_archive`). Then one
//! transaction stores it as `pending` with its file listing and log entry.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::packages::version_info;
use crate::routes::statements::{claimed_package, signing_key, verify_error};
use crate::state::AppState;
use crate::store::blobs::InspectError;
use crate::store::{unknown_dependency, NewRelease};
use actix_web::{web, HttpResponse};
use shire_core::wire::SubmitEnvelope;

/// Publishes a release: 201 `VersionInfo`, state `pending`.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
pub async fn publish(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SubmitEnvelope>,
) -> Result<HttpResponse, ApiError> {
    let envelope = body.into_inner().envelope;
    let claimed = claimed_package(&envelope)?;
    caller.require_publisher_of(&claimed)?;
    let key = signing_key(&state.store, &envelope, caller.account())?;
    let statement =
        shire_core::verify::release(&envelope, &key.public_key).map_err(verify_error)?;
    let subject = &statement.subject;
    if subject.name != claimed {
        return Err(ApiError::BadStatement(
            "the statement names two packages".into(),
        ));
    }
    if state
        .store
        .release(&subject.name, &subject.version)?
        .is_some()
    {
        return Err(ApiError::VersionExists(subject.to_string()));
    }
    for dep in statement.manifest.dependencies.keys() {
        if state.store.package(dep)?.is_none() {
            return Err(unknown_dependency(dep));
        }
    }
    let digest = subject.digest;
    let blobs = state.store.blobs.clone();
    let limits = state.archive_limits;
    let inspected = web::block(move || blobs.inspect(&digest, &limits))
        .await
        .map_err(ApiError::internal)?;
    let (size, files) = inspected.map_err(|e| match e {
        InspectError::NotFound(d) => ApiError::BlobNotFound(d.to_string()),
        InspectError::Io(e) => e.into(),
        e => ApiError::BadArchive(e.to_string()),
    })?;
    tracing::info!(release = %subject, %digest, "publishing");
    let new = NewRelease {
        statement,
        envelope,
        publisher: caller.account().username.clone(),
        size,
        files,
    };
    let record = state.store.publish(&new)?;
    state.store.durable().await?;
    Ok(HttpResponse::Created().json(version_info(&state, &record)?))
}
