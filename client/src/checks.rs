//! The client's checks of what a registry says about a release: pure functions
//! over a `VersionInfo` and the client's trust policy, with no I/O, so every
//! attack can be tested without a server.
//!
//! No registry is trusted. [`verify_release`] checks the publisher's signature
//! with the key the registry names, that the key record is self-consistent (its
//! id is the hash of its key), that it is a publisher key of the package's own
//! organisation, and that the signed subject is exactly the release the registry
//! claims (name, version, digest). [`assess`] counts only verdicts that verify
//! under keys in the client's trust file and name that signed subject, and
//! [`admit`] turns the result into install or refuse.

use shire_core::policy::{Assessment, Standing, TrustPolicy};
use shire_core::statement::ReleaseStatement;
use shire_core::verify::{self, Verified, VerifyError};
use shire_core::wire::{Role, VersionInfo, YankInfo};
use shire_core::{KeyId, PackageName, Version};

/// Why a release's metadata was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The key record's id is not the hash of its key.
    #[error("the registry's record of the key that signed {release} is inconsistent: key id {claimed} is not the id of its key ({actual})")]
    KeyIdMismatch {
        /// `org/name@version`.
        release: String,
        /// The id the record gives.
        claimed: KeyId,
        /// The key's real id.
        actual: KeyId,
    },
    /// The signing key belongs to an account that is not a publisher.
    #[error("{release} is signed by key {key} of account {account}, which is a {role} account, not a publisher")]
    NotPublisherKey {
        /// `org/name@version`.
        release: String,
        /// The key's id.
        key: KeyId,
        /// The account.
        account: String,
        /// Its role.
        role: Role,
    },
    /// The signing key belongs to another organisation.
    #[error(
        "{release} is signed by a key of organisation {found}, not of {expected}: refusing it"
    )]
    WrongOrg {
        /// `org/name@version`.
        release: String,
        /// The package's organisation.
        expected: String,
        /// The key's organisation.
        found: String,
    },
    /// The release envelope does not verify under the publisher key.
    #[error(
        "the release statement of {release} does not verify under its publisher's key: {source}"
    )]
    BadRelease {
        /// `org/name@version`.
        release: String,
        /// Why.
        #[source]
        source: VerifyError,
    },
    /// The signed subject differs from what the registry claims.
    #[error("the registry's claim about {release} does not match the publisher's signed statement: {detail}")]
    SubjectMismatch {
        /// `org/name@version`.
        release: String,
        /// What differs.
        detail: String,
    },
    /// A trusted verifier revoked the release.
    #[error("refusing to install {release}: it is revoked ({reason})")]
    Revoked {
        /// `org/name@version`.
        release: String,
        /// Who revoked it and why.
        reason: String,
    },
    /// The release lacks trusted approvals or was rejected.
    #[error("refusing to install {release}: {why} (add trusted verifier keys with `shire trust add`, or pass --allow-unverified to install it anyway)")]
    NotApproved {
        /// `org/name@version`.
        release: String,
        /// Its standing, in words.
        why: String,
    },
}

/// Checks the publisher's signed statement of `name@version` as the registry
/// describes it, and returns the verified statement.
pub fn verify_release(
    name: &PackageName,
    version: &Version,
    info: &VersionInfo,
) -> Result<Verified<ReleaseStatement>, CheckError> {
    let release = format!("{name}@{version}");
    let key = &info.publisher_key;
    let actual = key.public_key.key_id();
    if actual != key.key_id {
        return Err(CheckError::KeyIdMismatch {
            release,
            claimed: key.key_id.clone(),
            actual,
        });
    }
    if key.role != Role::Publisher {
        return Err(CheckError::NotPublisherKey {
            release,
            key: key.key_id.clone(),
            account: key.account.clone(),
            role: key.role,
        });
    }
    if key.org.as_ref() != Some(name.org()) {
        return Err(CheckError::WrongOrg {
            release,
            expected: name.org().to_string(),
            found: key
                .org
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_else(|| "(none)".into()),
        });
    }
    let st = verify::release(&info.release, &key.public_key).map_err(|source| {
        CheckError::BadRelease {
            release: release.clone(),
            source,
        }
    })?;
    let s = &st.subject;
    let mismatch = |detail: String| CheckError::SubjectMismatch {
        release: release.clone(),
        detail,
    };
    if &s.name != name {
        return Err(mismatch(format!("the statement is for package {}", s.name)));
    }
    if &s.version != version || &info.version != version {
        return Err(mismatch(format!(
            "the statement is for version {}, the registry says {}",
            s.version, info.version
        )));
    }
    if s.digest != info.digest {
        return Err(mismatch(format!(
            "the statement signs digest {}, the registry says {}",
            s.digest, info.digest
        )));
    }
    Ok(st)
}

