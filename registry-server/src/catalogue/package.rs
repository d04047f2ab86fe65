//! `GET /packages/{org}/{name}[/{version}]`: a package for a person who is
//! choosing it: its README and publiccode metadata, the install line, who
//! approved each version and what was revoked or yanked and why, who runs
//! and supports it, its dependencies both ways, the files of the version
//! shown, and the log index of every statement with a link to its proof.

use super::view::{self, day, EventView, Link, Tag};
use super::{html, Catalogue, PageError};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::ReleaseRecord;
use actix_web::{web, HttpResponse};
use askama::Template;
use shire_core::{OrgName, PackageName, Version};
use std::collections::HashMap;

/// Most files listed for one version.
const MAX_FILES: usize = 500;

/// A statement's place in a log, linked to its proof when the node holds one.
struct LogRef {
    index: u64,
    proof: Option<String>,
}

/// One verdict, yank or takedown of a version.
struct VersionEvent {
    event: EventView,
    log: Option<LogRef>,
}

/// One version, newest first on the page.
struct VersionView {
    version: String,
    href: String,
    tag: Tag,
    published: String,
    log: LogRef,
    events: Vec<VersionEvent>,
    selected: bool,
}

/// A term and its value (a summary-list row).
struct Row {
    key: &'static str,
    value: String,
    link: Option<String>,
}

struct FileView {
    path: String,
    kind: String,
    size: String,
}

struct UsedBy {
    org: Link,
    version: String,
    since: String,
    origin: String,
}

struct Supporter {
    org: Link,
    versions: String,
    until: String,
    pending: bool,
}

#[derive(Template)]
#[template(path = "package.html")]
struct PackagePage {
    name: String,
    description: String,
    org: Link,
    origin: String,
    mirrored: bool,
    feed_base: String,
    shown: String,
    shown_tag: Tag,
    shown_is_latest: bool,
    install: Option<String>,
    install_note: Option<String>,
    details: Vec<Row>,
    readme: Option<std::sync::Arc<str>>,
    long_description: Option<std::sync::Arc<str>>,
    versions: Vec<VersionView>,
    dependencies: Vec<(Link, String)>,
    dependents: Vec<Link>,
    used_by: Vec<UsedBy>,
    supported_by: Vec<Supporter>,
    files: Vec<FileView>,
    files_more: usize,
    files_total: usize,
}

/// A package's page, showing its latest version.
pub async fn page(
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (org, name) = path.into_inner();
    render(&state, &catalogue, &org, &name, None).await
}

/// A package's page, showing one version.
pub async fn version_page(
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (org, name, version) = path.into_inner();
    render(&state, &catalogue, &org, &name, Some(&version)).await
}

/// The package named by the path's segments, or a 404 with suggestions.
async fn package_name(
    catalogue: &web::Data<Catalogue>,
    state: &web::Data<AppState>,
    org: &str,
    name: &str,
) -> Result<PackageName, PageError> {
    let found = org
        .parse::<OrgName>()
        .ok()
        .and_then(|o| PackageName::new(o, name).ok());
    if let Some(n) = found {
        if state.store.package(&n)?.is_some() {
            return Ok(n);
        }
    }
    let wanted = format!("{org}/{name}");
    Err(PageError::NotFound {
        what: format!("package {}", shire_core::clip(&wanted)),
        suggestions: super::snapshot(catalogue, state)
            .await
            .map(|s| s.suggestions(&wanted, 5))
            .unwrap_or_default(),
    })
}

