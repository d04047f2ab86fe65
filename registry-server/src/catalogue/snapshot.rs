//! The catalogue's read model: one read of the stored packages and
//! releases, giving what pages need across packages (search facets, recent
//! events, who depends on what, counts). Everything it holds comes from
//! logged events (releases, verdicts, yanks, takedowns, organisations,
//! keys), in this node's log or a mirrored one, and logs only grow: a
//! snapshot is kept for the log sizes it was read at ([`Fingerprint`]) and
//! rebuilt once any of them has grown, so it never shows less than the
//! records do, while writes that log nothing (a peer's status, a webhook's
//! cursor) leave it standing.

use crate::store::records::{PackageRecord, ReleaseRecord, YankRecord};
use crate::store::{Store, StoreError};
use shire_core::statement::{Advisory, Verdict};
use shire_core::wire::ReleaseState;
use shire_core::{OrgName, PackageName, Version};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// What one package looks like to the search page.
#[derive(Debug, Clone)]
pub struct PackageSummary {
    /// Its id in the search index.
    pub id: u32,
    /// `org/name`.
    pub name: PackageName,
    /// The latest version's description.
    pub description: String,
    /// The version shown ([`shown_release`]).
    pub latest: Version,
    /// Its state.
    pub state: ReleaseState,
    /// Whether that version is yanked (every version is, then).
    pub yanked: bool,
    /// Whether the operator took that version's artifact down.
    pub taken_down: bool,
    /// When the package last changed: a publish, verdict or yank (RFC 3339).
    pub updated_at: String,
    /// The same as nanoseconds since 1970, for ordering.
    pub updated_ns: i128,
    /// The node it is home on.
    pub origin: String,
    /// publiccode categories.
    pub categories: Vec<String>,
    /// publiccode development status.
    pub development_status: Option<String>,
    /// publiccode maintenance type.
    pub maintenance_type: Option<String>,
    /// SPDX licence expression.
    pub licence: String,
    /// The verifiers who approved the version shown, with their organisations.
    pub approved_by: Vec<(String, Option<OrgName>)>,
}

/// What happened to a release, as feeds and recent lists show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A verifier approved it.
    Approved,
    /// A verifier rejected it.
    Rejected,
    /// A verifier revoked it.
    Revoked,
    /// Its publisher yanked it.
    Yanked,
    /// The node's operator took its artifact down.
    TakenDown,
}

impl EventKind {
    /// The word pages show.
    pub fn word(self) -> &'static str {
        match self {
            EventKind::Approved => "approved",
            EventKind::Rejected => "rejected",
            EventKind::Revoked => "revoked",
            EventKind::Yanked => "yanked",
            EventKind::TakenDown => "taken down",
        }
    }
}

/// One event about one release.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The package.
    pub package: PackageName,
    /// The version.
    pub version: Version,
    /// When (RFC 3339).
    pub at: String,
    /// The account that did it.
    pub by: String,
    /// That account's organisation, for verdicts.
    pub by_org: Option<OrgName>,
    /// The reason or note given.
    pub reason: Option<String>,
    /// A revocation's advisory.
    pub advisory: Option<Advisory>,
    /// The statement's index in its origin's log (verdicts).
    pub log_index: Option<u64>,
    /// The package's home node.
    pub origin: String,
}

/// The catalogue's cross-package view, as of one [`Fingerprint`].
#[derive(Debug, Default)]
pub struct Snapshot {
    fingerprint: Fingerprint,
    /// Every package, by name.
    pub packages: Vec<PackageSummary>,
    /// Index into `packages` by search id.
    by_id: HashMap<u32, usize>,
    /// Index into `packages` by name.
    by_name: HashMap<PackageName, usize>,
    /// Every event, newest first.
    pub events: Vec<Event>,
    /// Packages whose some version depends on the key.
    pub dependents: HashMap<PackageName, BTreeSet<PackageName>>,
    /// Distinct organisations that hold packages or are created here.
    pub org_count: usize,
    /// Distinct verifier accounts with a registered key or a verdict.
    pub verifier_count: usize,
    /// Releases in all.
    pub release_count: usize,
}

