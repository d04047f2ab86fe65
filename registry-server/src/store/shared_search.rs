//! The shared backend's search index: documents in PostgreSQL, and a copy
//! of the index in each process's memory.
//!
//! Each package is one row of `shire_search`: its index terms
//! ([`search::terms`]) as a `tsvector`, each term at one position with the
//! label of its best field's weight ([`LABELS`]), and the commit sequence of
//! the write that set it (`seq`, [`super::shared`]'s `WRITE`). A document
//! is written in the same transaction as its package, so PostgreSQL holds
//! the truth.
//!
//! Each process keeps the index itself in memory ([`Replica`]): the posting
//! lists of the embedded engine's `search` tree, the same keys and lists,
//! scored by the same code ([`search::scored_in`]). Before each search the
//! process reads, in one statement, the latest commit sequence and every
//! document written after the one its copy holds; it applies them, then
//! ranks in memory. A search therefore sees every publish committed before
//! it began, by any process, as a query run in PostgreSQL would; and it
//! costs PostgreSQL one index probe instead of visiting every matching
//! document (about 940 rows for a common word at 10,000 packages, 2 ms of
//! PostgreSQL's CPU on this project's machine, which kept the p99 above
//! 5 ms: `docs/performance.md`).
//!
//! The copy costs memory: the posting lists (5 bytes per package and term)
//! and each package's terms (to know what a new document replaces): about
//! 10 MB at 10,000 packages of some 50 terms each, estimated from the
//! layout. A process loads it when it opens the store.

use super::db::{Db, Tx, TxResult, T};
use super::error::StoreError;
use super::records::PackageRecord;
use super::row_cache::Commit;
use super::search::{
    self, PostingLists, BARE_NAME_WEIGHT, DESCRIPTION_WEIGHT, NAME_WEIGHT, TAG_WEIGHT,
};
use super::shared::SharedDb;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};

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

/// The weight of `label` as PostgreSQL reports it (`D`, its default, when
/// it reports none).
fn weight(label: Option<&str>) -> u8 {
    let l = label.and_then(|l| l.chars().next()).unwrap_or('D');
    LABELS
        .iter()
        .find(|(x, _)| *x == l)
        .map_or(DESCRIPTION_WEIGHT, |(_, w)| *w)
}

/// `term` as one quoted lexeme of `tsvector` input: taken as it is,
/// whatever it holds (quotes doubled, backslashes escaped).
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

/// A package's document as PostgreSQL gives it back: its lexemes and each
/// one's weight label, in the same order.
pub type StoredDocument = (Vec<String>, Vec<Option<String>>);

/// What one catch-up read, in one snapshot
/// ([`SharedDb::search_documents_since`]).
#[derive(Debug, Default)]
pub struct DocumentsRead {
    /// The latest commit when they were read.
    pub at: Commit,
    /// The mark the database gives the commit they were read from (`None`:
    /// it holds none under that number).
    pub from_mark: Option<i64>,
    /// Every document written after that commit, by package id.
    pub docs: Vec<(u32, StoredDocument)>,
}

impl DocumentsRead {
    /// Whether they follow commit `since` (`None`: they are every
    /// document): the database still holds it, under the same mark.
    fn follow(&self, since: Option<Commit>) -> bool {
        since.is_none_or(|s| s.seq <= self.at.seq && self.from_mark == s.mark)
    }
}

/// The terms of a stored document, with their weights.
fn terms_of((lexemes, labels): &StoredDocument) -> BTreeMap<String, u8> {
    lexemes
        .iter()
        .zip(labels)
        .map(|(t, l)| (t.clone(), weight(l.as_deref())))
        .collect()
}

/// A package's terms in the compact form the copy keeps them in: each term's
/// bytes, a 0 byte (no term holds one) and its weight.
fn pack_terms(terms: &BTreeMap<String, u8>) -> Box<[u8]> {
    let mut out = Vec::with_capacity(terms.keys().map(|t| t.len() + 2).sum());
    for (t, w) in terms {
        out.extend_from_slice(t.as_bytes());
        out.push(0);
        out.push(*w);
    }
    out.into_boxed_slice()
}

