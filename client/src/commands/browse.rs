//! `shire search` and `shire info`: the catalogue.
//!
//! `search` shows the registry's own claims (state, approvers), labelled as
//! such: checking them needs each package's log. `info` checks every version
//! against the replica of its home's verified log (the registry's own, or a
//! mirrored origin's when its key is pinned) under this client's trust
//! policy, and shows the registry's claims beside, labelled.

use super::Ctx;
use crate::checks;
use crate::transparency::replica::Lookup;
use crate::transparency::Logs;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use serde::Serialize;
use shire_core::policy::TrustPolicy;
use shire_core::wire::{PackageInfo, VersionInfo, YankInfo};
use shire_core::{Digest, KeyId, PackageName, Version};

/// Searches the catalogue.
pub fn search(ctx: &Ctx, query: &str, limit: usize, by_adoption: bool) -> Result<Outcome> {
    let res = ctx
        .client()?
        .search(query, limit, by_adoption)
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
                if h.approved_by.is_empty() {
                    short_ids(&h.approvers)
                } else {
                    h.approved_by
                        .iter()
                        .map(|a| who(&a.account, a.org.as_ref()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                h.origin.clone(),
                h.adopters.to_string(),
                h.description.clone(),
            ]
        })
        .collect();
    output::print_table(
        &[
            "NAME",
            "LATEST",
            "STATE (claimed)",
            "APPROVERS (claimed)",
            "ORIGIN",
            "USED BY",
            "DESCRIPTION",
        ],
        &rows,
    );
    if res.total > res.results.len() {
        output::note(format!(
            "{} of {} matches shown",
            res.results.len(),
            res.total
        ));
    }
    output::note("(states and approvers are the registry's claims; `shire info NAME` checks them against the verified log)");
    Ok(Outcome::Success)
}

/// A verifier as people know it: `account (organisation)`.
fn who(account: &str, org: Option<&shire_core::OrgName>) -> String {
    match org {
        Some(o) => format!("{account} ({o})"),
        None => account.to_string(),
    }
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

/// One approval that counts, as the verified log records it.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    /// The verifier's account.
    pub account: String,
    /// Its organisation.
    pub org: Option<shire_core::OrgName>,
    /// The signing key.
    pub key_id: KeyId,
    /// The approval's note.
    pub note: Option<String>,
    /// Its log entry.
    pub log_index: u64,
}

/// One version as `info` shows it.
#[derive(Debug, Serialize)]
pub struct VersionView {
    /// The version.
    pub version: Version,
    /// The artifact digest (the logged one when the release was checked).
    pub digest: Digest,
    /// Size in bytes (the registry's).
    pub size: u64,
    /// The state the registry claims (not checked).
    pub state: String,
    /// The yank: the log's when the release was checked, else the registry's claim.
    pub yanked: Option<YankInfo>,
    /// Set when its artifact was taken down (from the log when checked).
    pub taken_down: Option<YankInfo>,
    /// The registry's word that it cannot serve an install of it here.
    pub unusable: Option<String>,
    /// When published (the registry's).
    pub published_at: String,
    /// The publisher key: the one the log registered when checked, else the registry's claim.
    pub publisher_key: KeyId,
    /// Whether the release was checked against its home's verified log
    /// (false when the log's origin key is not pinned).
    pub checked: bool,
    /// The release's entry in that log.
    pub log_index: Option<u64>,
    /// Whether the publisher's statement is the logged one and verified.
    pub release_verified: bool,
    /// Why it did not, when it did not.
    pub release_error: Option<String>,
    /// This client's standing for it (`approved`, `unapproved`, `rejected`,
    /// `revoked`, `invalid`, `unchecked`).
    pub standing: String,
    /// The standing in words.
    pub standing_detail: String,
    /// Trusted keys whose approvals the log accepted and that count.
    pub verified_approvers: Vec<KeyId>,
    /// Those approvals: who gave each, with the note.
    pub approvals: Vec<ApprovalView>,
    /// Keys the registry lists as approving (claims).
    pub claimed_approvers: Vec<KeyId>,
    /// Logged verdicts that did not count, and why.
    pub ignored_verdicts: Vec<String>,
    /// Dependencies from the signed manifest (the registry's copy when unchecked).
    pub dependencies: std::collections::BTreeMap<PackageName, shire_core::VersionReq>,
    /// A trusted revocation's advisory, from the verified log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<shire_core::statement::Advisory>,
    /// How it is maintained (publiccode's maintenance type), from the
    /// signed manifest (the registry's copy when unchecked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_type: Option<String>,
    /// Who is contracted to maintain it, and until when.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contractors: Vec<shire_core::manifest::Contractor>,
}

