//! `GET /api/v1/packages/{org}/{name}[/{version}[/files]]`, and the conversion
//! of stored releases into `VersionInfo`/`PackageInfo` that other routes reuse.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::{to_verdict_info, to_yank_info, ReleaseRecord};
use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use shire_core::wire::{KeyInfo, PackageInfo, VersionInfo};
use shire_core::{OrgName, PackageName, Version};

/// Path of a package.
pub type PackagePath = web::Path<(OrgName, String)>;
/// Path of a version.
pub type VersionPath = web::Path<(OrgName, String, Version)>;

/// Builds the package name from typed path segments (400 `bad_path`).
pub fn package_name(org: &OrgName, name: &str) -> Result<PackageName, ApiError> {
    PackageName::new(org.clone(), name)
        .map_err(|e| ApiError::bad_request("bad_path", format!("bad package name: {e}")))
}

/// The stored release at a path, or 404.
pub fn load_release(
    state: &AppState,
    name: &PackageName,
    version: &Version,
) -> Result<ReleaseRecord, ApiError> {
    state
        .store
        .release(name, version)?
        .ok_or_else(|| ApiError::VersionNotFound(format!("{name}@{version}")))
}

/// The wire form of a stored release.
pub fn version_info(state: &AppState, r: &ReleaseRecord) -> Result<VersionInfo, ApiError> {
    let missing = || {
        ApiError::Internal(format!(
            "release {}@{} names a missing key",
            r.name, r.version
        ))
    };
    // Mirrored: the key as the origin's log registered it.
    let publisher_key = state.store.publisher_key_info(r)?.ok_or_else(missing)?;
    version_info_signed_by(state, r, publisher_key)
}

/// [`version_info`] for a caller that holds the release's publisher key
/// already (the publish that just logged it, whose ledger checked the key).
pub fn version_info_signed_by(
    state: &AppState,
    r: &ReleaseRecord,
    publisher_key: KeyInfo,
) -> Result<VersionInfo, ApiError> {
    // A mirrored release came with the origin's word for its dependencies;
    // this node may not hold them (another origin's, not followed here).
    let mut absent = Vec::new();
    if r.origin.is_some() {
        for dep in r.manifest.dependencies.keys() {
            if state.store.package(dep)?.is_none() {
                absent.push(dep.to_string());
            }
        }
    }
    let unusable = (!absent.is_empty()).then(|| {
        format!(
            "it depends on {}, which this node does not hold",
            absent.join(", ")
        )
    });
    Ok(VersionInfo {
        version: r.version.clone(),
        digest: r.digest,
        size: r.size,
        state: r.state,
        yanked: r.yanked.as_ref().map(to_yank_info),
        published_at: r.published_at.clone(),
        release: r.envelope.clone(),
        publisher_key,
        verdicts: r.verdicts.iter().map(to_verdict_info).collect(),
        manifest: r.manifest.clone(),
        log_index: Some(r.log_index),
        taken_down: r.taken_down.as_ref().map(to_yank_info),
        unusable,
    })
}

/// A package with every version, in publish order.
#[utoipa::path(
    get, path = "/api/v1/packages/{org}/{name}", tag = "packages", params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it")),
    responses((status = 200, description = "the package with every version, in publish order", body = shire_core::wire::PackageInfo),
        (status = 400, description = "`bad_path`", body = shire_core::wire::ErrorBody), (status = 404, description = "`package_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn package(
    state: web::Data<AppState>,
    path: PackagePath,
) -> Result<HttpResponse, ApiError> {
    let (org, name) = path.into_inner();
    let name = package_name(&org, &name)?;
    let key = name.to_string();
    let docs = state.store.docs();
    if let Some(doc) = docs.get(key.as_bytes()) {
        return Ok(json_bytes(doc));
    }
    // Read before the records: a write that ends meanwhile makes `put` drop
    // this document (see `DocCache`).
    let generation = docs.generation();
    let pkg = state
        .store
        .package(&name)?
        .ok_or_else(|| ApiError::PackageNotFound(key.clone()))?;
    let versions = state
        .store
        .releases_of(&name)?
        .iter()
        .map(|r| version_info(&state, r))
        .collect::<Result<Vec<_>, _>>()?;
    let used_by = state
        .store
        .adoptions_of(&name)?
        .iter()
        .map(|a| crate::routes::adoptions::adoption_info(&state, a))
        .collect();
    let supported_by = state
        .store
        .supports_of(&name)?
        .iter()
        .filter_map(|s| crate::routes::support::support_info(&state, s))
        .collect();
    let doc = serde_json::to_vec(&PackageInfo {
        name,
        description: pkg.description,
        origin: pkg.origin.unwrap_or_else(|| state.origin.clone()),
        versions,
        used_by,
        supported_by,
    })
    .map_err(ApiError::internal)?;
    let doc = Bytes::from(doc);
    docs.put(key.as_bytes(), generation, doc.clone());
    Ok(json_bytes(doc))
}

/// A 200 response with an encoded JSON document.
fn json_bytes(doc: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(doc)
}

/// One version.
#[utoipa::path(
    get, path = "/api/v1/packages/{org}/{name}/{version}", tag = "packages", params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it"), ("version" = String, Path, description = "the version (semver)")),
    responses((status = 200, description = "one version", body = shire_core::wire::VersionInfo),
        (status = 400, description = "`bad_path`", body = shire_core::wire::ErrorBody), (status = 404, description = "`version_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn version(
    state: web::Data<AppState>,
    path: VersionPath,
) -> Result<HttpResponse, ApiError> {
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    let r = load_release(&state, &name, &version)?;
    Ok(HttpResponse::Ok().json(version_info(&state, &r)?))
}

/// What a version's archive holds (`ArchiveSummary`).
#[utoipa::path(
    get, path = "/api/v1/packages/{org}/{name}/{version}/files", tag = "packages", params(("org" = shire_core::OrgName, Path, description = "the organisation"), ("name" = String, Path, description = "the package's name in it"), ("version" = String, Path, description = "the version (semver)")),
    responses((status = 200, description = "what the version's archive holds", body = shire_core::archive::ArchiveSummary),
        (status = 400, description = "`bad_path`", body = shire_core::wire::ErrorBody), (status = 404, description = "`version_not_found`", body = shire_core::wire::ErrorBody), (status = 410, description = "`taken_down`", body = shire_core::wire::ErrorBody))
)]
pub async fn files(
    state: web::Data<AppState>,
    path: VersionPath,
) -> Result<HttpResponse, ApiError> {
    let (org, name, version) = path.into_inner();
    let name = package_name(&org, &name)?;
    let summary = state
        .store
        .files(&name, &version)?
        .ok_or_else(|| ApiError::VersionNotFound(format!("{name}@{version}")))?;
    Ok(HttpResponse::Ok().json(summary))
}