async fn render(
    state: &web::Data<AppState>,
    catalogue: &web::Data<Catalogue>,
    org: &str,
    name: &str,
    version: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let name = package_name(catalogue, state, org, name).await?;
    let pkg = state
        .store
        .package(&name)?
        .ok_or_else(|| PageError::not_found(format!("package {name}")))?;
    let mut releases = state.store.releases_of(&name)?;
    releases.sort_by(|a, b| b.version.cmp(&a.version));
    let shown = match version {
        Some(v) => {
            let v: Version = v
                .parse()
                .map_err(|_| PageError::not_found(format!("version {}", shire_core::clip(v))))?;
            releases
                .iter()
                .find(|r| r.version == v)
                .ok_or_else(|| PageError::not_found(format!("{name}@{v}")))?
        }
        None => super::snapshot::shown_release(&releases)
            .ok_or_else(|| PageError::not_found(format!("package {name}")))?,
    };
    let own = pkg.origin.is_none();
    let origin = pkg.origin.clone().unwrap_or_else(|| state.origin.clone());
    let log_size = if own {
        state.store.durable_log_size()
    } else {
        state.store.mirror_record(&origin)?.checkpoint_size
    };
    let log_ref = |index: u64| LogRef {
        index,
        proof: view::proof_href(own, &origin, index, log_size),
    };

    // What the client would install: approved and present, and each direct
    // dependency met by such a release on this node (each dependency's
    // releases read once).
    let live = super::snapshot::approved_and_present;
    let mut live_versions: HashMap<PackageName, Vec<Version>> = HashMap::new();
    for r in &releases {
        for dep in r.manifest.dependencies.keys() {
            if !live_versions.contains_key(dep) {
                let versions = state
                    .store
                    .releases_of(dep)?
                    .into_iter()
                    .filter(&live)
                    .map(|d| d.version)
                    .collect();
                live_versions.insert(dep.clone(), versions);
            }
        }
    }
    let deps_met = |r: &ReleaseRecord| {
        r.manifest.dependencies.iter().all(|(dep, req)| {
            live_versions
                .get(dep)
                .is_some_and(|vs| vs.iter().any(|v| req.matches(v)))
        })
    };
    let installable = |r: &ReleaseRecord| live(r) && deps_met(r);
    let newest_installable = releases.iter().find(|r| installable(r));
    let (install, install_note) =
        match (installable(shown), newest_installable) {
            (true, _) => (Some(install_line(&name, &shown.version)), None),
            (false, Some(newest)) => {
                (
                    Some(install_line(&name, &newest.version)),
                    Some(format!(
                        "Version {} {} and cannot be installed; the newest version that can is {}.",
                        shown.version,
                        why_not(shown, live(shown)),
                        newest.version
                    )),
                )
            }
            (false, None) => (
                None,
                Some("No version of this package can be installed: none is approved, present and with its dependencies met.".to_string()),
            ),
        };

    let versions = releases
        .iter()
        .map(|r| VersionView {
            version: r.version.to_string(),
            href: view::version_href(&name, &r.version),
            tag: Tag::release(r.state, r.yanked.is_some(), r.taken_down.is_some()),
            published: day(&r.published_at),
            log: log_ref(r.log_index),
            events: version_events(r, &origin)
                .into_iter()
                .map(|e| VersionEvent {
                    log: e.log_index.map(log_ref),
                    event: EventView::of(&e, &state.origin),
                })
                .collect(),
            selected: std::ptr::eq(r, shown),
        })
        .collect();

    let snap = super::snapshot(catalogue, state).await?;
    let dependents = snap
        .dependents
        .get(&name)
        .map(|s| s.iter().map(Link::package).collect())
        .unwrap_or_default();
    let dependencies = shown
        .manifest
        .dependencies
        .iter()
        .map(|(d, req)| (Link::package(d), req.to_string()))
        .collect();
    let used_by = state
        .store
        .adoptions_of(&name)?
        .into_iter()
        .map(|a| {
            let info = crate::routes::adoptions::adoption_info(state, &a);
            UsedBy {
                org: Link::org(&info.org),
                version: info.version.to_string(),
                since: day(&info.since),
                origin: info.origin,
            }
        })
        .collect();
    let supported_by = state
        .store
        .supports_of(&name)?
        .iter()
        .filter_map(|s| crate::routes::support::support_info(state, s))
        .map(|s| Supporter {
            org: Link::org(&s.supporter),
            versions: s.versions.to_string(),
            until: s.until.clone(),
            pending: s.pending_offer.is_some(),
        })
        .collect();

    let summary = if shown.taken_down.is_some() {
        None
    } else {
        state.store.files(&name, &shown.version)?
    };
    // A README already rendered (or known absent) is served without leaving
    // the async worker; only a first render goes to the blocking pool.
    let readme = match (&summary, catalogue.readmes.cached(&shown.digest)) {
        (None, _) => None,
        (Some(_), Some(hit)) => hit,
        (Some(files), None) => {
            let path = super::readme::readme_path(files);
            let (store, digest, limits) = (state.store.clone(), shown.digest, state.archive_limits);
            let readmes = catalogue.clone();
            web::block(move || {
                readmes
                    .readmes
                    .html(&store, &digest, path.as_deref(), &limits)
            })
            .await
            .map_err(|e| PageError::Api(ApiError::Internal(format!("README: {e}"))))?
        }
    };
    let (files, files_total) = match &summary {
        Some(s) => (
            s.files
                .iter()
                .take(MAX_FILES)
                .map(|f| FileView {
                    path: f.path.clone(),
                    kind: match &f.target {
                        Some(t) => format!("link to {t}"),
                        None => format!("{:?}", f.kind).to_lowercase(),
                    },
                    size: view::size(f.size),
                })
                .collect::<Vec<_>>(),
            s.files.len(),
        ),
        None => (Vec::new(), 0),
    };

    html(&PackagePage {
        description: shire_core::escape_invisible(&shown.manifest.package.description),
        org: Link::org(name.org()),
        mirrored: !own,
        feed_base: format!("{}/feeds", view::package_href(&name)),
        shown: shown.version.to_string(),
        shown_tag: Tag::release(
            shown.state,
            shown.yanked.is_some(),
            shown.taken_down.is_some(),
        ),
        shown_is_latest: version.is_none(),
        install,
        install_note,
        details: details(shown, &origin),
        readme,
        long_description: shown
            .manifest
            .publiccode
            .long_description
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(|d| catalogue.readmes.long_description(&shown.digest, d)),
        versions,
        dependencies,
        dependents,
        used_by,
        supported_by,
        files_more: files_total.saturating_sub(files.len()),
        files,
        files_total,
        origin,
        name: name.to_string(),
    })
}

