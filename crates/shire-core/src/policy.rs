//! Trust policy: which verifier keys count and how many approvals a release needs.
//!
//! The client holds one (in its trust file). Assessment works from the
//! verdicts a verified log accepted for a release ([`ReleaseFacts`], from the
//! client's own replay of the log), never from a registry's summary: a
//! registry that lies about a release's state, or hides a revocation, changes
//! nothing. Only verdicts by trusted keys count, and the threshold counts
//! distinct verifiers ([`crate::ledger::tally`]): two keys of one account, or
//! two trusted keys filed under one label, are one verifier.

use crate::keys::{KeyId, PublicKey};
use crate::ledger::{tally, ReleaseFacts, VerdictFact};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A trusted verifier key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The key.
    pub public_key: PublicKey,
    /// Who it belongs to, for humans (e.g. `socitm`). Keys with the same
    /// non-empty label are one verifier towards the threshold.
    #[serde(default)]
    pub label: String,
}

/// Which verifier keys are trusted, and how many distinct verifiers must approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustPolicy {
    /// Trusted keys by id.
    #[serde(default)]
    pub keys: BTreeMap<KeyId, TrustedKey>,
    /// Distinct trusted verifiers a release needs (at least 1; 1 when the
    /// file does not say, as when it holds only pinned node keys).
    #[serde(default = "one")]
    pub threshold: u32,
}

fn one() -> u32 {
    1
}

impl Default for TrustPolicy {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            threshold: 1,
        }
    }
}

/// What the verdicts on one release amount to under a policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Trusted keys with an accepted approval of the release.
    pub approvals: BTreeSet<KeyId>,
    /// Distinct verifiers among those approvals: what the threshold counts.
    pub verifiers: usize,
    /// Trusted keys that rejected it, with their reasons.
    pub rejections: BTreeMap<KeyId, String>,
    /// Trusted keys that revoked it, with their reasons.
    pub revocations: BTreeMap<KeyId, String>,
    /// Verdicts that did not count (their keys are not trusted).
    pub ignored: Vec<String>,
}

/// The decision an installer acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Enough trusted approvals and no trusted revocation or rejection.
    Approved,
    /// Revoked by a trusted verifier: never install.
    Revoked(String),
    /// Rejected by a trusted verifier.
    Rejected(String),
    /// Fewer distinct trusted verifiers approved than the threshold.
    Unapproved {
        /// Distinct verifiers whose approval counted.
        have: usize,
        /// Verifiers needed.
        need: u32,
    },
}

impl TrustPolicy {
    /// Whether a verdict's key is trusted (by id and by the very key the log
    /// registered), and the label it is filed under.
    fn trusted(&self, v: &VerdictFact) -> Option<&str> {
        self.keys.get(&v.key_id).map(|k| k.label.as_str())
    }

    /// Assesses the verdicts a verified log accepted for a release.
    pub fn assess(&self, release: &ReleaseFacts) -> Assessment {
        let t = tally(&release.verdicts, |v| self.trusted(v));
        let mut out = Assessment {
            verifiers: t.approvers,
            approvals: t.approvals.iter().map(|v| v.key_id.clone()).collect(),
            ..Assessment::default()
        };
        for v in &release.verdicts {
            let reason = v.reason.clone().unwrap_or_default();
            if self.trusted(v).is_none() {
                out.ignored.push(format!(
                    "{} by {} (key {}), which this client does not trust",
                    v.verdict,
                    v.account,
                    v.key_id.short()
                ));
                continue;
            }
            match v.verdict {
                crate::statement::Verdict::Approve => {}
                crate::statement::Verdict::Reject => {
                    out.rejections.entry(v.key_id.clone()).or_insert(reason);
                }
                crate::statement::Verdict::Revoke => {
                    out.revocations.entry(v.key_id.clone()).or_insert(reason);
                }
            }
        }
        out
    }

