//! The shared backend's search index: PostgreSQL full-text search.
//!
//! Each package is one row of `shire_search`: its index terms
//! ([`search::terms`]) as a `tsvector`, each term at one position with the
//! label of its best field's weight ([`LABELS`]), under a GIN index. A query
//! finds, through the index, the packages whose document holds every query
//! term (whole, or as a prefix from [`search::MIN_PREFIX`] characters:
//! `'crm':*`), and scores each in the same statement by probing its document
//! for every query term at every label, whole and as a prefix, keeping each
//! term's best: whole terms count twice their field's weight, prefixes once,
//! summed over the query's terms. That is the score the embedded posting
//! lists give; [`search`] orders the matches and picks the leads from it, the
//! same code on either backend.
//!
//! One difference: here a prefix matches however many terms start with it;
//! the embedded index stops at [`search::MAX_TERMS`] terms per prefix.

use super::db::{Db, Tx, TxResult, T};
use super::error::StoreError;
use super::records::PackageRecord;
use super::search::{
    self, BARE_NAME_WEIGHT, DESCRIPTION_WEIGHT, MAX_TERM_BYTES, MIN_PREFIX, NAME_WEIGHT, TAG_WEIGHT,
};
use super::shared::SharedDb;
use std::collections::BTreeMap;

/// The `tsvector` weight label of each index weight: four fields, the four
/// labels PostgreSQL has.
const LABELS: [(char, u8); 4] = [
    ('A', BARE_NAME_WEIGHT),
    ('B', NAME_WEIGHT),
    ('C', TAG_WEIGHT),
    ('D', DESCRIPTION_WEIGHT),
];

/// Packages whose documents one rebuild transaction writes.
const REBUILD_BATCH: usize = 500;

/// The label of `weight` (every weight [`search::terms`] gives has one).
fn label(weight: u8) -> char {
    LABELS
        .iter()
        .find(|(_, w)| *w == weight)
        .map_or('D', |(l, _)| *l)
}

/// `term` as one quoted lexeme of `tsvector` or `tsquery` input: taken as
/// it is, whatever it holds (quotes doubled, backslashes escaped).
fn lexeme(term: &str) -> String {
    format!("'{}'", term.replace('\\', "\\\\").replace('\'', "''"))
}

/// A package's document in `tsvector` input form.
pub fn document(terms: &BTreeMap<String, u8>) -> String {
    let mut out = String::new();
    for (term, weight) in terms {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&lexeme(term));
        out.push_str(":1");
        out.push(label(*weight));
    }
    out
}

/// What one query asks the index: the `tsquery` every match satisfies, the
/// scoring probes (text, query term number, score when it matches) and the
/// bare-name probe.
#[derive(Debug, PartialEq, Eq)]
pub struct Probes {
    /// Every query term, ANDed.
    pub all: String,
    /// One `tsquery` per query term, label and whole/prefix.
    pub probes: Vec<String>,
    /// The query term each probe is for.
    pub terms: Vec<i32>,
    /// The score a probe gives when it matches.
    pub values: Vec<i32>,
    /// The whole query as a bare name (`None`: it cannot be one).
    pub bare: Option<String>,
}

/// The probes of `query` (lowercase) split into `qterms` (sorted, unique,
/// at least one).
pub fn probes(query: &str, qterms: &[String]) -> Probes {
    let mut p = Probes {
        all: String::new(),
        probes: Vec::new(),
        terms: Vec::new(),
        values: Vec::new(),
        bare: None,
    };
    for (i, term) in qterms.iter().enumerate() {
        let quoted = lexeme(term);
        let prefix = term.chars().count() >= MIN_PREFIX;
        if !p.all.is_empty() {
            p.all.push_str(" & ");
        }
        p.all.push_str(&quoted);
        if prefix {
            p.all.push_str(":*");
        }
        let i = i32::try_from(i).unwrap_or(i32::MAX);
        for (l, w) in LABELS {
            p.probes.push(format!("{quoted}:{l}"));
            p.terms.push(i);
            p.values.push(i32::from(w) * 2);
            if prefix {
                p.probes.push(format!("{quoted}:*{l}"));
                p.terms.push(i);
                p.values.push(i32::from(w));
            }
        }
    }
    if !query.is_empty() && query.len() <= MAX_TERM_BYTES && !query.contains('\0') {
        p.bare = Some(format!("{}:A", lexeme(query)));
    }
    p
}

