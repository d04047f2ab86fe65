//! Log replicas: this client's own replay of a log, kept between runs, from
//! which installs and audits take every fact they act on (which releases
//! exist and with which digest, which key signed each, every accepted
//! verdict, yanks), never from a registry's summary.
//!
//! A [`Replica`] holds, for one log, its origin, the right edge of its Merkle
//! tree (`shire_tlog::Frontier`) and the ledger state its entries established
//! (`shire_core::ledger::MemoryLedger`, the same rules the node applies).
//! [`extend`] downloads only the entries past the replica's size, appends each
//! to the frontier and replays it through the ledger, and accepts the result
//! only when the frontier's root is the root of a [`VerifiedHead`] — a
//! checkpoint this client verified (pinned key, consistency with every earlier
//! one). So every fact in a replica comes from an entry of the signed log, and
//! separate inclusion proofs are not needed. An entry that breaks a rule makes
//! the log invalid: the replica is refused, naming the entry.
//!
//! # The file
//!
//! `SHIRE_HOME/replicas/<log>-<hash>.json`, one per log: the registry's own
//! log keyed by its URL (as `transparency::state` keys checkpoints), a
//! mirrored origin's log keyed `origin://<origin>`; the file name is made as
//! the checkpoint state's. Compact JSON:
//!
//! ```json
//! {
//!   "format": 1,
//!   "log": "http://127.0.0.1:7878",
//!   "origin": "shire.local/0123456789abcdef",
//!   "frontier": { "size": 42, "hashes": { "<stored hash index>": "<base64>" } },
//!   "ledger": { "origin": "...", "orgs": {}, "keys": {}, "accounts": {}, "releases": {} },
//!   "yanks": { "braintree/crm@1.0.0": { "reason": "...", "by": "bt-dev", "at": "..." } }
//! }
//! ```
//!
//! It is written whole and renamed into place (`home::write_atomic`), only
//! after an extension verified. It is derived data: a file that cannot be read,
//! is for another origin, or is larger than the verified checkpoint (the
//! checkpoint state and the replica disagree) is rebuilt from entry 0. When two
//! `shire` processes sync at once, the last to finish wins; either file is a
//! verified prefix of the log.

use super::state;
use crate::api::{ApiError, Client};
use crate::home::{read_json, write_atomic, Home};
use crate::output;
use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shire_core::event::LogEvent;
use shire_core::ledger::{
    version_identity, Change, KeyFacts, MemoryLedger, ReleaseFacts, RuleError,
};
use shire_core::wire::LogEntries;
use shire_core::{PackageName, Version};
use shire_tlog::{Frontier, Hash, TreeError, TreeHead};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The replica file format this client writes and reads.
pub const REPLICA_FORMAT: u32 = 1;
/// Entries asked for per request (the node serves at most 1,000).
pub const BATCH: u64 = 1000;

/// A tree head this client verified: signed by the key it trusts for the
/// log's origin, and consistent with every checkpoint of that log it verified
/// before. Only `transparency::checkpoint` and `transparency::mirror` make
/// one, so a replica is never extended past a checkpoint that was not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHead {
    origin: String,
    name: String,
    head: TreeHead,
}

impl VerifiedHead {
    pub(in crate::transparency) fn new(origin: &str, name: &str, head: TreeHead) -> Self {
        Self {
            origin: origin.to_string(),
            name: name.to_string(),
            head,
        }
    }

    /// A head taken as verified, for tests elsewhere in the crate.
    #[cfg(test)]
    pub(crate) fn for_tests(origin: &str, name: &str, head: TreeHead) -> Self {
        Self::new(origin, name, head)
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's name (its node's note verifier key, from the key that
    /// verified the head): what the log's statements must be signed for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size and root.
    pub fn head(&self) -> TreeHead {
        self.head
    }
}

/// A yank as the log recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YankNote {
    /// The publisher's reason.
    pub reason: String,
    /// The publishing account that yanked it.
    pub by: String,
    /// When (as the entry says).
    pub at: String,
}

