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

/// Disables (or enables again) an account: a disabled account's tokens stop
/// working at once; what it signed stays in the log.
pub fn user_set_enabled(ctx: &Ctx, user: &OrgName, enabled: bool) -> Result<Outcome> {
    let info = ctx
        .client()?
        .set_account_enabled(user.as_str(), enabled)
        .with_context(|| {
            format!(
                "{} account {user}",
                if enabled { "enabling" } else { "disabling" }
            )
        })?;
    if ctx.json {
        output::json(&info)?;
    } else if enabled {
        output::line(format!("enabled account {}", info.username));
    } else {
        output::line(format!(
            "disabled account {}: its tokens no longer work; what it signed stays in the log",
            info.username
        ));
    }
    Ok(Outcome::Success)
}