/// The terms [`pack_terms`] packed.
fn unpack_terms(packed: &[u8]) -> BTreeMap<String, u8> {
    let mut out = BTreeMap::new();
    let mut rest = packed;
    while let Some(end) = rest.iter().position(|b| *b == 0) {
        let (Ok(term), Some(w)) = (std::str::from_utf8(&rest[..end]), rest.get(end + 1)) else {
            break;
        };
        out.insert(term.to_string(), *w);
        rest = rest.get(end + 2..).unwrap_or_default();
    }
    out
}

/// The index as the embedded engine's `search` tree holds it, current at
/// one commit sequence.
#[derive(Debug, Default)]
pub struct Index {
    /// The commit it is current at; `None` until it is loaded.
    at: Option<Commit>,
    /// Each chunk key ([`search`]'s) and its posting list.
    lists: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Each package's terms ([`pack_terms`]), to find what a new document
    /// replaces.
    terms: HashMap<u32, Box<[u8]>>,
}

impl Index {
    /// Makes package `id`'s terms `new`, replacing what it had.
    fn set(&mut self, id: u32, new: &BTreeMap<String, u8>) {
        let old = self
            .terms
            .get(&id)
            .map(|t| unpack_terms(t))
            .unwrap_or_default();
        for (key, weight) in search::posting_changes(id, &old, new) {
            let list = self.lists.get(&key).map(Vec::as_slice).unwrap_or_default();
            let list = search::update_postings(list, id, weight);
            if list.is_empty() {
                self.lists.remove(&key);
            } else {
                self.lists.insert(key, list);
            }
        }
        self.terms.insert(id, pack_terms(new));
    }

    /// Bytes the index holds in its keys, lists and terms (not counting the
    /// maps' own overhead).
    fn bytes(&self) -> usize {
        let lists: usize = self.lists.iter().map(|(k, v)| k.len() + v.len()).sum();
        let terms: usize = self.terms.values().map(|t| t.len() + 4).sum();
        lists + terms
    }
}

/// What [`Index::apply`] made of documents read for a catch-up.
#[derive(Debug, PartialEq, Eq)]
enum Applied {
    /// The index is now current at the commit they were read at, or past it.
    Current,
    /// The index was emptied or replaced since they were read: read again.
    Again,
    /// The database no longer holds the commit the index stands at (a
    /// restore, a failover that lost commits): load it whole.
    HistoryChanged,
}

impl Index {
    /// Applies the documents `read` after commit `since` (`None`: every
    /// document), if the database still held that commit and the index
    /// still stands there (or already past what they bring).
    fn apply(&mut self, since: Option<Commit>, read: &DocumentsRead) -> Applied {
        if !read.follow(since) {
            // Unless another search moved the index meanwhile, and so read
            // from elsewhere, it stands on commits the database lost.
            return if self.at == since {
                Applied::HistoryChanged
            } else {
                Applied::Again
            };
        }
        // Another search may have brought the index further meanwhile: what
        // this one read is no newer.
        if self.at.is_some_and(|at| at.seq >= read.at.seq) {
            return Applied::Current;
        }
        // Or moved it elsewhere (part of the way, or to a copy loaded whole):
        // these documents follow a commit it no longer stands at.
        if self.at != since {
            return Applied::Again;
        }
        if self.at.is_none() {
            *self = Index::loaded(read.at, &read.docs);
            return Applied::Current;
        }
        for (id, doc) in &read.docs {
            self.set(*id, &terms_of(doc));
        }
        self.at = Some(read.at);
        Applied::Current
    }

