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

/// One search as a statement: its text and its parameters (`tsquery`
/// input, never part of the text).
#[derive(Debug, PartialEq, Eq)]
pub struct Statement {
    /// The SQL: `$1` is every query term ANDed (what the GIN index finds);
    /// each query term's score is a `CASE` over its probes, best first;
    /// the last column whether the bare-name probe matches. The matches
    /// come back as one row of three arrays (ids, scores, bare-name
    /// matches): a row each cost the node more to take apart than
    /// PostgreSQL took to score them.
    pub sql: String,
    /// `$1`, `$2`, ...
    pub params: Vec<String>,
}

/// Parameter `$n` as a `tsquery`, parsed once per execution. The statement
/// is prepared once per connection, and PostgreSQL's cached (generic) plan
/// evaluates a bare `$n::tsquery` cast again for every row it scores (at
/// 10,000 packages, 2.9 ms against 0.9 ms for a word matching 940); an
/// uncorrelated subquery is an init plan, run once, and still an index
/// condition.
fn query_param(n: usize) -> String {
    format!("(SELECT ${n}::tsquery)")
}

/// A probe of a document for one query term: whether it holds the term
/// under one of `labels`, whole or (when `prefix`) as a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Probe {
    labels: String,
    prefix: bool,
}

/// How one query term scores a document: the best of its probes, each label
/// whole (twice its weight) and, from [`MIN_PREFIX`] characters, as a prefix
/// (its weight).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Score {
    /// This much, whatever the document holds.
    Value(u32),
    /// The first arm whose probe matches, else the last.
    Case(Vec<(Probe, Score)>, Box<Score>),
}

/// The score of a term of `prefix`-matching kind, as a decision tree over
/// the fields. Labels are taken in tiers, best first, each tier as long as
/// its least match still beats anything in the next label: one probe of the
/// whole tier, and only inside a tier that matches, its probes best first.
/// A flat ladder of every probe tried seven before finding a word in a
/// description, the usual place; this tries three. The last tier needs no
/// probe, and a document that matched no probe would score the last tier's
/// least, not 0: the statement's condition (`WHERE doc @@ $1`, every term
/// required) lets no such document reach the score.
fn term_score(prefix: bool) -> Score {
    let value = |w: u8, whole: bool| u32::from(w) * if whole { 2 } else { 1 };
    let least = |w: u8| value(w, !prefix);
    let mut tiers: Vec<Vec<(char, u8)>> = Vec::new();
    for (l, w) in LABELS {
        match tiers.last_mut() {
            Some(tier) if tier.iter().map(|(_, tw)| least(*tw)).min() < Some(value(w, true)) => {
                tier.push((l, w))
            }
            _ => tiers.push(vec![(l, w)]),
        }
    }
    let inner = |tier: &[(char, u8)]| {
        let mut probes: Vec<(Probe, u32)> = Vec::new();
        for (l, w) in tier {
            probes.push((
                Probe {
                    labels: l.to_string(),
                    prefix: false,
                },
                value(*w, true),
            ));
            if prefix {
                probes.push((
                    Probe {
                        labels: l.to_string(),
                        prefix: true,
                    },
                    value(*w, false),
                ));
            }
        }
        probes.sort_by_key(|p| std::cmp::Reverse(p.1));
        let last = probes.pop().map_or(0, |p| p.1);
        if probes.is_empty() {
            Score::Value(last)
        } else {
            Score::Case(
                probes
                    .into_iter()
                    .map(|(p, v)| (p, Score::Value(v)))
                    .collect(),
                Box::new(Score::Value(last)),
            )
        }
    };
    let last = tiers.pop().unwrap_or_default();
    let arms = tiers
        .iter()
        .map(|tier| {
            let gate = Probe {
                labels: tier.iter().map(|(l, _)| *l).collect(),
                prefix,
            };
            (gate, inner(tier))
        })
        .collect();
    Score::Case(arms, Box::new(inner(&last)))
}

impl Score {
    /// The SQL of this score for `quoted` (a [`lexeme`]), its probes pushed
    /// on `params`.
    fn sql(&self, quoted: &str, params: &mut Vec<String>) -> String {
        match self {
            Score::Value(v) => v.to_string(),
            Score::Case(arms, otherwise) => {
                let mut case = String::from("CASE");
                for (probe, then) in arms {
                    let star = if probe.prefix { "*" } else { "" };
                    params.push(format!("{quoted}:{star}{}", probe.labels));
                    let at = query_param(params.len());
                    let then = then.sql(quoted, params);
                    case.push_str(&format!(" WHEN doc @@ {at} THEN {then}"));
                }
                case.push_str(&format!(" ELSE {} END", otherwise.sql(quoted, params)));
                case
            }
        }
    }
}

