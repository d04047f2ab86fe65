//! The rows a shared-node process read or wrote under the sequencer lock,
//! kept for its next write transactions.
//!
//! Every write of every process holds the sequencer lock and moves the
//! commit sequence (`shire_generation` row 2) when it commits. A process
//! that takes the lock and finds the sequence where its own last commit left
//! it knows no other process wrote since: every row it read or wrote under
//! the lock is still what the database holds, and its transaction reads them
//! here instead of asking PostgreSQL again (a publish reads the log size, the
//! counters, the signer's key, account and organisation every time). When
//! the sequence moved on, the rows the commits in between wrote (each commit
//! lists its keys) are taken as the write's begin read them under the lock
//! ([`RowCache::refreshed`]), or, when it could not read them all, their
//! keys are forgotten ([`RowCache::caught_up`]); the rest are kept. Reads
//! outside the lock never use it.
//!
//! A sequence number alone does not name a commit: after a restore, or a
//! failover that lost commits, other processes' writes carry the sequence
//! past this one's again, with other rows. So the cache also keeps the mark
//! its commit was given (`shire_commits`), and is kept only while the
//! database gives that commit the same mark ([`RowCache::standing`]).
//!
//! A read made outside the lock just before a write (a publish reads its
//! key, and whether its release exists, to answer early) may be kept as
//! well, once its token is accepted and when the cache did
//! not move while it was read ([`RowCache::seen_outside`]): it saw the
//! database at the cache's commit or later, and every row written after
//! that commit is taken again at the next write's begin, so the write
//! transaction does not ask again under the lock.

use std::collections::{BTreeMap, HashMap};

/// A tree number and a key.
pub type Key = (i16, Vec<u8>);

/// Bytes kept at most (keys, values and [`ENTRY_OVERHEAD`] each); past it
/// the cache starts again.
const MAX_BYTES: usize = 32 << 20;
/// What an entry costs beside its key and value (the map's slot, two
/// vectors' headers).
const ENTRY_OVERHEAD: usize = 80;

/// One commit of the node's database: its sequence number, and the random
/// mark the process that made it drew (`None`: the database holds none, a
/// commit made before commits were marked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commit {
    /// Its number in the commit sequence.
    pub seq: i64,
    /// Its mark.
    pub mark: Option<i64>,
}

/// Whether the database still holds the commit a cache stands at
/// ([`RowCache::standing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It does (or the cache is empty).
    Held,
    /// It gives that number no mark any more: too old to be kept, or lost.
    Unconfirmed,
    /// It does not: it stands before that commit, or gives its number
    /// another mark (a restore, a failover that lost commits).
    Lost,
}

/// Rows known at one commit (`None`: the key is absent).
#[derive(Debug, Default)]
pub struct RowCache {
    at: Option<Commit>,
    rows: HashMap<Key, Option<Vec<u8>>>,
    bytes: usize,
    /// Moves whenever `at` does or rows are forgotten: what a read outside
    /// the lock checks before it is kept ([`RowCache::stamp`]).
    epoch: u64,
}

/// Where a [`RowCache`] stood when a read outside the lock began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(u64);

impl RowCache {
    /// Makes the cache hold only rows current at commit `at` (read under
    /// the lock): kept when it was taken there, emptied otherwise.
    pub fn current_at(&mut self, at: Commit) {
        if self.at != Some(at) {
            self.forget();
            self.at = Some(at);
        }
    }

    /// Bytes of keys and values held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Where the cache stands now, for a read outside the lock that is
    /// about to begin (`None`: the cache keeps nothing).
    pub fn stamp(&self) -> Option<Stamp> {
        self.at.map(|_| Stamp(self.epoch))
    }

    /// Keeps `rows`, read outside the lock by a read that began at `stamp`,
    /// if the cache has not moved since: the read saw the database at the
    /// cache's commit or after it, and the rows written after that commit
    /// are taken again when the next write begins, before any write reads
    /// them here. (While this process holds the lock, no other commits, so
    /// the read saw exactly the cache's commit.) Whether they were kept.
    pub fn seen_outside(
        &mut self,
        stamp: Option<Stamp>,
        rows: impl IntoIterator<Item = (Key, Option<Vec<u8>>)>,
    ) -> bool {
        if stamp.is_none() || stamp != self.stamp() {
            return false;
        }
        for (key, value) in rows {
            self.read(key, value);
        }
        true
    }

