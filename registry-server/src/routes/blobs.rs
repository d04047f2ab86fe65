//! `PUT /api/v1/blobs/{digest}`: an artifact upload, streamed to disk.
//!
//! The body is never held whole: each chunk goes through the hashing writer to
//! a temporary file, the upload limit is enforced as bytes arrive, and only a
//! body whose bytes hash to the digest in the path is moved into the store.
//! A `Content-Length` over the limit is refused with 413 before any byte is
//! read, a body that turns out larger as soon as it passes the limit; a body
//! that arrives too slowly is cut off (408, `crate::middleware`); a node
//! whose disk is full refuses at once (507).

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::middleware::is_body_timeout;
use crate::state::AppState;
use crate::store::blobs::BlobError;
use actix_web::{web, FromRequest as _, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use shire_core::wire::BlobInfo;
use shire_core::Digest;

fn too_large(limit: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "the artifact is larger than this registry's upload limit of {limit} bytes"
    ))
}

/// Stores an artifact: 201 when new, 200 when already stored.
#[tracing::instrument(skip_all, fields(digest = %digest))]
#[utoipa::path(
    put, path = "/api/v1/blobs/{digest}", tag = "releases", security(("token" = [])),
    params(("digest" = shire_core::Digest, Path, description = "the SHA-256 of the body")),
    request_body(content = Vec<u8>, description = "the artifact (.tar.gz)", content_type = "application/octet-stream"),
    responses((status = 201, description = "stored", body = shire_core::wire::BlobInfo),
        (status = 200, description = "already stored", body = shire_core::wire::BlobInfo),
        (status = 400, description = "`digest_mismatch` or a refused archive", body = shire_core::wire::ErrorBody), (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_publisher` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 410, description = "`taken_down`", body = shire_core::wire::ErrorBody), (status = 413, description = "`too_large`", body = shire_core::wire::ErrorBody), (status = 507, description = "`insufficient_storage`", body = shire_core::wire::ErrorBody))
)]
pub async fn upload(
    state: web::Data<AppState>,
    digest: web::Path<String>,
    req: HttpRequest,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let digest = match Digest::parse(&digest) {
        Ok(d) => d,
        Err(e) => {
            // Who asks is answered first, as on every route that needs a token.
            Caller::extract(&req).await?;
            return Err(ApiError::bad_request("bad_path", format!("bad path: {e}")));
        }
    };
    let (caller, tombstone) = auth::authenticate_and_takedown(&req, &digest)?;
    caller.require_publisher()?;
    crate::routes::artifacts::refuse_tombstone(&digest, tombstone.as_ref())?;
    let limit = state.max_upload;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    state.store.writable()?;
    let mut writer = state.store.blobs.writer()?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            if is_body_timeout(&e) {
                ApiError::BodyTimeout(e.to_string())
            } else {
                ApiError::bad_request("bad_body", format!("reading the upload failed: {e}"))
            }
        })?;
        if writer.written() + chunk.len() as u64 > limit {
            return Err(too_large(limit));
        }
        writer.write(&chunk)?;
    }
    match writer.finish_async(&digest).await {
        Ok((size, new)) => {
            state.metrics.bytes_uploaded.inc_by(size);
            // A takedown that landed while these bytes streamed in: erase
            // them again and say why.
            if state.store.takedown_of(&digest)?.is_some() {
                let store = state.store.clone();
                web::block(move || store.erase_taken_down())
                    .await
                    .map_err(ApiError::internal)??;
                crate::routes::artifacts::refuse_taken_down(&state, &digest)?;
            }
            let info = BlobInfo { digest, size };
            Ok(if new {
                HttpResponse::Created().json(info)
            } else {
                HttpResponse::Ok().json(info)
            })
        }
        Err(BlobError::Mismatch { expected, actual }) => Err(ApiError::DigestMismatch {
            expected: expected.to_string(),
            actual: actual.to_string(),
        }),
        Err(BlobError::Io(e)) => Err(e.into()),
    }
}