impl Snapshot {
    /// Reads every package and release, one package's releases at a time.
    fn build(
        store: &Store,
        fingerprint: Fingerprint,
        own_origin: &str,
    ) -> Result<Snapshot, StoreError> {
        let mut snap = Snapshot {
            fingerprint,
            ..Snapshot::default()
        };
        let mut packages: HashMap<PackageName, PackageRecord> = store
            .all_packages()?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        let mut orgs: BTreeSet<OrgName> = store.orgs()?.into_iter().map(|o| o.name).collect();
        let mut verifiers: BTreeSet<(String, Option<OrgName>)> = store
            .verifier_keys()?
            .into_iter()
            .map(|(_, a)| (a.username, a.org))
            .collect();
        let mut group: Vec<ReleaseRecord> = Vec::new();
        let mut add = |snap: &mut Snapshot, group: &mut Vec<ReleaseRecord>| {
            let Some(pkg) = group.first().and_then(|r| packages.remove(&r.name)) else {
                group.clear();
                return;
            };
            snap.add_package(
                pkg,
                std::mem::take(group),
                own_origin,
                &mut orgs,
                &mut verifiers,
            );
        };
        store.for_each_release(|r| {
            snap.release_count += 1;
            if group.first().is_some_and(|g| g.name != r.name) {
                add(&mut snap, &mut group);
            }
            group.push(r);
            Ok(())
        })?;
        add(&mut snap, &mut group);
        snap.packages.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, p) in snap.packages.iter().enumerate() {
            snap.by_id.insert(p.id, i);
            snap.by_name.insert(p.name.clone(), i);
        }
        // Times are compared as instants: stored times trim their fractions.
        snap.events
            .sort_by_cached_key(|e| std::cmp::Reverse(instant(&e.at)));
        snap.org_count = orgs.len();
        snap.verifier_count = verifiers.len();
        Ok(snap)
    }

    /// Adds one package and its releases.
    fn add_package(
        &mut self,
        pkg: PackageRecord,
        mut rels: Vec<ReleaseRecord>,
        own_origin: &str,
        orgs: &mut BTreeSet<OrgName>,
        verifiers: &mut BTreeSet<(String, Option<OrgName>)>,
    ) {
        let origin = pkg.origin.clone().unwrap_or_else(|| own_origin.to_string());
        rels.sort_by(|a, b| a.version.cmp(&b.version));
        let mut updated = (i128::MIN, String::new());
        let mut later = |at: &str| {
            let ns = instant(at);
            if ns > updated.0 {
                updated = (ns, at.to_string());
            }
        };
        for r in &rels {
            for e in events_of(r, &origin) {
                later(&e.at);
                if let (Some(org), true) = (&e.by_org, e.kind != EventKind::Yanked) {
                    verifiers.insert((e.by.clone(), Some(org.clone())));
                }
                self.events.push(e);
            }
            later(&r.published_at);
            for dep in r.manifest.dependencies.keys() {
                self.dependents
                    .entry(dep.clone())
                    .or_default()
                    .insert(pkg.name.clone());
            }
        }
        let Some(shown) = shown_release(&rels) else {
            return;
        };
        orgs.insert(pkg.name.org().clone());
        let m = &shown.manifest;
        let pc = &m.publiccode;
        self.packages.push(PackageSummary {
            id: pkg.id,
            description: m.package.description.clone(),
            latest: shown.version.clone(),
            state: shown.state,
            yanked: shown.yanked.is_some(),
            taken_down: shown.taken_down.is_some(),
            updated_at: updated.1,
            updated_ns: updated.0,
            origin,
            categories: pc.categories.clone(),
            development_status: pc.development_status.clone(),
            maintenance_type: pc.maintenance_type.clone(),
            licence: m.package.license.clone(),
            approved_by: shown
                .verdicts
                .iter()
                .filter(|v| v.fact.verdict == Verdict::Approve)
                .map(|v| (v.fact.account.clone(), v.fact.org.clone()))
                .collect(),
            name: pkg.name,
        });
    }

    /// The package with search id `id`.
    pub fn by_id(&self, id: u32) -> Option<&PackageSummary> {
        self.by_id.get(&id).map(|i| &self.packages[*i])
    }

    /// The package named `name`.
    pub fn by_name(&self, name: &PackageName) -> Option<&PackageSummary> {
        self.by_name.get(name).map(|i| &self.packages[*i])
    }

    /// Package names close to `wanted` (same bare name, or a small edit
    /// away), best first: the "did you mean" of a 404.
    pub fn suggestions(&self, wanted: &str, limit: usize) -> Vec<PackageName> {
        // No package name is longer: a longer path is like none of them.
        if wanted.len() > MAX_SUGGESTED_LEN {
            return Vec::new();
        }
        let wanted = wanted.to_lowercase();
        let bare = wanted.rsplit('/').next().unwrap_or(&wanted).to_string();
        let mut scored: Vec<(usize, &PackageName)> = self
            .packages
            .iter()
            .filter_map(|p| {
                let full = p.name.to_string();
                let d =
                    edit_distance(&wanted, &full, 3).min(edit_distance(&bare, p.name.name(), 3));
                (d <= 2 || (bare.len() >= 3 && p.name.name().contains(&bare)))
                    .then_some((d, &p.name))
            })
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(limit)
            .map(|(_, n)| n.clone())
            .collect()
    }
}

