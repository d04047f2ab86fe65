//! `PUT /api/v1/blobs/{digest}`: an artifact upload, streamed to disk.
//!
//! The body is never held whole: each chunk goes through the hashing writer to
//! a temporary file, the upload limit is enforced as bytes arrive, and only a
//! body whose bytes hash to the digest in the path is moved into the store.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::blobs::BlobError;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use shire_core::wire::BlobInfo;
use shire_core::Digest;

/// After refusing an oversized upload, read (and drop) at most this much more
/// so the client sees the 413 rather than a reset connection.
const DRAIN_AFTER_REFUSAL: u64 = 8 * 1024 * 1024;

fn too_large(limit: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "the artifact is larger than this registry's upload limit of {limit} bytes"
    ))
}

/// Stores an artifact: 201 when new, 200 when already stored.
#[tracing::instrument(skip_all, fields(digest = %digest))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    digest: web::Path<Digest>,
    req: HttpRequest,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require_publisher()?;
    let digest = digest.into_inner();
    let limit = state.max_upload;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut writer = (!matches!(declared, Some(n) if n > limit))
        .then(|| state.store.blobs.writer())
        .transpose()?;
    let mut received: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("bad_body", format!("reading the upload failed: {e}"))
        })?;
        received += chunk.len() as u64;
        if received > limit {
            writer = None; // drops and deletes the temporary file
            if received > limit + DRAIN_AFTER_REFUSAL {
                break;
            }
            continue;
        }
        if let Some(w) = writer.as_mut() {
            w.write(&chunk)?;
        }
    }
    let Some(writer) = writer.filter(|_| received <= limit) else {
        return Err(too_large(limit));
    };
    match writer.finish_async(&digest).await {
        Ok((size, new)) => {
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