/// Builds the view of one version (pure): checked against `lookup`, the
/// release as its home's verified log holds it, under `policy`; `None` when
/// that log cannot be read here (its origin key is not pinned).
pub fn version_view(
    name: &PackageName,
    v: &VersionInfo,
    lookup: Option<&Lookup<'_>>,
    policy: &TrustPolicy,
) -> VersionView {
    let mut view = VersionView {
        version: v.version.clone(),
        digest: v.digest,
        size: v.size,
        state: v.state.to_string(),
        yanked: v.yanked.clone(),
        taken_down: v.taken_down.clone(),
        unusable: v.unusable.clone(),
        published_at: v.published_at.clone(),
        publisher_key: v.publisher_key.key_id.clone(),
        checked: false,
        log_index: None,
        release_verified: false,
        release_error: None,
        standing: "unchecked".into(),
        standing_detail: String::new(),
        verified_approvers: Vec::new(),
        approvals: Vec::new(),
        claimed_approvers: v
            .verdicts
            .iter()
            .filter(|x| claims_approval(&x.envelope))
            .map(|x| x.key_id.clone())
            .collect(),
        ignored_verdicts: Vec::new(),
        dependencies: v.manifest.dependencies.clone(),
        advisory: None,
        maintenance_type: v.manifest.publiccode.maintenance_type.clone(),
        contractors: v.manifest.publiccode.contractors.clone(),
    };
    let Some(lookup) = lookup else {
        return view;
    };
    view.checked = true;
    view.yanked = None;
    view.taken_down = None;
    match checks::check_version(name, &v.version, v, lookup, policy) {
        Ok(c) => {
            view.release_verified = true;
            view.log_index = Some(c.facts.index);
            view.digest = c.facts.subject.digest;
            view.publisher_key = c.facts.publisher_key.clone();
            view.dependencies = c.statement.manifest.dependencies.clone();
            let pc = &c.statement.manifest.publiccode;
            view.maintenance_type = pc.maintenance_type.clone();
            view.contractors = pc.contractors.clone();
            view.standing = checks::standing_label(&c.trust.standing).into();
            view.standing_detail = checks::standing_text(&c.trust.standing);
            view.verified_approvers = c.trust.assessment.approvals.iter().cloned().collect();
            view.approvals = c
                .facts
                .verdicts
                .iter()
                .filter(|f| {
                    f.verdict == shire_core::statement::Verdict::Approve
                        && c.trust.assessment.approvals.contains(&f.key_id)
                })
                .map(|f| ApprovalView {
                    account: f.account.clone(),
                    org: f.org.clone(),
                    key_id: f.key_id.clone(),
                    note: f.reason.clone(),
                    log_index: f.index,
                })
                .collect();
            view.ignored_verdicts = c.trust.assessment.ignored.clone();
            view.advisory = super::audit::advisory_of(&c.facts, policy).cloned();
            view.yanked = c.yanked.map(|y| YankInfo {
                reason: y.reason,
                at: y.at,
                by: y.by,
            });
            view.taken_down = c.taken_down.map(|t| YankInfo {
                reason: t.reason,
                at: t.at,
                by: t.by,
            });
        }
        Err(e) => {
            view.standing = "invalid".into();
            view.standing_detail = e.to_string();
            view.release_error = Some(e.to_string());
        }
    }
    view
}

