//! The catalogue: server-rendered HTML pages for people choosing software,
//! served by the node itself beside the JSON API (`/api/...`).
//!
//! Pages are `askama` templates (`registry-server/templates/`), compiled and
//! checked with the binary, escaping every value. They are built from the
//! same records the API serves: one package's records for its page, and a
//! [`snapshot::Snapshot`] (rebuilt after each write) for what spans
//! packages. They work with JavaScript off; `static/shire.js` only adds copy
//! buttons. Every response carries a strict Content-Security-Policy (see
//! [`security_headers`]): no inline script or style, nothing from elsewhere.

pub mod feeds;
pub mod home;
pub mod log_page;
pub mod package;
pub mod people;
pub mod readme;
pub mod review;
pub mod search;
pub mod snapshot;
pub mod view;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use std::sync::Arc;

/// The catalogue's own state beside [`AppState`].
#[derive(Default)]
pub struct Catalogue {
    /// The cross-package read model.
    pub snapshots: snapshot::Snapshots,
    /// Rendered READMEs.
    pub readmes: readme::Readmes,
}

/// The current snapshot; a rebuild runs on the blocking pool, never on the
/// async workers that also serve the API.
pub async fn snapshot(
    catalogue: &web::Data<Catalogue>,
    state: &web::Data<AppState>,
) -> Result<Arc<snapshot::Snapshot>, PageError> {
    if let Some(s) = catalogue.snapshots.fresh(&state.store)? {
        return Ok(s);
    }
    let (catalogue, state) = (catalogue.clone(), state.clone());
    web::block(move || catalogue.snapshots.get(&state.store, &state.origin))
        .await
        .map_err(|e| PageError::Api(ApiError::Internal(format!("catalogue snapshot: {e}"))))?
        .map_err(PageError::from)
}

/// The policy every response carries: nothing runs or loads but the node's
/// own stylesheet and script; no forms post elsewhere; no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
base-uri 'none'; frame-ancestors 'none'";

/// The security headers on every response, pages and API alike.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

/// Registers the pages, feeds and static files.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::page))
        .route("/search", web::get().to(search::page))
        .route("/review", web::get().to(review::page))
        .route("/log", web::get().to(log_page::page))
        .route("/feeds/{feed}", web::get().to(feeds::node))
        .route("/orgs/{org}", web::get().to(people::org))
        .route("/orgs/{org}/feeds/{feed}", web::get().to(feeds::org))
        .route("/verifiers/{account}", web::get().to(people::verifier))
        .route("/packages/{org}/{name}", web::get().to(package::page))
        .route(
            "/packages/{org}/{name}/feeds/{feed}",
            web::get().to(feeds::package),
        )
        .route(
            "/packages/{org}/{name}/{version}",
            web::get().to(package::version_page),
        )
        .route("/static/shire.css", web::get().to(stylesheet))
        .route("/static/shire.js", web::get().to(script));
}

const STYLESHEET: &str = include_str!("../../static/shire.css");
const SCRIPT: &str = include_str!("../../static/shire.js");

async fn stylesheet() -> HttpResponse {
    static_file("text/css; charset=utf-8", STYLESHEET)
}

async fn script() -> HttpResponse {
    static_file("text/javascript; charset=utf-8", SCRIPT)
}

fn static_file(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// Why a page could not be shown: each becomes an HTML page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Nothing at this address; `suggestions` are package names close to it.
    #[error("not found: {what}")]
    NotFound {
        /// What was asked for, as the page repeats it.
        what: String,
        /// Package names close to it.
        suggestions: Vec<shire_core::PackageName>,
    },
    /// A query the page cannot answer.
    #[error("{0}")]
    BadRequest(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("rendering: {0}")]
    Render(#[from] askama::Error),
    /// Anything else the API layer reported.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl PageError {
    /// A 404 for `what`, with no suggestions.
    pub fn not_found(what: impl Into<String>) -> Self {
        PageError::NotFound {
            what: what.into(),
            suggestions: Vec::new(),
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    suggestions: Vec<view::Link>,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound { .. } => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Api(e) => e.status_code(),
            PageError::Store(StoreError::Full(_)) => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message, suggestions) = match self {
            PageError::NotFound { what, suggestions } => (
                "Page not found",
                format!("There is nothing at this address: {what}."),
                suggestions.iter().map(view::Link::package).collect(),
            ),
            PageError::BadRequest(m) => ("Bad request", m.clone(), Vec::new()),
            other => {
                tracing::error!(error = %other, "catalogue page failed");
                (
                    "Sorry, there is a problem with this node",
                    "The page could not be built. Try again later.".to_string(),
                    Vec::new(),
                )
            }
        };
        let body = ErrorPage {
            title,
            message: &message,
            suggestions,
        }
        .render()
        .unwrap_or_else(|_| title.to_string());
        HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(body)
    }
}

/// A rendered page as a 200.
pub fn html(page: &impl Template) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page.render()?))
}

/// Unknown paths: the JSON error under `/api/`, machine paths and methods
/// other than GET; an HTML page with suggestions for a person's GET.
pub async fn not_found(
    req: HttpRequest,
    state: web::Data<AppState>,
    catalogue: web::Data<Catalogue>,
) -> Result<HttpResponse, actix_web::Error> {
    let path = req.path();
    if path.starts_with("/api/") || req.method() != actix_web::http::Method::GET {
        return crate::error::not_found(req.clone())
            .await
            .map_err(actix_web::Error::from);
    }
    let wanted = path.trim_start_matches("/packages/").trim_matches('/');
    let suggestions = match snapshot(&catalogue, &state).await {
        Ok(s) => s.suggestions(wanted, 5),
        Err(_) => Vec::new(),
    };
    Err(PageError::NotFound {
        what: shire_core::clip(path).to_string(),
        suggestions,
    }
    .into())
}
