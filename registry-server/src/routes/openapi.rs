//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route,
//! generated from the handlers' `#[utoipa::path]` annotations and the wire
//! types' schemas (`shire_core`'s `openapi` feature).

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, adoptions, artifacts, blobs, health, keys, log, mirrors, orgs, packages, peers,
    releases, review, search, support, tokens, verdicts, webhooks, yank,
};

/// The document: every path `super::configure` registers, each operation
/// with its parameters, body and answers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Shire registry node",
        description = "The JSON API of a Shire node: publish, verify, search and install \
            council software, with a transparency log and federation. Errors are \
            `{\"error\": {\"code\", \"message\"}}`. Written guide: docs/api.md."
    ),
    paths(
        health::healthz, health::livez, health::readyz, health::node, health::node_key,
        orgs::list, orgs::create,
        accounts::create, accounts::disable, accounts::enable, accounts::whoami, accounts::backup,
        keys::register, keys::show, keys::revoke, keys::verifiers,
        tokens::list, tokens::create, tokens::rotate, tokens::revoke,
        blobs::upload, artifacts::download, releases::publish,
        packages::package, packages::version, packages::files,
        yank::yank, yank::unyank, yank::takedown, verdicts::submit, review::queue,
        adoptions::declare, support::declare,
        webhooks::list, webhooks::create, webhooks::remove, webhooks::deliveries,
        search::search,
        log::checkpoint, log::checkpoint_root, log::entries, log::inclusion, log::consistency,
        log::tile,
        mirrors::list, mirrors::checkpoint, mirrors::entries, mirrors::inclusion,
        mirrors::consistency,
        peers::list, peers::resume,
        crate::metrics::scrape, document,
    ),
    modifiers(&BearerToken),
)]
pub struct ApiDoc;

/// The `token` security scheme: `Authorization: Bearer <token>`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document with the node's version, as JSON (built once).
pub fn document_json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        serde_json::to_string(&doc).unwrap_or_default()
    })
}

/// Serves the document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "node",
    responses((status = 200, description = "this document", body = Object))
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(document_json())
}
