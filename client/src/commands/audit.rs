//! `shire audit`: checks every package in a lockfile against the verified
//! transparency log of its home, under this client's trust policy.
//!
//! The registry's checkpoint is verified and the replica of its log (and of
//! each mirrored origin's log a locked package comes from, whose key must be
//! pinned) brought up to it; every finding comes from the release as that log
//! holds it, never from the registry's summary, so a registry that hides a
//! revocation or shows an approval it does not have changes nothing.
//!
//! Findings that fail the audit (exit code 1): a revocation, a lost approval
//! (locked as approved, now rejected or below the threshold), a digest that
//! differs from the lock, a release the log does not hold, and installed
//! files edited, deleted or added since the install (checked against the
//! install record, `DIR/.shire/installed.json`). Warnings (exit 0):
//! yanks, and unapproved releases that were installed with
//! `--allow-unverified` and are still unapproved.

use super::Ctx;
use crate::api::Client;
use crate::checks;
use crate::install::journal;
use crate::install::record::{self, FolderState, Record};
use crate::lockfile::{LockedPackage, Lockfile};
use crate::transparency::replica::Lookup;
use crate::transparency::Logs;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use serde::Serialize;
use shire_core::policy::{Standing, TrustPolicy};
use std::path::Path;

/// What the audit found about one locked package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `org/name@version`.
    pub release: String,
    /// `revoked`, `lost_approval`, `rejected`, `unapproved`, `digest_changed`,
    /// `missing`, `yanked`, `taken_down`, `support_ended`, `support_ending`,
    /// `files_edited`, `files_deleted`, `files_added`, `files_unrecorded` or `ok`.
    pub kind: String,
    /// Whether it fails the audit.
    pub fails: bool,
    /// Details for a person.
    pub detail: String,
}

fn finding(p: &LockedPackage, kind: &str, fails: bool, detail: String) -> Finding {
    Finding {
        release: format!("{}@{}", p.name, p.version),
        kind: kind.into(),
        fails,
        detail,
    }
}

/// Audits one locked package against the release its home's verified log
/// holds (pure).
pub fn audit_one(p: &LockedPackage, lookup: &Lookup<'_>, policy: &TrustPolicy) -> Vec<Finding> {
    let Some(logged) = &lookup.logged else {
        return vec![finding(
            p,
            "missing",
            true,
            format!(
                "the verified log of {} holds no release {}@{}",
                lookup.origin, p.name, p.version
            ),
        )];
    };
    let facts = logged.facts;
    let mut out = Vec::new();
    if facts.subject.digest != p.digest || facts.subject.version != p.version {
        out.push(finding(
            p,
            "digest_changed",
            true,
            format!(
                "locked {}, the verified log released {} with digest {}",
                p.digest, facts.subject, facts.subject.digest
            ),
        ));
    }
    let trust = checks::assess(policy, facts);
    match &trust.standing {
        Standing::Approved => {}
        Standing::Revoked(why) => {
            let detail = match advisory_of(facts, policy) {
                Some(a) => format!("{why}; {}", advisory_text(a)),
                None => why.clone(),
            };
            out.push(finding(p, "revoked", true, detail));
        }
        s @ (Standing::Rejected(_) | Standing::Unapproved { .. }) => {
            let text = checks::standing_text(s);
            if p.approved {
                out.push(finding(p, "lost_approval", true, text));
            } else {
                let kind = checks::standing_label(s);
                out.push(finding(
                    p,
                    kind,
                    false,
                    format!("{text} (installed with --allow-unverified)"),
                ));
            }
        }
    }
    if let Some(t) = checks::takedown_of(logged) {
        out.push(finding(
            p,
            "taken_down",
            false,
            format!(
                "its artifact was taken down by the registry's operator ({}): {}",
                t.by, t.reason
            ),
        ));
    }
    if let Some(y) = checks::yank_of(logged) {
        out.push(finding(
            p,
            "yanked",
            false,
            format!("yanked by {}: {}", y.by, y.reason),
        ));
    }
    if out.is_empty() {
        out.push(finding(
            p,
            "ok",
            false,
            format!("approved, digest unchanged (log entry {})", facts.index),
        ));
    }
    out
}

/// The advisory of a trusted revocation of the release, if one carries it.
pub fn advisory_of<'f>(
    facts: &'f shire_core::ledger::ReleaseFacts,
    policy: &TrustPolicy,
) -> Option<&'f shire_core::statement::Advisory> {
    facts
        .verdicts
        .iter()
        .filter(|v| v.verdict == shire_core::statement::Verdict::Revoke)
        .filter(|v| policy.keys.contains_key(&v.key_id))
        .find_map(|v| v.advisory.as_ref())
}

