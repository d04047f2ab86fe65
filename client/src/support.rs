//! Whether an installed release is still supported: the contractors its
//! signed manifest names (publiccode.yml's `maintenance.contractors`), and
//! the last day any of them is contracted for. `shire audit` and
//! `shire outdated` warn when that day has passed, or comes within
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

/// The warning for `manifest` on `today` (pure): none when it names no
/// contractor, or the last contract runs beyond [`WARN_DAYS`].
pub fn warning(manifest: &Manifest, today: Date) -> Option<SupportWarning> {
    let contractors = &manifest.publiccode.contractors;
    let last = contractors
        .iter()
        .filter_map(|c| parse_date(&c.until))
        .max()?;
    let names = contractors
        .iter()
        .filter(|c| parse_date(&c.until) == Some(last))
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let left = (last - today).whole_days();
    if left < 0 {
        Some(SupportWarning {
            kind: "support_ended",
            detail: format!("its maintenance contract ({names}) ended on {last}"),
        })
    } else if left <= WARN_DAYS {
        Some(SupportWarning {
            kind: "support_ending",
            detail: format!("its maintenance contract ({names}) ends on {last}, in {left} day(s)"),
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
    warning(&statement.manifest, today())
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
        assert_eq!(warning(&manifest(&[]), today), None);
        assert_eq!(warning(&manifest(&[("Delt", "2027-06-30")]), today), None);
        let soon = warning(&manifest(&[("Delt", "2027-03-01")]), today).unwrap();
        assert_eq!(soon.kind, "support_ending");
        assert!(soon.detail.contains("Delt") && soon.detail.contains("in 89 day(s)"));
        let ended = warning(&manifest(&[("Delt", "2026-12-01")]), today).unwrap();
        assert_eq!(ended.kind, "support_ended");
        // The latest contract counts: one still running covers an ended one.
        assert_eq!(
            warning(
                &manifest(&[("Old", "2020-01-01"), ("Delt", "2028-01-01")]),
                today
            ),
            None
        );
        let ending_today = warning(&manifest(&[("Delt", "2026-12-02")]), today).unwrap();
        assert_eq!(ending_today.kind, "support_ending");
    }
}
