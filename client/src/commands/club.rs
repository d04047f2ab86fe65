//! The club's statements about software in use: `shire adopt` declares, in
//! a statement signed with this machine's key and logged by the registry,
//! that the user's organisation runs a release ("used by"), or withdraws it.
//!
//! The release named is the one its home log holds, as this client replayed
//! it, so a registry cannot make an organisation declare other bytes than the
//! ones released; the statement is signed for the registry's log, so it
//! cannot be replayed on another node.

use super::Ctx;
use crate::checks;
use crate::cli::AdoptTarget;
use crate::lockfile::Lockfile;
use crate::transparency::Logs;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use shire_core::statement::{AdoptionAction, AdoptionStatement, Subject};
use shire_core::wire::ReleaseState;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Declares (or withdraws) the user's organisation's adoption of a package.
pub fn adopt(ctx: &Ctx, target: &AdoptTarget, withdraw: bool, dir: &Path) -> Result<Outcome> {
    let key = ctx.home.load_key()?;
    let client = ctx.client()?;
    let me = client
        .whoami()
        .context("asking the registry who this token is")?;
    let Some(org) = me.org.clone() else {
        bail!(
            "account {} belongs to no organisation, so it cannot adopt",
            me.username
        );
    };
    let name = &target.name;
    let pkg = client
        .package(name)
        .with_context(|| format!("looking up {name}"))?;
    let log = ctx.verified_log(&client)?;
    let (action, subject) = if withdraw {
        let Some(current) = pkg.used_by.iter().find(|a| a.org == org) else {
            bail!("{org} has declared no adoption of {name} to withdraw");
        };
        let subject = Subject {
            name: name.clone(),
            version: current.version.clone(),
            digest: current.digest,
        };
        (AdoptionAction::Withdraw, subject)
    } else {
        let version = match &target.version {
            Some(v) => v.clone(),
            None => chosen_version(&pkg, dir)?,
        };
        let info = pkg
            .versions
            .iter()
            .find(|v| v.version == version)
            .with_context(|| format!("{name} has no version {version} on {}", ctx.registry))?;
        let mut logs = Logs::open(&ctx.home, &client, &ctx.registry, &log)?;
        if !logs.can_check(&pkg.origin)? {
            bail!(
                "{name} is home on {}, whose node key this client has not pinned: pin it \
                 (shire trust node) to check the release before declaring it",
                pkg.origin
            );
        }
        let replica = logs.of(&pkg.origin, &name.to_string())?;
        let lookup = replica.lookup(name, &version);
        let statement = checks::verify_in_log(name, &version, info, &lookup)
            .with_context(|| format!("not declaring an adoption of {name}@{version}"))?;
        (AdoptionAction::Adopt, statement.subject.clone())
    };
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let st = AdoptionStatement::new(
        action,
        org.clone(),
        subject.clone(),
        &log.key.log_name(),
        issued_at,
    );
    let answer = client
        .submit_adoption(&st.sign(&key))
        .with_context(|| format!("submitting the {action} of {subject}"))?;
    if ctx.json {
        output::json(&answer)?;
    } else if withdraw {
        output::line(format!(
            "{org} no longer declares that it runs {name} (withdrew {subject}, log entry {})",
            answer.adoption.log_index
        ));
    } else {
        output::line(format!(
            "{org} declared that it runs {subject} ({}), signed with key {}: log entry {}{}",
            subject.digest,
            key.key_id().short(),
            answer.adoption.log_index,
            if answer.replayed {
                " (already declared)"
            } else {
                ""
            }
        ));
    }
    Ok(Outcome::Success)
}

/// The version installed in `dir`, else the newest approved one.
fn chosen_version(pkg: &shire_core::wire::PackageInfo, dir: &Path) -> Result<semver::Version> {
    if let Some(lock) = Lockfile::load(dir)? {
        if let Some(p) = lock.packages.iter().find(|p| p.name == pkg.name) {
            return Ok(p.version.clone());
        }
    }
    pkg.versions
        .iter()
        .filter(|v| v.state == ReleaseState::Approved && v.yanked.is_none())
        .map(|v| &v.version)
        .max()
        .cloned()
        .with_context(|| {
            format!(
                "{} has no approved version and none is installed in {}: name one (org/name@version)",
                pkg.name,
                dir.display()
            )
        })
}
