//! `GET /api/v1/artifacts/{digest}`: the bytes, streamed from disk.
//!
//! `Content-Length` is the file's size, `ETag` is `"sha256:…"` and a matching
//! `If-None-Match` gets 304. The bytes are not re-hashed here: every client
//! checks the digest itself, because no server is trusted.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes_chunk::chunks;
use shire_core::Digest;

/// Size of each chunk read from disk.
const CHUNK: usize = 64 * 1024;

/// Streams an artifact.
pub async fn download(
    state: web::Data<AppState>,
    digest: web::Path<Digest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let digest = digest.into_inner();
    let etag = format!("\"{digest}\"");
    let path = state.store.blobs.path(&digest);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::BlobNotFound(digest.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(inm) = req.headers().get(header::IF_NONE_MATCH) {
        let matches = inm
            .to_str()
            .map(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
            .unwrap_or(false);
        if matches {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, etag))
                .finish());
        }
    }
    let len = file.metadata().await?.len();
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(SizedStream::new(len, chunks(file, CHUNK))))
}

/// Reading a file as a stream of chunks.
mod bytes_chunk {
    use actix_web::web::Bytes;
    use futures_util::Stream;
    use tokio::io::AsyncReadExt as _;

    /// The file's bytes, `size` at a time.
    pub fn chunks(
        file: tokio::fs::File,
        size: usize,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::try_unfold(file, move |mut file| async move {
            let mut buf = vec![0u8; size];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        })
    }
}
