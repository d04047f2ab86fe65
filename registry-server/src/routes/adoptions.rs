//! `POST /api/v1/adoptions`: an organisation's signed declaration that it
//! runs a release ("used by"), or its withdrawal; and the "used by" list a
//! package's document carries.
//!
//! Checks, in order: a token without scopes (an adoption speaks for the whole
//! organisation); the package exists on this node, own or mirrored (404
//! `package_not_found`; a withdrawal may name any); the claimed key is the
//! caller's (404/403); then the ledger's rules: the signer's organisation is
//! the one the statement names (403 `wrong_org`), this node's log is that
//! organisation's home (403 `not_home`), the statement is for this log (400
//! `wrong_log`), a release of this log's own package is exactly one it holds
//! (404 `version_not_found`, 409 `subject_mismatch`), and a withdrawal names an
//! adoption the log holds (404 `adoption_not_found`). The same adoption again
//! is a replay: answered, nothing logged.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::statements::{claimed_package, signing_key};
use crate::state::AppState;
use crate::store::records::AdoptionRecord;
use crate::store::{now, Written};
use actix_web::{web, HttpResponse};
use shire_core::event::LogEvent;
use shire_core::statement::{AdoptionAction, AdoptionStatement};
use shire_core::wire::{AdoptionAnswer, AdoptionInfo, SubmitEnvelope};

/// The wire form of a stored adoption.
pub fn adoption_info(state: &AppState, rec: &AdoptionRecord) -> AdoptionInfo {
    AdoptionInfo {
        org: rec.fact.org.clone(),
        version: rec.fact.subject.version.clone(),
        digest: rec.fact.subject.digest,
        since: rec.fact.at.clone(),
        origin: rec.origin.clone().unwrap_or_else(|| state.origin.clone()),
        log_index: rec.fact.index,
        statement: rec.envelope.clone(),
    }
}

/// Declares or withdraws an adoption.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/adoptions", tag = "club", security(("token" = [])),
    request_body(content = shire_core::wire::SubmitEnvelope, description = "an adoption statement signed by a registered key of a member of the adopting organisation"),
    responses((status = 200, description = "logged (or a replay); the adoption as it now stands", body = shire_core::wire::AdoptionAnswer),
        (status = 400, description = "a statement the rules refuse (`bad_statement`, `bad_signature`, `wrong_log`)", body = shire_core::wire::ErrorBody),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody),
        (status = 403, description = "`wrong_org`, `not_home`, `key_not_yours`, `key_revoked` or `out_of_scope`", body = shire_core::wire::ErrorBody),
        (status = 404, description = "`package_not_found`, `version_not_found`, `adoption_not_found` or `key_not_found`", body = shire_core::wire::ErrorBody),
        (status = 409, description = "`subject_mismatch`", body = shire_core::wire::ErrorBody))
)]
pub async fn declare(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SubmitEnvelope>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("declare adoptions")?;
    let envelope = body.into_inner().envelope;
    let name = claimed_package(&envelope)?;
    let claimed = claimed_statement(&envelope)?;
    let org = claimed.org.clone();
    let withdraw = claimed.action == AdoptionAction::Withdraw;
    if !withdraw && state.store.package(&name)?.is_none() {
        return Err(ApiError::PackageNotFound(name.to_string()));
    }
    let key = signing_key(&state.store, &envelope, caller.account())?;
    let event = LogEvent::Adoption {
        envelope,
        key_id: key.key_id,
        at: now(),
    };
    let appended = state.store.append(&event, None)?;
    let answer = match appended.written {
        Written::Adoption(rec) => {
            tracing::info!(org = %rec.fact.org, release = %rec.fact.subject, withdrawn = rec.fact.withdrawn, "adoption");
            AdoptionAnswer {
                withdrawn: rec.fact.withdrawn,
                adoption: adoption_info(&state, &rec),
                replayed: false,
            }
        }
        Written::Unchanged(what) => {
            tracing::info!(%what, "adoption replayed");
            let rec = state
                .store
                .adoption(&org, &name)?
                .ok_or_else(|| ApiError::internal("a replayed adoption that is not stored"))?;
            AdoptionAnswer {
                withdrawn: rec.fact.withdrawn,
                adoption: adoption_info(&state, &rec),
                replayed: true,
            }
        }
        _ => return Err(ApiError::internal("an adoption stored no adoption record")),
    };
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// The statement as it claims to be (unverified: only to decide what to
/// check before the ledger does, and what to answer a replay with).
fn claimed_statement(env: &shire_core::dsse::Envelope) -> Result<AdoptionStatement, ApiError> {
    let bytes = env
        .payload_bytes()
        .map_err(|e| ApiError::BadStatement(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadStatement(format!("not an adoption statement: {e}")))
}