/// One release as a replica holds it.
#[derive(Debug, Clone, Copy)]
pub struct Logged<'a> {
    /// What the log established: exact subject, publisher key, verdicts, yank.
    pub facts: &'a ReleaseFacts,
    /// The publisher key as the log registered it.
    pub key: Option<&'a KeyFacts>,
    /// The yank's reason, when it is yanked.
    pub yank: Option<&'a YankNote>,
    /// The takedown's reason, when its artifact was taken down.
    pub takedown: Option<&'a YankNote>,
}

/// A release looked up in the replica of a log: the log's origin, and the
/// release if the log holds it.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The origin of the log looked in.
    pub origin: &'a str,
    /// The release, if the log holds it.
    pub logged: Option<Logged<'a>>,
}

/// Why one entry could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Its bytes are not a log event.
    #[error("it is not a log event ({0})")]
    Undecodable(String),
    /// It breaks one of the log's rules.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The tree cannot grow (beyond any supported size).
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// Why a replica could not be extended to a verified checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// An entry of the signed log is invalid: the log itself is.
    #[error("log entry {index} of {origin} is invalid: {source}")]
    Invalid {
        /// The log's origin.
        origin: String,
        /// The entry.
        index: u64,
        /// Why.
        #[source]
        source: EntryError,
    },
    /// The entries served do not hash to the verified root.
    #[error("the registry served entries that are not the signed log of {origin}: they do not hash to the root of its verified checkpoint of {size} entries; refusing them")]
    NotSigned {
        /// The log's origin.
        origin: String,
        /// The checkpoint's size.
        size: u64,
    },
    /// Entries could not be fetched.
    #[error("fetching entries {start}..{end} of the log of {origin}: {source}")]
    Fetch {
        /// The log's origin.
        origin: String,
        /// First entry asked for.
        start: u64,
        /// End of the range asked for.
        end: u64,
        /// Why.
        #[source]
        source: ApiError,
    },
    /// The registry served fewer entries than its checkpoint covers.
    #[error("the registry serves no log entry {index} of {origin}, though its verified checkpoint covers {size} entries")]
    Withheld {
        /// The log's origin.
        origin: String,
        /// The entry missing.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// An entry arrived out of place.
    #[error("the registry sent log entry {got} of {origin} where entry {want} belongs")]
    OutOfOrder {
        /// The log's origin.
        origin: String,
        /// The index expected.
        want: u64,
        /// The index received.
        got: u64,
    },
    /// An entry's data is not base64.
    #[error("log entry {index} of {origin} is not base64")]
    BadData {
        /// The log's origin.
        origin: String,
        /// The entry.
        index: u64,
    },
    /// The replica is not one of the head's log, or is larger than it.
    #[error("the replica of {held_origin} at {held_size} entries cannot be extended to the checkpoint of {origin} at {size} entries")]
    Mismatch {
        /// The replica's origin.
        held_origin: String,
        /// Its size.
        held_size: u64,
        /// The head's origin.
        origin: String,
        /// The head's size.
        size: u64,
    },
    /// The tree cannot be computed.
    #[error("recomputing the tree of {origin}: {source}")]
    Tree {
        /// The log's origin.
        origin: String,
        /// Why.
        #[source]
        source: TreeError,
    },
}

/// One log as this client replayed it; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    format: u32,
    log: String,
    origin: String,
    frontier: Frontier,
    ledger: MemoryLedger,
    #[serde(default)]
    yanks: BTreeMap<String, YankNote>,
    #[serde(default)]
    takedowns: BTreeMap<String, YankNote>,
}

fn release_key(name: &PackageName, version: &Version) -> String {
    format!("{name}@{}", version_identity(version))
}

impl Replica {
    /// The replica of the empty log of `origin` named `name` (its node's
    /// note verifier key), stored under `log`.
    pub fn new(log: &str, origin: &str, name: &str) -> Self {
        Self {
            format: REPLICA_FORMAT,
            log: log.to_string(),
            origin: origin.to_string(),
            frontier: Frontier::new(),
            ledger: MemoryLedger::new(origin, name),
            yanks: BTreeMap::new(),
            takedowns: BTreeMap::new(),
        }
    }

