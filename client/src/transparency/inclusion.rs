//! Inclusion: the log entries an install relies on, and the check that each is
//! in the log under the verified checkpoint.
//!
//! For a release, [`claims`] lists the release statement itself
//! (`VersionInfo.log_index`) and every approval that counts under the client's
//! trust policy (`VerdictInfo.log_index`). [`check_entry`] (pure) decides one:
//! the entry bytes must decode to that event holding exactly that envelope, and
//! the inclusion proof must lead from `leaf_hash(entry)` to the checkpoint's
//! root. [`prove`] fetches the entry and the proof and runs it.

use super::checkpoint::decode_proof;
use crate::api::Client;
use crate::checks::Checked;
use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use shire_core::dsse::Envelope;
use shire_core::event::LogEvent;
use shire_core::policy::TrustPolicy;
use shire_core::wire::VersionInfo;
use shire_core::PackageName;
use shire_tlog::{leaf_hash, verify_inclusion, Hash, TreeError, TreeHead};

/// Which event a claimed entry must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// `LogEvent::Release`.
    Release,
    /// `LogEvent::Verdict`.
    Verdict,
}

/// One statement an install relies on, and where the registry says it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogClaim {
    /// The entry index the registry gives.
    pub index: u64,
    /// The event it must be.
    pub kind: ClaimKind,
    /// The exact envelope it must hold.
    pub envelope: Envelope,
    /// What it is, for messages (`the release statement of a/b@1.0.0`).
    pub what: String,
}

/// Why a release's log entries were refused.
#[derive(Debug, thiserror::Error)]
pub enum InclusionError {
    /// The registry gives no log index for a statement.
    #[error(
        "refusing to install {release}: the registry gives no transparency-log entry for {what}"
    )]
    MissingIndex {
        /// `org/name@version`.
        release: String,
        /// Which statement.
        what: String,
    },
    /// The index is beyond the verified checkpoint.
    #[error("refusing to install: {what} is said to be log entry {index}, but the verified checkpoint covers only {size} entries")]
    NotCovered {
        /// Which statement.
        what: String,
        /// Its index.
        index: u64,
        /// The checkpoint size.
        size: u64,
    },
    /// The entry is not the statement.
    #[error("refusing to install: log entry {index} is not {what}: {detail}")]
    EntryMismatch {
        /// Which statement.
        what: String,
        /// Its index.
        index: u64,
        /// What the entry holds instead.
        detail: String,
    },
    /// The proof does not lead to the checkpoint's root.
    #[error("refusing to install: bad inclusion proof for {what} (log entry {index}) in the verified checkpoint of {size} entries: {source}")]
    BadProof {
        /// Which statement.
        what: String,
        /// Its index.
        index: u64,
        /// The checkpoint size.
        size: u64,
        /// Why.
        #[source]
        source: TreeError,
    },
}

/// The log entries installing this release relies on: its release statement and
/// each verdict that counts as an approval under `policy` (pure).
pub fn claims(
    name: &PackageName,
    info: &VersionInfo,
    checked: &Checked,
    policy: &TrustPolicy,
) -> Result<Vec<LogClaim>, InclusionError> {
    let release = format!("{name}@{}", info.version);
    let missing = |what: &str| InclusionError::MissingIndex {
        release: release.clone(),
        what: what.to_string(),
    };
    let what = format!("the release statement of {release}");
    let mut out = vec![LogClaim {
        index: info.log_index.ok_or_else(|| missing(&what))?,
        kind: ClaimKind::Release,
        envelope: info.release.clone(),
        what,
    }];
    let subject = &checked.statement.subject;
    for v in &info.verdicts {
        let counts = !policy
            .assess(subject, std::slice::from_ref(&v.envelope))
            .approvals
            .is_empty();
        if !counts {
            continue;
        }
        let what = format!("the approval of {release} by key {}", v.key_id.short());
        out.push(LogClaim {
            index: v.log_index.ok_or_else(|| missing(&what))?,
            kind: ClaimKind::Verdict,
            envelope: v.envelope.clone(),
            what,
        });
    }
    Ok(out)
}

