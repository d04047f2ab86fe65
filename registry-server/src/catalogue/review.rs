//! `GET /review`: the releases awaiting review, oldest first, with what
//! changed since each one's previous version. Read-only: verdicts are still
//! signed with `shire approve` on the verifier's own machine.

use super::view::{self, Link};
use super::{html, Catalogue, PageError};
use crate::routes::review::review_item;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use askama::Template;

/// Most paths listed per kind of change for one release.
const MAX_PATHS: usize = 200;

/// One kind of change and the paths it touched.
struct Changes {
    title: &'static str,
    paths: Vec<String>,
    more: usize,
}

struct Item {
    package: Link,
    version: Link,
    published: String,
    previous: Option<String>,
    changes: Vec<Changes>,
    dependencies: Vec<String>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    items: Vec<Item>,
    more: usize,
}

/// Most releases listed, oldest first.
const MAX_ITEMS: usize = 100;

/// The review queue.
pub async fn page(
    state: web::Data<AppState>,
    _catalogue: web::Data<Catalogue>,
) -> Result<HttpResponse, PageError> {
    let (items, waiting) = web::block(move || queue(&state))
        .await
        .map_err(|e| PageError::Api(crate::error::ApiError::Internal(format!("review: {e}"))))??;
    html(&ReviewPage {
        more: waiting.saturating_sub(items.len()),
        items,
    })
}

/// The oldest [`MAX_ITEMS`] pending releases with their changes, and how
/// many wait in all. Blocking: compares file lists.
fn queue(state: &AppState) -> Result<(Vec<Item>, usize), PageError> {
    let pending = state.store.pending()?;
    let waiting = pending.len();
    let mut items = Vec::new();
    for rec in pending.into_iter().take(MAX_ITEMS) {
        let it = review_item(state, rec)?;
        let changes = [
            ("Files added", it.files.added),
            ("Files removed", it.files.removed),
            ("Files changed", it.files.changed),
        ]
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(title, paths)| Changes {
            title,
            more: paths.len().saturating_sub(MAX_PATHS),
            paths: paths.into_iter().take(MAX_PATHS).collect(),
        })
        .collect();
        let d = &it.dependencies;
        let dependencies = d
            .added
            .iter()
            .map(|(n, r)| format!("added {n} {r}"))
            .chain(d.removed.iter().map(|(n, r)| format!("removed {n} {r}")))
            .chain(
                d.changed
                    .iter()
                    .map(|(n, (o, r))| format!("changed {n} from {o} to {r}")),
            )
            .collect();
        items.push(Item {
            package: Link::package(&it.name),
            version: Link {
                href: view::version_href(&it.name, &it.version),
                text: it.version.to_string(),
            },
            published: view::day(&it.published_at),
            previous: it.previous.map(|v| v.to_string()),
            changes,
            dependencies,
        });
    }
    Ok((items, waiting))
}
