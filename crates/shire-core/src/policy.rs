//! Trust policy: which verifier keys count and how many approvals a release needs.
//!
//! The client holds one (in its trust file) and so does each node. Assessment
//! works from the signed verdicts alone, so a registry that lies about a
//! release's state changes nothing: only statements that verify under a trusted
//! key and name the release exactly are counted, and each key counts once.

use crate::dsse::Envelope;
use crate::keys::{KeyId, PublicKey};
use crate::statement::{Subject, Verdict};
use crate::verify;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A trusted verifier key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The key.
    pub public_key: PublicKey,
    /// Who it belongs to, for humans (e.g. `socitm`).
    #[serde(default)]
    pub label: String,
}

/// Which verifier keys are trusted, and how many distinct approvals are needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustPolicy {
    /// Trusted keys by id.
    #[serde(default)]
    pub keys: BTreeMap<KeyId, TrustedKey>,
    /// Distinct trusted approvals a release needs (at least 1).
    pub threshold: u32,
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
    /// Trusted keys with a valid approval of exactly this release.
    pub approvals: BTreeSet<KeyId>,
    /// Trusted keys that rejected it, with their reasons.
    pub rejections: BTreeMap<KeyId, String>,
    /// Trusted keys that revoked it, with their reasons.
    pub revocations: BTreeMap<KeyId, String>,
    /// Verdicts that did not count, and why (untrusted key, bad signature, other subject).
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
    /// Fewer trusted approvals than the threshold.
    Unapproved {
        /// Approvals that counted.
        have: usize,
        /// Approvals needed.
        need: u32,
    },
}

impl TrustPolicy {
    /// Assesses a release's verdict envelopes.
    pub fn assess(&self, subject: &Subject, verdicts: &[Envelope]) -> Assessment {
        let mut out = Assessment::default();
        for env in verdicts {
            let claimed = env.claimed_key_ids();
            let Some((id, key)) = claimed
                .iter()
                .find_map(|id| self.keys.get(id).map(|k| (id.clone(), &k.public_key)))
            else {
                out.ignored.push(format!(
                    "verdict signed by untrusted key {}",
                    claimed
                        .first()
                        .map(|k| k.short().to_string())
                        .unwrap_or_else(|| "(none)".into())
                ));
                continue;
            };
            let st = match verify::verdict(env, key) {
                Ok(st) => st,
                Err(e) => {
                    out.ignored
                        .push(format!("verdict by {} does not verify: {e}", id.short()));
                    continue;
                }
            };
            if &st.subject != subject {
                out.ignored.push(format!(
                    "verdict by {} is about {} ({}), not this release",
                    id.short(),
                    st.subject,
                    st.subject.digest
                ));
                continue;
            }
            let reason = st.reason.clone().unwrap_or_default();
            match st.verdict {
                Verdict::Approve => {
                    out.approvals.insert(id);
                }
                Verdict::Reject => {
                    out.rejections.insert(id, reason);
                }
                Verdict::Revoke => {
                    out.revocations.insert(id, reason);
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
        if a.approvals.len() >= need as usize {
            Standing::Approved
        } else {
            Standing::Unapproved {
                have: a.approvals.len(),
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
    use crate::statement::VerdictStatement;

    fn subject(v: &str) -> Subject {
        Subject {
            name: PackageName::parse("a/b").unwrap(),
            version: semver::Version::parse(v).unwrap(),
            digest: Digest::of(v.as_bytes()),
        }
    }

    fn policy(keys: &[&KeyPair], threshold: u32) -> TrustPolicy {
        TrustPolicy {
            keys: keys
                .iter()
                .map(|k| {
                    (
                        k.key_id(),
                        TrustedKey {
                            public_key: k.public(),
                            label: String::new(),
                        },
                    )
                })
                .collect(),
            threshold,
        }
    }

    fn approve(k: &KeyPair, s: &Subject) -> Envelope {
        VerdictStatement::new(Verdict::Approve, s.clone(), None, 0).sign(k)
    }

    #[test]
    fn threshold_counts_distinct_trusted_keys() {
        let (k1, k2) = (KeyPair::generate(), KeyPair::generate());
        let s = subject("1.0.0");
        let p = policy(&[&k1, &k2], 2);
        let twice = [approve(&k1, &s), approve(&k1, &s)];
        let a = p.assess(&s, &twice);
        assert_eq!(p.standing(&a), Standing::Unapproved { have: 1, need: 2 });
        let both = [approve(&k1, &s), approve(&k2, &s)];
        assert_eq!(p.standing(&p.assess(&s, &both)), Standing::Approved);
    }

    #[test]
    fn untrusted_forged_and_replayed_verdicts_do_not_count() {
        let k1 = KeyPair::generate();
        let stranger = KeyPair::generate();
        let p = policy(&[&k1], 1);
        let s = subject("1.0.1");
        // Untrusted key.
        let a = p.assess(&s, &[approve(&stranger, &s)]);
        assert!(a.approvals.is_empty());
        // Forged: claims k1's id, signed by the stranger.
        let mut forged = approve(&stranger, &s);
        forged.signatures[0].keyid = k1.key_id().to_string();
        assert!(p.assess(&s, &[forged]).approvals.is_empty());
        // Replay of 1.0.0's approval for 1.0.1.
        let a = p.assess(&s, &[approve(&k1, &subject("1.0.0"))]);
        assert!(a.approvals.is_empty());
        assert_eq!(a.ignored.len(), 1);
    }

    #[test]
    fn revocation_wins() {
        let k1 = KeyPair::generate();
        let p = policy(&[&k1], 1);
        let s = subject("1.0.0");
        let revoke =
            VerdictStatement::new(Verdict::Revoke, s.clone(), Some("CVE".into()), 0).sign(&k1);
        assert!(matches!(
            p.standing(&p.assess(&s, &[approve(&k1, &s), revoke])),
            Standing::Revoked(_)
        ));
    }
}