/// An RFC 3339 time as nanoseconds since 1970 (the earliest for one that
/// does not parse).
pub fn instant(at: &str) -> i128 {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos())
        .unwrap_or(i128::MIN)
}

/// Longest path compared with package names for suggestions.
const MAX_SUGGESTED_LEN: usize = 130;

/// The release a package is shown by: the newest that can be installed
/// (approved, not yanked, not taken down); else the newest awaiting review;
/// else the newest not yanked; else the newest. A newer pending, rejected or
/// revoked release never takes the place of an approved one.
pub fn shown_release(releases: &[ReleaseRecord]) -> Option<&ReleaseRecord> {
    let newest = |f: &dyn Fn(&ReleaseRecord) -> bool| {
        releases
            .iter()
            .filter(|r| f(r))
            .max_by(|a, b| a.version.cmp(&b.version))
    };
    newest(&approved_and_present)
        .or_else(|| newest(&|r| present(r) && r.state == ReleaseState::Pending))
        .or_else(|| newest(&|r| r.yanked.is_none()))
        .or_else(|| newest(&|_| true))
}

/// Whether a release is neither yanked nor taken down.
fn present(r: &ReleaseRecord) -> bool {
    r.yanked.is_none() && r.taken_down.is_none()
}

/// Whether a release is approved and present: installable on its own (its
/// dependencies aside).
pub fn approved_and_present(r: &ReleaseRecord) -> bool {
    present(r) && r.state == ReleaseState::Approved
}

/// Every verdict, yank and takedown of one release.
pub(crate) fn events_of(r: &ReleaseRecord, origin: &str) -> Vec<Event> {
    let base = |kind, y: &YankRecord| Event {
        kind,
        package: r.name.clone(),
        version: r.version.clone(),
        at: y.at.clone(),
        by: y.by.clone(),
        by_org: None,
        reason: Some(y.reason.clone()),
        advisory: None,
        log_index: None,
        origin: origin.to_string(),
    };
    let mut out: Vec<Event> = r
        .verdicts
        .iter()
        .map(|v| Event {
            kind: match v.fact.verdict {
                Verdict::Approve => EventKind::Approved,
                Verdict::Reject => EventKind::Rejected,
                Verdict::Revoke => EventKind::Revoked,
            },
            package: r.name.clone(),
            version: r.version.clone(),
            at: v.at.clone(),
            by: v.fact.account.clone(),
            by_org: v.fact.org.clone(),
            reason: v.fact.reason.clone(),
            advisory: v.fact.advisory.clone(),
            log_index: Some(v.fact.index),
            origin: origin.to_string(),
        })
        .collect();
    if let Some(y) = &r.yanked {
        out.push(base(EventKind::Yanked, y));
    }
    if let Some(y) = &r.taken_down {
        out.push(base(EventKind::TakenDown, y));
    }
    out
}

