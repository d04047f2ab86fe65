//! `GET /orgs/{org}` and `GET /verifiers/{account}`: an organisation's
//! packages and people, and what a verifier approved, rejected and revoked.

use super::snapshot::EventKind;
use super::view::{EventView, Link, Tag};
use super::{html, Catalogue, PageError};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use shire_core::wire::Role;
use shire_core::OrgName;

/// One of an organisation's packages.
struct OrgPackage {
    link: Link,
    description: String,
    latest: String,
    tag: Tag,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    org: String,
    home: String,
    own: bool,
    packages: Vec<OrgPackage>,
    publishers: Vec<String>,
    verifiers: Vec<Link>,
}

/// An organisation's page.
pub async fn org(
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let raw = path.into_inner();
    let missing = || PageError::not_found(format!("organisation {}", shire_core::clip(&raw)));
    let org: OrgName = raw.parse().map_err(|_| missing())?;
    let snap = super::snapshot(&catalogue, &state).await?;
    let packages: Vec<_> = snap
        .packages
        .iter()
        .filter(|p| p.name.org() == &org)
        .collect();
    let own = state.store.orgs()?.iter().any(|o| o.name == org);
    if !own && packages.is_empty() {
        return Err(missing());
    }
    let home = if own {
        state.origin.clone()
    } else {
        packages
            .first()
            .map(|p| p.origin.clone())
            .unwrap_or_default()
    };
    let mut publishers = Vec::new();
    let mut verifiers = Vec::new();
    for a in state.store.accounts()? {
        if a.org.as_ref() != Some(&org) || a.disabled_at.is_some() {
            continue;
        }
        match a.role {
            Role::Publisher => publishers.push(a.username),
            Role::Verifier => verifiers.push(Link::verifier(&a.username, None)),
            Role::Admin => {}
        }
    }
    publishers.sort();
    verifiers.sort_by(|a, b| a.text.cmp(&b.text));
    html(&OrgPage {
        org: org.to_string(),
        home,
        own,
        packages: packages
            .iter()
            .map(|p| OrgPackage {
                link: Link::package(&p.name),
                description: shire_core::escape_invisible(&p.description),
                latest: p.latest.to_string(),
                tag: Tag::release(p.state, p.yanked, p.taken_down),
            })
            .collect(),
        publishers,
        verifiers,
    })
}

/// One of a verifier's keys.
struct KeyView {
    key_id: String,
    public_key: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "verifier.html")]
struct VerifierPage {
    account: String,
    /// The mirrored log the account belongs to (none: this node's).
    mirrored_from: Option<String>,
    disabled: bool,
    org: Option<Link>,
    keys: Vec<KeyView>,
    verdicts: Vec<EventView>,
}

/// Most verdicts listed on a verifier's page.
const MAX_VERDICTS: usize = 500;

/// A verifier's page: an account of this node's log, or with `?origin=`
/// of a mirrored log (accounts are named per log).
pub async fn verifier(
    req: HttpRequest,
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let account = path.into_inner();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let origin = pairs
        .into_iter()
        .find(|(k, _)| k == "origin")
        .map(|(_, v)| v)
        .filter(|o| *o != state.origin);
    let log = origin.clone().unwrap_or_else(|| state.origin.clone());
    let snap = super::snapshot(&catalogue, &state).await?;
    let verdicts: Vec<_> = snap
        .events
        .iter()
        .filter(|e| {
            e.by == account
                && e.origin == log
                && matches!(
                    e.kind,
                    EventKind::Approved | EventKind::Rejected | EventKind::Revoked
                )
        })
        .collect();
    let record = match origin {
        Some(_) => None,
        None => state
            .store
            .account(&account)?
            .filter(|a| a.role == Role::Verifier),
    };
    if record.is_none() && verdicts.is_empty() {
        return Err(PageError::not_found(format!(
            "verifier {}",
            shire_core::clip(&account)
        )));
    }
    let org = record
        .as_ref()
        .and_then(|a| a.org.clone())
        .or_else(|| verdicts.iter().find_map(|e| e.by_org.clone()));
    let keys = state
        .store
        .verifier_keys()?
        .into_iter()
        .filter(|(_, a)| record.is_some() && a.username == account)
        .map(|(k, _)| KeyView {
            key_id: k.key_id.to_string(),
            public_key: k.public_key.to_string(),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    html(&VerifierPage {
        disabled: record.as_ref().is_some_and(|a| a.disabled_at.is_some()),
        org: org.as_ref().map(Link::org),
        keys,
        verdicts: verdicts
            .into_iter()
            .take(MAX_VERDICTS)
            .map(|e| EventView::of(e, &state.origin))
            .collect(),
        mirrored_from: origin,
        account,
    })
}
