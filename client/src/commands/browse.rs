//! `shire search` and `shire info`: the catalogue, with each version's state as
//! the registry reports it and its approvers as this client verifies them.

use super::Ctx;
use crate::checks;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use serde::Serialize;
use shire_core::policy::TrustPolicy;
use shire_core::wire::{PackageInfo, VersionInfo, YankInfo};
use shire_core::{Digest, KeyId, PackageName, Version};

/// Searches the catalogue.
pub fn search(ctx: &Ctx, query: &str, limit: usize) -> Result<Outcome> {
    let res = ctx
        .client()?
        .search(query, limit)
        .with_context(|| format!("searching {} for {query:?}", ctx.registry))?;
    if ctx.json {
        output::json(&res)?;
        return Ok(Outcome::Success);
    }
    if res.results.is_empty() {
        output::line(format!("no packages match {query:?}"));
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = res
        .results
        .iter()
        .map(|h| {
            vec![
                h.name.to_string(),
                h.latest.to_string(),
                h.state.to_string(),
                short_ids(&h.approvers),
                h.origin.clone(),
                h.description.clone(),
            ]
        })
        .collect();
    output::line(output::table(
        &[
            "NAME",
            "LATEST",
            "STATE",
            "APPROVERS (claimed)",
            "ORIGIN",
            "DESCRIPTION",
        ],
        &rows,
    ));
    if res.total > res.results.len() {
        output::note(format!(
            "{} of {} matches shown",
            res.results.len(),
            res.total
        ));
    }
    Ok(Outcome::Success)
}

fn short_ids(ids: &[KeyId]) -> String {
    if ids.is_empty() {
        "-".into()
    } else {
        ids.iter()
            .map(|k| k.short().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One version as `info` shows it.
#[derive(Debug, Serialize)]
pub struct VersionView {
    /// The version.
    pub version: Version,
    /// The artifact digest (the signed one when the statement verified).
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// The state the registry reports.
    pub state: String,
    /// The yank, if any.
    pub yanked: Option<YankInfo>,
    /// When published.
    pub published_at: String,
    /// The publisher key's id.
    pub publisher_key: KeyId,
    /// Whether the publisher's statement verified on this client.
    pub release_verified: bool,
    /// Why it did not, when it did not.
    pub release_error: Option<String>,
    /// This client's standing for it (`approved`, `unapproved`, `rejected`, `revoked`, `invalid`).
    pub standing: String,
    /// The standing in words.
    pub standing_detail: String,
    /// Trusted keys whose valid approvals of exactly this release count.
    pub verified_approvers: Vec<KeyId>,
    /// Keys the registry lists as approving (claims).
    pub claimed_approvers: Vec<KeyId>,
    /// Verdicts that did not count, and why.
    pub ignored_verdicts: Vec<String>,
    /// Dependencies from the manifest.
    pub dependencies: std::collections::BTreeMap<PackageName, shire_core::VersionReq>,
}

/// Builds the view of one version under the client's policy (pure).
pub fn version_view(name: &PackageName, v: &VersionInfo, policy: &TrustPolicy) -> VersionView {
    let mut view = VersionView {
        version: v.version.clone(),
        digest: v.digest,
        size: v.size,
        state: v.state.to_string(),
        yanked: v.yanked.clone(),
        published_at: v.published_at.clone(),
        publisher_key: v.publisher_key.key_id.clone(),
        release_verified: false,
        release_error: None,
        standing: "invalid".into(),
        standing_detail: String::new(),
        verified_approvers: Vec::new(),
        claimed_approvers: v.verdicts.iter().map(|x| x.key_id.clone()).collect(),
        ignored_verdicts: Vec::new(),
        dependencies: v.manifest.dependencies.clone(),
    };
    match checks::check_version(name, &v.version, v, policy) {
        Ok(c) => {
            view.release_verified = true;
            view.digest = c.statement.subject.digest;
            view.dependencies = c.statement.manifest.dependencies.clone();
            view.standing = checks::standing_label(&c.trust.standing).into();
            view.standing_detail = checks::standing_text(&c.trust.standing);
            view.verified_approvers = c.trust.assessment.approvals.iter().cloned().collect();
            view.claimed_approvers = c.trust.claimed_approvers.clone();
            view.ignored_verdicts = c.trust.assessment.ignored.clone();
        }
        Err(e) => {
            view.standing_detail = e.to_string();
            view.release_error = Some(e.to_string());
        }
    }
    view
}

#[derive(Serialize)]
struct InfoView<'a> {
    name: &'a PackageName,
    description: &'a str,
    origin: &'a str,
    threshold: u32,
    versions: Vec<VersionView>,
}

/// Shows a package and every version.
pub fn info(ctx: &Ctx, name: &PackageName) -> Result<Outcome> {
    let pkg: PackageInfo = ctx
        .client()?
        .package(name)
        .with_context(|| format!("looking up {name}"))?;
    let policy = ctx.home.load_trust()?;
    let versions: Vec<VersionView> = pkg
        .versions
        .iter()
        .map(|v| version_view(name, v, &policy))
        .collect();
    if ctx.json {
        output::json(&InfoView {
            name,
            description: &pkg.description,
            origin: &pkg.origin,
            threshold: policy.threshold,
            versions,
        })?;
        return Ok(Outcome::Success);
    }
    output::line(format!("{}  ({})", pkg.name, pkg.origin));
    output::line(format!("  {}", pkg.description));
    output::line("");
    let rows: Vec<Vec<String>> = versions
        .iter()
        .rev()
        .map(|v| {
            let claimed_only: Vec<KeyId> = v
                .claimed_approvers
                .iter()
                .filter(|k| !v.verified_approvers.contains(k))
                .cloned()
                .collect();
            vec![
                v.version.to_string(),
                v.state.clone(),
                if v.release_verified {
                    v.standing.clone()
                } else {
                    "INVALID".into()
                },
                short_ids(&v.verified_approvers),
                short_ids(&claimed_only),
                match &v.yanked {
                    Some(y) => format!("yanked: {}", y.reason),
                    None => String::new(),
                },
            ]
        })
        .collect();
    output::line(output::table(
        &[
            "VERSION",
            "STATE",
            "TRUST",
            "VERIFIED APPROVERS",
            "CLAIMED ONLY",
            "NOTE",
        ],
        &rows,
    ));
    for v in versions.iter().rev() {
        if let Some(e) = &v.release_error {
            output::line(format!("  {}: {e}", v.version));
        } else if v.standing != "approved" {
            output::line(format!("  {}: {}", v.version, v.standing_detail));
        }
    }
    output::line(format!(
        "(trust: verified approvers are keys in your trust file with a valid approval; threshold {})",
        policy.threshold
    ));
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;
    use shire_core::statement::{Verdict, VerdictStatement};
    use shire_core::KeyPair;

    #[test]
    fn info_separates_verified_from_claimed_approvers() {
        let publisher = KeyPair::generate();
        let (trusted, stranger) = (KeyPair::generate(), KeyPair::generate());
        let name = PackageName::parse("braintree/crm").unwrap();
        let mut info = release(&publisher, "braintree/crm", "1.0.0", &[], b"x");
        add_verdict(&mut info, &trusted, Verdict::Approve);
        add_verdict(&mut info, &stranger, Verdict::Approve);
        // A forged approval claiming the trusted key.
        let subject = checks::verify_release(&name, &info.version, &info)
            .unwrap()
            .subject
            .clone();
        let mut forged = VerdictStatement::new(Verdict::Approve, subject, None, 1).sign(&stranger);
        forged.signatures[0].keyid = trusted.key_id().to_string();
        push_envelope(&mut info, &trusted, forged);

        let view = version_view(&name, &info, &policy(&[&trusted], 2));
        assert!(view.release_verified);
        assert_eq!(view.verified_approvers, vec![trusted.key_id()]);
        assert_eq!(view.claimed_approvers.len(), 3);
        assert_eq!(view.standing, "unapproved");
        assert_eq!(
            view.ignored_verdicts.len(),
            2,
            "{:?}",
            view.ignored_verdicts
        );

        // A release whose statement does not verify is shown as invalid.
        let mut bad = info.clone();
        bad.digest = shire_core::Digest::of(b"other");
        let view = version_view(&name, &bad, &policy(&[&trusted], 1));
        assert!(!view.release_verified);
        assert_eq!(view.standing, "invalid");
        assert!(view.verified_approvers.is_empty());
    }
}