/// An advisory for a person: severity, text, and the fix.
pub fn advisory_text(a: &shire_core::statement::Advisory) -> String {
    format!(
        "advisory [{}]: {}; {}",
        a.severity.to_string().to_uppercase(),
        a.description,
        match &a.fixed_in {
            Some(v) =>
                format!("fixed in {v}: upgrade to it (shire update, or shire install NAME@{v})"),
            None => "no fixed version yet: stop running it".to_string(),
        }
    )
}

/// Turns how a locked package's folder compares with its install into
/// findings (pure): files edited, deleted or added since, a folder holding
/// another release than the lock pins, or none at all, fail the audit.
pub fn audit_files(p: &LockedPackage, state: &FolderState) -> Vec<Finding> {
    let c = match state {
        FolderState::Unchanged => return Vec::new(),
        FolderState::Unrecorded => {
            return vec![finding(
                p,
                "files_unrecorded",
                false,
                "no record of the installed files (installed by an older shire); reinstall to check them".into(),
            )]
        }
        FolderState::Missing => {
            return vec![finding(p, "files_missing", true, "its folder is gone".into())]
        }
        FolderState::NotAFolder => {
            return vec![finding(
                p,
                "files_replaced",
                true,
                "a link or a file stands where its folder belongs".into(),
            )]
        }
        FolderState::OtherRelease(why) => {
            return vec![finding(p, "files_other_release", true, why.clone())]
        }
        FolderState::Changed(c) => c,
    };
    [
        ("files_edited", "edited since the install", &c.edited),
        ("files_deleted", "deleted since the install", &c.deleted),
        ("files_added", "added since the install", &c.added),
    ]
    .into_iter()
    .filter(|(_, _, paths)| !paths.is_empty())
    .map(|(kind, what, paths)| {
        finding(
            p,
            kind,
            true,
            format!(
                "{} file(s) {what}: {}",
                paths.len(),
                output::sample(paths, 10)
            ),
        )
    })
    .collect()
}

/// The home of a locked package: as the lock recorded it; for older locks,
/// as the registry names it (the registry's own origin when it no longer
/// knows the package, so the audit reports it missing there).
fn home_of(client: &Client, p: &LockedPackage, own: &str) -> Result<String> {
    if let Some(o) = &p.origin {
        return Ok(o.clone());
    }
    match client.package(&p.name) {
        Ok(info) => Ok(info.origin),
        Err(e) if e.is_not_found() => Ok(own.to_string()),
        Err(e) => Err(e).with_context(|| format!("asking where {} is home", p.name)),
    }
}

#[derive(Serialize)]
struct AuditView {
    lockfile: String,
    registry: String,
    failed: bool,
    findings: Vec<Finding>,
}

