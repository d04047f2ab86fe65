//! Counting verdicts. A threshold counts distinct **verifiers**, never keys:
//! two keys of one account are one verifier, and so (on a client) are two
//! trusted keys the user filed under one label. Each verifier is an account as
//! the log registered it; accounts of one organisation count separately (two
//! reviewers at one body are two reviews), so a node admin who wants one vote
//! per body gives each body one verifier account.

use super::facts::{ReleaseFacts, VerdictFact};
use crate::statement::Verdict;
use crate::wire::ReleaseState;

/// What the counted verdicts of one release amount to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally<'a> {
    /// Distinct verifiers whose approval counted.
    pub approvers: usize,
    /// The approvals that counted.
    pub approvals: Vec<&'a VerdictFact>,
    /// The first counted revocation.
    pub revoked: Option<&'a VerdictFact>,
    /// The first counted rejection.
    pub rejected: Option<&'a VerdictFact>,
}

/// Tallies the verdicts `counts` admits. `counts` answers `None` for a
/// verdict that does not count, or `Some(label)` for one that does, where a
/// non-empty label groups verdicts by more than their account (a client's
/// trust label): two approvals are by one verifier when they share an account
/// or a non-empty label.
pub fn tally<'a>(
    verdicts: &'a [VerdictFact],
    counts: impl Fn(&VerdictFact) -> Option<&'a str>,
) -> Tally<'a> {
    let mut t = Tally::default();
    let mut approvers: Vec<(&str, &str)> = Vec::new();
    for v in verdicts {
        let Some(label) = counts(v) else { continue };
        match v.verdict {
            Verdict::Approve => {
                approvers.push((v.account.as_str(), label));
                t.approvals.push(v);
            }
            Verdict::Reject => {
                t.rejected.get_or_insert(v);
            }
            Verdict::Revoke => {
                t.revoked.get_or_insert(v);
            }
        }
    }
    t.approvers = distinct(&approvers);
    t
}

/// Connected components of approvals linked by a shared account or a shared
/// non-empty label (a union-find over a handful of entries).
fn distinct(approvers: &[(&str, &str)]) -> usize {
    let mut parent: Vec<usize> = (0..approvers.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..approvers.len() {
        for j in 0..i {
            let (a, b) = (approvers[i], approvers[j]);
            if a.0 == b.0 || (!a.1.is_empty() && a.1 == b.1) {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri] = rj;
            }
        }
    }
    (0..approvers.len())
        .filter(|&i| root(&mut parent, i) == i)
        .count()
}

/// A release's state on a node: every verifier of the log counts, with the
/// node's threshold (at least 1). A revocation wins, then a rejection.
pub fn node_state(release: &ReleaseFacts, threshold: u32) -> ReleaseState {
    let t = tally(&release.verdicts, |_| Some(""));
    if t.revoked.is_some() {
        ReleaseState::Revoked
    } else if t.rejected.is_some() {
        ReleaseState::Rejected
    } else if t.approvers >= threshold.max(1) as usize {
        ReleaseState::Approved
    } else {
        ReleaseState::Pending
    }
}
