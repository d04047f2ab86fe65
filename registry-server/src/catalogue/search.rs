//! `GET /search`: the search index's matches, filtered by facets, sorted
//! and paged, every choice in the address so a result can be bookmarked.
//!
//! Parameters: `q`; the facets `org`, `category`, `status` (development
//! status), `maintenance`, `origin`, `state` and `licence`; `sort`
//! (`relevance`, `updated` or `name`) and `page`. Unknown parameters are
//! ignored; a bad `page` reads as the first.

use super::snapshot::PackageSummary;
use super::view::{self, Link, Tag};
use super::{html, Catalogue, PageError};
use crate::state::AppState;
use crate::store::search::words;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::BTreeMap;

/// Results per page.
pub const PAGE_SIZE: usize = 20;
/// Values shown per facet, most frequent first.
const FACET_VALUES: usize = 12;

/// A facet: its parameter, its heading, and how a package's values are read.
struct Facet {
    param: &'static str,
    title: &'static str,
    values: fn(&PackageSummary) -> Vec<String>,
}

const FACETS: &[Facet] = &[
    Facet {
        param: "state",
        title: "Release state",
        values: |p| {
            vec![Tag::release(p.state, p.yanked, p.taken_down)
                .text
                .to_string()]
        },
    },
    Facet {
        param: "org",
        title: "Organisation",
        values: |p| vec![p.name.org().to_string()],
    },
    Facet {
        param: "category",
        title: "Category",
        values: |p| p.categories.clone(),
    },
    Facet {
        param: "status",
        title: "Development status",
        values: |p| p.development_status.iter().cloned().collect(),
    },
    Facet {
        param: "maintenance",
        title: "Maintenance",
        values: |p| p.maintenance_type.iter().cloned().collect(),
    },
    Facet {
        param: "origin",
        title: "Home node",
        values: |p| vec![p.origin.clone()],
    },
    Facet {
        param: "licence",
        title: "Licence",
        values: |p| vec![p.licence.clone()],
    },
];

/// The orders a result list can take.
const SORTS: &[(&str, &str)] = &[
    ("relevance", "Relevance"),
    ("updated", "Recently updated"),
    ("name", "Name"),
];

/// The parsed address.
#[derive(Debug, Clone, Default)]
struct Params {
    q: String,
    filters: BTreeMap<&'static str, String>,
    sort: &'static str,
    page: usize,
}

impl Params {
    fn parse(query: &str) -> Params {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let mut p = Params {
            sort: "relevance",
            page: 1,
            ..Params::default()
        };
        for (k, v) in pairs {
            let v = v.trim().to_string();
            match k.as_str() {
                "q" => p.q = v,
                "sort" => {
                    if let Some((s, _)) = SORTS.iter().find(|(s, _)| *s == v) {
                        p.sort = s;
                    }
                }
                "page" => p.page = v.parse().unwrap_or(1).max(1),
                other => {
                    if let Some(f) = FACETS.iter().find(|f| f.param == other) {
                        if !v.is_empty() {
                            p.filters.insert(f.param, v);
                        }
                    }
                }
            }
        }
        p
    }