/// Checks that `entry` is the claimed statement and that `proof` includes it
/// at `claim.index` in the tree `head` (pure).
pub fn check_entry(
    claim: &LogClaim,
    entry: &[u8],
    proof: &[Hash],
    head: &TreeHead,
) -> Result<(), InclusionError> {
    let mismatch = |detail: String| InclusionError::EntryMismatch {
        what: claim.what.clone(),
        index: claim.index,
        detail,
    };
    if claim.index >= head.size {
        return Err(InclusionError::NotCovered {
            what: claim.what.clone(),
            index: claim.index,
            size: head.size,
        });
    }
    let event = LogEvent::from_bytes(entry)
        .map_err(|e| mismatch(format!("it is not a log event ({e})")))?;
    match (&event, claim.kind) {
        (LogEvent::Release { envelope, .. }, ClaimKind::Release)
        | (LogEvent::Verdict { envelope, .. }, ClaimKind::Verdict) => {
            if envelope != &claim.envelope {
                return Err(mismatch(format!(
                    "it holds another statement ({})",
                    event.summary()
                )));
            }
        }
        _ => return Err(mismatch(format!("it holds: {}", event.summary()))),
    }
    verify_inclusion(proof, claim.index, head.size, &head.root, &leaf_hash(entry)).map_err(
        |source| InclusionError::BadProof {
            what: claim.what.clone(),
            index: claim.index,
            size: head.size,
            source,
        },
    )
}

/// Fetches one entry's bytes.
pub fn fetch_entry(client: &Client, index: u64) -> Result<Vec<u8>> {
    let got = client
        .log_entries(index, index + 1)
        .with_context(|| format!("fetching log entry {index}"))?;
    let entry = got
        .entries
        .into_iter()
        .find(|e| e.index == index)
        .with_context(|| format!("the registry did not serve log entry {index}"))?;
    B64.decode(entry.data.as_bytes())
        .with_context(|| format!("log entry {index} is not base64"))
}