/// What the verdicts on a release amount to under the client's policy.
#[derive(Debug, Clone)]
pub struct TrustView {
    /// The counted and ignored verdicts.
    pub assessment: Assessment,
    /// The decision.
    pub standing: Standing,
    /// Key ids the registry says approved (claims, not necessarily valid).
    pub claimed_approvers: Vec<KeyId>,
}

/// Assesses a verified release's verdicts under `policy`.
pub fn assess(
    policy: &TrustPolicy,
    release: &Verified<ReleaseStatement>,
    info: &VersionInfo,
) -> TrustView {
    let envelopes: Vec<_> = info.verdicts.iter().map(|v| v.envelope.clone()).collect();
    let assessment = policy.assess(&release.subject, &envelopes);
    let standing = policy.standing(&assessment);
    let claimed_approvers = info
        .verdicts
        .iter()
        .filter(|v| claims_approval(&v.envelope))
        .map(|v| v.key_id.clone())
        .collect();
    TrustView {
        assessment,
        standing,
        claimed_approvers,
    }
}

/// Whether an envelope's (unverified) payload says "approve": for display only.
fn claims_approval(env: &shire_core::dsse::Envelope) -> bool {
    env.payload_bytes()
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("verdict")
                .and_then(|s| s.as_str())
                .map(|s| s == "approve")
        })
        .unwrap_or(false)
}

/// A release that has passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The publisher's verified statement.
    pub statement: Verified<ReleaseStatement>,
    /// Its verdicts under the client's policy.
    pub trust: TrustView,
    /// Set when the publisher yanked it.
    pub yanked: Option<YankInfo>,
}

/// [`verify_release`] then [`assess`].
pub fn check_version(
    name: &PackageName,
    version: &Version,
    info: &VersionInfo,
    policy: &TrustPolicy,
) -> Result<Checked, CheckError> {
    let statement = verify_release(name, version, info)?;
    let trust = assess(policy, &statement, info);
    Ok(Checked {
        statement,
        trust,
        yanked: info.yanked.clone(),
    })
}

/// Whether a release may be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Enough trusted approvals.
    Approved,
    /// Let in by `--allow-unverified`; the standing in words.
    Unverified(String),
}

/// The standing in words.
pub fn standing_text(s: &Standing) -> String {
    match s {
        Standing::Approved => "approved".into(),
        Standing::Revoked(why) => why.clone(),
        Standing::Rejected(why) => why.clone(),
        Standing::Unapproved { have, need } => {
            format!("not approved: {have} of {need} required trusted approvals")
        }
    }
}

/// A short name for the standing (`approved`, `revoked`, `rejected`, `unapproved`).
pub fn standing_label(s: &Standing) -> &'static str {
    match s {
        Standing::Approved => "approved",
        Standing::Revoked(_) => "revoked",
        Standing::Rejected(_) => "rejected",
        Standing::Unapproved { .. } => "unapproved",
    }
}

/// Decides whether a release with this standing installs: approved always,
/// revoked never, rejected or unapproved only with `--allow-unverified`.
pub fn admit(
    release: &str,
    standing: &Standing,
    allow_unverified: bool,
) -> Result<Admission, CheckError> {
    match standing {
        Standing::Approved => Ok(Admission::Approved),
        Standing::Revoked(why) => Err(CheckError::Revoked {
            release: release.to_string(),
            reason: why.clone(),
        }),
        other if allow_unverified => Ok(Admission::Unverified(standing_text(other))),
        other => Err(CheckError::NotApproved {
            release: release.to_string(),
            why: standing_text(other),
        }),
    }
}

/// Test fixtures: a publisher, a registry's `VersionInfo` and verifier verdicts,
/// built honestly so that each test can break exactly one thing.
#[cfg(test)]
pub mod fixtures {
    use shire_core::dsse::Envelope;
    use shire_core::policy::{TrustPolicy, TrustedKey};
    use shire_core::statement::{ReleaseStatement, Verdict, VerdictStatement};
    use shire_core::wire::{KeyInfo, ReleaseState, Role, VerdictInfo, VersionInfo};
    use shire_core::{Digest, KeyPair, Manifest, OrgName, PackageName, Version, VersionReq};

    /// A publisher key registered to `org`.
    pub fn key_info(key: &KeyPair, org: &str, role: Role) -> KeyInfo {
        KeyInfo {
            key_id: key.key_id(),
            public_key: key.public(),
            account: format!("{org}-{role}"),
            org: Some(OrgName::parse(org).unwrap()),
            role,
            registered_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
        }
    }