    /// The address of this search with `change` applied (page back to 1
    /// unless the change is the page).
    fn href(&self, change: impl FnOnce(&mut Params)) -> String {
        let mut next = self.clone();
        next.page = 1;
        change(&mut next);
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !next.q.is_empty() {
            pairs.push(("q", next.q.clone()));
        }
        for (k, v) in &next.filters {
            pairs.push((k, v.clone()));
        }
        if next.sort != "relevance" {
            pairs.push(("sort", next.sort.to_string()));
        }
        if next.page > 1 {
            pairs.push(("page", next.page.to_string()));
        }
        format!(
            "/search?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

/// One facet value as a link.
struct FacetValue {
    link: Link,
    count: usize,
}

/// A facet's box.
struct FacetView {
    title: &'static str,
    /// The value chosen, with the link that removes it.
    chosen: Option<Link>,
    values: Vec<FacetValue>,
}

/// One result.
struct Hit {
    link: Link,
    description: String,
    latest: String,
    tag: Tag,
    org: Link,
    origin: String,
    updated: String,
    approved_by: Vec<Link>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    q: String,
    notice: Option<String>,
    total: usize,
    hits: Vec<Hit>,
    facets: Vec<FacetView>,
    sorts: Vec<(Link, bool)>,
    page: usize,
    pages: usize,
    previous: Option<String>,
    next: Option<String>,
    first: usize,
    last: usize,
}

/// The search page.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
) -> Result<HttpResponse, PageError> {
    let params = Params::parse(req.query_string());
    let snap = super::snapshot(&catalogue, &state).await?;
    let q = params.q.to_lowercase();
    let mut notice = None;
    let matched: Vec<&PackageSummary> = if q.is_empty() {
        snap.packages.iter().collect()
    } else if words(&q).next().is_none() {
        notice = Some("Search for at least one word of two or more letters or digits.".to_string());
        Vec::new()
    } else {
        state
            .store
            .search_ids(&q)?
            .into_iter()
            .filter_map(|id| snap.by_id(id))
            .collect()
    };
    let mut filtered: Vec<&PackageSummary> = matched
        .into_iter()
        .filter(|p| {
            FACETS.iter().all(|f| match params.filters.get(f.param) {
                Some(want) => (f.values)(p).iter().any(|v| v == want),
                None => true,
            })
        })
        .collect();
    match params.sort {
        "updated" => filtered.sort_by_key(|p| std::cmp::Reverse(p.updated_ns)),
        "name" => filtered.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => {} // relevance: the index's order (by name with no query)
    }
    let facets = FACETS
        .iter()
        .map(|f| facet_view(f, &params, &filtered))
        .collect();
    let total = filtered.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = params.page.min(pages);
    let first = (page - 1) * PAGE_SIZE;
    let hits = filtered
        .iter()
        .skip(first)
        .take(PAGE_SIZE)
        .map(|p| hit(p, &state.origin))
        .collect::<Vec<_>>();
    let sorts = SORTS
        .iter()
        .map(|(s, words)| {
            let link = Link {
                href: params.href(|p| p.sort = s),
                text: words.to_string(),
            };
            (link, *s == params.sort)
        })
        .collect();
    html(&SearchPage {
        q: params.q.clone(),
        notice,
        total,
        first: if total == 0 { 0 } else { first + 1 },
        last: first + hits.len(),
        hits,
        facets,
        sorts,
        page,
        pages,
        previous: (page > 1).then(|| params.href(|p| p.page = page - 1)),
        next: (page < pages).then(|| params.href(|p| p.page = page + 1)),
    })
}

fn facet_view(f: &Facet, params: &Params, packages: &[&PackageSummary]) -> FacetView {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in packages {
        for v in (f.values)(p) {
            *counts.entry(v).or_default() += 1;
        }
    }
    let chosen = params.filters.get(f.param).map(|v| Link {
        href: params.href(|p| {
            p.filters.remove(f.param);
        }),
        text: v.clone(),
    });
    let mut values: Vec<(String, usize)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let values = if chosen.is_some() {
        Vec::new()
    } else {
        values
            .into_iter()
            .take(FACET_VALUES)
            .map(|(v, count)| FacetValue {
                link: Link {
                    href: params.href(|p| {
                        p.filters.insert(f.param, v.clone());
                    }),
                    text: v,
                },
                count,
            })
            .collect()
    };
    FacetView {
        title: f.title,
        chosen,
        values,
    }
}

fn hit(p: &PackageSummary, own: &str) -> Hit {
    Hit {
        link: Link::package(&p.name),
        description: shire_core::escape_invisible(&p.description),
        latest: p.latest.to_string(),
        tag: Tag::release(p.state, p.yanked, p.taken_down),
        org: Link::org(p.name.org()),
        origin: p.origin.clone(),
        updated: view::day(&p.updated_at),
        approved_by: p
            .approved_by
            .iter()
            .map(|(account, _)| {
                Link::verifier(account, (p.origin != own).then_some(p.origin.as_str()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn addresses_round_trip_and_reset_the_page() {
        let p = Params::parse("q=crm+lite&org=braintree&sort=name&page=3&bogus=1");
        assert_eq!(p.q, "crm lite");
        assert_eq!(p.page, 3);
        assert_eq!(p.sort, "name");
        assert_eq!(p.href(|_| {}), "/search?q=crm+lite&org=braintree&sort=name");
        assert_eq!(
            p.href(|p| p.page = 4),
            "/search?q=crm+lite&org=braintree&sort=name&page=4"
        );
        let bad = Params::parse("page=abc&sort=%3Cscript%3E&q=%3Cb%3E");
        assert_eq!(
            (bad.page, bad.sort, bad.q.as_str()),
            (1, "relevance", "<b>")
        );
        assert_eq!(bad.href(|_| {}), "/search?q=%3Cb%3E");
    }
}
