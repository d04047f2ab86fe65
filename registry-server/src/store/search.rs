//! The search index: an inverted index in the `search` tree.
//!
//! Each key is `term \0 org/name` and its value one byte, the weight of the
//! field the term came from (name > keyword/category > description). A query is
//! split into terms the same way; each query term is looked up by a prefix scan
//! (so `crm` finds `crm-lite`'s `crm` and `crmx`), every query term must match,
//! and packages are ranked by summed weight, exact terms above prefixes. An
//! exact package-name match always leads. No query ever scans the packages
//! tree: the work is bounded by [`MAX_SCAN`] index entries per query term.

use super::db::{Tx, TxResult, T};
use super::records::PackageRecord;
use crate::error::ApiError;
use shire_core::PackageName;
use std::collections::{BTreeMap, HashMap};

/// Weight of a term from the package name.
pub const NAME_WEIGHT: u8 = 8;
/// Weight of a term from a keyword or category.
pub const TAG_WEIGHT: u8 = 4;
/// Weight of a term from the description.
pub const DESCRIPTION_WEIGHT: u8 = 1;
/// Most index entries read per query term.
pub const MAX_SCAN: usize = 20_000;
/// Most distinct description words indexed per package.
const MAX_DESCRIPTION_TERMS: usize = 200;

/// Splits text into lowercase alphanumeric words of at least two characters.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
}

/// The terms a package is indexed under, each with its best weight.
pub fn terms(p: &PackageRecord) -> BTreeMap<String, u8> {
    let mut out: BTreeMap<String, u8> = BTreeMap::new();
    fn add(out: &mut BTreeMap<String, u8>, t: String, w: u8) {
        let e = out.entry(t).or_insert(0);
        *e = (*e).max(w);
    }
    add(&mut out, p.name.org().as_str().to_string(), NAME_WEIGHT);
    add(&mut out, p.name.name().to_string(), NAME_WEIGHT);
    for w in words(p.name.name()) {
        add(&mut out, w, NAME_WEIGHT);
    }
    for tag in p.keywords.iter().chain(&p.categories) {
        let whole = tag.trim().to_lowercase();
        if whole.chars().count() >= 2 && !whole.contains('\0') {
            add(&mut out, whole, TAG_WEIGHT);
        }
        for w in words(tag) {
            add(&mut out, w, TAG_WEIGHT);
        }
    }
    let mut seen = 0;
    for w in words(&p.description) {
        if seen >= MAX_DESCRIPTION_TERMS {
            break;
        }
        if !out.contains_key(&w) {
            seen += 1;
        }
        add(&mut out, w, DESCRIPTION_WEIGHT);
    }
    out
}

fn entry_key(term: &str, name: &PackageName) -> Vec<u8> {
    let mut k = term.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(name.to_string().as_bytes());
    k
}

/// Replaces a package's index entries (inside the publish transaction).
pub fn reindex(tx: &Tx<'_>, old: Option<&PackageRecord>, new: &PackageRecord) -> TxResult<()> {
    let new_terms = terms(new);
    if let Some(old) = old {
        for t in terms(old).keys() {
            if !new_terms.contains_key(t) {
                tx.remove(T::Search, &entry_key(t, &old.name))?;
            }
        }
    }
    for (t, w) in &new_terms {
        tx.put_raw(T::Search, &entry_key(t, &new.name), vec![*w])?;
    }
    Ok(())
}

/// Packages matching `query`, best first, with the number matched in all.
/// `exact` is the package whose name the query is exactly, if it exists.
pub fn query(
    tree: &sled::Tree,
    query: &str,
    exact: Option<&PackageName>,
) -> Result<Vec<PackageName>, ApiError> {
    let qterms: Vec<String> = {
        let mut v: Vec<String> = words(query).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut scores: HashMap<String, (usize, u32)> = HashMap::new();
    for (i, q) in qterms.iter().enumerate() {
        let mut best: HashMap<String, u32> = HashMap::new();
        for item in tree.scan_prefix(q.as_bytes()).take(MAX_SCAN) {
            let (k, v) = item?;
            let Some(sep) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let term = &k[..sep];
            let Ok(pkg) = std::str::from_utf8(&k[sep + 1..]) else {
                continue;
            };
            let weight = u32::from(v.first().copied().unwrap_or(1));
            // An exact term counts double a prefix match.
            let score = if term == q.as_bytes() {
                weight * 2
            } else {
                weight
            };
            let e = best.entry(pkg.to_string()).or_insert(0);
            *e = (*e).max(score);
        }
        for (pkg, s) in best {
            // Only packages matched by every earlier term stay in the running.
            match scores.get_mut(&pkg) {
                Some(entry) if entry.0 == i => {
                    entry.0 += 1;
                    entry.1 += s;
                }
                None if i == 0 => {
                    scores.insert(pkg, (1, s));
                }
                _ => {}
            }
        }
    }
    let mut ranked: Vec<(String, u32)> = scores
        .into_iter()
        .filter(|(_, (n, _))| *n == qterms.len())
        .map(|(p, (_, s))| (p, s))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<PackageName> = Vec::with_capacity(ranked.len() + 1);
    if let Some(e) = exact {
        out.push(e.clone());
    }
    for (p, _) in ranked {
        if let Ok(name) = PackageName::parse(&p) {
            if Some(&name) != exact {
                out.push(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Db;

    fn pkg(name: &str, description: &str, keywords: &[&str]) -> PackageRecord {
        PackageRecord {
            name: PackageName::parse(name).unwrap(),
            versions: vec![],
            description: description.into(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            categories: vec![],
            created_at: String::new(),
        }
    }

    fn names(v: Vec<PackageName>) -> Vec<String> {
        v.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn ranks_name_over_description_prefixes_and_requires_every_term() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _f) = Db::open(&dir.path().join("db")).unwrap();
        let a = pkg("braintree/crm-lite", "A small CRM for councils", &["crm"]);
        let b = pkg("kent/bins", "Bin collection booking; links to any crm", &[]);
        let c = pkg("kent/parking", "Parking permits", &["permits"]);
        db.transact(|tx| {
            reindex(tx, None, &a)?;
            reindex(tx, None, &b)?;
            reindex(tx, None, &c)
        })
        .unwrap();
        let t = db.tree(T::Search);
        assert_eq!(
            names(query(t, "crm", None).unwrap()),
            ["braintree/crm-lite", "kent/bins"]
        );
        assert_eq!(names(query(t, "perm", None).unwrap()), ["kent/parking"]);
        assert_eq!(names(query(t, "kent crm", None).unwrap()), ["kent/bins"]);
        assert!(query(t, "nothing-like-it", None).unwrap().is_empty());
        // The exact name leads even when another package scores higher.
        let exact = PackageName::parse("kent/bins").unwrap();
        assert_eq!(
            names(query(t, "kent/bins", Some(&exact)).unwrap()),
            ["kent/bins"]
        );

        // Reindexing drops terms the package no longer has.
        let mut c2 = c.clone();
        c2.keywords = vec!["blue-badge".into()];
        c2.description = "Blue badges".into();
        db.transact(|tx| reindex(tx, Some(&c), &c2)).unwrap();
        assert!(query(t, "permits", None).unwrap().is_empty());
        assert_eq!(names(query(t, "badge", None).unwrap()), ["kent/parking"]);
    }
}