/// Why a release cannot be installed, as the end of "Version X ...".
fn why_not(r: &ReleaseRecord, live: bool) -> String {
    if live {
        "depends on a package with no installable version that meets its requirement".into()
    } else {
        format!(
            "is {}",
            Tag::release(r.state, r.yanked.is_some(), r.taken_down.is_some()).text
        )
    }
}

fn install_line(name: &PackageName, version: &Version) -> String {
    format!("shire install {name}@={version}")
}

/// A version's events, oldest first.
fn version_events(r: &ReleaseRecord, origin: &str) -> Vec<super::snapshot::Event> {
    let mut events = super::snapshot::events_of(r, origin);
    events.sort_by_cached_key(|e| super::snapshot::instant(&e.at));
    events
}

/// The publiccode metadata and the manifest's own, as rows.
fn details(r: &ReleaseRecord, origin: &str) -> Vec<Row> {
    let m = &r.manifest;
    let pc = &m.publiccode;
    let mut rows = vec![Row {
        key: "Home node",
        value: origin.to_string(),
        link: None,
    }];
    let mut add = |key: &'static str, value: String| {
        if !value.is_empty() {
            rows.push(Row {
                key,
                value: shire_core::escape_invisible(&value),
                link: None,
            });
        }
    };
    add("Licence", m.package.license.clone());
    add("Platforms", pc.platforms.join(", "));
    add("Categories", pc.categories.join(", "));
    add(
        "Development status",
        pc.development_status.clone().unwrap_or_default(),
    );
    add(
        "Maintenance",
        pc.maintenance_type.clone().unwrap_or_default(),
    );
    add(
        "Maintenance contacts",
        pc.contacts
            .iter()
            .map(|c| match &c.email {
                Some(e) => format!("{} ({e})", c.name),
                None => c.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
    add(
        "Contractors",
        pc.contractors
            .iter()
            .map(|c| format!("{} (until {})", c.name, c.until))
            .collect::<Vec<_>>()
            .join("; "),
    );
    add("Languages", pc.languages.join(", "));
    add("Keywords", m.package.keywords.join(", "));
    add("Authors", m.package.authors.join(", "));
    if let Some(repo) = &m.package.repository {
        // Only web addresses become links; anything else stays text.
        let link =
            (repo.starts_with("https://") || repo.starts_with("http://")).then(|| repo.clone());
        rows.push(Row {
            key: "Repository",
            value: shire_core::escape_invisible(repo),
            link: link.filter(|l| !l.chars().any(shire_core::is_invisible)),
        });
    }
    rows
}
