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
use crate::store::{unknown_dependency, NewRelease};
use actix_web::{web, HttpResponse};
use sha2::{Digest as _, Sha256};
use shire_core::archive::{self, ArchiveLimits, ArchiveSummary};
use shire_core::wire::SubmitEnvelope;
use shire_core::Digest;
use std::io::{self, Read};
use std::path::PathBuf;

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
    let size = state
        .store
        .blobs
        .size(&digest)?
        .ok_or_else(|| ApiError::BlobNotFound(digest.to_string()))?;
    let path = state.store.blobs.path(&digest);
    let limits = state.archive_limits;
    let files = web::block(move || inspect_blob(path, digest, &limits))
        .await
        .map_err(ApiError::internal)??;
    tracing::info!(release = %subject, %digest, "publishing");
    let record = state.store.publish(&NewRelease {
        statement,
        envelope,
        publisher: caller.account().username.clone(),
        size,
        files,
    })?;
    state.store.durable().await?;
    Ok(HttpResponse::Created().json(version_info(&state, &record)?))
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Applies the archive rules to a stored blob and checks that its bytes still
/// hash to `digest` (a blob altered on disk is refused, not published).
fn inspect_blob(
    path: PathBuf,
    digest: Digest,
    limits: &ArchiveLimits,
) -> Result<ArchiveSummary, ApiError> {
    let file =
        std::fs::File::open(&path).map_err(|_| ApiError::BlobNotFound(digest.to_string()))?;
    let mut reader = HashingReader {
        inner: io::BufReader::new(file),
        hasher: Sha256::new(),
    };
    let summary = archive::inspect(&mut reader, limits)
        .map_err(|e| ApiError::BadArchive(format!("the artifact breaks an archive rule: {e}")))?;
    io::copy(&mut reader, &mut io::sink())?;
    let actual = Digest::from_bytes(reader.hasher.finalize().into());
    if actual != digest {
        return Err(ApiError::BadArchive(format!(
            "the stored artifact {digest} no longer hashes to its digest (it hashes to {actual})"
        )));
    }
    Ok(summary)
}
