//! `GET /`: a search box, recent approvals, recent revocations and yanks
//! with their reasons, and the node's counts.

use super::snapshot::EventKind;
use super::view::EventView;
use super::{html, Catalogue, PageError};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use askama::Template;

/// How many events each list on the home page shows.
const RECENT: usize = 10;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    origin: String,
    packages: usize,
    releases: usize,
    orgs: usize,
    verifiers: usize,
    approved: Vec<EventView>,
    withdrawn: Vec<EventView>,
}

/// The home page.
pub async fn page(
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
) -> Result<HttpResponse, PageError> {
    let snap = super::snapshot(&catalogue, &state).await?;
    let recent = |kinds: &[EventKind]| -> Vec<EventView> {
        snap.events
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .take(RECENT)
            .map(|e| EventView::of(e, &state.origin))
            .collect()
    };
    html(&HomePage {
        origin: state.origin.clone(),
        packages: snap.packages.len(),
        releases: snap.release_count,
        orgs: snap.org_count,
        verifiers: snap.verifier_count,
        approved: recent(&[EventKind::Approved]),
        withdrawn: recent(&[EventKind::Revoked, EventKind::Yanked, EventKind::TakenDown]),
    })
}