/// Whether an envelope's (unverified) payload says "approve": for showing
/// the registry's claims only.
fn claims_approval(env: &shire_core::dsse::Envelope) -> bool {
    env.payload_bytes()
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("verdict")
                .and_then(|s| s.as_str())
                .map(|s| s == "approve")
        })
        .unwrap_or(false)
}

#[derive(Serialize)]
struct InfoView<'a> {
    name: &'a PackageName,
    description: &'a str,
    origin: &'a str,
    /// Whether the versions were checked against the origin's verified log.
    checked: bool,
    threshold: u32,
    versions: Vec<VersionView>,
    used_by: Vec<UsedByView>,
    supported_by: Vec<SupportView>,
}

/// Support both sides agreed, and whether this client found it in the
/// package's verified log (`verified`, `pending`, `absent`, `unchecked`).
#[derive(Serialize)]
struct SupportView {
    supporter: shire_core::OrgName,
    versions: String,
    until: String,
    accepted_index: u64,
    origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_offer: Option<u64>,
    standing: &'static str,
}

/// One organisation that declared it runs the package, and whether this
/// client found the declaration in the verified log of its home.
#[derive(Serialize)]
struct UsedByView {
    org: shire_core::OrgName,
    version: Version,
    digest: Digest,
    since: String,
    origin: String,
    log_index: u64,
    /// `verified` (the adopter's home log holds exactly this adoption, of a
    /// release the package's log holds), `pending` (past the checkpoint this
    /// client verified), `absent` (the home log does not hold it: the
    /// registry's claim is false), `wrong_release` (the adoption names a
    /// release the package's verified log does not hold) or `unchecked`
    /// (a log this client cannot read: its node key is not pinned).
    standing: &'static str,
    /// Why, for `unchecked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// Checks each "used by" entry against the verified log of the adopter's
/// home, and its release against `releases`, the package's releases as its
/// own verified log holds them (`None`: that log was not checked).
fn used_by_views(
    logs: &mut Logs<'_>,
    name: &PackageName,
    used_by: &[shire_core::wire::AdoptionInfo],
    releases: Option<&std::collections::BTreeMap<Version, Digest>>,
) -> Result<Vec<UsedByView>> {
    let mut out = Vec::new();
    for a in used_by {
        let mut note = None;
        let standing = if !logs.can_check(&a.origin)? {
            "unchecked"
        } else {
            match logs.of(&a.origin, &name.to_string()) {
                Err(e) => {
                    note = Some(crate::output::error_line(&e));
                    "unchecked"
                }
                Ok(replica) if a.log_index >= replica.size() => "pending",
                Ok(replica) => {
                    let held = replica.ledger().adoptions_of(name).any(|f| {
                        f.org == a.org
                            && f.index == a.log_index
                            && f.subject.version == a.version
                            && f.subject.digest == a.digest
                    });
                    let release_ok = releases.is_none_or(|r| r.get(&a.version) == Some(&a.digest));
                    match (held, release_ok) {
                        (false, _) => "absent",
                        (true, false) => "wrong_release",
                        (true, true) => "verified",
                    }
                }
            }
        };
        out.push(UsedByView {
            org: a.org.clone(),
            version: a.version.clone(),
            digest: a.digest,
            since: a.since.clone(),
            origin: a.origin.clone(),
            log_index: a.log_index,
            standing,
            note,
        });
    }
    Ok(out)
}

/// Shows a package and every version, checked against its home's verified log.
pub fn info(ctx: &Ctx, name: &PackageName) -> Result<Outcome> {
    let client = ctx.client()?;
    let pkg: PackageInfo = match client.package(name) {
        Ok(p) => p,
        Err(e) if e.is_not_found() => anyhow::bail!(super::unknown_package(&client, name)),
        Err(e) => return Err(e).with_context(|| format!("looking up {name}")),
    };
    let policy = ctx.home.load_trust()?;
    let log = ctx.verified_log(&client)?;
    let mut logs = Logs::open(&ctx.home, &client, &ctx.registry, &log)?;
    let replica = if logs.can_check(&pkg.origin)? {
        Some(logs.of(&pkg.origin, &name.to_string())?)
    } else {
        None
    };
    let versions: Vec<VersionView> = pkg
        .versions
        .iter()
        .map(|v| {
            let lookup = replica.map(|r| r.lookup(name, &v.version));
            version_view(name, v, lookup.as_ref(), &policy)
        })
        .collect();
    let checked = replica.is_some();
    // Each agreed support, found (or not) in the package's verified log.
    let supports: Vec<SupportView> = pkg
        .supported_by
        .iter()
        .map(|s| {
            let standing = match replica {
                None => "unchecked",
                Some(r) if s.accepted_index >= r.size() => "pending",
                Some(r) => {
                    let held = r.ledger().supports_of(name).any(|f| {
                        f.supporter == s.supporter
                            && f.agreed.as_ref().is_some_and(|a| {
                                a.accepted_index == s.accepted_index
                                    && a.until == s.until
                                    && a.versions == s.versions
                            })
                    });
                    if held {
                        "verified"
                    } else {
                        "absent"
                    }
                }
            };
            SupportView {
                supporter: s.supporter.clone(),
                versions: s.versions.to_string(),
                until: s.until.clone(),
                accepted_index: s.accepted_index,
                origin: s.origin.clone(),
                pending_offer: s.pending_offer,
                standing,
            }
        })
        .collect();
    let releases: Option<std::collections::BTreeMap<Version, Digest>> = checked.then(|| {
        versions
            .iter()
            .filter(|v| v.release_verified)
            .map(|v| (v.version.clone(), v.digest))
            .collect()
    });
    let used_by = used_by_views(&mut logs, name, &pkg.used_by, releases.as_ref())?;
    if ctx.json {
        output::json(&InfoView {
            name,
            description: &pkg.description,
            origin: &pkg.origin,
            checked,
            threshold: policy.threshold,
            versions,
            used_by,
            supported_by: supports,
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
                match v.standing.as_str() {
                    "invalid" => "INVALID".into(),
                    s => s.to_string(),
                },
                if v.approvals.is_empty() {
                    "-".to_string()
                } else {
                    v.approvals
                        .iter()
                        .map(|a| who(&a.account, a.org.as_ref()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                short_ids(&claimed_only),
                match (&v.taken_down, &v.yanked, &v.unusable) {
                    (Some(t), _, _) => format!("TAKEN DOWN: {}", t.reason),
                    (None, Some(y), _) => format!("yanked: {}", y.reason),
                    (None, None, Some(u)) => format!("not installable here: {u}"),
                    (None, None, None) => String::new(),
                },
            ]
        })
        .collect();
    output::print_table(
        &[
            "VERSION",
            "REGISTRY SAYS",
            "TRUST",
            "VERIFIED APPROVERS",
            "CLAIMED ONLY",
            "NOTE",
        ],
        &rows,
    );
    for v in versions.iter().rev() {
        for a in &v.approvals {
            output::line(format!(
                "  {}: approved by {} with key {} (log entry {}){}",
                v.version,
                who(&a.account, a.org.as_ref()),
                a.key_id.short(),
                a.log_index,
                a.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(e) = &v.release_error {
            output::line(format!("  {}: {e}", v.version));
        } else if v.checked && v.standing != "approved" {
            output::line(format!("  {}: {}", v.version, v.standing_detail));
        }
        if let Some(a) = &v.advisory {
            output::line(format!(
                "  {}: {}",
                v.version,
                super::audit::advisory_text(a)
            ));
        }
    }
    if let Some(newest) = versions.last() {
        if let Some(t) = &newest.maintenance_type {
            output::line(format!("maintenance ({}): {t}", newest.version));
        }
        let today = crate::support::today();
        for c in &newest.contractors {
            let ended = shire_core::manifest::parse_date(&c.until).is_some_and(|d| d < today);
            output::line(format!(
                "  contractor {} until {}{}",
                c.name,
                c.until,
                if ended { " (ENDED)" } else { "" }
            ));
        }
    }
    if !supports.is_empty() {
        output::line("supported by:");
        for s in &supports {
            output::line(format!(
                "  {} supports {} until {} (accepted at log entry {} on {}: {}){}",
                s.supporter,
                s.versions,
                s.until,
                s.accepted_index,
                s.origin,
                match s.standing {
                    "verified" => "verified in its log",
                    "pending" => "logged after the checkpoint verified here",
                    "absent" => "NOT IN ITS LOG: the registry's claim is false",
                    _ => "unchecked",
                },
                s.pending_offer
                    .map(|i| format!("; a new offer (log entry {i}) awaits acceptance"))
                    .unwrap_or_default()
            ));
        }
    }
    if !used_by.is_empty() {
        output::line("used by:");
        for u in &used_by {
            output::line(format!(
                "  {} runs {} since {} (log entry {} on {}: {})",
                u.org,
                u.version,
                u.since,
                u.log_index,
                u.origin,
                match (u.standing, &u.note) {
                    ("verified", _) => "verified in its log".to_string(),
                    ("pending", _) => "logged after the checkpoint verified here".to_string(),
                    ("absent", _) => "NOT IN ITS LOG: the registry's claim is false".to_string(),
                    ("wrong_release", _) =>
                        "NAMES A RELEASE THE PACKAGE'S LOG DOES NOT HOLD".to_string(),
                    (_, Some(n)) => format!("unchecked: {n}"),
                    _ => "unchecked: pin its node key to check".to_string(),
                }
            ));
        }
    }
    if checked {
        output::line(format!(
            "(trust: from the verified log of {}; verified approvers are keys in your trust file whose approvals the log accepted; threshold {} distinct verifiers)",
            pkg.origin, policy.threshold
        ));
    } else {
        output::line(format!(
            "(NOT CHECKED: {name} is home on {0}; pin {0}'s node key with `shire trust node {0} KEY` to check it against {0}'s log. Everything above is the registry's claim.)",
            pkg.origin
        ));
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;
    use crate::transparency::testlog::cast;
    use shire_core::statement::{Verdict, VerdictStatement};
    use shire_core::KeyPair;

    #[test]
    fn info_takes_approvals_from_the_log_and_labels_the_registry_s_claims() {
        let mut c = cast();
        let stranger = KeyPair::generate();
        let mut r = c.release("braintree/crm", "1.0.0");
        c.approve(&mut r);
        // The registry also lists an approval the log never accepted, and a
        // forged one claiming the trusted key.
        let mut info = r.info.clone();
        add_verdict(&mut info, &stranger, Verdict::Approve);
        let subject = c
            .log
            .replica()
            .logged(&r.name, &r.version)
            .unwrap()
            .facts
            .subject
            .clone();
        let mut forged =
            VerdictStatement::new(Verdict::Approve, subject, c.log.name(), None, 1).sign(&stranger);
        forged.signatures[0].keyid = c.verifier.key_id().to_string();
        push_envelope(&mut info, &c.verifier, forged);

        let replica = c.log.replica();
        let lookup = replica.lookup(&r.name, &r.version);
        let view = version_view(&r.name, &info, Some(&lookup), &policy(&[&c.verifier], 2));
        assert!(view.checked && view.release_verified);
        assert_eq!(view.verified_approvers, vec![c.verifier.key_id()]);
        assert_eq!(view.claimed_approvers.len(), 3);
        assert_eq!(view.standing, "unapproved");
        assert_eq!(view.log_index, r.info.log_index);

        // A release whose statement is not the logged one is shown as invalid.
        let mut bad = info.clone();
        bad.digest = shire_core::Digest::of(b"other");
        let view = version_view(&r.name, &bad, Some(&lookup), &policy(&[&c.verifier], 1));
        assert!(!view.release_verified);
        assert_eq!(view.standing, "invalid");
        assert!(view.verified_approvers.is_empty());

        // A log this client cannot read: nothing is decided.
        let view = version_view(&r.name, &info, None, &policy(&[&c.verifier], 1));
        assert!(!view.checked);
        assert_eq!(view.standing, "unchecked");
        assert!(view.verified_approvers.is_empty());
    }
}
