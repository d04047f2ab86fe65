//! Atom feeds (`atom_syndication`) of approvals, revocations and yanks, for
//! the whole node (`/feeds/{kind}.atom`), an organisation
//! (`/orgs/{org}/feeds/{kind}.atom`) and a package
//! (`/packages/{org}/{name}/feeds/{kind}.atom`), so that a council can
//! subscribe without an account. Revocations include takedowns.

use super::snapshot::{Event, EventKind, Snapshot};
use super::view::{self, advisory_words};
use super::{Catalogue, PageError};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use atom_syndication::{Entry, Feed, FixedDateTime, Link, Person, Text};
use shire_core::{OrgName, PackageName};

/// Most entries in one feed.
pub const MAX_ENTRIES: usize = 50;

/// What a feed carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Approvals,
    Revocations,
    Yanks,
}

impl Kind {
    fn parse(file: &str) -> Option<Kind> {
        match file {
            "approvals.atom" => Some(Kind::Approvals),
            "revocations.atom" => Some(Kind::Revocations),
            "yanks.atom" => Some(Kind::Yanks),
            _ => None,
        }
    }

    fn includes(self, e: EventKind) -> bool {
        match self {
            Kind::Approvals => e == EventKind::Approved,
            Kind::Revocations => matches!(e, EventKind::Revoked | EventKind::TakenDown),
            Kind::Yanks => e == EventKind::Yanked,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Approvals => "Approvals",
            Kind::Revocations => "Revocations",
            Kind::Yanks => "Yanks",
        }
    }
}

/// The node's feeds.
pub async fn node(
    req: HttpRequest,
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let title = format!("on {}", state.origin);
    let snap = super::snapshot(&catalogue, &state).await?;
    feed(&req, &snap, &state.origin, &path, &title, "", |_| true)
}

/// An organisation's feeds.
pub async fn org(
    req: HttpRequest,
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (org, file) = path.into_inner();
    let org: OrgName = org
        .parse()
        .map_err(|_| PageError::not_found("organisation"))?;
    let snap = super::snapshot(&catalogue, &state).await?;
    let known = state.store.orgs()?.iter().any(|o| o.name == org)
        || snap.packages.iter().any(|p| p.name.org() == &org);
    if !known {
        return Err(PageError::not_found(format!("organisation {org}")));
    }
    let title = format!("of {org}'s packages");
    let scope = format!("/orgs/{org}");
    feed(&req, &snap, &state.origin, &file, &title, &scope, |e| {
        e.package.org() == &org
    })
}

/// A package's feeds.
pub async fn package(
    req: HttpRequest,
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (org, name, file) = path.into_inner();
    let name = org
        .parse::<OrgName>()
        .ok()
        .and_then(|o| PackageName::new(o, &name).ok())
        .ok_or_else(|| PageError::not_found("package"))?;
    if state.store.package(&name)?.is_none() {
        return Err(PageError::not_found(format!("package {name}")));
    }
    let title = format!("of {name}");
    let scope = view::package_href(&name);
    let snap = super::snapshot(&catalogue, &state).await?;
    feed(&req, &snap, &state.origin, &file, &title, &scope, |e| {
        e.package == name
    })
}

fn feed(
    req: &HttpRequest,
    snap: &Snapshot,
    origin: &str,
    file: &str,
    title: &str,
    scope: &str,
    wanted: impl Fn(&Event) -> bool,
) -> Result<HttpResponse, PageError> {
    let kind = Kind::parse(file)
        .ok_or_else(|| PageError::not_found(format!("feed {}", shire_core::clip(file))))?;
    let base = public_base(req);
    let self_href = format!("{base}{scope}/feeds/{file}");
    let entries: Vec<Entry> = snap
        .events
        .iter()
        .filter(|e| kind.includes(e.kind) && wanted(e))
        .take(MAX_ENTRIES)
        .map(|e| entry(e, &base, origin))
        .collect();
    let updated = entries.first().map(|e| *e.updated()).unwrap_or_else(epoch);
    let mut feed = Feed::default();
    feed.set_title(Text::plain(format!("{} {title}", kind.title())));
    feed.set_id(self_href.clone());
    feed.set_updated(updated);
    feed.set_links(vec![
        link(&self_href, "self"),
        link(
            &format!("{base}{}", if scope.is_empty() { "/" } else { scope }),
            "alternate",
        ),
    ]);
    feed.set_entries(entries);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(feed.to_string()))
}

fn entry(e: &Event, base: &str, origin: &str) -> Entry {
    let mut entry = Entry::default();
    entry.set_title(Text::plain(format!(
        "{}@{} {}",
        e.package,
        e.version,
        e.kind.word()
    )));
    entry.set_id(format!(
        "urn:shire:{origin}:{}@{}:{}:{}",
        e.package,
        e.version,
        e.kind.word().replace(' ', "-"),
        e.log_index.map_or_else(|| e.at.clone(), |i| i.to_string())
    ));
    entry.set_updated(e.at.parse::<FixedDateTime>().unwrap_or_else(|_| epoch()));
    entry.set_links(vec![link(
        &format!("{base}{}", view::version_href(&e.package, &e.version)),
        "alternate",
    )]);
    entry.set_authors(vec![Person {
        name: match &e.by_org {
            Some(org) => format!("{} ({org})", e.by),
            None => e.by.clone(),
        },
        ..Person::default()
    }]);
    let mut summary = format!(
        "{}@{} was {} by {}",
        e.package,
        e.version,
        e.kind.word(),
        e.by
    );
    if let Some(reason) = e.reason.as_deref().filter(|r| !r.is_empty()) {
        summary.push_str(&format!(": {reason}"));
    }
    if let Some(a) = &e.advisory {
        summary.push_str(&format!(". {}", advisory_words(a)));
    }
    entry.set_summary(Some(Text::plain(summary)));
    entry
}

/// `scheme://host` of the request as the client addressed it (proxies'
/// `Forwarded` headers included), accepted only as `http` or `https` and a
/// plain host name or address with a port: anything else reads as
/// `http://localhost`, so a crafted header cannot put another scheme or
/// markup into a feed's links.
fn public_base(req: &HttpRequest) -> String {
    let conn = req.connection_info();
    let scheme = match conn.scheme() {
        "https" => "https",
        _ => "http",
    };
    let host = conn.host();
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    format!("{scheme}://{}", if plain { host } else { "localhost" })
}

fn link(href: &str, rel: &str) -> Link {
    let mut l = Link::default();
    l.set_href(href);
    l.set_rel(rel);
    l
}

fn epoch() -> FixedDateTime {
    FixedDateTime::default()
}
