//! `GET /api/v1/review`: a verifier's queue of pending releases, oldest first,
//! each with the files and dependencies changed since the highest earlier
//! version. Releases of the verifier's own organisation are left out: it could
//! not judge them.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::ReleaseRecord;
use actix_web::{web, HttpResponse};
use shire_core::archive::{ArchiveSummary, FileChanges};
use shire_core::wire::{DependencyChanges, ReviewItem};
use std::collections::BTreeMap;

/// The review queue.
#[utoipa::path(
    get, path = "/api/v1/review", tag = "releases", security(("token" = [])),
    responses((status = 200, description = "pending releases of other organisations, with what changed", body = Vec<shire_core::wire::ReviewItem>),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_verifier` or `out_of_scope`", body = shire_core::wire::ErrorBody))
)]
pub async fn queue(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_verifier()?;
    let own = caller.account().org.clone();
    let mut items = Vec::new();
    for rec in state.store.pending()? {
        if own.as_ref() == Some(rec.name.org()) {
            continue;
        }
        items.push(review_item(&state, rec)?);
    }
    Ok(HttpResponse::Ok().json(items))
}

/// A pending release with what changed since the highest earlier version:
/// the review queue's item, for the API and the catalogue alike.
pub fn review_item(state: &AppState, rec: ReleaseRecord) -> Result<ReviewItem, ApiError> {
    let previous = state
        .store
        .releases_of(&rec.name)?
        .into_iter()
        .map(|r| r.version)
        .filter(|v| *v < rec.version)
        .max();
    let new_files = state
        .store
        .files(&rec.name, &rec.version)?
        .unwrap_or_default();
    let (old_files, old_deps) = match &previous {
        Some(v) => (
            state.store.files(&rec.name, v)?.unwrap_or_default(),
            state
                .store
                .release(&rec.name, v)?
                .map(|r| r.manifest.dependencies)
                .unwrap_or_default(),
        ),
        None => (ArchiveSummary::default(), BTreeMap::new()),
    };
    Ok(ReviewItem {
        files: FileChanges::between(&old_files, &new_files),
        dependencies: DependencyChanges::between(&old_deps, &rec.manifest.dependencies),
        name: rec.name,
        version: rec.version,
        digest: rec.digest,
        published_at: rec.published_at,
        previous,
    })
}
