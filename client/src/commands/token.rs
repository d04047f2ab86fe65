//! `shire token list / create / revoke`: the account's API tokens, with
//! scopes and expiry (see `shire_core::token`).

use super::Ctx;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use shire_core::token::{CreateToken, Scope, TokenInfo};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Reads an expiry: `30d` or `12h` from `now`, a date (`2027-03-31`, the
/// start of that day in UTC) or an RFC 3339 time.
pub fn parse_expiry(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let t = text.trim();
    let relative = |n: &str, unit: fn(i64) -> Duration| -> Option<OffsetDateTime> {
        n.parse::<i64>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .map(|n| now + unit(n))
    };
    if let Some(n) = t.strip_suffix('d') {
        if let Some(at) = relative(n, Duration::days) {
            return Ok(at);
        }
    }
    if let Some(n) = t.strip_suffix('h') {
        if let Some(at) = relative(n, Duration::hours) {
            return Ok(at);
        }
    }
    if let Ok(at) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(at);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(t, &date_format) {
        return Ok(d.midnight().assume_utc());
    }
    bail!("--expires {t:?} is not 30d, 12h, a date (2027-03-31) or an RFC 3339 time")
}

fn row(t: &TokenInfo) -> Vec<String> {
    vec![
        t.id.clone(),
        t.name.clone(),
        if t.scopes.is_empty() {
            "all (the account's role)".into()
        } else {
            t.scopes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
        t.expires_at.clone().unwrap_or_else(|| "never".into()),
        t.created_at.clone(),
    ]
}

const HEADERS: [&str; 5] = ["ID", "NAME", "SCOPES", "EXPIRES", "CREATED"];

/// Lists the account's tokens.
pub fn list(ctx: &Ctx) -> Result<Outcome> {
    let tokens = ctx.client()?.tokens().context("listing tokens")?;
    if ctx.json {
        return output::json(&tokens).map(|()| Outcome::Success);
    }
    output::print_table(&HEADERS, &tokens.iter().map(row).collect::<Vec<_>>());
    Ok(Outcome::Success)
}

/// Makes a token and prints it (shown once).
pub fn create(ctx: &Ctx, name: &str, scopes: Vec<Scope>, expires: Option<&str>) -> Result<Outcome> {
    let expires_at = expires
        .map(|e| parse_expiry(e, OffsetDateTime::now_utc()))
        .transpose()?
        .map(|at| at.format(&Rfc3339))
        .transpose()
        .context("formatting the expiry")?;
    let made = ctx
        .client()?
        .create_token(&CreateToken {
            name: name.to_string(),
            scopes,
            expires_at,
        })
        .with_context(|| format!("creating token {name:?}"))?;
    if ctx.json {
        return output::json(&made).map(|()| Outcome::Success);
    }
    output::print_table(&HEADERS, &[row(&made)]);
    if let Some(t) = &made.token {
        output::line(t);
    }
    output::note("the token is shown once: keep it now (it is stored only as a hash)");
    Ok(Outcome::Success)
}

/// Replaces the token in use by a new one (same name, scopes and expiry);
/// the old one stops working at once. The stored token is replaced too.
pub fn rotate(ctx: &Ctx) -> Result<Outcome> {
    let from_env = std::env::var("SHIRE_TOKEN").is_ok_and(|t| !t.trim().is_empty());
    let made = ctx.client()?.rotate_token().context("rotating the token")?;
    let token = made
        .token
        .clone()
        .context("the registry sent no new token")?;
    if !from_env {
        ctx.home.store_token(&ctx.registry, &token)?;
    }
    if ctx.json {
        return output::json(&made).map(|()| Outcome::Success);
    }
    output::print_table(&HEADERS, &[row(&made)]);
    output::line(&token);
    if from_env {
        output::warn("the old token came from SHIRE_TOKEN: set it to the new one");
    } else {
        output::note(format!(
            "stored for {}; the old token no longer works",
            ctx.registry
        ));
    }
    Ok(Outcome::Success)
}

/// Revokes a token by id: it stops working at once.
pub fn revoke(ctx: &Ctx, id: &str) -> Result<Outcome> {
    let gone = ctx
        .client()?
        .revoke_token(id)
        .with_context(|| format!("revoking token {id}"))?;
    if ctx.json {
        return output::json(&gone).map(|()| Outcome::Success);
    }
    output::line(format!("revoked token {} ({})", gone.id, gone.name));
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_expiries_people_write() {
        let now = OffsetDateTime::parse("2026-12-02T10:00:00Z", &Rfc3339).unwrap();
        let at = |s: &str| parse_expiry(s, now).unwrap().format(&Rfc3339).unwrap();
        assert_eq!(at("30d"), "2027-01-01T10:00:00Z");
        assert_eq!(at("12h"), "2026-12-02T22:00:00Z");
        assert_eq!(at("2027-03-31"), "2027-03-31T00:00:00Z");
        assert_eq!(at("2027-03-31T12:00:00+01:00"), "2027-03-31T12:00:00+01:00");
        for bad in ["", "0d", "-1d", "soon", "31/03/2027"] {
            assert!(parse_expiry(bad, now).is_err(), "{bad}");
        }
    }
}