/// Runs `shire audit`.
pub fn audit(ctx: &Ctx, dir: &Path) -> Result<Outcome> {
    let _settled = journal::settle(dir)?;
    let lock = Lockfile::load(dir)?
        .with_context(|| format!("no {} to audit", Lockfile::path_in(dir).display()))?;
    if crate::home::normalise_registry(&lock.registry) != ctx.registry {
        output::warn(format!(
            "the lock was resolved against {}, auditing against {}",
            lock.registry, ctx.registry
        ));
    }
    let client = ctx.client()?;
    let policy = ctx.home.load_trust()?;
    // Refuses a node key other than the pinned one, a rolled-back or forked
    // log, and a log with an invalid entry or entries that are not the signed ones.
    let log = ctx.verified_log(&client)?;
    let mut logs = Logs::open(&ctx.home, &client, &ctx.registry, &log)?;
    let mut findings = Vec::new();
    for p in &lock.packages {
        let origin = home_of(&client, p, logs.own_origin())?;
        let release = format!("{}@{}", p.name, p.version);
        let replica = logs
            .of(&origin, &release)
            .with_context(|| format!("auditing {release}"))?;
        findings.extend(audit_one(p, &replica.lookup(&p.name, &p.version), &policy));
        if let Some(w) = crate::support::for_installed(&client, &mut logs, &origin, p) {
            findings.push(finding(p, w.kind, false, w.detail));
        }
    }
    let installed = Record::load(dir)?;
    for p in &lock.packages {
        findings.extend(audit_files(p, &record::check(dir, p, &installed)?));
    }
    let strays = record::strays(dir, &lock)?;
    if !strays.is_empty() {
        findings.push(Finding {
            release: dir.display().to_string(),
            kind: "files_stray".into(),
            fails: true,
            detail: format!(
                "{} path(s) in the install folder belong to no locked package: {}",
                strays.len(),
                output::sample(&strays, 10)
            ),
        });
    }
    let failed = findings.iter().any(|f| f.fails);
    if ctx.json {
        output::json(&AuditView {
            lockfile: Lockfile::path_in(dir).display().to_string(),
            registry: ctx.registry.clone(),
            failed,
            findings,
        })?;
    } else {
        for f in &findings {
            let level = if f.fails {
                "FAIL"
            } else if f.kind == "ok" {
                "ok"
            } else {
                "warn"
            };
            output::line(format!(
                "{level:<4}  {}  {}: {}",
                f.release, f.kind, f.detail
            ));
        }
        let n = findings.iter().filter(|f| f.fails).count();
        if failed {
            output::line(format!(
                "audit failed: {n} problem(s) in {} package(s)",
                lock.packages.len()
            ));
        } else {
            output::line(format!("audit passed: {} package(s)", lock.packages.len()));
        }
    }
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::policy;
    use crate::transparency::testlog::{cast, Cast, Released};
    use shire_core::statement::Verdict;
    use shire_core::KeyPair;

    fn locked(r: &Released, approved: bool) -> LockedPackage {
        LockedPackage {
            origin: None,
            log_index: r.info.log_index,
            requirement: None,
            name: r.name.clone(),
            version: r.version.clone(),
            digest: r.info.digest,
            dependencies: vec![],
            direct: true,
            approved,
        }
    }

    fn audit(c: &Cast, p: &LockedPackage, pol: &TrustPolicy) -> Vec<Finding> {
        let replica = c.log.replica();
        audit_one(p, &replica.lookup(&p.name, &p.version), pol)
    }

    fn kinds(f: &[Finding]) -> Vec<(&str, bool)> {
        f.iter().map(|f| (f.kind.as_str(), f.fails)).collect()
    }

    #[test]
    fn reports_each_kind_of_problem_from_the_log() {
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        c.approve(&mut r);
        let p = policy(&[&c.verifier], 1);
        let lock = locked(&r, true);
        assert_eq!(kinds(&audit(&c, &lock, &p)), vec![("ok", false)]);

        // Lost approval: the client now needs two verifiers.
        let strict = policy(&[&c.verifier, &KeyPair::generate()], 2);
        assert_eq!(
            kinds(&audit(&c, &lock, &strict)),
            vec![("lost_approval", true)]
        );
        // ... but a package installed unverified only warns.
        assert_eq!(
            kinds(&audit(&c, &locked(&r, false), &strict)),
            vec![("unapproved", false)]
        );

        // The lock pins other bytes than the log released.
        let mut other = lock.clone();
        other.digest = shire_core::Digest::of(b"other");
        let f = audit(&c, &other, &p);
        assert_eq!(kinds(&f), vec![("digest_changed", true)]);
        assert!(
            f[0].detail.contains(&r.info.digest.to_string()),
            "{}",
            f[0].detail
        );

        // A release the log does not hold.
        let mut ghost = lock.clone();
        ghost.version = shire_core::Version::new(9, 0, 0);
        let f = audit(&c, &ghost, &p);
        assert_eq!(kinds(&f), vec![("missing", true)]);
        assert!(f[0].detail.contains(c.log.origin()), "{}", f[0].detail);

        // Yanked: a warning only.
        c.log.yank(&r, "typo", "bt-dev");
        let f = audit(&c, &lock, &p);
        assert_eq!(kinds(&f), vec![("yanked", false)]);
        assert_eq!(f[0].detail, "yanked by bt-dev: typo");

        // Revoked after install.
        c.log.verdict(&c.verifier, &mut r, Verdict::Revoke);
        assert_eq!(
            kinds(&audit(&c, &lock, &p)),
            vec![("revoked", true), ("yanked", false)]
        );
    }

    #[test]
    fn a_revocation_the_registry_hides_is_found_in_the_log() {
        // Attack 6: a proxy removed the revocation from the package document.
        // The audit never reads that document: the revocation is in the log.
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        c.approve(&mut r);
        let lock = locked(&r, true);
        let shown_by_registry = r.info.clone();
        c.log.verdict(&c.verifier, &mut r, Verdict::Revoke);
        assert_eq!(shown_by_registry.verdicts.len(), 1);
        let f = audit(&c, &lock, &policy(&[&c.verifier], 1));
        assert_eq!(kinds(&f), vec![("revoked", true)]);
        assert!(f[0].detail.contains("CVE-2026-0001"), "{}", f[0].detail);
    }
}