    /// A release of `name@version` with `deps`, over artifact bytes `bytes`,
    /// signed by `publisher` of the package's organisation.
    pub fn release(
        publisher: &KeyPair,
        name: &str,
        version: &str,
        deps: &[(&str, &str)],
        bytes: &[u8],
    ) -> VersionInfo {
        let pname = PackageName::parse(name).unwrap();
        let mut m = Manifest::skeleton(pname.clone());
        m.package.version = Version::parse(version).unwrap();
        for (d, r) in deps {
            m.dependencies.insert(
                PackageName::parse(d).unwrap(),
                VersionReq::parse(r).unwrap(),
            );
        }
        let digest = Digest::of(bytes);
        let st = ReleaseStatement::new(m.clone(), digest);
        VersionInfo {
            version: m.package.version.clone(),
            digest,
            size: bytes.len() as u64,
            state: ReleaseState::Pending,
            yanked: None,
            published_at: "2026-01-01T00:00:00Z".into(),
            release: st.sign(publisher),
            publisher_key: key_info(publisher, pname.org().as_str(), Role::Publisher),
            verdicts: Vec::new(),
            manifest: m,
            log_index: None,
        }
    }

    /// Adds a verdict signed by `verifier` about the release's own subject.
    pub fn add_verdict(info: &mut VersionInfo, verifier: &KeyPair, verdict: Verdict) {
        let subject = ReleaseStatement::new(info.manifest.clone(), info.digest).subject;
        let reason = (verdict != Verdict::Approve).then(|| "found a flaw".to_string());
        let env = VerdictStatement::new(verdict, subject, reason, 1).sign(verifier);
        push_envelope(info, verifier, env);
    }

    /// Adds an arbitrary envelope as if `verifier` had submitted it.
    pub fn push_envelope(info: &mut VersionInfo, verifier: &KeyPair, envelope: Envelope) {
        info.verdicts.push(VerdictInfo {
            envelope,
            key_id: verifier.key_id(),
            org: Some(OrgName::parse("socitm").unwrap()),
            at: "2026-01-02T00:00:00Z".into(),
            log_index: None,
        });
    }

