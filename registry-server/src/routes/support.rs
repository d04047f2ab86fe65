//! `POST /api/v1/support`: a supporter's signed offer to support a package
//! until a date, or the package's organisation's signed acceptance of it;
//! and the "supported by" list of a package's document.
//!
//! Checks, in order: a token without scopes; the package exists on this
//! node (404 `package_not_found`); the claimed key is the caller's; then the
//! ledger's rules: the signer is a member of the supporter (offer) or of the
//! package's organisation (acceptance) (403 `wrong_org`), both are home here
//! (403 `not_home`), the statement is for this log (400 `wrong_log`), an
//! offer follows the supporter's latest statement (409
//! `invalid_transition`), an acceptance names the current offer (404
//! `support_not_found`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::statements::signing_key;
use crate::state::AppState;
use crate::store::records::SupportRecord;
use crate::store::{now, Written};
use actix_web::{web, HttpResponse};
use shire_core::event::LogEvent;
use shire_core::statement::{SupportAcceptance, SupportOffer, SUPPORT_OFFER_PAYLOAD_TYPE};
use shire_core::wire::{SubmitEnvelope, SupportAnswer, SupportInfo};
use shire_core::{OrgName, PackageName};

/// The wire form of the agreed terms (`None` while nothing is agreed).
pub fn support_info(state: &AppState, rec: &SupportRecord) -> Option<SupportInfo> {
    let agreed = rec.fact.agreed.as_ref()?;
    Some(SupportInfo {
        supporter: rec.fact.supporter.clone(),
        versions: agreed.versions.clone(),
        until: agreed.until.clone(),
        accepted_at: agreed.accepted_at.clone(),
        origin: rec.origin.clone().unwrap_or_else(|| state.origin.clone()),
        offer_index: agreed.offer_index,
        accepted_index: agreed.accepted_index,
        offer: rec.agreed_offer.clone()?,
        acceptance: rec.acceptance.clone()?,
        pending_offer: rec
            .fact
            .accepted_index
            .is_none()
            .then_some(rec.fact.offer_index),
    })
}

/// The package and supporter a statement claims (unverified: only to
/// decide what to check before the ledger does).
fn claimed(env: &shire_core::dsse::Envelope) -> Result<(PackageName, OrgName), ApiError> {
    let bytes = env
        .payload_bytes()
        .map_err(|e| ApiError::BadStatement(e.to_string()))?;
    let bad =
        |e: serde_json::Error| ApiError::BadStatement(format!("not a support statement: {e}"));
    if env.payload_type == SUPPORT_OFFER_PAYLOAD_TYPE {
        let o: SupportOffer = serde_json::from_slice(&bytes).map_err(bad)?;
        Ok((o.package, o.supporter))
    } else {
        let a: SupportAcceptance = serde_json::from_slice(&bytes).map_err(bad)?;
        Ok((a.package, a.supporter))
    }
}

/// Records a support offer or acceptance.
#[tracing::instrument(skip_all, fields(user = %caller.account().username))]
#[utoipa::path(
    post, path = "/api/v1/support", tag = "club", security(("token" = [])),
    request_body(content = shire_core::wire::SubmitEnvelope, description = "a SupportOffer signed by a member of the supporter, or a SupportAcceptance signed by a member of the package's organisation"),
    responses((status = 200, description = "logged (or a replay): the offer as it now stands", body = shire_core::wire::SupportAnswer),
        (status = 400, description = "`bad_statement`, `bad_signature` or `wrong_log`", body = shire_core::wire::ErrorBody),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody),
        (status = 403, description = "`wrong_org`, `not_home`, `key_not_yours`, `key_revoked` or `out_of_scope`", body = shire_core::wire::ErrorBody),
        (status = 404, description = "`package_not_found`, `support_not_found` or `key_not_found`", body = shire_core::wire::ErrorBody),
        (status = 409, description = "`invalid_transition`: an offer that does not follow the supporter's latest statement", body = shire_core::wire::ErrorBody))
)]
pub async fn declare(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SubmitEnvelope>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("give support statements")?;
    let envelope = body.into_inner().envelope;
    let (package, supporter) = claimed(&envelope)?;
    if state.store.package(&package)?.is_none() {
        return Err(ApiError::PackageNotFound(package.to_string()));
    }
    let key = signing_key(&state.store, &envelope, caller.account())?;
    let event = LogEvent::Support {
        envelope,
        key_id: key.key_id,
        at: now(),
    };
    let appended = state.store.append(&event, None)?;
    let (rec, replayed) = match appended.written {
        Written::Support(rec) => (*rec, false),
        Written::Unchanged(what) => {
            tracing::info!(%what, "support statement replayed");
            let rec = state
                .store
                .supports_of(&package)?
                .into_iter()
                .find(|r| r.fact.supporter == supporter)
                .ok_or_else(|| {
                    ApiError::internal("a replayed support statement that is not stored")
                })?;
            (rec, true)
        }
        _ => return Err(ApiError::internal("a support statement stored no record")),
    };
    state.store.durable().await?;
    Ok(HttpResponse::Ok().json(SupportAnswer {
        supporter: rec.fact.supporter,
        package: rec.fact.package,
        versions: rec.fact.versions,
        until: rec.fact.until,
        offer_index: rec.fact.offer_index,
        accepted_index: rec.fact.accepted_index,
        replayed,
    }))
}