    /// Records that the cache moved: reads outside the lock begun before
    /// are not kept.
    fn moved(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Whether the database, standing at commit sequence `seq` and giving
    /// the commits from the cache's on the marks `marks` (by sequence
    /// number), still holds the commit the cache is current at.
    pub fn standing(&self, seq: i64, marks: &BTreeMap<i64, i64>) -> Standing {
        let Some(at) = self.at else {
            // Nothing kept, nothing to lose.
            return Standing::Held;
        };
        if at.seq > seq {
            return Standing::Lost;
        }
        match (marks.get(&at.seq).copied(), at.mark) {
            (Some(db), Some(kept)) if db == kept => Standing::Held,
            // None on either side: a commit made before commits were
            // marked, which no later commit can be, as every later one is.
            (None, None) => Standing::Held,
            (Some(_), _) => Standing::Lost,
            (None, Some(_)) => Standing::Unconfirmed,
        }
    }

    /// The sequence the cache was current at, when `seq` is past it: the
    /// commits after it are someone else's.
    pub fn behind(&self, seq: i64) -> Option<i64> {
        self.at.map(|at| at.seq).filter(|at| *at < seq)
    }

    /// Forgets the rows under `changed` (written by the commits up to `at`
    /// that were not this process's) and keeps the rest, current at `at`.
    pub fn caught_up(&mut self, changed: impl IntoIterator<Item = Key>, at: Commit) {
        self.drop_rows(changed);
        self.at = Some(at);
        self.moved();
    }

    /// Forgets the rows under `keys` (always safe: a row not kept is read
    /// again when wanted).
    pub fn drop_rows(&mut self, keys: impl IntoIterator<Item = Key>) {
        for key in keys {
            if let Some(value) = self.rows.remove(&key) {
                self.bytes -= ENTRY_OVERHEAD + key.1.len() + value.as_ref().map_or(0, Vec::len);
            }
        }
    }

    /// The commit sequence the rows are current at, if any.
    pub fn at(&self) -> Option<i64> {
        self.at.map(|at| at.seq)
    }

    /// Takes `rows` (every row written by the commits since the cache was
    /// current up to `seq`, as the database holds them at `seq`, read under
    /// the lock; some may be this process's own) and keeps the rest,
    /// current at `at`.
    pub fn refreshed(
        &mut self,
        rows: impl IntoIterator<Item = (Key, Option<Vec<u8>>)>,
        at: Commit,
    ) {
        self.at = Some(at);
        self.moved();
        for (key, value) in rows {
            self.read(key, value);
        }
    }

    /// The row under `key`, if known: `Some(None)` when known absent.
    pub fn get(&self, key: &Key) -> Option<Option<Vec<u8>>> {
        self.rows.get(key).cloned()
    }

    /// Records what the database answered for `key` under the lock.
    pub fn read(&mut self, key: Key, value: Option<Vec<u8>>) {
        if self.at.is_none() {
            return;
        }
        self.bytes += ENTRY_OVERHEAD + key.1.len() + value.as_ref().map_or(0, Vec::len);
        if let Some(old) = self.rows.insert(key.clone(), value) {
            self.bytes -= ENTRY_OVERHEAD + key.1.len() + old.as_ref().map_or(0, Vec::len);
        }
        if self.bytes > MAX_BYTES {
            let at = self.at;
            self.forget();
            self.at = at;
        }
    }

    /// Records this process's committed `writes`, commit `at`, made by a
    /// batch that began with the cache at `base`.
    ///
    /// A report that finds the cache elsewhere is ignored: a later batch
    /// began and caught up (through this commit, or past it) while this
    /// one's committer was descheduled, or the cache was emptied because
    /// the database changed history; the rows may be stale there.
    pub fn committed(&mut self, base: Commit, writes: BTreeMap<Key, Option<Vec<u8>>>, at: Commit) {
        if self.at != Some(base) {
            return;
        }
        self.at = Some(at);
        self.moved();
        for (key, value) in writes {
            self.read(key, value);
        }
    }

    /// Empties the cache and trusts no sequence (a commit whose outcome is
    /// unknown, or writes made around it).
    pub fn forget(&mut self) {
        self.at = None;
        self.rows.clear();
        self.bytes = 0;
        self.moved();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Key {
        (0, k.as_bytes().to_vec())
    }

    /// Commit `seq`, marked with its own number.
    fn at(seq: i64) -> Commit {
        Commit {
            seq,
            mark: Some(seq),
        }
    }

    #[test]
    fn rows_last_only_while_no_one_else_commits() {
        let mut c = RowCache::default();
        c.read(key("a"), Some(b"1".to_vec()));
        assert_eq!(c.get(&key("a")), None, "nothing is kept before a sequence");
        c.current_at(at(7));
        c.read(key("a"), Some(b"1".to_vec()));
        c.read(key("gone"), None);
        c.current_at(at(7));
        assert_eq!(c.get(&key("a")), Some(Some(b"1".to_vec())));
        assert_eq!(c.get(&key("gone")), Some(None), "absence is known too");
        c.committed(at(7), [(key("a"), Some(b"2".to_vec()))].into(), at(8));
        c.current_at(at(8));
        assert_eq!(c.get(&key("a")), Some(Some(b"2".to_vec())));
        // Another process committed: 9 is not where this one left it.
        c.current_at(at(9));
        assert_eq!(c.get(&key("a")), None);
        c.read(key("b"), None);
        c.read(key("c"), Some(b"3".to_vec()));
        // Another process wrote b at 10: only b is forgotten.
        assert_eq!(c.behind(10), Some(9));
        let marks = [(9, 9), (10, 10)].into();
        assert_eq!(c.standing(10, &marks), Standing::Held);
        c.caught_up([key("b")], at(10));
        assert_eq!(c.behind(10), None);
        assert_eq!(
            c.standing(9, &marks),
            Standing::Lost,
            "a sequence that went back is seen"
        );
        assert_eq!(c.get(&key("b")), None);
        assert_eq!(c.get(&key("c")), Some(Some(b"3".to_vec())));
        c.forget();
        c.current_at(at(9));
        assert_eq!(c.get(&key("b")), None);
        // A commit reported late, after the cache caught up past it, is
        // not taken back to.
        c.current_at(at(12));
        c.read(key("k"), Some(b"new".to_vec()));
        c.committed(at(10), [(key("k"), Some(b"old".to_vec()))].into(), at(11));
        assert_eq!(c.get(&key("k")), Some(Some(b"new".to_vec())));
        assert_eq!(c.behind(12), None, "still at 12");
        // Nor after another batch caught up to a commit of the same number
        // (the database changed history meanwhile), nor onto an emptied
        // cache.
        c.committed(at(12), [(key("k"), Some(b"lost".to_vec()))].into(), at(13));
        assert_eq!(c.get(&key("k")), Some(Some(b"lost".to_vec())), "its base");
        c.current_at(Commit {
            seq: 13,
            mark: Some(130),
        });
        c.read(key("k"), Some(b"other".to_vec()));
        c.committed(at(12), [(key("k"), Some(b"lost".to_vec()))].into(), at(13));
        assert_eq!(c.get(&key("k")), Some(Some(b"other".to_vec())));
        c.forget();
        c.committed(at(13), [(key("k"), Some(b"lost".to_vec()))].into(), at(14));
        assert_eq!((c.at(), c.get(&key("k"))), (None, None));
    }

    #[test]
    fn rows_others_wrote_are_taken_as_read_under_the_lock() {
        let mut c = RowCache::default();
        c.current_at(at(3));
        c.read(key("mine"), Some(b"1".to_vec()));
        c.read(key("theirs"), Some(b"old".to_vec()));
        c.read(key("deleted"), Some(b"x".to_vec()));
        assert_eq!(c.at(), Some(3));
        c.refreshed(
            [
                (key("theirs"), Some(b"new".to_vec())),
                (key("deleted"), None),
                (key("added"), Some(b"a".to_vec())),
            ],
            at(5),
        );
        assert_eq!(c.at(), Some(5));
        assert_eq!(c.behind(5), None);
        assert_eq!(c.get(&key("mine")), Some(Some(b"1".to_vec())), "kept");
        assert_eq!(c.get(&key("theirs")), Some(Some(b"new".to_vec())));
        assert_eq!(c.get(&key("deleted")), Some(None));
        assert_eq!(c.get(&key("added")), Some(Some(b"a".to_vec())));
    }

    #[test]
    fn a_read_outside_the_lock_is_kept_only_while_the_cache_stands_still() {
        let mut c = RowCache::default();
        assert_eq!(c.stamp(), None);
        assert!(!c.seen_outside(c.stamp(), [(key("a"), None)]));
        assert_eq!(c.get(&key("a")), None, "nothing is kept before a sequence");
        c.current_at(at(3));
        let before = c.stamp();
        c.current_at(at(3));
        assert!(c.seen_outside(before, [(key("release"), None)]));
        assert_eq!(c.get(&key("release")), Some(None), "absence is kept");
        // Every way the cache moves: a read begun before it is not kept.
        type Move = (&'static str, fn(&mut RowCache));
        let moves: [Move; 6] = [
            ("caught up", |c| c.caught_up([], at(4))),
            ("refreshed", |c| c.refreshed([], at(4))),
            ("committed", |c| c.committed(at(3), BTreeMap::new(), at(4))),
            ("taken elsewhere", |c| c.current_at(at(9))),
            ("forgotten", |c| {
                c.forget();
                c.current_at(at(3));
            }),
            ("full", |c| c.read(key("big"), Some(vec![0; MAX_BYTES]))),
        ];
        for (how, step) in moves {
            let mut c = RowCache::default();
            c.current_at(at(3));
            let began = c.stamp();
            step(&mut c);
            assert!(
                !c.seen_outside(began, [(key("stale"), Some(b"old".to_vec()))]),
                "{how}"
            );
            assert_eq!(c.get(&key("stale")), None, "{how}");
        }
        // A late commit report of a batch that began where the read did
        // still writes over what the read saw.
        let mut c = RowCache::default();
        c.current_at(at(3));
        let began = c.stamp();
        assert!(c.seen_outside(began, [(key("k"), None)]));
        c.committed(at(3), [(key("k"), Some(b"mine".to_vec()))].into(), at(4));
        assert_eq!(c.get(&key("k")), Some(Some(b"mine".to_vec())));
    }

    #[test]
    fn dropped_rows_are_read_again_and_free_their_bytes() {
        let mut c = RowCache::default();
        c.current_at(at(1));
        c.read(key("kept"), Some(vec![1; 10]));
        c.read(key("large"), Some(vec![2; 1000]));
        let before = c.bytes;
        c.drop_rows([key("large"), key("never kept")]);
        assert_eq!(c.get(&key("large")), None);
        assert_eq!(c.get(&key("kept")), Some(Some(vec![1; 10])));
        assert_eq!(before - c.bytes, ENTRY_OVERHEAD + 5 + 1000);
        assert_eq!(c.at(), Some(1), "the cache stays where it stood");
    }

    #[test]
    fn a_full_cache_starts_again() {
        let mut c = RowCache::default();
        c.current_at(at(1));
        c.read(key("big"), Some(vec![0; MAX_BYTES]));
        c.read(key("over"), Some(vec![0; 2]));
        assert_eq!(c.get(&key("big")), None);
        c.read(key("small"), Some(vec![1]));
        assert_eq!(c.get(&key("small")), Some(Some(vec![1])), "still at 1");
    }

    #[test]
    fn a_commit_is_known_by_its_mark_not_its_number() {
        let mut c = RowCache::default();
        assert_eq!(
            c.standing(3, &BTreeMap::new()),
            Standing::Held,
            "nothing kept, nothing to doubt"
        );
        c.current_at(at(4));
        c.read(key("a"), Some(b"1".to_vec()));
        assert_eq!(c.standing(5, &[(4, 4), (5, 5)].into()), Standing::Held);
        // A restore, then other writes past 4: commit 4 is another one now.
        assert_eq!(c.standing(5, &[(4, 99), (5, 5)].into()), Standing::Lost);
        // A database behind it.
        assert_eq!(c.standing(3, &[(3, 3)].into()), Standing::Lost);
        // No longer listed at all: too old, or lost.
        assert_eq!(c.standing(5, &[(5, 5)].into()), Standing::Unconfirmed);
        // A commit made before commits were marked is held while its
        // number has no mark still, and lost once a marked commit has it.
        c.current_at(Commit { seq: 6, mark: None });
        assert_eq!(c.standing(7, &[(7, 7)].into()), Standing::Held);
        assert_eq!(c.standing(7, &[(6, 6), (7, 7)].into()), Standing::Lost);
        // Two commits of one number are not one commit.
        c.current_at(at(7));
        c.read(key("b"), Some(b"2".to_vec()));
        c.current_at(Commit {
            seq: 7,
            mark: Some(70),
        });
        assert_eq!(c.get(&key("b")), None);
    }
}
