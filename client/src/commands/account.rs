//! `shire login`, `shire logout` and `shire whoami`.

use super::Ctx;
use crate::api::Client;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use shire_core::wire::AccountInfo;

fn describe(a: &AccountInfo) -> String {
    match &a.org {
        Some(org) => format!("{} ({} of {})", a.username, a.role, org),
        None => format!("{} ({})", a.username, a.role),
    }
}

/// Checks a token with `GET /api/v1/whoami` and stores it for this registry.
pub fn login(ctx: &Ctx, token: &str) -> Result<Outcome> {
    let token = token.trim();
    let client = Client::new(&ctx.registry, Some(token.to_string()))?;
    let me = client
        .whoami()
        .with_context(|| format!("checking the token with {}", ctx.registry))?;
    ctx.home.store_token(&ctx.registry, token)?;
    if ctx.json {
        output::json(&me)?;
    } else {
        output::line(format!(
            "logged in to {} as {}",
            ctx.registry,
            describe(&me)
        ));
    }
    Ok(Outcome::Success)
}

/// Forgets the token stored for this registry (the token itself stays valid
/// on the node until an admin or `shire token revoke` revokes it).
pub fn logout(ctx: &Ctx) -> Result<Outcome> {
    let had = ctx.home.forget_token(&ctx.registry)?;
    if ctx.json {
        output::json(&serde_json::json!({ "registry": ctx.registry, "forgotten": had }))?;
    } else if had {
        output::line(format!(
            "logged out of {}: its token is no longer stored here",
            ctx.registry
        ));
    } else {
        output::line(format!("no token was stored for {}", ctx.registry));
    }
    if std::env::var("SHIRE_TOKEN").is_ok_and(|t| !t.trim().is_empty()) {
        output::warn("SHIRE_TOKEN is still set in the environment");
    }
    Ok(Outcome::Success)
}

/// Shows the current account.
pub fn whoami(ctx: &Ctx) -> Result<Outcome> {
    let me = ctx
        .client()?
        .whoami()
        .with_context(|| format!("asking {} who this token belongs to", ctx.registry))?;
    if ctx.json {
        output::json(&me)?;
    } else {
        output::line(describe(&me));
    }
    Ok(Outcome::Success)
}
