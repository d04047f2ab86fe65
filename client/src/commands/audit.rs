//! `shire audit`: checks every package in a lockfile against the registry's
//! current statements, under this client's trust policy.
//!
//! Findings that fail the audit (exit code 1): a revocation, a lost approval
//! (locked as approved, now rejected or below the threshold), a digest that no
//! longer matches the lock, a statement that no longer verifies, a release the
//! registry no longer serves. Warnings (exit 0): yanks, and unapproved releases
//! that were installed with `--allow-unverified` and are still unapproved.

use super::Ctx;
use crate::checks;
use crate::lockfile::{LockedPackage, Lockfile};
use crate::{output, Outcome};
use anyhow::{Context, Result};
use serde::Serialize;
use shire_core::policy::{Standing, TrustPolicy};
use shire_core::wire::VersionInfo;
use std::path::Path;

/// What the audit found about one locked package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `org/name@version`.
    pub release: String,
    /// `revoked`, `lost_approval`, `rejected`, `unapproved`, `digest_changed`,
    /// `invalid_statement`, `missing`, `yanked` or `ok`.
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

/// Audits one locked package against the registry's current record (pure).
pub fn audit_one(
    p: &LockedPackage,
    info: Option<&VersionInfo>,
    policy: &TrustPolicy,
) -> Vec<Finding> {
    let Some(info) = info else {
        return vec![finding(
            p,
            "missing",
            true,
            "the registry no longer serves this release".into(),
        )];
    };
    let checked = match checks::check_version(&p.name, &p.version, info, policy) {
        Ok(c) => c,
        Err(e) => return vec![finding(p, "invalid_statement", true, e.to_string())],
    };
    let mut out = Vec::new();
    let signed = checked.statement.subject.digest;
    if signed != p.digest {
        out.push(finding(
            p,
            "digest_changed",
            true,
            format!(
                "locked {}, the registry's signed statement now says {signed}",
                p.digest
            ),
        ));
    }
    match &checked.trust.standing {
        Standing::Approved => {}
        Standing::Revoked(why) => out.push(finding(p, "revoked", true, why.clone())),
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
    if let Some(y) = &checked.yanked {
        out.push(finding(
            p,
            "yanked",
            false,
            format!("yanked by {}: {}", y.by, y.reason),
        ));
    }
    if out.is_empty() {
        out.push(finding(p, "ok", false, "approved, digest unchanged".into()));
    }
    out
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
    let lock = Lockfile::load(dir)?
        .with_context(|| format!("no {} to audit", Lockfile::path_in(dir).display()))?;
    if crate::home::normalise_registry(&lock.registry) != ctx.registry {
        output::warn(format!(
            "the lock was resolved against {}, auditing against {}",
            lock.registry, ctx.registry
        ));
    }
    let client = ctx.client()?;
    // Refuses a node key other than the pinned one, a rolled-back or forked log.
    ctx.verified_log(&client)?;
    let policy = ctx.home.load_trust()?;
    let mut findings = Vec::new();
    for p in &lock.packages {
        let info = match client.version(&p.name, &p.version) {
            Ok(i) => Some(i),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e).with_context(|| format!("auditing {}@{}", p.name, p.version)),
        };
        findings.extend(audit_one(p, info.as_ref(), &policy));
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
    use crate::checks::fixtures::*;
    use shire_core::statement::Verdict;
    use shire_core::wire::YankInfo;
    use shire_core::{Digest, KeyPair, PackageName, Version};

    fn locked(info: &VersionInfo, approved: bool) -> LockedPackage {
        LockedPackage {
            log_index: None,
            name: PackageName::parse("braintree/crm").unwrap(),
            version: Version::new(1, 0, 0),
            digest: info.digest,
            dependencies: vec![],
            direct: true,
            approved,
        }
    }

    fn kinds(f: &[Finding]) -> Vec<(&str, bool)> {
        f.iter().map(|f| (f.kind.as_str(), f.fails)).collect()
    }

    #[test]
    fn reports_each_kind_of_problem() {
        let publisher = KeyPair::generate();
        let socitm = KeyPair::generate();
        let p = policy(&[&socitm], 1);
        let mut info = release(&publisher, "braintree/crm", "1.0.0", &[], b"x");
        add_verdict(&mut info, &socitm, Verdict::Approve);
        let lock = locked(&info, true);
        assert_eq!(
            kinds(&audit_one(&lock, Some(&info), &p)),
            vec![("ok", false)]
        );

        // Yanked: a warning only.
        let mut yanked = info.clone();
        yanked.yanked = Some(YankInfo {
            reason: "typo".into(),
            at: "t".into(),
            by: "ann".into(),
        });
        assert_eq!(
            kinds(&audit_one(&lock, Some(&yanked), &p)),
            vec![("yanked", false)]
        );

        // Revoked after install.
        let mut revoked = info.clone();
        add_verdict(&mut revoked, &socitm, Verdict::Revoke);
        assert_eq!(
            kinds(&audit_one(&lock, Some(&revoked), &p)),
            vec![("revoked", true)]
        );

        // Lost approval: the client now needs two.
        let strict = policy(&[&socitm, &KeyPair::generate()], 2);
        assert_eq!(
            kinds(&audit_one(&lock, Some(&info), &strict)),
            vec![("lost_approval", true)]
        );
        // ... but a package installed unverified only warns.
        let unverified = locked(&info, false);
        assert_eq!(
            kinds(&audit_one(&unverified, Some(&info), &strict)),
            vec![("unapproved", false)]
        );

        // The registry now signs other bytes for the locked version.
        let mut other = release(&publisher, "braintree/crm", "1.0.0", &[], b"other");
        add_verdict(&mut other, &socitm, Verdict::Approve);
        let f = audit_one(&lock, Some(&other), &p);
        assert_eq!(kinds(&f), vec![("digest_changed", true)]);
        assert!(f[0].detail.contains(&Digest::of(b"other").to_string()));

        // A statement that no longer verifies, and a release that vanished.
        let mut forged = info.clone();
        forged.release = release(&KeyPair::generate(), "braintree/crm", "1.0.0", &[], b"x").release;
        assert_eq!(
            kinds(&audit_one(&lock, Some(&forged), &p)),
            vec![("invalid_statement", true)]
        );
        assert_eq!(kinds(&audit_one(&lock, None, &p)), vec![("missing", true)]);
    }
}
