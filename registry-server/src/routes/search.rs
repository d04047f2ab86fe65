//! `GET /api/v1/search?q=Q&limit=N`: the search index, exact name first.
//!
//! A query equal to a package's full name (`org/name`) or bare name leads the
//! results with `exact: true`; the rest follow by relevance. Only the hits
//! returned are read from the packages tree. `total` counts every match.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::{PackageRecord, ReleaseRecord};
use crate::store::search;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shire_core::wire::{Approver, SearchHit, SearchResults};
use shire_core::PackageName;

/// Default number of hits.
pub const DEFAULT_LIMIT: usize = 20;
/// Most hits one request may ask for.
pub const MAX_LIMIT: usize = 100;

/// The query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for.
    pub q: String,
    /// How many hits to return.
    pub limit: Option<usize>,
    /// `relevance` (the default) or `adoption`: most organisations running
    /// it first (an exact name still leads), then relevance.
    pub sort: Option<String>,
}

/// Matches ranked by adoption are taken from the best this many by relevance.
pub const ADOPTION_CANDIDATES: usize = 500;

/// Searches packages.
#[utoipa::path(
    get, path = "/api/v1/search", tag = "packages", params(SearchQuery),
    responses((status = 200, description = "matching packages, best first", body = shire_core::wire::SearchResults),
        (status = 400, description = "a bad query", body = shire_core::wire::ErrorBody))
)]
pub async fn search(
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.q.trim().to_lowercase();
    if search::words(&q).next().is_none() {
        return Err(ApiError::bad_request(
            "bad_query",
            "the search query needs at least one word of two or more letters or digits",
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let by_adoption = match query.sort.as_deref() {
        None | Some("relevance") => false,
        Some("adoption") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!(
                    "sort {:?} is neither relevance nor adoption",
                    shire_core::clip(other)
                ),
            ))
        }
    };
    let exact = PackageName::parse(&q).ok();
    let is_exact = |n: &PackageName| exact.as_ref() == Some(n) || n.name() == q;
    let ranked = state.store.search(
        &q,
        if by_adoption {
            ADOPTION_CANDIDATES
        } else {
            limit
        },
    )?;
    let total = ranked.total;
    let mut names = ranked.names;
    if by_adoption {
        let counts = state.store.adopter_counts(&names)?;
        let mut counted: Vec<_> = names
            .into_iter()
            .zip(counts)
            .enumerate()
            .map(|(relevance, (name, adopters))| {
                (
                    !is_exact(&name),
                    std::cmp::Reverse(adopters),
                    relevance,
                    name,
                )
            })
            .collect();
        counted.sort();
        names = counted.into_iter().take(limit).map(|c| c.3).collect();
    }
    let mut results = Vec::with_capacity(names.len());
    for (name, found) in names.iter().zip(state.store.search_hits(&names)?) {
        let Some(pkg) = found.package else { continue };
        let exact = is_exact(name);
        if let Some(hit) = hit(&state, name, pkg, found.highest, found.adopters, exact)? {
            results.push(hit);
        }
    }
    Ok(HttpResponse::Ok().json(SearchResults { results, total }))
}

fn hit(
    state: &AppState,
    name: &PackageName,
    pkg: PackageRecord,
    highest: Option<ReleaseRecord>,
    adopters: u64,
    exact: bool,
) -> Result<Option<SearchHit>, ApiError> {
    // The highest version not yanked, or the highest when all are. Usually
    // the highest is not yanked: read already, whatever the number of versions.
    let latest =
        match highest {
            Some(r) if r.yanked.is_none() => Some(r),
            _ => state.store.releases_of(name)?.into_iter().max_by(|a, b| {
                (a.yanked.is_none(), &a.version).cmp(&(b.yanked.is_none(), &b.version))
            }),
        };
    let Some(r) = latest else {
        return Ok(None);
    };
    let mut approved_by: Vec<Approver> = r
        .verdicts
        .iter()
        .filter(|v| v.fact.verdict == shire_core::statement::Verdict::Approve)
        .map(|v| Approver {
            account: v.fact.account.clone(),
            org: v.fact.org.clone(),
            key_id: v.fact.key_id.clone(),
        })
        .collect();
    approved_by.sort();
    approved_by.dedup();
    let mut approvers: Vec<_> = approved_by.iter().map(|a| a.key_id.clone()).collect();
    approvers.sort();
    approvers.dedup();
    Ok(Some(SearchHit {
        name: name.clone(),
        description: pkg.description,
        latest: r.version,
        state: r.state,
        approvers,
        approved_by,
        keywords: pkg.keywords,
        categories: pkg.categories,
        origin: pkg.origin.unwrap_or_else(|| state.origin.clone()),
        exact,
        adopters: usize::try_from(adopters).unwrap_or(usize::MAX),
    }))
}