    /// The index of every document `docs` (one per package) at commit
    /// `at`, built list by list: applying them one at a time would copy a
    /// common term's chunk once per package.
    fn loaded(at: Commit, docs: &[(u32, StoredDocument)]) -> Index {
        let mut lists: BTreeMap<Vec<u8>, Vec<(u32, u8)>> = BTreeMap::new();
        let mut terms = HashMap::with_capacity(docs.len());
        for (id, doc) in docs {
            let doc_terms = terms_of(doc);
            for (term, w) in &doc_terms {
                lists
                    .entry(search::chunk_key(term, *id))
                    .or_default()
                    .push((*id, *w));
            }
            terms.insert(*id, pack_terms(&doc_terms));
        }
        let lists = lists
            .into_iter()
            .map(|(key, mut entries)| {
                entries.sort_unstable();
                (key, search::encode_postings(&entries))
            })
            .collect();
        let index = Index {
            at: Some(at),
            lists,
            terms,
        };
        tracing::info!(
            packages = index.terms.len(),
            bytes = index.bytes(),
            "loaded the search index"
        );
        index
    }
}

impl PostingLists for Index {
    fn visit_prefix(&self, prefix: &[u8], f: &mut search::Visitor<'_>) -> Result<(), StoreError> {
        let from: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Included(prefix), Bound::Unbounded);
        for (key, list) in self.lists.range::<[u8], _>(from) {
            if !key.starts_with(prefix) || !f(key, list)? {
                break;
            }
        }
        Ok(())
    }
}

/// Reads of the documents a search makes at most to bring the copy up to
/// date: a copy another search moved meanwhile sends it round again.
const CATCH_UP_ATTEMPTS: usize = 5;

/// A process's copy of the shared node's search index (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct Replica {
    index: RwLock<Index>,
    /// Held while a copy is loaded whole: searches that notice a restore
    /// together load one.
    reloading: Mutex<()>,
}

impl Replica {
    /// The index as it stands (searches read it together).
    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings the copy up to the latest commit of `db`: one statement
    /// ([`SharedDb::search_documents_since`]) answers the latest commit and
    /// every document written after the copy's, which are applied in one
    /// step (searches wait for none when there are none). Documents read
    /// from a copy's commit are applied only to a copy at or past that
    /// commit. When the database no longer holds the commit the copy stands
    /// at (a restore, or a failover that lost commits, even once later
    /// writes carried the sequence past it: the commit's mark differs), a
    /// new copy is loaded whole and then put in its place, so no search
    /// ranks on a copy half loaded.
    pub fn catch_up(&self, db: &SharedDb) -> Result<(), StoreError> {
        for _ in 0..CATCH_UP_ATTEMPTS {
            let since = self.read().at;
            let read = db.search_documents_since(since.map(|at| at.seq))?;
            if read.follow(since) && self.read().at.is_some_and(|at| at.seq >= read.at.seq) {
                return Ok(());
            }
            let Ok(mut index) = self.index.write() else {
                // A search that panicked while applying documents may have
                // left the copy half-changed.
                return self.reload(db, since);
            };
            match index.apply(since, &read) {
                Applied::Current => return Ok(()),
                Applied::Again => continue,
                Applied::HistoryChanged => {
                    drop(index);
                    let contradicted =
                        read.from_mark.is_some() || since.is_some_and(|s| s.seq > read.at.seq);
                    if contradicted {
                        tracing::warn!(
                            database = read.at.seq,
                            copy = since.map(|at| at.seq),
                            "the database no longer holds the commit this process's search \
                             index stands at (a restore or a failover); loading it again"
                        );
                    }
                    // The package ids the copy names may now be other
                    // packages' (ids are given again after a restore).
                    db.forget_all();
                    return self.reload(db, since);
                }
            }
        }
        Err(StoreError::Backend(
            "the search index could not be brought up to date: it was replaced under this search"
                .into(),
        ))
    }

    /// Loads a new copy whole, then puts it in place of the copy, which
    /// stood at `stale`; unless another search replaced it meanwhile.
    fn reload(&self, db: &SharedDb, stale: Option<Commit>) -> Result<(), StoreError> {
        let _one = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.read().at != stale {
            return Ok(());
        }
        let read = db.search_documents_since(None)?;
        let fresh = Index::loaded(read.at, &read.docs);
        let mut index = self.index.write().unwrap_or_else(|poisoned| {
            self.index.clear_poison();
            poisoned.into_inner()
        });
        *index = fresh;
        Ok(())
    }
}