/// Scores every package against `query` as [`search`]'s `scored` does:
/// the leads (the exact package id, then packages whose bare name is the
/// query) and every other match with its summed score, unordered.
#[allow(clippy::type_complexity)]
pub fn scored(
    db: &SharedDb,
    query: &str,
    exact: Option<u32>,
) -> Result<(Vec<u32>, Vec<(u32, u32)>), StoreError> {
    let mut qterms: Vec<String> = search::words(query).collect();
    qterms.sort();
    qterms.dedup();
    let mut leads: Vec<u32> = exact.into_iter().collect();
    if qterms.is_empty() {
        return Ok((leads, Vec::new()));
    }
    let mut rows = db.search(probes(query, &qterms))?;
    rows.sort_by_key(|r| r.0);
    let mut matched = Vec::new();
    for (id, score, bare) in rows {
        if Some(id) == exact {
            continue;
        }
        if bare {
            leads.push(id);
        } else {
            matched.push((id, score));
        }
    }
    Ok((leads, matched))
}

/// Records `package`'s document in the write `tx` (shared engine only).
pub fn reindex(tx: &Tx<'_>, package: &PackageRecord) -> TxResult<()> {
    if let Some(shared) = tx.shared() {
        shared.set_search_doc(package.id, document(&search::terms(package)));
    }
    Ok(())
}

/// Rebuilds the index from the packages when it does not hold one document
/// per package (a database written before it existed, or a migration that
/// stopped between its trees and its index). The shared engine only.
pub fn settle(db: &Db) -> Result<(), StoreError> {
    let Some(shared) = db.shared_db() else {
        return Ok(());
    };
    if shared.search_rows()? == db.count(T::Packages)? {
        return Ok(());
    }
    let mut packages: Vec<PackageRecord> = Vec::new();
    db.for_each(T::Packages, |p: PackageRecord| {
        packages.push(p);
        Ok(())
    })?;
    tracing::info!(
        packages = packages.len(),
        "rebuilding the shared search index"
    );
    for batch in packages.chunks(REBUILD_BATCH) {
        db.transact(|tx| {
            for p in batch {
                reindex(tx, p)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_labels_each_term_by_its_field_and_quotes_it_whole() {
        let terms: BTreeMap<String, u8> = [
            ("crm-lite".to_string(), BARE_NAME_WEIGHT),
            ("crm".to_string(), NAME_WEIGHT),
            ("it's \\ back".to_string(), TAG_WEIGHT),
            ("small".to_string(), DESCRIPTION_WEIGHT),
        ]
        .into();
        assert_eq!(
            document(&terms),
            r"'crm':1B 'crm-lite':1A 'it''s \\ back':1C 'small':1D"
        );
    }

    #[test]
    fn probes_score_whole_terms_double_and_prefixes_from_three_characters() {
        let p = probes("ab crm", &["ab".to_string(), "crm".to_string()]);
        assert_eq!(p.all, "'ab' & 'crm':*");
        assert_eq!(
            p.probes,
            [
                "'ab':A", "'ab':B", "'ab':C", "'ab':D", "'crm':A", "'crm':*A", "'crm':B",
                "'crm':*B", "'crm':C", "'crm':*C", "'crm':D", "'crm':*D",
            ]
        );
        assert_eq!(p.terms, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(p.values, [18, 16, 8, 2, 18, 9, 16, 8, 8, 4, 2, 1]);
        assert_eq!(p.bare.as_deref(), Some("'ab crm':A"));
        let long = "x".repeat(MAX_TERM_BYTES + 1);
        assert_eq!(probes(&long, std::slice::from_ref(&long)).bare, None);
    }
}