    /// What it is stored under: a registry URL, or `origin://<origin>`.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Entries replayed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the tree of the entries replayed.
    pub fn root(&self) -> Result<Hash, TreeError> {
        self.frontier.root()
    }

    /// The ledger state the entries established.
    pub fn ledger(&self) -> &MemoryLedger {
        &self.ledger
    }

    /// Whether the replica is exactly the tree `head`.
    pub fn is_at(&self, head: &TreeHead) -> bool {
        self.size() == head.size && self.root().is_ok_and(|r| r == head.root)
    }

    /// The release of `name` at `version` (build metadata aside: the log
    /// holds one release per version), with its publisher key and yank.
    pub fn logged(&self, name: &PackageName, version: &Version) -> Option<Logged<'_>> {
        let facts = self.ledger.release_facts(name, version)?;
        Some(Logged {
            facts,
            key: self.ledger.key_facts(&facts.publisher_key),
            yank: self
                .yanks
                .get(&release_key(name, version))
                .filter(|_| facts.yanked),
            takedown: self
                .takedowns
                .get(&release_key(name, version))
                .filter(|_| facts.taken_down),
        })
    }

    /// [`Replica::logged`], remembering which log was asked.
    pub fn lookup(&self, name: &PackageName, version: &Version) -> Lookup<'_> {
        Lookup {
            origin: &self.origin,
            logged: self.logged(name, version),
        }
    }

    /// Appends entry `index` (its exact bytes) to the tree and replays it
    /// under the log's rules. The tree grows even when the entry is refused,
    /// so the caller can still compare roots.
    pub fn apply(&mut self, index: u64, bytes: &[u8]) -> Result<(), EntryError> {
        self.frontier.append(bytes)?;
        // serde's message may quote the entry: never repeat much of it.
        let event = LogEvent::from_bytes(bytes)
            .map_err(|e| EntryError::Undecodable(shire_core::clip(&e.to_string())))?;
        match self.ledger.replay(index, &event)? {
            Change::Yanked(y) => {
                let key = release_key(&y.release.subject.name, &y.release.subject.version);
                match y.reason {
                    Some(reason) => {
                        self.yanks.insert(
                            key,
                            YankNote {
                                reason,
                                by: y.by,
                                at: y.at,
                            },
                        );
                    }
                    None => {
                        self.yanks.remove(&key);
                    }
                }
            }
            Change::TakenDown(t) => {
                let key = release_key(&t.release.subject.name, &t.release.subject.version);
                self.takedowns.insert(
                    key,
                    YankNote {
                        reason: t.reason,
                        by: t.by,
                        at: t.at,
                    },
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn fits(&self, head: &VerifiedHead) -> bool {
        self.origin == head.origin
            && self.ledger.origin() == head.origin
            && self.ledger.name() == head.name
            && self.size() <= head.head.size
    }
}

/// Extends `replica` to the verified `head`: fetches entries
/// `replica.size()..head.size` through `fetch` (in batches of at most
/// [`BATCH`], fewer when the answer would be too large), applies each, and
/// requires the tree's root to be the head's. `progress` gets the number of
/// entries replayed so far. On any error nothing is returned to be kept.
pub fn extend<F, P>(
    mut replica: Replica,
    head: &VerifiedHead,
    mut fetch: F,
    mut progress: P,
) -> Result<Replica, ReplicaError>
where
    F: FnMut(u64, u64) -> Result<LogEntries, ApiError>,
    P: FnMut(u64),
{
    let origin = head.origin.clone();
    let size = head.head.size;
    if !replica.fits(head) {
        return Err(ReplicaError::Mismatch {
            held_origin: replica.origin.clone(),
            held_size: replica.size(),
            origin,
            size,
        });
    }
    // The first refused entry; later entries are still hashed, so a registry
    // that served other bytes is told apart from a log that broke a rule.
    let mut invalid: Option<ReplicaError> = None;
    let mut batch = BATCH;
    let mut next = replica.size();
    while next < size {
        let end = size.min(next + batch);
        let got = match fetch(next, end) {
            Ok(b) => b,
            Err(ApiError::TooLarge { .. }) if end - next > 1 => {
                batch = ((end - next) / 2).max(1);
                continue;
            }
            Err(source) => {
                return Err(ReplicaError::Fetch {
                    origin,
                    start: next,
                    end,
                    source,
                })
            }
        };
        if got.entries.is_empty() {
            return Err(ReplicaError::Withheld {
                origin,
                index: next,
                size,
            });
        }
        for e in got.entries {
            if next >= end {
                break;
            }
            if e.index != next {
                return Err(ReplicaError::OutOfOrder {
                    origin,
                    want: next,
                    got: e.index,
                });
            }
            let bytes = B64
                .decode(e.data.as_bytes())
                .map_err(|_| ReplicaError::BadData {
                    origin: origin.clone(),
                    index: next,
                })?;
            if invalid.is_none() {
                if let Err(source) = replica.apply(next, &bytes) {
                    if let EntryError::Tree(source) = source {
                        return Err(ReplicaError::Tree { origin, source });
                    }
                    invalid = Some(ReplicaError::Invalid {
                        origin: origin.clone(),
                        index: next,
                        source,
                    });
                }
            } else {
                replica
                    .frontier
                    .append(&bytes)
                    .map_err(|source| ReplicaError::Tree {
                        origin: origin.clone(),
                        source,
                    })?;
            }
            next += 1;
        }
        progress(next);
    }
    let root = replica.root().map_err(|source| ReplicaError::Tree {
        origin: origin.clone(),
        source,
    })?;
    if root != head.head.root {
        return Err(ReplicaError::NotSigned { origin, size });
    }
    match invalid {
        Some(e) => Err(e),
        None => Ok(replica),
    }
}

/// Where a log's entries are fetched from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The registry's own log (`/api/v1/log/entries`).
    Own,
    /// An origin's log as the registry mirrors it
    /// (`/api/v1/mirrors/{origin}/log/entries`).
    Mirror(&'a str),
}

/// The replica file of `log` in `home`.
pub fn path(home: &Home, log: &str) -> PathBuf {
    home.replicas_dir().join(state::file_name(log))
}

/// Loads the replica stored for `log`, `None` when there is none.
pub fn load(home: &Home, log: &str) -> Result<Option<Replica>> {
    let p = path(home, log);
    let Some(r) = read_json::<Replica>(&p)? else {
        return Ok(None);
    };
    if r.format != REPLICA_FORMAT {
        anyhow::bail!(
            "{} is of replica format {}, not {REPLICA_FORMAT}",
            p.display(),
            r.format
        );
    }
    if r.log != log {
        anyhow::bail!("{} is the replica of {}, not of {log}", p.display(), r.log);
    }
    Ok(Some(r))
}

/// Stores `replica` atomically.
pub fn save(home: &Home, replica: &Replica) -> Result<PathBuf> {
    let p = path(home, &replica.log);
    let bytes = serde_json::to_vec(replica).context("encoding the log replica")?;
    write_atomic(&p, &bytes, false)?;
    Ok(p)
}

/// Brings the replica stored as `log` up to the verified `head`, fetching
/// entries from `source`, stores it, and returns it. Refuses (storing
/// nothing) a log with an invalid entry or entries that do not hash to the
/// head; a stored replica that does not lead to the head is rebuilt.
pub fn sync(
    home: &Home,
    client: &Client,
    log: &str,
    head: &VerifiedHead,
    source: Source<'_>,
) -> Result<Replica> {
    let fresh = || Replica::new(log, &head.origin, &head.name);
    let held = match load(home, log) {
        Ok(h) => h,
        Err(e) => {
            output::warn(format!("{e:#}; rebuilding it from the log"));
            None
        }
    };
    let start = match held {
        Some(r) if r.fits(head) => r,
        Some(r) => {
            output::note(format!(
                "the stored replica of the log of {} ({} entries) does not fit its verified checkpoint ({} entries of {}): rebuilding it",
                r.origin,
                r.size(),
                head.head.size,
                head.origin
            ));
            fresh()
        }
        None => fresh(),
    };
    if start.is_at(&head.head) {
        return Ok(start);
    }
    let from_scratch = start.size() == 0;
    let replica = match fetch_into(client, start, head, source) {
        Ok(r) => r,
        Err(ReplicaError::NotSigned { .. }) if !from_scratch => {
            // The stored prefix may be of another history (a state file
            // deleted to pin again): start over once, from entry 0.
            output::note(format!(
                "the stored replica of the log of {} does not lead to its verified checkpoint: rebuilding it",
                head.origin
            ));
            fetch_into(client, fresh(), head, source)?
        }
        Err(e) => return Err(e.into()),
    };
    save(home, &replica)?;
    Ok(replica)
}

/// [`extend`] over HTTP, with a progress bar for long extensions.
fn fetch_into(
    client: &Client,
    start: Replica,
    head: &VerifiedHead,
    source: Source<'_>,
) -> Result<Replica, ReplicaError> {
    let from = start.size();
    let todo = head.head.size - from;
    let pb = (todo > BATCH)
        .then(|| output::progress_count(todo, format!("replaying the log of {}", head.origin)));
    let fetch = |s: u64, e: u64| match source {
        Source::Own => client.log_entries(s, e),
        Source::Mirror(origin) => client.mirror_entries(origin, s, e),
    };
    let result = extend(start, head, fetch, |n| {
        if let Some(pb) = &pb {
            pb.set_position(n - from);
        }
    });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::testlog::{cast, TestLog};
    use shire_core::statement::Verdict;
    use shire_core::wire::LogEntry;
    use shire_core::KeyPair;
    use std::cell::Cell;

    /// Entries `s..e` of `entries` (at most `max` of them), as a registry serves them.
    fn serve(entries: &[Vec<u8>], s: u64, e: u64, max: u64) -> LogEntries {
        LogEntries {
            entries: (s..e.min(entries.len() as u64).min(s + max))
                .map(|i| LogEntry {
                    index: i,
                    data: B64.encode(&entries[i as usize]),
                })
                .collect(),
        }
    }

    fn sync_to(
        replica: Replica,
        log: &TestLog,
        served: &[Vec<u8>],
    ) -> Result<Replica, ReplicaError> {
        extend(
            replica,
            &log.head(),
            |s, e| Ok(serve(served, s, e, 7)),
            |_| {},
        )
    }

    #[test]
    fn a_replica_extends_with_only_the_new_entries_and_survives_a_round_trip() {
        let mut c = cast();
        let mut rel = c.release("braintree/crm", "1.0.0");
        let asked = Cell::new(0u64);
        // Counts the entries served.
        let fetch = |log: &TestLog, s: u64, e: u64| {
            let got = serve(&log.entries(), s, e, 3);
            asked.set(asked.get() + got.entries.len() as u64);
            Ok(got)
        };
        let r = extend(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log.head(),
            |s, e| fetch(&c.log, s, e),
            |_| {},
        )
        .unwrap();
        assert!(r.is_at(&c.log.head().head()));
        let before = r.size();
        assert_eq!(asked.get(), before);
        let facts = r.logged(&rel.name, &rel.version).unwrap().facts.clone();
        assert!(facts.verdicts.is_empty());

        // Later: an approval and a yank. Only those entries are fetched.
        c.log.verdict(&c.verifier, &mut rel, Verdict::Approve);
        c.log.yank(&rel, "typo in the docs", "bt-dev");
        asked.set(0);
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().to_path_buf());
        save(&home, &r).unwrap();
        let held = load(&home, "http://r").unwrap().unwrap();
        assert_eq!(held, r);
        let r = extend(held, &c.log.head(), |s, e| fetch(&c.log, s, e), |_| {}).unwrap();
        assert_eq!(asked.get(), 2);
        assert_eq!(r.size(), before + 2);
        let logged = r.logged(&rel.name, &rel.version).unwrap();
        assert_eq!(logged.facts.verdicts.len(), 1);
        assert!(logged.facts.yanked);
        assert_eq!(logged.yank.unwrap().reason, "typo in the docs");
        assert_eq!(logged.key.unwrap().key_id, c.publisher.key_id());
        // Stored under replicas/, never under checkpoints/.
        assert!(path(&home, "http://r").starts_with(home.replicas_dir()));
        assert!(load(&home, "http://other").unwrap().is_none());
    }

    #[test]
    fn entries_that_do_not_hash_to_the_verified_root_are_refused() {
        let c = cast();
        let mut served = c.log.entries();
        // A proxy drops the last entry's bytes for another valid event.
        let last = served.len() - 1;
        served[last] = LogEvent::OrgCreated {
            org: shire_core::OrgName::parse("elsewhere").unwrap(),
            at: "t".into(),
        }
        .to_bytes();
        let err = sync_to(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log,
            &served,
        )
        .unwrap_err();
        assert!(matches!(err, ReplicaError::NotSigned { .. }), "{err}");
        assert!(err.to_string().contains("not the signed log"), "{err}");
        // An entry withheld, or served out of place.
        let short = &c.log.entries()[..last];
        let err = sync_to(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log,
            short,
        )
        .unwrap_err();
        assert!(matches!(err, ReplicaError::Withheld { index, .. } if index == last as u64));
        let err = extend(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log.head(),
            |s, e| {
                let mut b = serve(&c.log.entries(), s, e, 7);
                b.entries.reverse();
                Ok(b)
            },
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, ReplicaError::OutOfOrder { .. }), "{err}");
    }

    #[test]
    fn an_entry_that_breaks_a_rule_makes_the_log_invalid_naming_it() {
        let mut c = cast();
        // A release signed by a key no entry registers, in the signed log.
        let stranger = KeyPair::generate();
        let index = c.log.len();
        c.log.release_by(&stranger, "braintree/evil", "6.6.6");
        c.release("braintree/crm", "1.0.0");
        let err = sync_to(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log,
            &c.log.entries(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ReplicaError::Invalid { index: i, .. } if i == index),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "log entry {index} of {} is invalid",
                c.log.origin()
            )),
            "{text}"
        );
        assert!(text.contains("not registered"), "{text}");
    }

    #[test]
    fn a_replica_never_goes_past_its_head_nor_changes_origin() {
        let c = cast();
        let r = sync_to(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log,
            &c.log.entries(),
        )
        .unwrap();
        let mut shorter = c.log.clone();
        shorter.truncate(2);
        let err = sync_to(r.clone(), &shorter, &c.log.entries()).unwrap_err();
        assert!(matches!(err, ReplicaError::Mismatch { .. }), "{err}");
        let other = TestLog::new("shire.test/other");
        let err = sync_to(r, &other, &[]).unwrap_err();
        assert!(matches!(err, ReplicaError::Mismatch { .. }), "{err}");
    }

    #[test]
    fn a_batch_too_large_to_read_is_asked_for_in_smaller_parts() {
        let c = cast();
        let entries = c.log.entries();
        let calls = Cell::new(0);
        let r = extend(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log.head(),
            |s, e| {
                calls.set(calls.get() + 1);
                if e - s > 2 {
                    Err(ApiError::TooLarge {
                        what: "GET entries".into(),
                        limit: 1,
                    })
                } else {
                    Ok(serve(&entries, s, e, 1000))
                }
            },
            |_| {},
        )
        .unwrap();
        assert!(r.is_at(&c.log.head().head()));
        assert!(calls.get() > 1);
        // A single entry too large is an error, not a loop.
        let err = extend(
            Replica::new("http://r", c.log.origin(), c.log.name()),
            &c.log.head(),
            |_, _| {
                Err::<LogEntries, _>(ApiError::TooLarge {
                    what: "GET entries".into(),
                    limit: 1,
                })
            },
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, ReplicaError::Fetch { .. }), "{err}");
    }

    /// A registry serving `/api/v1/log/entries` from `log` (at most 4 per
    /// answer), one connection per request; counts the entries it served.
    fn fake_registry(
        log: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicU64, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = std::sync::Arc::new(AtomicU64::new(0));
        let counter = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                }
                let query = first.split(['?', ' ']).nth(2).unwrap_or_default();
                let arg = |k: &str| -> u64 {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                let entries = log.lock().unwrap().clone();
                let body =
                    serde_json::to_string(&serve(&entries, arg("start"), arg("end"), 4)).unwrap();
                let n = serde_json::from_str::<LogEntries>(&body)
                    .unwrap()
                    .entries
                    .len();
                counter.fetch_add(n as u64, Ordering::SeqCst);
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, served)
    }

    #[test]
    fn sync_keeps_a_verified_replica_in_shire_home_and_fetches_only_what_is_new() {
        use std::sync::atomic::Ordering;
        let mut c = cast();
        let mut rel = c.release("braintree/crm", "1.0.0");
        let served_log = std::sync::Arc::new(std::sync::Mutex::new(c.log.entries()));
        let (url, served) = fake_registry(served_log.clone());
        let client = Client::new(&url, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().to_path_buf());

        // First use: the whole log, stored.
        let r = sync(&home, &client, &url, &c.log.head(), Source::Own).unwrap();
        assert!(r.is_at(&c.log.head().head()));
        assert_eq!(served.swap(0, Ordering::SeqCst), c.log.len());
        assert_eq!(load(&home, &url).unwrap().unwrap(), r);
        // Nothing new: nothing fetched.
        sync(&home, &client, &url, &c.log.head(), Source::Own).unwrap();
        assert_eq!(served.swap(0, Ordering::SeqCst), 0);

        // Two new entries: only they are fetched.
        c.approve(&mut rel);
        c.log.yank(&rel, "typo", "bt-dev");
        *served_log.lock().unwrap() = c.log.entries();
        let r = sync(&home, &client, &url, &c.log.head(), Source::Own).unwrap();
        assert_eq!(served.swap(0, Ordering::SeqCst), 2);
        assert!(r.logged(&rel.name, &rel.version).unwrap().facts.yanked);

        // The registry now serves an altered entry past the replica: refused,
        // and the stored replica is left as it was.
        let stored = std::fs::read(path(&home, &url)).unwrap();
        let mut next = c.log.clone();
        next.org("kent");
        let mut altered = next.entries();
        *altered.last_mut().unwrap() = LogEvent::OrgCreated {
            org: shire_core::OrgName::parse("evil").unwrap(),
            at: "t".into(),
        }
        .to_bytes();
        *served_log.lock().unwrap() = altered;
        let err = sync(&home, &client, &url, &next.head(), Source::Own).unwrap_err();
        assert!(format!("{err:#}").contains("not the signed log"), "{err:#}");
        assert_eq!(std::fs::read(path(&home, &url)).unwrap(), stored);

        // A stored replica larger than the verified checkpoint is rebuilt.
        *served_log.lock().unwrap() = c.log.entries();
        let mut earlier = c.log.clone();
        earlier.truncate(5);
        let r = sync(&home, &client, &url, &earlier.head(), Source::Own).unwrap();
        assert_eq!(r.size(), 5);
        assert_eq!(load(&home, &url).unwrap().unwrap().size(), 5);

        // A stored replica of another history (same origin) is rebuilt too.
        let mut fork = earlier.clone();
        fork.org("forked");
        save(&home, &fork.replica_as(&url)).unwrap();
        let r = sync(&home, &client, &url, &c.log.head(), Source::Own).unwrap();
        assert!(r.is_at(&c.log.head().head()));

        // An unreadable file is rebuilt, not fatal.
        std::fs::write(path(&home, &url), b"{not json").unwrap();
        let r = sync(&home, &client, &url, &c.log.head(), Source::Own).unwrap();
        assert!(r.is_at(&c.log.head().head()));
    }
}