/// Levenshtein distance between `a` and `b`, capped at `cap + 1`.
fn edit_distance(a: &str, b: &str, cap: usize) -> usize {
    if a.len().abs_diff(b.len()) > cap * 4 {
        return cap + 1;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > cap {
        return cap + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()].min(cap + 1)
}

/// The sizes of every log the node holds when a snapshot was read: this
/// node's own, and the sum of the mirrored ones (each only grows, so the
/// sum changes whenever one does).
pub type Fingerprint = (u64, u64);

/// The current [`Fingerprint`].
fn fingerprint(store: &Store) -> Result<Fingerprint, StoreError> {
    let mirrored = store
        .mirror_records()?
        .iter()
        .map(|(_, r)| r.size)
        .fold(0u64, u64::saturating_add);
    Ok((store.log_size()?, mirrored))
}

/// Holds the latest snapshot and builds a new one when a log has grown;
/// one build at a time.
#[derive(Default)]
pub struct Snapshots {
    current: RwLock<Option<Arc<Snapshot>>>,
    building: Mutex<()>,
}

impl Snapshots {
    /// The held snapshot, if no log has grown since it was read. Cheap: two
    /// small reads.
    pub fn fresh(&self, store: &Store) -> Result<Option<Arc<Snapshot>>, StoreError> {
        let now = fingerprint(store)?;
        Ok(self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|s| s.fingerprint == now)
            .cloned())
    }

    /// A snapshot no older than the last logged change. Blocking: may read
    /// every release (call it off the async workers).
    pub fn get(&self, store: &Store, own_origin: &str) -> Result<Arc<Snapshot>, StoreError> {
        if let Some(s) = self.fresh(store)? {
            return Ok(s);
        }
        let _one = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = self.fresh(store)? {
            return Ok(s);
        }
        // Read the sizes before the records: a change logged meanwhile
        // makes the next read rebuild.
        let at = fingerprint(store)?;
        let snap = Arc::new(Snapshot::build(store, at, own_origin)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(snap.clone());
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::{edit_distance, PackageSummary, Snapshot};
    use shire_core::wire::ReleaseState;
    use shire_core::PackageName;

    fn snapshot(names: &[&str]) -> Snapshot {
        let mut s = Snapshot::default();
        for (i, n) in names.iter().enumerate() {
            let name = PackageName::parse(n).unwrap();
            s.by_name.insert(name.clone(), i);
            s.packages.push(PackageSummary {
                id: i as u32,
                name,
                description: String::new(),
                latest: "1.0.0".parse().unwrap(),
                state: ReleaseState::Approved,
                yanked: false,
                taken_down: false,
                updated_at: String::new(),
                updated_ns: 0,
                origin: String::new(),
                categories: vec![],
                development_status: None,
                maintenance_type: None,
                licence: String::new(),
                approved_by: vec![],
            });
        }
        s
    }

    #[test]
    fn suggestions_are_close_names_and_long_paths_get_none() {
        let s = snapshot(&[
            "braintree/crm-lite",
            "braintree/forms",
            "kent/crm-lite-plus",
        ]);
        let names = |w: &str| -> Vec<String> {
            s.suggestions(w, 5).iter().map(|n| n.to_string()).collect()
        };
        assert_eq!(names("braintree/crm-lit")[0], "braintree/crm-lite");
        assert!(names("braintree/crm-lit").contains(&"kent/crm-lite-plus".to_string()));
        assert_eq!(names("forms"), vec!["braintree/forms"]);
        assert!(names(&"a".repeat(64_000)).is_empty());
        assert!(names(&format!("braintree/{}", "crm-lite".repeat(20))).is_empty());
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("crm-lite", "crm-lite", 3), 0);
        assert_eq!(edit_distance("crm-lit", "crm-lite", 3), 1);
        assert_eq!(edit_distance("crm-lite", "cmr-lite", 3), 2);
        assert_eq!(edit_distance("a", "abcdefgh", 3), 4);
    }
}