    /// What the assessment means under this policy's threshold.
    pub fn standing(&self, a: &Assessment) -> Standing {
        if let Some((id, why)) = a.revocations.iter().next() {
            return Standing::Revoked(format!("revoked by {}: {why}", self.label(id)));
        }
        if let Some((id, why)) = a.rejections.iter().next() {
            return Standing::Rejected(format!("rejected by {}: {why}", self.label(id)));
        }
        let need = self.threshold.max(1);
        if a.verifiers >= need as usize {
            Standing::Approved
        } else {
            Standing::Unapproved {
                have: a.verifiers,
                need,
            }
        }
    }

    fn label(&self, id: &KeyId) -> String {
        match self.keys.get(id) {
            Some(k) if !k.label.is_empty() => format!("{} ({})", k.label, id.short()),
            _ => id.short().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::keys::KeyPair;
    use crate::names::PackageName;
    use crate::statement::{Subject, Verdict};

    fn release(verdicts: &[(&KeyPair, &str, Verdict)]) -> ReleaseFacts {
        ReleaseFacts {
            subject: Subject {
                name: PackageName::parse("a/b").unwrap(),
                version: semver::Version::new(1, 0, 0),
                digest: Digest::of(b"x"),
            },
            statement: Digest::of(b"statement"),
            publisher_key: KeyPair::generate().key_id(),
            publisher: "p".into(),
            index: 0,
            verdicts: verdicts
                .iter()
                .enumerate()
                .map(|(i, (k, account, v))| VerdictFact {
                    verdict: *v,
                    key_id: k.key_id(),
                    account: account.to_string(),
                    org: None,
                    reason: (*v != Verdict::Approve).then(|| "CVE".into()),
                    advisory: None,
                    index: i as u64 + 1,
                })
                .collect(),
            yanked: false,
            taken_down: false,
        }
    }

    fn policy(keys: &[(&KeyPair, &str)], threshold: u32) -> TrustPolicy {
        TrustPolicy {
            keys: keys
                .iter()
                .map(|(k, label)| {
                    (
                        k.key_id(),
                        TrustedKey {
                            public_key: k.public(),
                            label: label.to_string(),
                        },
                    )
                })
                .collect(),
            threshold,
        }
    }

    fn standing(p: &TrustPolicy, r: &ReleaseFacts) -> Standing {
        p.standing(&p.assess(r))
    }

    #[test]
    fn two_keys_of_one_verifier_count_once() {
        let (k1, k2, k3) = (
            KeyPair::generate(),
            KeyPair::generate(),
            KeyPair::generate(),
        );
        use Verdict::Approve;
        // Two keys registered to one account, both trusted: one verifier.
        let p = policy(&[(&k1, ""), (&k2, ""), (&k3, "")], 2);
        let r = release(&[(&k1, "socitm", Approve), (&k2, "socitm", Approve)]);
        assert_eq!(standing(&p, &r), Standing::Unapproved { have: 1, need: 2 });
        // Two accounts, but the user filed both keys under one label.
        let p = policy(&[(&k1, "socitm"), (&k2, "socitm"), (&k3, "")], 2);
        let r = release(&[(&k1, "reviewer-a", Approve), (&k2, "reviewer-b", Approve)]);
        assert_eq!(standing(&p, &r), Standing::Unapproved { have: 1, need: 2 });
        // Two verifiers.
        let r = release(&[(&k1, "reviewer-a", Approve), (&k3, "delt", Approve)]);
        assert_eq!(standing(&p, &r), Standing::Approved);
    }

    #[test]
    fn untrusted_verdicts_do_not_count_and_a_trusted_revocation_wins() {
        let (k1, stranger) = (KeyPair::generate(), KeyPair::generate());
        let p = policy(&[(&k1, "socitm")], 1);
        let r = release(&[(&stranger, "x", Verdict::Approve)]);
        let a = p.assess(&r);
        assert_eq!(a.ignored.len(), 1);
        assert_eq!(p.standing(&a), Standing::Unapproved { have: 0, need: 1 });
        let r = release(&[
            (&k1, "socitm", Verdict::Approve),
            (&stranger, "x", Verdict::Revoke),
        ]);
        assert_eq!(standing(&p, &r), Standing::Approved);
        let r = release(&[
            (&k1, "socitm", Verdict::Approve),
            (&k1, "socitm", Verdict::Revoke),
        ]);
        assert!(matches!(standing(&p, &r), Standing::Revoked(why) if why.contains("CVE")));
    }
}
