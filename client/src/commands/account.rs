//! `shire login` and `shire whoami`.

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
