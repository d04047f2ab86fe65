//! `shire webhook add / list / remove / deliveries`: the organisation's
//! endpoints for signed notifications, and what was sent to them.

use super::Ctx;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use shire_core::wire::CreateWebhook;

/// A webhook id as the node makes them (hex), refused otherwise before it
/// goes into a URL path.
fn check_id(id: &str) -> Result<&str> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{:?} is not a webhook id (see shire webhook list)",
            shire_core::clip(id)
        );
    }
    Ok(id)
}

/// Registers a webhook and prints its secret, once.
pub fn add(ctx: &Ctx, url: &str, events: Vec<String>) -> Result<Outcome> {
    let client = ctx.client()?;
    let made = client
        .create_webhook(&CreateWebhook {
            url: url.to_string(),
            events,
        })
        .with_context(|| format!("registering a webhook for {url}"))?;
    if ctx.json {
        output::json(&made)?;
    } else {
        output::line(format!(
            "webhook {} registered for {} ({})",
            made.id, made.org, made.url
        ));
        output::line(format!(
            "events: {}",
            if made.events.is_empty() {
                "all".to_string()
            } else {
                made.events.join(", ")
            }
        ));
        output::line(format!(
            "secret: {} (shown once: check each delivery's X-Shire-Signature-256 with it)",
            made.secret.as_deref().unwrap_or("")
        ));
    }
    Ok(Outcome::Success)
}

/// Lists the organisation's webhooks.
pub fn list(ctx: &Ctx) -> Result<Outcome> {
    let hooks = ctx.client()?.webhooks().context("listing webhooks")?;
    if ctx.json {
        output::json(&hooks)?;
        return Ok(Outcome::Success);
    }
    if hooks.is_empty() {
        output::line("no webhooks");
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = hooks
        .iter()
        .map(|h| {
            vec![
                h.id.clone(),
                h.url.clone(),
                if h.events.is_empty() {
                    "all".into()
                } else {
                    h.events.join(",")
                },
                h.created_by.clone(),
            ]
        })
        .collect();
    output::print_table(&["ID", "URL", "EVENTS", "BY"], &rows);
    Ok(Outcome::Success)
}

/// Removes a webhook.
pub fn remove(ctx: &Ctx, id: &str) -> Result<Outcome> {
    let gone = ctx
        .client()?
        .remove_webhook(check_id(id)?)
        .with_context(|| format!("removing webhook {id}"))?;
    if ctx.json {
        output::json(&gone)?;
    } else {
        output::line(format!("removed webhook {} ({})", gone.id, gone.url));
    }
    Ok(Outcome::Success)
}

/// Prints a webhook's delivery log.
pub fn deliveries(ctx: &Ctx, id: &str) -> Result<Outcome> {
    let log = ctx
        .client()?
        .webhook_deliveries(check_id(id)?)
        .with_context(|| format!("reading the deliveries of webhook {id}"))?;
    if ctx.json {
        output::json(&log)?;
        return Ok(Outcome::Success);
    }
    if log.is_empty() {
        output::line("no deliveries yet");
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = log
        .iter()
        .map(|d| {
            vec![
                d.event_id.clone(),
                d.event.clone(),
                d.status.clone(),
                d.attempts.to_string(),
                d.last_result.clone().unwrap_or_default(),
                d.next_attempt_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::print_table(
        &["EVENT", "KIND", "STATUS", "ATTEMPTS", "LAST", "NEXT"],
        &rows,
    );
    Ok(Outcome::Success)
}
