//! The HTTP API, one file per resource (see `docs/api.md`). Handlers parse at
//! the edge (typed path segments, `shire_core::wire` bodies), check, call one
//! [`crate::store::Store`] event function, await durability, and answer.

pub mod accounts;
pub mod artifacts;
pub mod blobs;
pub mod health;
pub mod keys;
pub mod log;
pub mod mirrors;
pub mod orgs;
pub mod packages;
pub mod peers;
pub mod releases;
pub mod review;
pub mod search;
pub mod statements;
pub mod tokens;
pub mod verdicts;
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

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/livez").route(web::get().to(health::livez)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/api/v1/node").route(web::get().to(health::node)))
        .service(resource("/.well-known/shire/node-key").route(web::get().to(health::node_key)))
        .service(
            resource("/api/v1/orgs")
                .route(web::get().to(orgs::list))
                .route(web::post().to(orgs::create)),
        )
        .service(resource("/api/v1/accounts").route(web::post().to(accounts::create)))
        .service(resource("/api/v1/admin/backup").route(web::post().to(accounts::backup)))
        .service(
            resource("/api/v1/accounts/{name}/disable").route(web::post().to(accounts::disable)),
        )
        .service(resource("/api/v1/accounts/{name}/enable").route(web::post().to(accounts::enable)))
        .service(resource("/api/v1/whoami").route(web::get().to(accounts::whoami)))
        .service(resource("/api/v1/keys").route(web::post().to(keys::register)))
        .service(
            resource("/api/v1/keys/{key_id}")
                .route(web::get().to(keys::show))
                .route(web::delete().to(keys::revoke)),
        )
        .service(
            resource("/api/v1/tokens")
                .route(web::get().to(tokens::list))
                .route(web::post().to(tokens::create)),
        )
        .service(resource("/api/v1/tokens/rotate").route(web::post().to(tokens::rotate)))
        .service(resource("/api/v1/tokens/{id}").route(web::delete().to(tokens::revoke)))
        .service(resource("/api/v1/verifiers").route(web::get().to(keys::verifiers)))
        .service(resource("/api/v1/blobs/{digest}").route(web::put().to(blobs::upload)))
        .service(resource("/api/v1/releases").route(web::post().to(releases::publish)))
        .service(resource("/api/v1/search").route(web::get().to(search::search)))
        .service(resource("/api/v1/packages/{org}/{name}").route(web::get().to(packages::package)))
        .service(
            resource("/api/v1/packages/{org}/{name}/{version}")
                .route(web::get().to(packages::version)),
        )
        .service(
            resource("/api/v1/packages/{org}/{name}/{version}/files")
                .route(web::get().to(packages::files)),
        )
        .service(
            resource("/api/v1/packages/{org}/{name}/{version}/yank")
                .route(web::post().to(yank::yank))
                .route(web::delete().to(yank::unyank)),
        )
        .service(
            resource("/api/v1/packages/{org}/{name}/{version}/takedown")
                .route(web::post().to(yank::takedown)),
        )
        .service(
            resource("/api/v1/packages/{org}/{name}/{version}/verdicts")
                .route(web::post().to(verdicts::submit)),
        )
        .service(resource("/api/v1/review").route(web::get().to(review::queue)))
        .service(resource("/api/v1/artifacts/{digest}").route(web::get().to(artifacts::download)))
        .service(resource("/metrics").route(web::get().to(crate::metrics::scrape)))
        .service(resource("/api/v1/peers").route(web::get().to(peers::list)))
        .service(resource("/api/v1/peers/{name}/resume").route(web::post().to(peers::resume)))
        .service(resource("/api/v1/mirrors").route(web::get().to(mirrors::list)))
        .service(
            resource("/api/v1/mirrors/{origin:.+}/log/checkpoint")
                .route(web::get().to(mirrors::checkpoint)),
        )
        .service(
            resource("/api/v1/mirrors/{origin:.+}/log/entries")
                .route(web::get().to(mirrors::entries)),
        )
        .service(
            resource("/api/v1/mirrors/{origin:.+}/log/proof/inclusion")
                .route(web::get().to(mirrors::inclusion)),
        )
        .service(
            resource("/api/v1/mirrors/{origin:.+}/log/proof/consistency")
                .route(web::get().to(mirrors::consistency)),
        )
        .service(resource("/api/v1/log/checkpoint").route(web::get().to(log::checkpoint)))
        .service(resource("/api/v1/log/entries").route(web::get().to(log::entries)))
        .service(resource("/api/v1/log/proof/inclusion").route(web::get().to(log::inclusion)))
        .service(resource("/api/v1/log/proof/consistency").route(web::get().to(log::consistency)))
        .service(resource("/checkpoint").route(web::get().to(log::checkpoint)))
        .service(resource("/tile/{tail:.*}").route(web::get().to(log::tile)));
}