/// Scores every package against `query` as [`search::scored_in`] does, in
/// this process's copy of the index once it is up to date.
#[allow(clippy::type_complexity)]
pub fn scored(
    db: &SharedDb,
    query: &str,
    exact: Option<u32>,
) -> Result<(Vec<u32>, Vec<(u32, u32)>), StoreError> {
    if search::query_terms(query).is_empty() {
        return Ok((exact.into_iter().collect(), Vec::new()));
    }
    let replica = db.search_replica();
    replica.catch_up(db)?;
    let index = replica.read();
    search::scored_in(&*index, query, exact)
}

/// Records the document of package `id`, indexed under `terms`
/// ([`search::terms`]), in the write `tx` (shared engine only).
pub fn reindex(tx: &Tx<'_>, id: u32, terms: &BTreeMap<String, u8>) -> TxResult<()> {
    if let Some(shared) = tx.shared() {
        shared.set_search_doc(id, document(terms));
    }
    Ok(())
}

/// Rebuilds the documents from the packages when there is not one per
/// package (a database written before they existed, or a migration that
/// stopped between its trees and its index), then loads this process's copy
/// of the index. The shared engine only.
pub fn settle(db: &Db) -> Result<(), StoreError> {
    let Some(shared) = db.shared_db() else {
        return Ok(());
    };
    if shared.search_rows()? != db.count(T::Packages)? {
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
    }
    shared.search_replica().catch_up(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::tests::pkg;

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
        // What PostgreSQL gives back for it reads as the same terms.
        let stored: StoredDocument = (
            terms.keys().cloned().collect(),
            terms
                .values()
                .map(|w| Some(label(*w).to_string()))
                .collect(),
        );
        assert_eq!(terms_of(&stored), terms);
        assert_eq!(weight(None), DESCRIPTION_WEIGHT);
        assert_eq!(unpack_terms(&pack_terms(&terms)), terms);
    }

    /// A catch-up applies what it read only to an index standing where the
    /// read started or past it: never to one another search emptied
    /// meanwhile, which would then claim a commit while lacking everything
    /// before the read; and never when the database no longer holds the
    /// commit the read started from.
    #[test]
    fn documents_are_applied_only_where_they_start() {
        let doc = |t: &str| -> (u32, StoredDocument) {
            (0, (vec![t.to_string()], vec![Some("A".to_string())]))
        };
        // Commit `seq`, marked with its own number.
        let at = |seq: i64| Commit {
            seq,
            mark: Some(seq),
        };
        // What a catch-up from `since` read: up to `to`, with the mark the
        // database gave `since`.
        let read = |since: Option<i64>, to: i64, docs: &[(u32, StoredDocument)]| DocumentsRead {
            at: at(to),
            from_mark: since,
            docs: docs.to_vec(),
        };
        let holds = |i: &Index, t: &str| !search::scored_in(i, t, None).unwrap().0.is_empty();
        let mut index = Index::default();
        let first = read(None, 5, &[doc("bins")]);
        assert_eq!(index.apply(None, &first), Applied::Current);
        assert!(holds(&index, "bins"));
        assert_eq!(
            index.apply(Some(at(5)), &read(Some(5), 7, &[doc("crm")])),
            Applied::Current
        );
        assert_eq!(index.at, Some(at(7)));
        assert!(holds(&index, "crm") && !holds(&index, "bins"));
        // Read from 5 to 6 while another search brought it to 7: older.
        let older = read(Some(5), 6, &[doc("stale")]);
        assert_eq!(index.apply(Some(at(5)), &older), Applied::Current);
        assert!(!holds(&index, "stale"));
        // Read from 5 to 9 while another search brought it to 7: these
        // follow 5, not 7 (which may be another history's by now).
        let newer = read(Some(5), 9, &[doc("newer")]);
        assert_eq!(index.apply(Some(at(5)), &newer), Applied::Again);
        assert!(!holds(&index, "newer"));
        assert_eq!(index.at, Some(at(7)));
        // Emptied meanwhile: read again from empty.
        let mut emptied = Index::default();
        let late = read(Some(7), 9, &[doc("late")]);
        assert_eq!(emptied.apply(Some(at(7)), &late), Applied::Again);
        assert_eq!(emptied.at, None);
        assert!(!holds(&emptied, "late"));
        // A database behind the read's start.
        assert_eq!(
            index.apply(Some(at(7)), &read(Some(7), 3, &[])),
            Applied::HistoryChanged
        );
        // A database past it again, but whose commit 7 is another one (a
        // restore, then other writes): its documents are not applied.
        let mut other = read(Some(7), 9, &[doc("other")]);
        other.from_mark = Some(70);
        assert_eq!(index.apply(Some(at(7)), &other), Applied::HistoryChanged);
        assert!(!holds(&index, "other"));
        assert_eq!(index.at, Some(at(7)));
        // Or that holds no commit 7 at all any more.
        other.from_mark = None;
        assert_eq!(index.apply(Some(at(7)), &other), Applied::HistoryChanged);
        // While another search already moved the copy on: read again.
        assert_eq!(index.apply(Some(at(6)), &other), Applied::Again);
    }

    /// The copy holds exactly the keys and lists the embedded engine's tree
    /// holds for the same packages, through first documents and changed
    /// ones, and ranks every query alike.
    #[test]
    fn the_copy_holds_and_ranks_what_the_embedded_index_does() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _f) = Db::open(&dir.path().join("db")).unwrap();
        let mut copy = Index::default();
        let topics = ["crm", "waste", "parking", "permits", "crm-lite", "bins"];
        let mut pkgs: Vec<PackageRecord> = (0..9000u32)
            .step_by(450)
            .map(|i| {
                let t = topics[i as usize % topics.len()];
                let u = topics[(i as usize / 7) % topics.len()];
                pkg(
                    i,
                    &format!("council{}/{t}-app{i}", i % 3),
                    &format!("A {u} service, it's {t}"),
                    &[u, "Blue Badge"],
                )
            })
            .collect();
        let apply = |copy: &mut Index, old: Option<&PackageRecord>, new: &PackageRecord| {
            db.transact(|tx| search::reindex(tx, old, new)).unwrap();
            copy.set(new.id, &search::terms(new));
        };
        for p in &pkgs {
            apply(&mut copy, None, p);
        }
        // New descriptions and keywords for some: terms come and go.
        for p in pkgs.iter_mut().step_by(3) {
            let old = p.clone();
            p.description = "Recycling rounds".into();
            p.keywords = vec!["waste".into()];
            apply(&mut copy, Some(&old), p);
        }
        let tree: Vec<(Vec<u8>, Vec<u8>)> = db
            .tree(T::Search)
            .unwrap()
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        let held: Vec<(Vec<u8>, Vec<u8>)> = copy
            .lists
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(held, tree);
        // Loaded whole from the documents, as a process does at start.
        let docs: Vec<(u32, StoredDocument)> = pkgs
            .iter()
            .map(|p| {
                let t = search::terms(p);
                let labels = t.values().map(|w| Some(label(*w).to_string())).collect();
                (p.id, (t.into_keys().collect(), labels))
            })
            .collect();
        let whole = Index::loaded(Commit::default(), &docs);
        let whole_lists: Vec<(Vec<u8>, Vec<u8>)> = whole.lists.into_iter().collect();
        assert_eq!(whole_lists, tree);
        assert_eq!(whole.terms, copy.terms);
        for q in [
            "crm",
            "crm-lite",
            "was",
            "waste recycling",
            "council1",
            "blue badge",
            "it's",
            "pa",
            "nothing",
        ] {
            assert_eq!(
                search::scored_in(&copy, q, None).unwrap(),
                search::scored(&db, q, None).unwrap(),
                "{q}"
            );
        }
        assert!(!search::scored_in(&copy, "recycling", None)
            .unwrap()
            .1
            .is_empty());
    }
}
