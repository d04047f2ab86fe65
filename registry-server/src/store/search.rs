//! Search: the index and the ranking rules both engines share. The
//! embedded engine keeps the inverted index in the `search` tree; each
//! process of a shared node keeps the same index in memory, caught up from
//! the documents PostgreSQL holds ([`super::shared_search`]). Both are read
//! through [`PostingLists`] and scored by the same code here.
//!
//! A term's posting list (the packages indexed under it, as 5-byte records:
//! package id, u32 big-endian; weight of the field the term came from, name >
//! keyword/category > description; sorted by id) is cut into chunks of
//! `CHUNK` (4,096) package ids, each its own key: `term ‖ 0 ‖ chunk number` (u32
//! big-endian), so a term's chunks are adjacent and in id order. A publish
//! rewrites only the chunk holding its package, at most `CHUNK × 5` bytes per
//! term, however many packages share the term (the organisation's name, and
//! words like "and" or "council", are in nearly all of them). Package ids
//! are assigned at a package's first publish and resolved in the
//! `package_ids` tree. A query is split into terms the same way; each query
//! term reads the posting lists of every term it is a prefix of (so `crm`
//! finds `crm` and `crmx`; terms under [`MIN_PREFIX`] characters match only
//! whole terms); every query term must match, and packages rank by summed
//! weight, whole terms above prefixes. An exact package-name match always
//! leads. No query scans the packages: the work is a few posting lists, bounded
//! by [`MAX_QUERY_TERMS`] query terms and [`MAX_TERMS`] index terms per query
//! term, and only the returned page of ids is resolved to names.

use super::db::{Db, Tx, TxResult, T};
use super::error::StoreError;
use super::records::PackageRecord;
use super::shared_search;
use shire_core::PackageName;
use std::collections::BTreeMap;

/// Weight of the whole bare name (`crm-lite` of `braintree/crm-lite`).
pub const BARE_NAME_WEIGHT: u8 = 9;
/// Weight of a term from the package name.
pub const NAME_WEIGHT: u8 = 8;
/// Weight of a term from a keyword or category.
pub const TAG_WEIGHT: u8 = 4;
/// Weight of a term from the description.
pub const DESCRIPTION_WEIGHT: u8 = 1;
/// Most distinct words of a query that count (the first ones): a longer
/// query costs a scan per word, on either engine, for nothing a person types.
pub const MAX_QUERY_TERMS: usize = 16;
/// Most distinct index terms one query term may expand to.
pub const MAX_TERMS: usize = 2_000;
/// Shortest query term that also matches longer terms (prefix search); a
/// shorter one matches only itself.
pub const MIN_PREFIX: usize = 3;
/// Most distinct description words indexed per package.
const MAX_DESCRIPTION_TERMS: usize = 200;
/// Longest term indexed, in bytes.
pub const MAX_TERM_BYTES: usize = 64;
/// Bytes per posting: package id (4) and weight (1).
const POSTING: usize = 5;
/// Package ids per posting-list chunk: at most 20 KB rewritten per term and
/// publish. Smaller chunks cost prefix queries more keys to read: a prefix
/// matching 400 terms took 3.9 ms with chunks of 1,024 ids at 10,000
/// packages, 1.2 ms with 4,096 and 0.5 ms unchunked (`ten_thousand_packages_measure`).
const CHUNK: u32 = 4096;

/// The key of the chunk of `term`'s posting list that holds package `id`.
pub(super) fn chunk_key(term: &str, id: u32) -> Vec<u8> {
    let mut key = term_prefix(term);
    key.extend_from_slice(&(id / CHUNK).to_be_bytes());
    key
}

/// The prefix shared by every chunk key of `term` (and no other term's).
fn term_prefix(term: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(term.len() + 5);
    key.extend_from_slice(term.as_bytes());
    key.push(0);
    key
}

/// The term of a chunk key.
fn key_term(key: &[u8]) -> &[u8] {
    key.split(|b| *b == 0).next().unwrap_or(key)
}

/// What [`PostingLists::visit_prefix`] calls with each chunk key and its
/// list; it answers whether to go on.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;