    /// A policy trusting `keys` with `threshold`.
    pub fn policy(keys: &[&KeyPair], threshold: u32) -> TrustPolicy {
        TrustPolicy {
            keys: keys
                .iter()
                .map(|k| {
                    (
                        k.key_id(),
                        TrustedKey {
                            public_key: k.public(),
                            label: "socitm".into(),
                        },
                    )
                })
                .collect(),
            threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use shire_core::statement::{Verdict, VerdictStatement};
    use shire_core::{Digest, KeyPair};

    fn name() -> PackageName {
        PackageName::parse("braintree/crm").unwrap()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn honest_release_verifies() {
        let publisher = KeyPair::generate();
        let info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        let st = verify_release(&name(), &v("1.0.0"), &info).unwrap();
        assert_eq!(st.subject.digest, Digest::of(b"bytes"));
    }

    #[test]
    fn forged_release_signature_is_refused() {
        let publisher = KeyPair::generate();
        let forger = KeyPair::generate();
        let mut info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        // The registry swaps in a statement signed by another key, relabelled.
        let mut forged = release(&forger, "braintree/crm", "1.0.0", &[], b"evil").release;
        forged.signatures[0].keyid = publisher.key_id().to_string();
        info.release = forged;
        info.digest = Digest::of(b"evil");
        assert!(matches!(
            verify_release(&name(), &v("1.0.0"), &info),
            Err(CheckError::BadRelease { .. })
        ));
    }

    #[test]
    fn key_of_another_org_is_refused() {
        // A genuine publisher of kent signs a braintree release.
        let kent = KeyPair::generate();
        let mut info = release(&kent, "braintree/crm", "1.0.0", &[], b"bytes");
        info.publisher_key = key_info(&kent, "kent", Role::Publisher);
        let err = verify_release(&name(), &v("1.0.0"), &info).unwrap_err();
        assert!(matches!(err, CheckError::WrongOrg { .. }), "{err}");
        assert!(err.to_string().contains("organisation kent"));
        // A verifier key of the right org is not a publisher key either.
        info.publisher_key = key_info(&kent, "braintree", Role::Verifier);
        assert!(matches!(
            verify_release(&name(), &v("1.0.0"), &info),
            Err(CheckError::NotPublisherKey { .. })
        ));
        // A key record whose id is not its key's hash.
        let other = KeyPair::generate();
        info.publisher_key = key_info(&kent, "braintree", Role::Publisher);
        info.publisher_key.key_id = other.key_id();
        assert!(matches!(
            verify_release(&name(), &v("1.0.0"), &info),
            Err(CheckError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn registry_claims_must_match_the_signed_subject() {
        let publisher = KeyPair::generate();
        let info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        // Claims another digest.
        let mut other_digest = info.clone();
        other_digest.digest = Digest::of(b"evil");
        assert!(matches!(
            verify_release(&name(), &v("1.0.0"), &other_digest),
            Err(CheckError::SubjectMismatch { .. })
        ));
        // Serves 1.0.0's statement as 1.0.1.
        let mut other_version = info.clone();
        other_version.version = v("1.0.1");
        assert!(matches!(
            verify_release(&name(), &v("1.0.1"), &other_version),
            Err(CheckError::SubjectMismatch { .. })
        ));
        // Serves another package's statement.
        let other_pkg = release(&publisher, "braintree/other", "1.0.0", &[], b"bytes");
        assert!(matches!(
            verify_release(&name(), &v("1.0.0"), &other_pkg),
            Err(CheckError::SubjectMismatch { .. })
        ));
    }

    #[test]
    fn unapproved_installs_only_with_allow_unverified() {
        let publisher = KeyPair::generate();
        let info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        let socitm = KeyPair::generate();
        let c = check_version(&name(), &v("1.0.0"), &info, &policy(&[&socitm], 1)).unwrap();
        assert_eq!(c.trust.standing, Standing::Unapproved { have: 0, need: 1 });
        assert!(matches!(
            admit("x", &c.trust.standing, false),
            Err(CheckError::NotApproved { .. })
        ));
        assert!(matches!(
            admit("x", &c.trust.standing, true),
            Ok(Admission::Unverified(_))
        ));
    }

    #[test]
    fn approval_counts_and_threshold_holds() {
        let publisher = KeyPair::generate();
        let (s1, s2) = (KeyPair::generate(), KeyPair::generate());
        let mut info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        add_verdict(&mut info, &s1, Verdict::Approve);
        let c = check_version(&name(), &v("1.0.0"), &info, &policy(&[&s1, &s2], 1)).unwrap();
        assert_eq!(
            admit("x", &c.trust.standing, false).unwrap(),
            Admission::Approved
        );
        let c = check_version(&name(), &v("1.0.0"), &info, &policy(&[&s1, &s2], 2)).unwrap();
        assert_eq!(c.trust.standing, Standing::Unapproved { have: 1, need: 2 });
    }

    #[test]
    fn revoked_never_installs() {
        let publisher = KeyPair::generate();
        let s1 = KeyPair::generate();
        let mut info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        add_verdict(&mut info, &s1, Verdict::Approve);
        add_verdict(&mut info, &s1, Verdict::Revoke);
        let c = check_version(&name(), &v("1.0.0"), &info, &policy(&[&s1], 1)).unwrap();
        for allow in [false, true] {
            let err = admit("braintree/crm@1.0.0", &c.trust.standing, allow).unwrap_err();
            assert!(matches!(err, CheckError::Revoked { .. }));
            assert!(err.to_string().contains("revoked"));
        }
    }

    #[test]
    fn forged_and_untrusted_approvals_do_not_count() {
        let publisher = KeyPair::generate();
        let trusted = KeyPair::generate();
        let stranger = KeyPair::generate();
        let p = policy(&[&trusted], 1);
        let mut info = release(&publisher, "braintree/crm", "1.0.0", &[], b"bytes");
        // An approval by a key the client does not trust.
        add_verdict(&mut info, &stranger, Verdict::Approve);
        // A forged approval: the stranger signs, claiming the trusted key's id.
        let subject = verify_release(&name(), &v("1.0.0"), &info)
            .unwrap()
            .subject
            .clone();
        let mut forged =
            VerdictStatement::new(Verdict::Approve, subject.clone(), None, 1).sign(&stranger);
        forged.signatures[0].keyid = trusted.key_id().to_string();
        push_envelope(&mut info, &trusted, forged);
        // A genuine approval of another digest (replayed onto this release).
        let mut other = subject.clone();
        other.digest = Digest::of(b"other bytes");
        push_envelope(
            &mut info,
            &trusted,
            VerdictStatement::new(Verdict::Approve, other, None, 1).sign(&trusted),
        );
        // A genuine approval of 1.0.0 replayed for 1.0.1.
        let info101 = {
            let mut i = release(&publisher, "braintree/crm", "1.0.1", &[], b"bytes101");
            push_envelope(
                &mut i,
                &trusted,
                VerdictStatement::new(Verdict::Approve, subject, None, 1).sign(&trusted),
            );
            i
        };
        let c = check_version(&name(), &v("1.0.0"), &info, &p).unwrap();
        assert_eq!(c.trust.standing, Standing::Unapproved { have: 0, need: 1 });
        assert_eq!(c.trust.claimed_approvers.len(), 3);
        assert!(admit("x", &c.trust.standing, false).is_err());
        let c = check_version(&name(), &v("1.0.1"), &info101, &p).unwrap();
        assert_eq!(c.trust.standing, Standing::Unapproved { have: 0, need: 1 });
    }
}
