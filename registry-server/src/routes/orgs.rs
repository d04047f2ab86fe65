//! `POST /api/v1/orgs` (admin) and `GET /api/v1/orgs`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::now;
use crate::store::records::OrgRecord;
use actix_web::{web, HttpResponse};
use shire_core::wire::{CreateOrg, OrgInfo};

fn info(state: &AppState, r: &OrgRecord) -> OrgInfo {
    OrgInfo {
        name: r.name.clone(),
        origin: state.origin.clone(),
        created_at: r.created_at.clone(),
    }
}

/// Creates an organisation (logged).
#[tracing::instrument(skip_all, fields(org = %body.name))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateOrg>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let rec = OrgRecord {
        name: body.into_inner().name,
        created_at: now(),
    };
    state.store.create_org(&rec)?;
    state.store.durable().await?;
    Ok(HttpResponse::Created().json(info(&state, &rec)))
}

/// Lists organisations.
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let orgs: Vec<OrgInfo> = state
        .store
        .orgs()?
        .iter()
        .map(|r| info(&state, r))
        .collect();
    Ok(HttpResponse::Ok().json(orgs))
}
