//! The HTTP API, one file per resource (see `docs/api.md`). Handlers parse at
//! the edge (typed path segments, `shire_core::wire` bodies), check, call one
//! [`crate::store::Store`] event function, await durability, and answer.

pub mod accounts;
pub mod adoptions;
pub mod artifacts;
pub mod blobs;
pub mod health;
pub mod keys;
pub mod log;
pub mod mirrors;
pub mod openapi;
pub mod orgs;
pub mod packages;
pub mod peers;
pub mod releases;
pub mod review;
pub mod search;
pub mod statements;
pub mod support;
pub mod tokens;
pub mod verdicts;
pub mod webhooks;
pub mod yank;

use crate::error::ApiError;
use actix_web::{web, HttpRequest};

/// A route with a JSON 405 for other methods.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.path()
    )))
}

/// Declares every route once: [`configure`] registers them and [`ROUTES`]
/// lists them, so a test can hold the OpenAPI document to exactly this set.
macro_rules! routes {
    ($( $path:literal => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every route: (method, path as registered).
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path) ),+ ),* ];

        /// Registers every route.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.service(resource($path) $( .route(web::$method().to($handler)) )+ ); )*
        }
    };
}

routes! {
    "/healthz" => { get: health::healthz },
    "/livez" => { get: health::livez },
    "/readyz" => { get: health::readyz },
    "/metrics" => { get: crate::metrics::scrape },
    "/api/v1/node" => { get: health::node },
    "/.well-known/shire/node-key" => { get: health::node_key },
    "/api/v1/openapi.json" => { get: openapi::document },
    "/api/v1/orgs" => { get: orgs::list, post: orgs::create },
    "/api/v1/accounts" => { post: accounts::create },
    "/api/v1/admin/backup" => { post: accounts::backup },
    "/api/v1/accounts/{name}/disable" => { post: accounts::disable },
    "/api/v1/accounts/{name}/enable" => { post: accounts::enable },
    "/api/v1/whoami" => { get: accounts::whoami },
    "/api/v1/keys" => { post: keys::register },
    "/api/v1/keys/{key_id}" => { get: keys::show, delete: keys::revoke },
    "/api/v1/tokens" => { get: tokens::list, post: tokens::create },
    "/api/v1/tokens/rotate" => { post: tokens::rotate },
    "/api/v1/tokens/{id}" => { delete: tokens::revoke },
    "/api/v1/verifiers" => { get: keys::verifiers },
    "/api/v1/blobs/{digest}" => { put: blobs::upload },
    "/api/v1/releases" => { post: releases::publish },
    "/api/v1/search" => { get: search::search },
    "/api/v1/packages/{org}/{name}" => { get: packages::package },
    "/api/v1/packages/{org}/{name}/{version}" => { get: packages::version },
    "/api/v1/packages/{org}/{name}/{version}/files" => { get: packages::files },
    "/api/v1/packages/{org}/{name}/{version}/yank" => { post: yank::yank, delete: yank::unyank },
    "/api/v1/packages/{org}/{name}/{version}/takedown" => { post: yank::takedown },
    "/api/v1/packages/{org}/{name}/{version}/verdicts" => { post: verdicts::submit },
    "/api/v1/review" => { get: review::queue },
    "/api/v1/adoptions" => { post: adoptions::declare },
    "/api/v1/support" => { post: support::declare },
    "/api/v1/webhooks" => { get: webhooks::list, post: webhooks::create },
    "/api/v1/webhooks/{id}" => { delete: webhooks::remove },
    "/api/v1/webhooks/{id}/deliveries" => { get: webhooks::deliveries },
    "/api/v1/artifacts/{digest}" => { get: artifacts::download },
    "/api/v1/peers" => { get: peers::list },
    "/api/v1/peers/{name}/resume" => { post: peers::resume },
    "/api/v1/mirrors" => { get: mirrors::list },
    "/api/v1/mirrors/{origin:.+}/log/checkpoint" => { get: mirrors::checkpoint },
    "/api/v1/mirrors/{origin:.+}/log/entries" => { get: mirrors::entries },
    "/api/v1/mirrors/{origin:.+}/log/proof/inclusion" => { get: mirrors::inclusion },
    "/api/v1/mirrors/{origin:.+}/log/proof/consistency" => { get: mirrors::consistency },
    "/api/v1/log/checkpoint" => { get: log::checkpoint },
    "/api/v1/log/entries" => { get: log::entries },
    "/api/v1/log/proof/inclusion" => { get: log::inclusion },
    "/api/v1/log/proof/consistency" => { get: log::consistency },
    "/checkpoint" => { get: log::checkpoint_root },
    "/tile/{tail:.*}" => { get: log::tile },
}

#[cfg(test)]
mod tests {
    use super::ROUTES;
    use std::collections::BTreeSet;

    /// The OpenAPI document describes exactly the routes registered: no
    /// route left out, no operation that is not served.
    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(super::openapi::document_json()).unwrap();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch", "head"].contains(&method.as_str()) {
                    documented.insert((method.clone(), path.clone()));
                }
            }
        }
        // `{origin:.+}` is actix's pattern syntax; the document names `{origin}`.
        let registered: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| {
                let path = p.replace(":.+}", "}").replace(":.*}", "}");
                (m.to_string(), path)
            })
            .collect();
        let missing: Vec<_> = registered.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&registered).collect();
        assert!(
            missing.is_empty(),
            "routes not in the document: {missing:?}"
        );
        assert!(extra.is_empty(), "documented but not served: {extra:?}");
    }
}
