//! `POST /api/v1/accounts` (admin) and `GET /api/v1/whoami`.

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::now;
use crate::store::records::AccountRecord;
use actix_web::{web, HttpResponse};
use shire_core::wire::{AccountInfo, CreateAccount};

fn info(a: &AccountRecord, token: Option<String>) -> AccountInfo {
    AccountInfo {
        username: a.username.clone(),
        org: a.org.clone(),
        role: a.role,
        token,
    }
}

/// Creates an account in an organisation; the answer holds its token, once.
#[tracing::instrument(skip_all, fields(user = %body.username, org = %body.org, role = %body.role))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateAccount>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    // A new account comes with an unscoped token: only an unscoped token
    // may make one, or an admin-scoped token would mint a wider one.
    caller.require_unscoped()?;
    let (token, hash) = auth::new_token();
    let rec = AccountRecord {
        username: body.username.to_string(),
        org: Some(body.org.clone()),
        role: body.role,
        token_hash: hash,
        created_at: now(),
    };
    state.store.create_account(&rec)?;
    state.store.durable().await?;
    Ok(HttpResponse::Created().json(info(&rec, Some(token))))
}

/// The calling account.
pub async fn whoami(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(info(caller.account(), None))
}
