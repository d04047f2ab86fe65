//! The club's statements about software in use: `shire adopt` declares, in
//! a statement signed with this machine's key and logged by the registry,
//! that the user's organisation runs a release ("used by"), or withdraws it;
//! `shire install --report` declares what it installed.
//!
//! The release named is the one its home log holds, as this client replayed
//! it, so a registry cannot make an organisation declare other bytes than the
//! ones released; the statement is signed for the registry's log, so it
//! cannot be replayed on another node.

use super::Ctx;
use crate::api::Client;
use crate::checks;
use crate::cli::AdoptTarget;
use crate::lockfile::Lockfile;
use crate::transparency::{Logs, VerifiedLog};
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use semver::Version;
use shire_core::ledger::View as _;
use shire_core::statement::{AdoptionAction, AdoptionStatement, Subject};
use shire_core::wire::{AdoptionAnswer, PackageInfo, ReleaseState};
use shire_core::{KeyPair, OrgName, PackageName};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Declares (or withdraws) the user's organisation's adoption of a package.
pub fn adopt(ctx: &Ctx, target: &AdoptTarget, withdraw: bool, dir: &Path) -> Result<Outcome> {
    let d = Declarer::new(ctx)?;
    let name = &target.name;
    let pkg = d
        .client
        .package(name)
        .with_context(|| format!("looking up {name}"))?;
    let (subject, answer) = if withdraw {
        d.withdraw(&pkg)?
    } else {
        let version = match &target.version {
            Some(v) => v.clone(),
            None => chosen_version(&pkg, dir)?,
        };
        d.adopt(&pkg, &version)?
    };
    d.print(&subject, &answer, withdraw)?;
    Ok(Outcome::Success)
}

/// `shire install --report`: declares every package the lock in `dir`
/// pins. A package that cannot be declared is named and skipped: the
/// install itself stands.
pub fn report_installed(ctx: &Ctx, dir: &Path) -> Result<()> {
    let d = Declarer::new(ctx).context("reporting what was installed (--report)")?;
    let Some(lock) = Lockfile::load(dir)? else {
        return Ok(());
    };
    for p in &lock.packages {
        let declared = d
            .client
            .package(&p.name)
            .with_context(|| format!("looking up {}", p.name))
            .and_then(|pkg| d.adopt(&pkg, &p.version));
        match declared {
            Ok((subject, answer)) => d.print(&subject, &answer, false)?,
            Err(e) => output::warn(format!(
                "not reported: {}@{}: {}",
                p.name,
                p.version,
                output::error_line(&e)
            )),
        }
    }
    Ok(())
}

/// Who declares, and in which log.
struct Declarer<'c> {
    ctx: &'c Ctx,
    client: Client,
    key: KeyPair,
    org: OrgName,
    log: VerifiedLog,
}

impl<'c> Declarer<'c> {
    fn new(ctx: &'c Ctx) -> Result<Self> {
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
        let log = ctx.verified_log(&client)?;
        Ok(Self {
            ctx,
            client,
            key,
            org,
            log,
        })
    }

    /// Declares `pkg@version`, checked in its home's verified log.
    fn adopt(&self, pkg: &PackageInfo, version: &Version) -> Result<(Subject, AdoptionAnswer)> {
        let name = &pkg.name;
        let info = pkg
            .versions
            .iter()
            .find(|v| &v.version == version)
            .with_context(|| format!("{name} has no version {version} on {}", self.ctx.registry))?;
        let mut logs = Logs::open(&self.ctx.home, &self.client, &self.ctx.registry, &self.log)?;
        if !logs.can_check(&pkg.origin)? {
            bail!(
                "{name} is home on {}, whose node key this client has not pinned: pin it \
                 (shire trust node) to check the release before declaring it",
                pkg.origin
            );
        }
        let replica = logs.of(&pkg.origin, &name.to_string())?;
        let lookup = replica.lookup(name, version);
        let statement = checks::verify_in_log(name, version, info, &lookup)
            .with_context(|| format!("not declaring an adoption of {name}@{version}"))?;
        let subject = statement.subject.clone();
        let replaces = self.latest(&logs, name);
        let answer = self.submit(AdoptionAction::Adopt, &subject, replaces)?;
        Ok((subject, answer))
    }

    /// Withdraws the organisation's adoption of `pkg`.
    /// What is withdrawn is the adoption the registry's verified log holds.
    fn withdraw(&self, pkg: &PackageInfo) -> Result<(Subject, AdoptionAnswer)> {
        let name = &pkg.name;
        let logs = Logs::open(&self.ctx.home, &self.client, &self.ctx.registry, &self.log)?;
        let current = logs
            .own()
            .ledger()
            .adoption(&self.org, name)
            .unwrap_or_else(|never| match never {});
        let Some(current) = current.filter(|c| !c.withdrawn) else {
            bail!(
                "{} has declared no adoption of {name} to withdraw (in the verified log of {})",
                self.org,
                logs.own_origin()
            );
        };
        let subject = current.subject.clone();
        let answer = self.submit(AdoptionAction::Withdraw, &subject, Some(current.index))?;
        Ok((subject, answer))
    }

    /// The index of the organisation's latest statement about `name` in the
    /// registry's verified log (its home, where it adopts): the one a new
    /// statement follows.
    fn latest(&self, logs: &Logs<'_>, name: &PackageName) -> Option<u64> {
        logs.own()
            .ledger()
            .adoption(&self.org, name)
            .unwrap_or_else(|never| match never {})
            .map(|c| c.index)
    }