/// Fetches the claimed entry and its inclusion proof at `head.size`, and checks them.
pub fn prove(client: &Client, claim: &LogClaim, head: &TreeHead) -> Result<()> {
    if claim.index >= head.size {
        return Err(check_entry(claim, &[], &[], head).unwrap_err().into());
    }
    let entry = fetch_entry(client, claim.index)
        .with_context(|| format!("refusing to install: cannot check {}", claim.what))?;
    let p = client
        .inclusion_proof(claim.index, head.size)
        .with_context(|| format!("fetching the inclusion proof of log entry {}", claim.index))?;
    let proof = decode_proof(claim.index, head.size, p.index, p.size, &p.hashes).map_err(|e| {
        anyhow::anyhow!(
            "refusing to install: the inclusion proof of {} (log entry {}) is malformed: {e}",
            claim.what,
            claim.index
        )
    })?;
    check_entry(claim, &entry, &proof, head)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{self, fixtures};
    use shire_core::statement::Verdict;
    use shire_core::KeyPair;
    use shire_tlog::MemoryLog;

    struct Logged {
        log: MemoryLog,
        info: VersionInfo,
        policy: TrustPolicy,
        checked: Checked,
    }

    /// A log holding some noise, the release and an approval, with the
    /// `VersionInfo` pointing at them.
    fn logged() -> Logged {
        let publisher = KeyPair::generate();
        let verifier = KeyPair::generate();
        let untrusted = KeyPair::generate();
        let mut info = fixtures::release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        fixtures::add_verdict(&mut info, &verifier, Verdict::Approve);
        fixtures::add_verdict(&mut info, &untrusted, Verdict::Approve);
        let mut log = MemoryLog::new();
        let noise = LogEvent::KeyRevoked {
            key_id: untrusted.key_id(),
            at: "t".into(),
        };
        log.append(&noise.to_bytes()).unwrap();
        let release = LogEvent::Release {
            envelope: info.release.clone(),
            key_id: publisher.key_id(),
            at: "t".into(),
        };
        info.log_index = Some(log.append(&release.to_bytes()).unwrap());
        for v in info.verdicts.iter_mut() {
            let e = LogEvent::Verdict {
                envelope: v.envelope.clone(),
                key_id: v.key_id.clone(),
                at: "t".into(),
            };
            v.log_index = Some(log.append(&e.to_bytes()).unwrap());
        }
        log.append(&noise.to_bytes()).unwrap();
        let policy = fixtures::policy(&[&verifier], 1);
        let name = PackageName::parse("braintree/crm").unwrap();
        let checked = checks::check_version(&name, &info.version, &info, &policy).unwrap();
        Logged {
            log,
            info,
            policy,
            checked,
        }
    }

    fn name() -> PackageName {
        PackageName::parse("braintree/crm").unwrap()
    }

    fn head(log: &MemoryLog) -> TreeHead {
        TreeHead {
            size: log.size(),
            root: log.root().unwrap(),
        }
    }

    fn check(l: &Logged, claim: &LogClaim) -> Result<(), InclusionError> {
        let entry = l.log.entry(claim.index).unwrap_or_default().to_vec();
        let proof = l
            .log
            .inclusion_proof(claim.index, l.log.size())
            .unwrap_or_default();
        check_entry(claim, &entry, &proof, &head(&l.log))
    }

    #[test]
    fn the_release_and_counted_approvals_are_claimed_and_proven() {
        let l = logged();
        let cs = claims(&name(), &l.info, &l.checked, &l.policy).unwrap();
        // The untrusted approval does not count, so it is not relied on.
        assert_eq!(cs.len(), 2);
        assert_eq!((cs[0].kind, cs[0].index), (ClaimKind::Release, 1));
        assert_eq!((cs[1].kind, cs[1].index), (ClaimKind::Verdict, 2));
        for c in &cs {
            check(&l, c).unwrap();
        }
    }

    #[test]
    fn a_missing_log_index_is_refused() {
        let mut l = logged();
        l.info.log_index = None;
        let err = claims(&name(), &l.info, &l.checked, &l.policy).unwrap_err();
        assert!(matches!(err, InclusionError::MissingIndex { .. }));
        let mut l = logged();
        l.info.verdicts[0].log_index = None;
        let err = claims(&name(), &l.info, &l.checked, &l.policy).unwrap_err();
        assert!(err.to_string().contains("approval"), "{err}");
    }

    #[test]
    fn a_bad_proof_or_wrong_entry_is_refused() {
        let l = logged();
        let cs = claims(&name(), &l.info, &l.checked, &l.policy).unwrap();
        let h = head(&l.log);
        let entry = l.log.entry(1).unwrap().to_vec();
        let mut proof = l.log.inclusion_proof(1, l.log.size()).unwrap();
        proof[0].0[3] ^= 0x40;
        assert!(matches!(
            check_entry(&cs[0], &entry, &proof, &h),
            Err(InclusionError::BadProof { .. })
        ));
        // A proof for another tree (a root the checkpoint does not sign).
        let proof = l.log.inclusion_proof(1, 3).unwrap();
        assert!(check_entry(&cs[0], &entry, &proof, &h).is_err());
        // The index points at another event.
        let mut wrong = cs[0].clone();
        wrong.index = 0;
        assert!(matches!(
            check(&l, &wrong),
            Err(InclusionError::EntryMismatch { .. })
        ));
        // The release entry claimed as the approval.
        let mut wrong = cs[1].clone();
        wrong.index = 1;
        assert!(matches!(
            check(&l, &wrong),
            Err(InclusionError::EntryMismatch { .. })
        ));
        // The approval's entry holds another envelope.
        let mut wrong = cs[1].clone();
        wrong.index = 3;
        assert!(check(&l, &wrong).is_err());
        // Beyond the checkpoint.
        let mut wrong = cs[0].clone();
        wrong.index = 99;
        assert!(matches!(
            check(&l, &wrong),
            Err(InclusionError::NotCovered { .. })
        ));
        // An entry whose bytes were altered (same event, other bytes) fails the proof.
        let mut altered = entry.clone();
        altered.push(b' ');
        let proof = l.log.inclusion_proof(1, l.log.size()).unwrap();
        assert!(matches!(
            check_entry(&cs[0], &altered, &proof, &h),
            Err(InclusionError::BadProof { .. })
        ));
    }
}
