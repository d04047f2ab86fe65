//! `/api/v1/webhooks`: an organisation's endpoints for notifications, and
//! their delivery logs. Any account of the organisation reads them; one
//! with a token without scopes registers and removes them (a webhook's
//! secret is shown once, at its creation).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::webhooks::{DeliveryRecord, DeliveryStatus, WebhookRecord};
use actix_web::{web, HttpResponse};
use shire_core::wire::{CreateWebhook, DeliveryInfo, WebhookInfo, WEBHOOK_EVENTS};
use shire_core::OrgName;

/// Most webhooks one organisation may have.
pub const MAX_WEBHOOKS_PER_ORG: usize = 16;
/// Longest webhook URL.
pub const MAX_URL_LEN: usize = 2048;
/// Deliveries a delivery log shows.
pub const DELIVERY_LOG_LEN: usize = 100;

fn info(w: &WebhookRecord, secret: bool) -> WebhookInfo {
    WebhookInfo {
        id: w.id.clone(),
        org: w.org.clone(),
        url: w.url.clone(),
        events: w.events.clone(),
        created_by: w.created_by.clone(),
        created_at: w.created_at.clone(),
        secret: secret.then(|| w.secret.clone()),
    }
}

fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn delivery_info(d: &DeliveryRecord) -> DeliveryInfo {
    DeliveryInfo {
        id: d.id.clone(),
        event_id: d.event_id.clone(),
        event: d.event.clone(),
        status: match d.status {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
        .into(),
        attempts: d.attempts,
        created_at: rfc3339(d.created_ms),
        last_attempt_at: d.last_ms.map(rfc3339),
        next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| rfc3339(d.next_ms)),
        last_result: d.last_result.clone(),
    }
}

/// The caller's organisation (403 `wrong_org` for an account without one).
fn org_of(caller: &Caller) -> Result<OrgName, ApiError> {
    caller.account().org.clone().ok_or_else(|| {
        ApiError::WrongOrg(format!(
            "account {} belongs to no organisation, so it has no webhooks",
            caller.account().username
        ))
    })
}

/// Checks a webhook URL: `https://`; `http://` only to a loopback address
/// and only where the operator allows private destinations
/// (`allow_private`, for tests and intranet receivers); no credentials in
/// it; an IP address that is private refused unless allowed (names are
/// checked again as they resolve, at each delivery).
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not hold credentials: sign with the webhook's secret".into());
    }
    let host = parsed.host_str().ok_or("the URL names no host")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = bare.parse::<std::net::IpAddr>().ok();
    let loopback = bare.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback());
    if let Some(ip) = ip {
        if !crate::webhooks::destination_allowed(ip, allow_private) {
            return Err(format!(
                "{ip} is a private address: a webhook must be reachable publicly"
            ));
        }
    } else if loopback && !allow_private {
        return Err("localhost is not a webhook destination".into());
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback && allow_private => Ok(()),
        "http" => Err("a webhook must use https://".into()),
        other => Err(format!("{other}:// is not a webhook scheme: use https://")),
    }
}

/// Registers a webhook for the caller's organisation.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "club", security(("token" = [])),
    request_body = shire_core::wire::CreateWebhook,
    responses((status = 201, description = "registered; the answer holds its secret, once", body = shire_core::wire::WebhookInfo),
        (status = 400, description = "`bad_webhook`: the URL or an event is not accepted, or the organisation has 16 already", body = shire_core::wire::ErrorBody),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody),
        (status = 403, description = "`wrong_org` (no organisation) or `out_of_scope`", body = shire_core::wire::ErrorBody))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("register webhooks")?;
    let org = org_of(&caller)?;
    let req = body.into_inner();
    let bad = |m: String| ApiError::bad_request("bad_webhook", m);
    check_url(&req.url, state.webhook_allow_private).map_err(bad)?;
    let mut events = req.events;
    events.sort();
    events.dedup();
    if let Some(e) = events
        .iter()
        .find(|e| !WEBHOOK_EVENTS.contains(&e.as_str()))
    {
        return Err(bad(format!(
            "{:?} is not an event: {}",
            shire_core::clip(e),
            WEBHOOK_EVENTS.join(", ")
        )));
    }
    let have = state
        .store
        .webhooks()?
        .iter()
        .filter(|w| w.org == org)
        .count();
    if have >= MAX_WEBHOOKS_PER_ORG {
        return Err(bad(format!(
            "organisation {org} has {MAX_WEBHOOKS_PER_ORG} webhooks already"
        )));
    }
    let rec = WebhookRecord {
        id: hex::encode(rand::random::<[u8; 8]>()),
        org,
        url: req.url,
        events,
        secret: hex::encode(rand::random::<[u8; 32]>()),
        created_by: caller.account().username.clone(),
        created_at: crate::store::now(),
    };
    state.store.add_webhook(&rec)?;
    state.store.durable().await?;
    tracing::info!(webhook = %rec.id, org = %rec.org, "webhook registered");
    Ok(HttpResponse::Created().json(info(&rec, true)))
}

