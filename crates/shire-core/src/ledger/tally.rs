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
/// non-empty label: a union-find joining each approval to the first one of
/// its account and of its label, so it stays linear however many keys one
/// verifier approves with.
fn distinct(approvers: &[(&str, &str)]) -> usize {
    use std::collections::HashMap;
    let mut parent: Vec<usize> = (0..approvers.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_of_account: HashMap<&str, usize> = HashMap::new();
    let mut first_of_label: HashMap<&str, usize> = HashMap::new();
    let mut components = approvers.len();
    for (i, &(account, label)) in approvers.iter().enumerate() {
        let mut join = |j: usize, parent: &mut Vec<usize>| {
            let (ri, rj) = (root(parent, i), root(parent, j));
            if ri != rj {
                parent[ri] = rj;
                components -= 1;
            }
        };
        let j = *first_of_account.entry(account).or_insert(i);
        join(j, &mut parent);
        if !label.is_empty() {
            let j = *first_of_label.entry(label).or_insert(i);
            join(j, &mut parent);
        }
    }
    components
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

#[cfg(test)]
mod tests {
    use super::distinct;
    use proptest::prelude::*;

    /// The definition, pair by pair: approvals are one verifier when a chain
    /// of shared accounts or shared non-empty labels links them.
    fn by_pairs(approvers: &[(&str, &str)]) -> usize {
        let n = approvers.len();
        let mut group: Vec<usize> = (0..n).collect();
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                for j in 0..n {
                    let (a, b) = (approvers[i], approvers[j]);
                    let linked = a.0 == b.0 || (!a.1.is_empty() && a.1 == b.1);
                    if linked && group[j] < group[i] {
                        group[i] = group[j];
                        changed = true;
                    }
                }
            }
        }
        (0..n).filter(|&i| group[i] == i).count()
    }

    #[test]
    fn accounts_and_labels_link_through_one_another() {
        let approvers = [
            ("a", "L1"),
            ("b", "L1"),
            ("b", ""),
            ("c", "L2"),
            ("d", ""),
            ("e", ""),
            ("d", "L2"),
        ];
        assert_eq!(distinct(&approvers), 2 + 1);
        assert_eq!(distinct(&[]), 0);
    }

    #[test]
    fn many_keys_of_one_verifier_are_one() {
        let approvers: Vec<(&str, &str)> = (0..50_000).map(|_| ("socitm", "")).collect();
        assert_eq!(distinct(&approvers), 1);
    }

    proptest! {
        #[test]
        fn matches_the_pairwise_definition(
            raw in proptest::collection::vec((0u8..6, 0u8..4), 0..24)
        ) {
            let accounts = ["a", "b", "c", "d", "e", "f"];
            let labels = ["", "L1", "L2", "L3"];
            let approvers: Vec<(&str, &str)> = raw
                .iter()
                .map(|&(a, l)| (accounts[a as usize], labels[l as usize]))
                .collect();
            prop_assert_eq!(distinct(&approvers), by_pairs(&approvers));
        }
    }
}