/// The statement searching for `query` (lowercase) split into `qterms`
/// (sorted, unique, at least one).
pub fn statement(query: &str, qterms: &[String]) -> Statement {
    let mut all = String::new();
    let mut params = vec![String::new()];
    let mut scores = Vec::new();
    for term in qterms {
        let quoted = lexeme(term);
        let prefix = term.chars().count() >= MIN_PREFIX;
        if !all.is_empty() {
            all.push_str(" & ");
        }
        all.push_str(&quoted);
        if prefix {
            all.push_str(":*");
        }
        scores.push(term_score(prefix).sql(&quoted, &mut params));
    }
    params[0] = all;
    let bare = if !query.is_empty() && query.len() <= MAX_TERM_BYTES && !query.contains('\0') {
        params.push(format!("{}:A", lexeme(query)));
        format!("doc @@ {}", query_param(params.len()))
    } else {
        "FALSE".to_string()
    };
    Statement {
        sql: format!(
            "SELECT coalesce(array_agg(package_id), '{{}}'), \
             coalesce(array_agg(score), '{{}}'), coalesce(array_agg(bare), '{{}}') \
             FROM (SELECT package_id, ({})::int4 AS score, {bare} AS bare \
             FROM shire_search WHERE doc @@ {}) m",
            scores.join(" + "),
            query_param(1)
        ),
        params,
    }
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
    let qterms = search::query_terms(query);
    let mut leads: Vec<u32> = exact.into_iter().collect();
    if qterms.is_empty() {
        return Ok((leads, Vec::new()));
    }
    let mut rows = db.search(statement(query, &qterms))?;
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

/// Records the document of package `id`, indexed under `terms`
/// ([`search::terms`]), in the write `tx` (shared engine only).
pub fn reindex(tx: &Tx<'_>, id: u32, terms: &BTreeMap<String, u8>) -> TxResult<()> {
    if let Some(shared) = tx.shared() {
        shared.set_search_doc(id, document(terms));
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
    let mut names: Vec<Vec<u8>> = Vec::new();
    db.visit(T::Packages, b"", None, |key, _| {
        names.push(key.to_vec());
        Ok(true)
    })?;
    tracing::info!(packages = names.len(), "rebuilding the shared search index");
    for batch in names.chunks(REBUILD_BATCH) {
        // Each record is read again under the sequencer lock: a publish
        // by another process since the scan is not undone.
        db.transact(|tx| {
            for name in batch {
                if let Some(p) = tx.get::<PackageRecord>(T::Packages, name)? {
                    reindex(tx, p.id, &search::terms(&p))?;
                }
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

    /// What `score` gives a document holding the term at `held`: each a
    /// label and whether it is the whole lexeme (else one the term begins).
    fn eval(score: &Score, held: &[(char, bool)]) -> u32 {
        match score {
            Score::Value(v) => *v,
            Score::Case(arms, otherwise) => arms
                .iter()
                .find(|(p, _)| {
                    held.iter()
                        .any(|(l, whole)| p.labels.contains(*l) && (*whole || p.prefix))
                })
                .map_or_else(|| eval(otherwise, held), |(_, then)| eval(then, held)),
        }
    }

    #[test]
    fn the_score_tree_gives_the_best_probe_for_every_document() {
        let places: Vec<(char, bool)> = LABELS
            .iter()
            .flat_map(|(l, _)| [(*l, true), (*l, false)])
            .collect();
        for prefix in [false, true] {
            let tree = term_score(prefix);
            for set in 1u32..(1 << places.len()) {
                let held: Vec<(char, bool)> = places
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| set & (1 << i) != 0)
                    .map(|(_, p)| *p)
                    .collect();
                // Documents the statement's condition lets through only.
                if !prefix && !held.iter().any(|(_, whole)| *whole) {
                    continue;
                }
                let best = held
                    .iter()
                    .filter(|(_, whole)| *whole || prefix)
                    .map(|(l, whole)| {
                        let w = LABELS.iter().find(|(x, _)| x == l).map_or(0, |(_, w)| *w);
                        u32::from(w) * if *whole { 2 } else { 1 }
                    })
                    .max()
                    .unwrap_or(0);
                assert_eq!(eval(&tree, &held), best, "prefix {prefix}, held {held:?}");
            }
        }
    }

    #[test]
    fn a_statement_scores_whole_terms_double_and_prefixes_from_three_characters() {
        let st = statement("ab crm", &["ab".to_string(), "crm".to_string()]);
        assert_eq!(
            st.params,
            [
                "'ab' & 'crm':*",
                "'ab':A",
                "'ab':B",
                "'ab':C",
                "'crm':*AB",
                "'crm':A",
                "'crm':B",
                "'crm':*A",
                "'crm':*C",
                "'crm':C",
                "'crm':D",
                "'ab crm':A",
            ]
        );
        assert_eq!(
            st.sql,
            "SELECT coalesce(array_agg(package_id), '{}'), \
             coalesce(array_agg(score), '{}'), coalesce(array_agg(bare), '{}') \
             FROM (SELECT package_id, (\
             CASE WHEN doc @@ (SELECT $2::tsquery) THEN 18 WHEN doc @@ (SELECT $3::tsquery) THEN 16 \
             WHEN doc @@ (SELECT $4::tsquery) THEN 8 ELSE 2 END + \
             CASE WHEN doc @@ (SELECT $5::tsquery) THEN \
             CASE WHEN doc @@ (SELECT $6::tsquery) THEN 18 WHEN doc @@ (SELECT $7::tsquery) THEN 16 \
             WHEN doc @@ (SELECT $8::tsquery) THEN 9 ELSE 8 END \
             WHEN doc @@ (SELECT $9::tsquery) THEN CASE WHEN doc @@ (SELECT $10::tsquery) THEN 8 ELSE 4 END \
             ELSE CASE WHEN doc @@ (SELECT $11::tsquery) THEN 2 ELSE 1 END END\
             )::int4 AS score, doc @@ (SELECT $12::tsquery) AS bare \
             FROM shire_search WHERE doc @@ (SELECT $1::tsquery)) m"
        );
        let long = "x".repeat(MAX_TERM_BYTES + 1);
        let st = statement(&long, std::slice::from_ref(&long));
        assert!(st.sql.contains(", FALSE AS bare FROM"), "{}", st.sql);
    }
}