    fn submit(
        &self,
        action: AdoptionAction,
        subject: &Subject,
        replaces: Option<u64>,
    ) -> Result<AdoptionAnswer> {
        let st = AdoptionStatement::new(
            action,
            self.org.clone(),
            subject.clone(),
            &self.log.key.log_name(),
            replaces,
            issued_at(),
        );
        self.client
            .submit_adoption(&st.sign(&self.key))
            .with_context(|| format!("submitting the {action} of {subject}"))
    }

    fn print(&self, subject: &Subject, answer: &AdoptionAnswer, withdraw: bool) -> Result<()> {
        let org = &self.org;
        if self.ctx.json {
            output::json(answer)?;
        } else if withdraw {
            output::line(format!(
                "{org} no longer declares that it runs {} (withdrew {subject}, log entry {})",
                subject.name, answer.adoption.log_index
            ));
        } else {
            output::line(format!(
                "{org} declared that it runs {subject} ({}), signed with key {}: log entry {}{}",
                subject.digest,
                self.key.key_id().short(),
                answer.adoption.log_index,
                if answer.replayed {
                    " (already declared)"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }
}

/// `shire support offer`: the caller's organisation offers to support a
/// package, following its latest support statement in the registry's
/// verified log.
pub fn offer_support(
    ctx: &Ctx,
    package: &PackageName,
    versions: semver::VersionReq,
    until: &str,
) -> Result<Outcome> {
    if shire_core::manifest::parse_date(until).is_none() {
        bail!("--until {until:?} is not a date of the form YYYY-MM-DD");
    }
    let d = Declarer::new(ctx)?;
    let logs = Logs::open(&ctx.home, &d.client, &ctx.registry, &d.log)?;
    let replaces = logs
        .own()
        .ledger()
        .support(package, &d.org)
        .unwrap_or_else(|never| match never {})
        .map(|s| s.index);
    let offer = shire_core::statement::SupportOffer::new(
        d.org.clone(),
        package.clone(),
        versions,
        until,
        &d.log.key.log_name(),
        replaces,
        issued_at(),
    );
    let answer = d
        .client
        .submit_support(&offer.sign(&d.key))
        .with_context(|| format!("offering support for {package}"))?;
    if ctx.json {
        output::json(&answer)?;
    } else {
        output::line(format!(
            "{} offered to support {package} {} until {} (log entry {}){}; it counts once {} accepts it (shire support accept {package} --supporter {} --versions '{}' --until {})",
            d.org,
            answer.versions,
            answer.until,
            answer.offer_index,
            if answer.replayed { ", already offered" } else { "" },
            package.org(),
            d.org,
            answer.versions,
            answer.until
        ));
    }
    Ok(Outcome::Success)
}

/// `shire support accept`: the package's organisation accepts exactly the
/// supporter's current offer, as the registry's verified log holds it.
pub fn accept_support(
    ctx: &Ctx,
    package: &PackageName,
    supporter: &OrgName,
    versions: &semver::VersionReq,
    until: &str,
) -> Result<Outcome> {
    let d = Declarer::new(ctx)?;
    if &d.org != package.org() {
        bail!(
            "only {} accepts support for {package}; this account is of {}",
            package.org(),
            d.org
        );
    }
    let logs = Logs::open(&ctx.home, &d.client, &ctx.registry, &d.log)?;
    let Some(current) = logs
        .own()
        .ledger()
        .support(package, supporter)
        .unwrap_or_else(|never| match never {})
    else {
        bail!("{supporter} has offered no support for {package} (in the verified log)");
    };
    if &current.versions != versions || current.until != until {
        bail!(
            "{supporter}'s current offer for {package} is {} until {}, not {versions} until {until}: nothing accepted",
            current.versions,
            current.until
        );
    }
    let st = shire_core::statement::SupportAcceptance::new(
        package.clone(),
        supporter.clone(),
        current.offer,
        &d.log.key.log_name(),
        issued_at(),
    );
    let answer = d
        .client
        .submit_support(&st.sign(&d.key))
        .with_context(|| format!("accepting {supporter}'s support of {package}"))?;
    if ctx.json {
        output::json(&answer)?;
    } else {
        output::line(format!(
            "{package}: accepted {supporter}'s support of {} until {} (log entry {}){}",
            answer.versions,
            answer.until,
            answer.accepted_index.unwrap_or(answer.offer_index),
            if answer.replayed {
                ", already accepted"
            } else {
                ""
            }
        ));
    }
    Ok(Outcome::Success)
}

fn issued_at() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The version installed in `dir`, else the newest approved one.
fn chosen_version(pkg: &PackageInfo, dir: &Path) -> Result<Version> {
    if let Some(lock) = Lockfile::load(dir)? {
        if let Some(p) = lock.packages.iter().find(|p| p.name == pkg.name) {
            return Ok(p.version.clone());
        }
    }
    let name: &PackageName = &pkg.name;
    pkg.versions
        .iter()
        .filter(|v| v.state == ReleaseState::Approved && v.yanked.is_none())
        .map(|v| &v.version)
        .max()
        .cloned()
        .with_context(|| {
            format!(
                "{name} has no approved version and none is installed in {}: name one (org/name@version)",
                dir.display()
            )
        })
}