/// Where a search reads posting lists: the embedded engine's search tree
/// ([`SearchTree`]), or a shared-node process's copy of the index in memory
/// ([`shared_search::Replica`]). Both hold the same keys ([`chunk_key`])
/// and lists, so one scoring ([`scored_in`]) serves both engines.
pub trait PostingLists {
    /// Calls `f` with each chunk key starting with `prefix` and its list, in
    /// key order, until `f` answers false.
    fn visit_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<(), StoreError>;
}

/// The embedded engine's index: the `search` tree.
struct SearchTree<'a>(&'a Db);

impl PostingLists for SearchTree<'_> {
    fn visit_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<(), StoreError> {
        self.0.visit_prefix(T::Search, prefix, f)
    }
}

/// Every chunk of `term`'s posting list, in id order.
fn chunks_of(lists: &dyn PostingLists, term: &str) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut out = Vec::new();
    lists.visit_prefix(&term_prefix(term), &mut |_, v| {
        out.push(v.to_vec());
        Ok(true)
    })?;
    Ok(out)
}

/// Splits text into lowercase alphanumeric words of at least two characters.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2 && w.len() <= MAX_TERM_BYTES)
        .map(str::to_lowercase)
}

/// The distinct words of `query` that count: the first [`MAX_QUERY_TERMS`],
/// sorted.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words(query) {
        if !out.contains(&w) {
            out.push(w);
            if out.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    out.sort();
    out
}

