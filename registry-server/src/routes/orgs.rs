//! `POST /api/v1/orgs` (admin) and `GET /api/v1/orgs`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::OrgRecord;
use crate::store::{now, Written};
use actix_web::{web, HttpResponse};
use shire_core::event::LogEvent;
use shire_core::wire::{CreateOrg, OrgInfo};

fn info(state: &AppState, r: &OrgRecord) -> OrgInfo {
    OrgInfo {
        name: r.name.clone(),
        origin: state.origin.clone(),
        created_at: r.created_at.clone(),
    }
}

/// Creates an organisation (logged). 409 `org_exists` when any log on this
/// node, its own or a mirrored one, already created it.
#[tracing::instrument(skip_all, fields(org = %body.name))]
#[utoipa::path(
    post, path = "/api/v1/orgs", tag = "accounts", security(("token" = [])),
    request_body = shire_core::wire::CreateOrg,
    responses((status = 201, description = "created and logged", body = shire_core::wire::OrgInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody), (status = 403, description = "`not_admin` or `out_of_scope`", body = shire_core::wire::ErrorBody), (status = 409, description = "`org_exists`", body = shire_core::wire::ErrorBody))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateOrg>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let event = LogEvent::OrgCreated {
        org: body.into_inner().name,
        at: now(),
    };
    let Written::Org(rec) = state.store.append(&event, None)?.written else {
        return Err(ApiError::internal(
            "creating an organisation stored no record",
        ));
    };
    state.store.durable().await?;
    Ok(HttpResponse::Created().json(info(&state, &rec)))
}

/// Lists this node's organisations.
#[utoipa::path(
    get, path = "/api/v1/orgs", tag = "accounts",
    responses((status = 200, description = "every organisation on this node", body = Vec<shire_core::wire::OrgInfo>))
)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let orgs: Vec<OrgInfo> = state
        .store
        .orgs()?
        .iter()
        .map(|r| info(&state, r))
        .collect();
    Ok(HttpResponse::Ok().json(orgs))
}
