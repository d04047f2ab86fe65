//! Whether an installed release is still supported: the contractors its
//! signed manifest names (publiccode.yml's `maintenance.contractors`), and
//! the support offers the package's organisation accepted in its home log
//! that cover the version; the last day any of them runs to. `shire audit`
//! and `shire outdated` warn when that day has passed, or comes within
//! [`WARN_DAYS`].

use crate::api::Client;
use crate::checks;
use crate::lockfile::LockedPackage;
use crate::transparency::Logs;
use shire_core::manifest::{parse_date, Manifest};
use time::Date;

/// How far ahead the end of support is warned about.
pub const WARN_DAYS: i64 = 90;

/// What to tell the user about a release's support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportWarning {
    /// `support_ended` or `support_ending`.
    pub kind: &'static str,
    /// For a person.
    pub detail: String,
}

/// Who supports a release and until when: its manifest's contractors,
/// then `accepted` (supporters whose accepted offers cover the version).
pub fn ends(manifest: &Manifest, accepted: &[(String, String)]) -> Vec<(String, Date)> {
    manifest
        .publiccode
        .contractors
        .iter()
        .map(|c| (c.name.clone(), c.until.clone()))
        .chain(accepted.iter().cloned())
        .filter_map(|(name, until)| parse_date(&until).map(|d| (name, d)))
        .collect()
}

/// The warning on `today` (pure): none when nobody supports the release, or
/// the last support runs beyond [`WARN_DAYS`].
pub fn warning(ends: &[(String, Date)], today: Date) -> Option<SupportWarning> {
    let last = ends.iter().map(|(_, d)| *d).max()?;
    let names = ends
        .iter()
        .filter(|(_, d)| *d == last)
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let left = (last - today).whole_days();
    if left < 0 {
        Some(SupportWarning {
            kind: "support_ended",
            detail: format!("its support ({names}) ended on {last}"),
        })
    } else if left <= WARN_DAYS {
        Some(SupportWarning {
            kind: "support_ending",
            detail: format!("its support ({names}) ends on {last}, in {left} day(s)"),
        })
    } else {
        None
    }
}

/// Today's date (UTC).
pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// The support warning for an installed package, from the manifest its
/// home's verified log holds (none when the release cannot be read or
/// checked: the audit reports that on its own).
pub fn for_installed(
    client: &Client,
    logs: &mut Logs<'_>,
    origin: &str,
    p: &LockedPackage,
) -> Option<SupportWarning> {
    let info = client.version(&p.name, &p.version).ok()?;
    let release = format!("{}@{}", p.name, p.version);
    let replica = logs.of(origin, &release).ok()?;
    let statement = checks::verify_in_log(
        &p.name,
        &p.version,
        &info,
        &replica.lookup(&p.name, &p.version),
    )
    .ok()?;
    let accepted: Vec<(String, String)> = replica
        .ledger()
        .supports_of(&p.name)
        .filter_map(|s| s.agreed.as_ref().map(|a| (s, a)))
        .filter(|(_, a)| a.versions.matches(&p.version))
        .map(|(s, a)| (s.supporter.to_string(), a.until.clone()))
        .collect();
    warning(&ends(&statement.manifest, &accepted), today())
}

/// The support warnings of every package `lock` pins, by `org/name@version`.
pub fn for_lock(
    ctx: &crate::commands::Ctx,
    lock: &crate::lockfile::Lockfile,
) -> anyhow::Result<Vec<(String, SupportWarning)>> {
    let client = ctx.client()?;
    let log = ctx.verified_log(&client)?;
    let mut logs = Logs::open(&ctx.home, &client, &ctx.registry, &log)?;
    let own = logs.own_origin().to_string();
    let mut out = Vec::new();
    for p in &lock.packages {
        let origin = p.origin.clone().unwrap_or_else(|| own.clone());
        if let Some(w) = for_installed(&client, &mut logs, &origin, p) {
            out.push((format!("{}@{}", p.name, p.version), w));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::manifest::Contractor;
    use shire_core::PackageName;

    fn manifest(untils: &[(&str, &str)]) -> Manifest {
        let mut m = Manifest::skeleton(PackageName::parse("braintree/crm").unwrap());
        m.publiccode.contractors = untils
            .iter()
            .map(|(name, until)| Contractor {
                name: name.to_string(),
                until: until.to_string(),
                email: None,
                website: None,
            })
            .collect();
        m
    }

    #[test]
    fn warns_once_support_ends_within_ninety_days() {
        let today = parse_date("2026-12-02").unwrap();
        let w = |contractors: &[(&str, &str)], accepted: &[(&str, &str)]| {
            let accepted: Vec<(String, String)> = accepted
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            warning(&ends(&manifest(contractors), &accepted), today)
        };
        assert_eq!(w(&[], &[]), None);
        assert_eq!(w(&[("Delt", "2027-06-30")], &[]), None);
        let soon = w(&[("Delt", "2027-03-01")], &[]).unwrap();
        assert_eq!(soon.kind, "support_ending");
        assert!(soon.detail.contains("Delt") && soon.detail.contains("in 89 day(s)"));
        let ended = w(&[("Delt", "2026-12-01")], &[]).unwrap();
        assert_eq!(ended.kind, "support_ended");
        // The latest support counts: one still running covers an ended one,
        // whether a contractor or an accepted support offer.
        assert_eq!(
            w(&[("Old", "2020-01-01"), ("Delt", "2028-01-01")], &[]),
            None
        );
        assert_eq!(w(&[("Old", "2020-01-01")], &[("eks", "2028-01-01")]), None);
        let by_offer = w(&[], &[("eks", "2027-01-01")]).unwrap();
        assert!(by_offer.detail.contains("eks"), "{by_offer:?}");
        let ending_today = w(&[("Delt", "2026-12-02")], &[]).unwrap();
        assert_eq!(ending_today.kind, "support_ending");
    }
}