/// The terms a package is indexed under, each with its best weight.
pub fn terms(p: &PackageRecord) -> BTreeMap<String, u8> {
    fn add(out: &mut BTreeMap<String, u8>, t: String, w: u8) {
        if t.contains('\0') {
            return; // would break the chunk key
        }
        let e = out.entry(t).or_insert(0);
        *e = (*e).max(w);
    }
    let mut out: BTreeMap<String, u8> = BTreeMap::new();
    add(&mut out, p.name.org().as_str().to_string(), NAME_WEIGHT);
    for w in words(p.name.name()) {
        add(&mut out, w, NAME_WEIGHT);
    }
    add(&mut out, p.name.name().to_string(), BARE_NAME_WEIGHT);
    for tag in p.keywords.iter().chain(&p.categories) {
        let whole = tag.trim().to_lowercase();
        if whole.chars().count() >= 2 && whole.len() <= MAX_TERM_BYTES {
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

/// The postings of a list: package id and weight, by id.
fn postings(bytes: &[u8]) -> impl Iterator<Item = (u32, u8)> + '_ {
    bytes
        .chunks_exact(POSTING)
        .map(|c| (u32::from_be_bytes([c[0], c[1], c[2], c[3]]), c[4]))
}

/// Sets (`Some(weight)`) or removes (`None`) one package in a posting list.
pub(super) fn update_postings(list: &[u8], id: u32, weight: Option<u8>) -> Vec<u8> {
    let mut entries: Vec<(u32, u8)> = postings(list).filter(|(i, _)| *i != id).collect();
    if let Some(w) = weight {
        let at = entries.partition_point(|(i, _)| *i < id);
        entries.insert(at, (id, w));
    }
    encode_postings(&entries)
}

/// A posting list of `entries` (package id and weight, sorted by id).
pub(super) fn encode_postings(entries: &[(u32, u8)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * POSTING);
    for (i, w) in entries {
        out.extend_from_slice(&i.to_be_bytes());
        out.push(*w);
    }
    out
}

/// Records package `p`'s id → name, which resolves search hits.
fn put_package_id(tx: &Tx<'_>, p: &PackageRecord) -> TxResult<()> {
    tx.put_raw(
        T::PackageIds,
        &p.id.to_be_bytes(),
        p.name.to_string().into_bytes(),
    )
}

/// The chunks a package's change of terms from `old` to `new` touches, each
/// with what to do there: `None` to leave package `id` out, `Some(w)` to
/// set it at weight `w`. Terms whose weight did not change are left alone.
pub(super) fn posting_changes(
    id: u32,
    old: &BTreeMap<String, u8>,
    new: &BTreeMap<String, u8>,
) -> Vec<(Vec<u8>, Option<u8>)> {
    old.keys()
        .filter(|t| !new.contains_key(*t))
        .map(|t| (chunk_key(t, id), None))
        .chain(
            new.iter()
                .filter(|(t, w)| old.get(*t) != Some(*w))
                .map(|(t, w)| (chunk_key(t, id), Some(*w))),
        )
        .collect()
}

/// Replaces a package's index entries (inside the publish transaction).
pub fn reindex(tx: &Tx<'_>, old: Option<&PackageRecord>, new: &PackageRecord) -> TxResult<()> {
    let new_terms = terms(new);
    let old_terms = old.map(terms).unwrap_or_default();
    if tx.shared().is_some() {
        // The shared engine keeps each package's terms as a document in
        // PostgreSQL, which every process's copy of the index follows; a
        // package's id and name never change, nor its document while its
        // terms do not (a new version with the same description).
        if old.is_none() {
            put_package_id(tx, new)?;
        }
        if old.is_some() && old_terms == new_terms {
            return Ok(());
        }
        return shared_search::reindex(tx, new.id, &new_terms);
    }
    put_package_id(tx, new)?;
    // Every chunk this change touches, read at once.
    let changes = posting_changes(new.id, &old_terms, &new_terms);
    let keys: Vec<Vec<u8>> = changes.iter().map(|(k, _)| k.clone()).collect();
    let lists = tx.get_many_raw(T::Search, &keys)?;
    for ((key, weight), list) in changes.into_iter().zip(lists) {
        let list = update_postings(&list.unwrap_or_default(), new.id, weight);
        if list.is_empty() {
            tx.remove(T::Search, &key)?;
        } else {
            tx.put_raw(T::Search, &key, list)?;
        }
    }
    Ok(())
}

/// A ranked page of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The best `limit` packages, best first (the exact match leads).
    pub names: Vec<PackageName>,
    /// How many packages matched in all.
    pub total: usize,
}

/// The best `limit` packages matching `query` (lowercase), and how many
/// matched. `exact` is the package (id and name) whose full name the query is,
/// if it exists: it leads, followed by packages whose bare name is the query,
/// then the rest by relevance.
pub fn query(
    db: &Db,
    query: &str,
    exact: Option<(u32, &PackageName)>,
    limit: usize,
) -> Result<Ranked, StoreError> {
    let resolve = |ids: &[Vec<u8>]| -> Result<Vec<Option<PackageName>>, StoreError> {
        Ok(db
            .get_many_raw(T::PackageIds, ids)?
            .into_iter()
            .map(|raw| PackageName::parse(std::str::from_utf8(&raw?).ok()?).ok())
            .collect())
    };
    let (leads, mut matched) = scored(db, query, exact.map(|(id, _)| id))?;
    let total = leads.len() + matched.len();
    let keep = limit.saturating_sub(leads.len());
    if matched.len() > keep && keep > 0 {
        matched.select_nth_unstable_by(keep - 1, by_score);
    }
    matched.truncate(keep);
    matched.sort_by(by_score);
    // The exact name is known already; the others are resolved in one read.
    let order: Vec<u32> = leads
        .iter()
        .copied()
        .chain(matched.iter().map(|(id, _)| *id))
        .collect();
    let unknown: Vec<Vec<u8>> = order
        .iter()
        .filter(|id| exact.map(|(e, _)| e) != Some(**id))
        .map(|id| id.to_be_bytes().to_vec())
        .collect();
    let mut resolved = resolve(&unknown)?.into_iter();
    let mut names: Vec<PackageName> = Vec::new();
    let mut unresolved_leads = 0;
    for (i, id) in order.iter().enumerate() {
        let name = match exact {
            Some((exact_id, name)) if exact_id == *id => Some(name.clone()),
            _ => resolved.next().flatten(),
        };
        match name {
            Some(n) => names.push(n),
            None if i < leads.len() => unresolved_leads += 1,
            None => {}
        }
    }
    let total = total - unresolved_leads;
    names.truncate(limit.max(1));
    Ok(Ranked { names, total })
}

/// Every package id matching `query`, best first, in the order [`query`]
/// ranks them, without resolving names: for callers that filter and page
/// the matches themselves (the catalogue's search page).
pub fn ranked_ids(db: &Db, query: &str, exact: Option<u32>) -> Result<Vec<u32>, StoreError> {
    let (mut ids, mut matched) = scored(db, query, exact)?;
    matched.sort_by(by_score);
    ids.extend(matched.into_iter().map(|(id, _)| id));
    Ok(ids)
}

/// Higher score first, then lower id (older package).
fn by_score(a: &(u32, u32), b: &(u32, u32)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

/// Scores every package against `query` in the engine's index: see
/// [`scored_in`].
#[allow(clippy::type_complexity)]
pub(super) fn scored(
    db: &Db,
    query: &str,
    exact: Option<u32>,
) -> Result<(Vec<u32>, Vec<(u32, u32)>), StoreError> {
    match db.shared_db() {
        Some(shared) => shared_search::scored(shared, query, exact),
        None => scored_in(&SearchTree(db), query, exact),
    }
}

/// Scores every package in `index` against `query`: the leads (the exact
/// package id, then packages whose bare name is the query) and every other
/// match with its summed score, unordered.
#[allow(clippy::type_complexity)]
pub(super) fn scored_in(
    index: &dyn PostingLists,
    query: &str,
    exact: Option<u32>,
) -> Result<(Vec<u32>, Vec<(u32, u32)>), StoreError> {
    let qterms = query_terms(query);
    // Package ids are dense (0, 1, 2, ...), so per-package state lives in flat
    // vectors indexed by id: query terms matched so far, and the summed score.
    let mut count: Vec<usize> = Vec::new();
    let mut score: Vec<u32> = Vec::new();
    for (i, q) in qterms.iter().enumerate() {
        // Every chunk of every matching term, marked when the term is whole.
        let lists: Vec<(bool, Vec<u8>)> = if q.chars().count() < MIN_PREFIX {
            chunks_of(index, q)?
                .into_iter()
                .map(|l| (true, l))
                .collect()
        } else {
            let mut lists = Vec::new();
            let mut terms = 0;
            let mut last: Option<Vec<u8>> = None;
            index.visit_prefix(q.as_bytes(), &mut |key, list| {
                let term = key_term(key);
                if last.as_deref().map(key_term) != Some(term) {
                    terms += 1;
                    if terms > MAX_TERMS {
                        return Ok(false);
                    }
                }
                lists.push((term == q.as_bytes(), list.to_vec()));
                last = Some(key.to_vec());
                Ok(true)
            })?;
            lists
        };
        if i == 0 {
            // Lists are sorted by id: the last posting of each holds its largest.
            let size = lists
                .iter()
                .filter_map(|(_, l)| postings(l).last().map(|(id, _)| id as usize + 1))
                .max()
                .unwrap_or(0);
            count = vec![0; size];
            score = vec![0; size];
        }
        // This query term's best score per package (0: no match).
        let mut best = vec![0u32; count.len()];
        for (whole, list) in &lists {
            for (id, w) in postings(list) {
                let id = id as usize;
                // Only packages matched by every earlier term stay in the running.
                if count.get(id) != Some(&i) {
                    continue;
                }
                let s = if *whole {
                    u32::from(w) * 2
                } else {
                    u32::from(w)
                };
                best[id] = best[id].max(s);
            }
        }
        for (id, b) in best.into_iter().enumerate() {
            if b > 0 {
                count[id] = i + 1;
                score[id] += b;
            }
        }
    }
    let n = qterms.len();
    let is_match = |count: &[usize], id: u32| n > 0 && count.get(id as usize) == Some(&n);
    // Leads: the exact full name, then packages whose bare name is the query
    // (its posting list marks them with the bare-name weight).
    let mut leads = Vec::new();
    if let Some(id) = exact {
        if let Some(c) = count.get_mut(id as usize) {
            *c = 0;
        }
        leads.push(id);
    }
    for list in chunks_of(index, query)? {
        for (id, w) in postings(&list) {
            if w == BARE_NAME_WEIGHT && is_match(&count, id) {
                count[id as usize] = 0;
                leads.push(id);
            }
        }
    }
    let matched = (0..count.len())
        .filter(|id| count[*id] == n && n > 0)
        .map(|id| (id as u32, score[id]))
        .collect();
    Ok((leads, matched))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::db::Db;

    /// A package record with the fields the index reads (also for the
    /// shared index's tests).
    pub(in crate::store) fn pkg(
        id: u32,
        name: &str,
        description: &str,
        keywords: &[&str],
    ) -> PackageRecord {
        PackageRecord {
            id,
            name: PackageName::parse(name).unwrap(),
            highest: None,
            description: description.into(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            categories: vec![],
            created_at: String::new(),
            origin: None,
        }
    }

    fn names(r: &Ranked) -> Vec<String> {
        r.names.iter().map(|n| n.to_string()).collect()
    }

    fn q(db: &Db, text: &str, exact: Option<(u32, &PackageName)>) -> Ranked {
        query(db, text, exact, 100).unwrap()
    }

    #[test]
    fn a_query_counts_its_first_distinct_words_only() {
        let many: Vec<String> = (0..40).map(|i| format!("w{i:02}")).collect();
        let text = format!("zz zz {}", many.join(" "));
        let terms = query_terms(&text);
        assert_eq!(terms.len(), MAX_QUERY_TERMS);
        assert_eq!(
            terms.last().map(String::as_str),
            Some("zz"),
            "kept, and sorted"
        );
        assert!(terms.contains(&"w14".to_string()) && !terms.contains(&"w15".to_string()));
    }

    #[test]
    fn posting_lists_stay_sorted_and_unique() {
        let mut l = Vec::new();
        for (id, w) in [(5, 1), (2, 8), (9, 4), (5, 4)] {
            l = update_postings(&l, id, Some(w));
        }
        assert_eq!(postings(&l).collect::<Vec<_>>(), [(2, 8), (5, 4), (9, 4)]);
        l = update_postings(&l, 2, None);
        assert_eq!(postings(&l).collect::<Vec<_>>(), [(5, 4), (9, 4)]);
    }

    #[test]
    fn ranks_name_over_description_prefixes_and_requires_every_term() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _f) = Db::open(&dir.path().join("db")).unwrap();
        let a = pkg(
            0,
            "braintree/crm-lite",
            "A small CRM for councils",
            &["crm"],
        );
        let b = pkg(
            1,
            "kent/bins",
            "Bin collection booking; links to any crm",
            &[],
        );
        let c = pkg(2, "kent/parking", "Parking permits", &["permits"]);
        db.transact(|tx| {
            reindex(tx, None, &a)?;
            reindex(tx, None, &b)?;
            reindex(tx, None, &c)
        })
        .unwrap();
        assert_eq!(
            names(&q(&db, "crm", None)),
            ["braintree/crm-lite", "kent/bins"]
        );
        assert_eq!(names(&q(&db, "perm", None)), ["kent/parking"]);
        assert_eq!(names(&q(&db, "kent crm", None)), ["kent/bins"]);
        assert_eq!(q(&db, "nothing-like-it", None).total, 0);
        // The exact name leads even when another package scores higher.
        let exact = PackageName::parse("kent/bins").unwrap();
        assert_eq!(
            names(&q(&db, "kent/bins", Some((1, &exact)))),
            ["kent/bins"]
        );
        // Bare-name matches lead; the limit cuts the page, not the total.
        let r = query(&db, "bins", None, 1).unwrap();
        assert_eq!((names(&r), r.total), (vec!["kent/bins".to_string()], 1));
        // A bare name leads over a package that scores higher.
        let d = pkg(
            3,
            "kent/crm-lite-tools",
            "crm-lite crm-lite lite",
            &["crm-lite"],
        );
        db.transact(|tx| reindex(tx, None, &d)).unwrap();
        assert_eq!(
            names(&q(&db, "crm-lite", None)),
            ["braintree/crm-lite", "kent/crm-lite-tools"]
        );
        // Two-letter terms match whole terms only.
        assert_eq!(q(&db, "pa", None).total, 0);

        // Reindexing drops terms the package no longer has.
        let mut c2 = c.clone();
        c2.keywords = vec!["blue-badge".into()];
        c2.description = "Blue badges".into();
        db.transact(|tx| reindex(tx, Some(&c), &c2)).unwrap();
        assert_eq!(q(&db, "permits", None).total, 0);
        assert_eq!(names(&q(&db, "badge", None)), ["kent/parking"]);
        assert!(db
            .tree(T::Search)
            .unwrap()
            .scan_prefix(term_prefix("permits"))
            .next()
            .is_none());
    }

    #[test]
    fn posting_lists_span_chunks_and_a_publish_rewrites_one() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _f) = Db::open(&dir.path().join("db")).unwrap();
        let ids = [0, CHUNK - 1, CHUNK, 5 * CHUNK + 7];
        let pkgs: Vec<PackageRecord> = ids
            .iter()
            .map(|&i| pkg(i, &format!("kent/bins{i}"), "Waste collection", &[]))
            .collect();
        db.transact(|tx| {
            for p in &pkgs {
                reindex(tx, None, p)?;
            }
            Ok(())
        })
        .unwrap();
        let chunks = |term: &str| chunks_of(&SearchTree(&db), term).unwrap().len();
        assert_eq!(chunks("waste"), 3);
        let all = q(&db, "waste", None);
        assert_eq!(all.total, 4);
        assert_eq!(q(&db, "was", None).total, 4, "prefixes read every chunk");
        assert_eq!(q(&db, "waste collection", None).total, 4);

        // Changing one package touches only its own chunk of each term.
        let before: Vec<(sled::IVec, sled::IVec)> = db
            .tree(T::Search)
            .unwrap()
            .iter()
            .map(|kv| kv.unwrap())
            .collect();
        let mut moved = pkgs[2].clone();
        moved.description = "Recycling".into();
        db.transact(|tx| reindex(tx, Some(&pkgs[2]), &moved))
            .unwrap();
        let after: Vec<(sled::IVec, sled::IVec)> = db
            .tree(T::Search)
            .unwrap()
            .iter()
            .map(|kv| kv.unwrap())
            .collect();
        let changed: Vec<Vec<u8>> = before
            .iter()
            .chain(&after)
            .filter(|kv| !before.contains(kv) || !after.contains(kv))
            .map(|(k, _)| k.to_vec())
            .collect();
        assert!(!changed.is_empty());
        for k in &changed {
            assert_eq!(&k[k.len() - 4..], &1u32.to_be_bytes(), "{k:?}");
        }
        assert_eq!(q(&db, "waste", None).total, 3);
        assert_eq!(
            names(&q(&db, "recycling", None)),
            [format!("kent/bins{CHUNK}")]
        );
        assert_eq!(chunks("waste"), 2, "an emptied chunk is removed");
    }

    #[test]
    fn ten_thousand_packages_measure() {
        if std::env::var_os("SHIRE_SLOW_TESTS").is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (db, _f) = Db::open(&dir.path().join("db")).unwrap();
        let topics = [
            "crm",
            "booking",
            "parking",
            "waste",
            "planning",
            "housing",
            "library",
            "council-tax",
            "licensing",
            "payments",
            "contact",
            "complaints",
            "benefits",
            "schools",
            "transport",
        ];
        let pkgs: Vec<PackageRecord> = (0..10_000u32)
            .map(|i| {
                let n = i as usize;
                let t = topics[n % topics.len()];
                pkg(
                    i,
                    &format!("council{}/{t}-app{i}", i % 400),
                    &format!(
                        "A {t} service for councils, number {i}, with forms, reports and a \
                         citizen portal for {} residents",
                        topics[(n * 7) % topics.len()]
                    ),
                    &[t, topics[(n * 3) % topics.len()]],
                )
            })
            .collect();
        for chunk in pkgs.chunks(500) {
            db.transact(|tx| {
                for p in chunk {
                    reindex(tx, None, p)?;
                }
                Ok(())
            })
            .unwrap();
        }
        let exact = PackageName::parse("council7/crm-app7407").unwrap();
        for text in [
            "crm",
            "council7/crm-app7407",
            "parking forms",
            "cou",
            "citizen portal waste",
            "app123",
        ] {
            let e = text.contains('/').then_some((7407, &exact));
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..200 {
                let start = std::time::Instant::now();
                let r = query(&db, text, e, 20).unwrap();
                times.push(start.elapsed());
                n = r.total;
                if let Some((_, e)) = e {
                    assert_eq!(&r.names[0], e);
                }
                assert!(r.names.len() <= 20);
            }
            times.sort();
            println!(
                "query {text:?}: {n} hits, p50 {:?}, p99 {:?}",
                times[100], times[197]
            );
            assert!(n > 0, "{text}");
        }
    }
}
