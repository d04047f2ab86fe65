//! `shire admin org create`, `shire admin user create` and `shire admin
//! takedown` (registry operators).

use super::Ctx;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use shire_core::wire::{CreateAccount, CreateOrg, Role};
use shire_core::OrgName;

/// Creates an organisation.
pub fn org_create(ctx: &Ctx, org: OrgName) -> Result<Outcome> {
    let info = ctx
        .client()?
        .create_org(&CreateOrg { name: org.clone() })
        .with_context(|| format!("creating organisation {org}"))?;
    if ctx.json {
        output::json(&info)?;
    } else {
        output::line(format!("created organisation {}", info.name));
    }
    Ok(Outcome::Success)
}

/// Creates an account and prints its token (shown once).
pub fn user_create(ctx: &Ctx, user: OrgName, org: OrgName, role: Role) -> Result<Outcome> {
    let info = ctx
        .client()?
        .create_account(&CreateAccount {
            username: user.clone(),
            org: org.clone(),
            role,
        })
        .with_context(|| format!("creating account {user} in {org}"))?;
    if ctx.json {
        output::json(&info)?;
        return Ok(Outcome::Success);
    }
    let token = info
        .token
        .as_deref()
        .context("the registry created the account but sent no token")?;
    output::note(format!(
        "created {} account {} in {} (the token below is shown only once)",
        info.role, info.username, org
    ));
    output::line(token);
    Ok(Outcome::Success)
}

/// Takes a release's artifact down: its bytes are erased on the node (and on
/// every node that follows it), a `takedown` is logged with the reason, and
/// downloads and installs answer with it from then on.
pub fn takedown(ctx: &Ctx, release: &crate::cli::ReleaseRef, reason: &str) -> Result<Outcome> {
    let info = ctx
        .client()?
        .takedown(&release.name, &release.version, reason)
        .with_context(|| format!("taking down {release}"))?;
    if ctx.json {
        output::json(&info)?;
    } else {
        output::line(format!(
            "took down {release}: its artifact {} is erased and the takedown is logged",
            info.digest
        ));
    }
    Ok(Outcome::Success)
}