/// The caller's organisation's webhooks (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "club", security(("token" = [])),
    responses((status = 200, description = "the organisation's webhooks", body = Vec<shire_core::wire::WebhookInfo>),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody),
        (status = 403, description = "`wrong_org`: the account has no organisation", body = shire_core::wire::ErrorBody))
)]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = org_of(&caller)?;
    let hooks: Vec<WebhookInfo> = state
        .store
        .webhooks()?
        .iter()
        .filter(|w| w.org == org)
        .map(|w| info(w, false))
        .collect();
    Ok(HttpResponse::Ok().json(hooks))
}

/// The caller's organisation's webhook `id` (404 for another's: ids are
/// not confirmed to outsiders).
fn own_hook(state: &AppState, caller: &Caller, id: &str) -> Result<WebhookRecord, ApiError> {
    let org = org_of(caller)?;
    state
        .store
        .webhook(id)?
        .filter(|w| w.org == org)
        .ok_or_else(|| ApiError::WebhookNotFound(shire_core::clip(id)))
}

/// Removes a webhook and its delivery log.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "club", security(("token" = [])),
    params(("id" = String, Path, description = "the webhook's id")),
    responses((status = 200, description = "removed; what it was", body = shire_core::wire::WebhookInfo),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody),
        (status = 403, description = "`wrong_org` or `out_of_scope`", body = shire_core::wire::ErrorBody),
        (status = 404, description = "`webhook_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_unscoped("remove webhooks")?;
    let hook = own_hook(&state, &caller, &id)?;
    state.store.remove_webhook(&hook.id)?;
    state.store.durable().await?;
    tracing::info!(webhook = %hook.id, org = %hook.org, by = %caller.account().username, "webhook removed");
    Ok(HttpResponse::Ok().json(info(&hook, false)))
}

/// A webhook's delivery log, newest first (the last 100).
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "club", security(("token" = [])),
    params(("id" = String, Path, description = "the webhook's id")),
    responses((status = 200, description = "its deliveries, newest first", body = Vec<shire_core::wire::DeliveryInfo>),
        (status = 401, description = "no valid token", body = shire_core::wire::ErrorBody),
        (status = 403, description = "`wrong_org`", body = shire_core::wire::ErrorBody),
        (status = 404, description = "`webhook_not_found`", body = shire_core::wire::ErrorBody))
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let hook = own_hook(&state, &caller, &id)?;
    let log: Vec<DeliveryInfo> = state
        .store
        .deliveries_of(&hook.id, DELIVERY_LOG_LEN)?
        .iter()
        .map(delivery_info)
        .collect();
    Ok(HttpResponse::Ok().json(log))
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn webhook_urls_are_public_https_unless_private_ones_are_allowed() {
        for ok in [
            "https://hooks.kent.gov.uk/shire",
            "https://81.2.69.160/hook",
        ] {
            assert_eq!(check_url(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "http://hooks.kent.gov.uk/shire",
            "http://127.0.0.1:9000/hook",
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://10.0.0.5/internal",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:127.0.0.1]/x",
            "https://0.0.0.0/x",
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "https://user:pass@hooks.example/x",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        // An operator who allows private destinations (tests, intranets).
        for ok in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]:9000/hook",
            "http://localhost/hook",
            "https://10.0.0.5/internal",
        ] {
            assert_eq!(check_url(ok, true), Ok(()), "{ok}");
        }
        assert!(check_url("http://10.0.0.5/internal", true).is_err());
        assert!(check_url(&format!("https://x.example/{}", "a".repeat(3000)), false).is_err());
    }
}
