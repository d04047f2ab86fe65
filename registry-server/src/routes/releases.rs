//! `POST /api/v1/releases`: publish a signed release statement.
//!
//! Checks, in order (first failure wins, nothing is stored on any failure):
//! the account publishes for the package's organisation (403 `wrong_org`); the
//! claimed key is registered to it (404 `key_not_found`, 403 `key_not_yours`,
//! `key_revoked`); then the ledger's rules (`shire_core::ledger`): the
//! signature and statement verify (400 `bad_signature`, `bad_statement`,
//! `invalid_manifest`), the key is a publisher key of the organisation, the
//! organisation is this node's (403 `not_home`), the version is unused, build
//! metadata aside and even if yanked (409 `version_exists`); every dependency
//! exists here (400 `unknown_dependency`); the blob was uploaded (404
//! `blob_not_found`); the archive keeps every rule and its bytes still hash to
//! the digest (400 `bad_archive`). Then one transaction asks the ledger again
//! and stores the release as `pending` with its file listing and log entry.

use crate::auth;
use crate::error::ApiError;
use crate::routes::packages::version_info_signed_by;
use crate::routes::statements::{claimed_package, claimed_subject, signing_key_reading};
use crate::state::AppState;
use crate::store::blobs::InspectError;
use crate::store::records::to_key_info;
use crate::store::{now, Artifact, StoreError, Written};
use actix_web::{web, HttpRequest, HttpResponse};
use shire_core::dsse::Envelope;
use shire_core::event::LogEvent;
use shire_core::ledger::Change;
use shire_core::wire::SubmitEnvelope;

/// Publishes a release: 201 `VersionInfo`, state `pending`.
#[tracing::instrument(skip_all, fields(user = tracing::field::Empty))]
#[utoipa::path(
    post, path = "/api/v1/releases", tag = "releases", security(("token" = [])),
    request_body(content = shire_core::wire::SubmitEnvelope, description = "a release statement signed by a registered publisher key"),
    responses((status = 201, description = "published and logged, state `pending`", body = shire_core::wire::VersionInfo),
        (status = 400, description = "a statement or manifest the rules refuse", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`wrong_org`, `key_not_yours`, `key_revoked` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 409, description = "`version_exists`", body = shire_core::wire::ErrorBody), (status = 410, description = "`taken_down`: the node's operator took the artifact down", body = shire_core::wire::ErrorBody))
)]
pub async fn publish(
    state: web::Data<AppState>,
    req: HttpRequest,
    _token: auth::BearerPresent,
    body: Result<web::Json<SubmitEnvelope>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    match body {
        Ok(body) => Ok(publish_envelope(state, &req, body.into_inner().envelope).await?),
        Err(e) => {
            // Who asks is answered first, as the `Caller` extractor would.
            auth::authenticate(&req)?;
            Err(e)
        }
    }
}

/// [`publish`] once its body is read.
async fn publish_envelope(
    state: web::Data<AppState>,
    req: &HttpRequest,
    envelope: Envelope,
) -> Result<HttpResponse, ApiError> {
    // The token, the signing key, the artifact's takedown tombstone and the
    // release's record in one read, when the statement names its key and
    // subject plainly.
    let early = envelope
        .claimed_key_ids()
        .first()
        .cloned()
        .zip(claimed_subject(&envelope));
    let (caller, mut reads) = match &early {
        Some((key, subject)) => {
            let (caller, reads) = auth::authenticate_for_release(req, key, subject)?;
            (caller, Some(reads))
        }
        None => (auth::authenticate(req)?, None),
    };
    tracing::Span::current().record("user", caller.account().username.as_str());
    let claimed = claimed_package(&envelope)?;
    caller.require_publisher_of(&claimed)?;
    // Only now is what the statement names (any version, any key) kept for
    // the write: a request without a good token, or from outside the
    // package's organisation, puts nothing in the row cache.
    if let Some(r) = reads.as_mut() {
        state.store.keep_early_reads(r);
    }
    let key = signing_key_reading(&state.store, &envelope, caller.account(), |id| {
        match reads.as_ref().and_then(|r| r.key(id)) {
            // The caller's own key: its account is the one just read.
            Some(Some(k)) if k.account == caller.account().username => {
                Ok(Some((k.clone(), caller.account().clone())))
            }
            Some(None) => Ok(None),
            _ => state.store.key(id),
        }
    })?;
    let event = LogEvent::Release {
        envelope,
        key_id: key.key_id.clone(),
        at: now(),
    };
    let Change::Released(released) = state.store.check_with(&event, reads.as_ref())? else {
        return Err(ApiError::internal("the ledger did not answer a release"));
    };
    let subject = released.statement.subject.clone();
    if subject.name != claimed {
        return Err(ApiError::BadStatement(
            "the statement names two packages".into(),
        ));
    }
    for dep in released.statement.manifest.dependencies.keys() {
        if state.store.package(dep)?.is_none() {
            return Err(StoreError::UnknownDependency(dep.clone()).into());
        }
    }
    let digest = subject.digest;
    match reads.as_ref().and_then(|r| r.takedown_of(&digest)) {
        Some(tombstone) => crate::routes::artifacts::refuse_tombstone(&digest, tombstone)?,
        None => crate::routes::artifacts::refuse_taken_down(&state, &digest)?,
    }
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
    let appended = state
        .store
        .append(&event, Some(&Artifact { size, files }))?;
    let Written::Release(record) = appended.written else {
        return Err(ApiError::internal("a release stored no release record"));
    };
    state.store.durable().await?;
    // The signing key and its account (the caller's) as read before the
    // transaction, whose ledger then accepted that key.
    let signed_by = to_key_info(&key, caller.account());
    Ok(HttpResponse::Created().json(version_info_signed_by(&state, &record, signed_by)?))
}
