//! The client's checks of a release: pure functions, with no I/O, so every
//! attack can be tested without a server.
//!
//! No registry is trusted. What a release *is* and what was *decided* about
//! it come from the client's replica of the verified log
//! ([`Logged`]: the exact subject, the publisher
//! key the log registered, every verdict the log accepted, the yank), never
//! from the registry's summary. The registry's `VersionInfo` is needed only
//! for the publisher's signed statement (its manifest and dependencies):
//! [`verify_logged`] checks it under the publisher key the *log* registered
//! for the release and requires its subject to be exactly the logged one.
//! [`assess`] counts the logged verdicts under the client's trust policy
//! (`TrustPolicy::standing`, which counts distinct verifiers, never keys), and
//! [`admit`] turns the result into install or refuse.
//! `shire approve | reject | revoke` sign only a subject [`verify_in_log`]
//! passed: a verifier signs what the log released, never what a registry
//! says it released.

use crate::transparency::replica::{Logged, Lookup, YankNote};
use shire_core::ledger::ReleaseFacts;
use shire_core::policy::{Assessment, Standing, TrustPolicy};
use shire_core::statement::ReleaseStatement;
use shire_core::verify::{self, Verified, VerifyError};
use shire_core::wire::VersionInfo;
use shire_core::{KeyId, PackageName, Version};

/// Why a release's metadata was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The verified log holds no such release.
    #[error("the verified log of {origin} holds no release {release}")]
    NotInLog {
        /// `org/name@version`.
        release: String,
        /// The log's origin.
        origin: String,
    },
    /// The log holds the release but not the key that signed it.
    #[error("the verified log holds no publisher key {key} for {release}")]
    KeyNotInLog {
        /// `org/name@version`.
        release: String,
        /// The key the log says signed it.
        key: KeyId,
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
    /// The statement the registry serves is not the release the log holds.
    #[error("the registry serves a release statement for {release} that is not the one in the verified log: {detail}")]
    NotLoggedStatement {
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

/// Checks the publisher's signed statement the registry serves for
/// `name@version` against the release the verified log holds: it must verify
/// under the publisher key the log registered for that release, and name
/// exactly the logged subject (name, version with its build metadata,
/// digest). The registry's own fields must agree too.
pub fn verify_logged(
    name: &PackageName,
    version: &Version,
    info: &VersionInfo,
    logged: &Logged<'_>,
) -> Result<Verified<ReleaseStatement>, CheckError> {
    let release = format!("{name}@{version}");
    let facts = logged.facts;
    let key = logged
        .key
        .filter(|k| k.key_id == facts.publisher_key)
        .ok_or_else(|| CheckError::KeyNotInLog {
            release: release.clone(),
            key: facts.publisher_key.clone(),
        })?;
    let st = verify::release(&info.release, &key.public_key).map_err(|source| {
        CheckError::BadRelease {
            release: release.clone(),
            source,
        }
    })?;
    let not_logged = |detail: String| CheckError::NotLoggedStatement {
        release: release.clone(),
        detail,
    };
    let logged_subject = &facts.subject;
    let served = info
        .release
        .payload_bytes()
        .map(|p| shire_core::Digest::of(&p))
        .ok();
    if served != Some(facts.statement) {
        return Err(not_logged(
            "its signed manifest is not the one the log holds for it (the registry serves another statement of the same release)".into(),
        ));
    }
    if st.subject != *logged_subject {
        return Err(not_logged(format!(
            "it signs {} ({}), the log released {} ({})",
            st.subject, st.subject.digest, logged_subject, logged_subject.digest
        )));
    }
    if &logged_subject.name != name || &logged_subject.version != version {
        return Err(not_logged(format!(
            "{release} was asked for, the log released {logged_subject}"
        )));
    }
    if info.version != *version || info.digest != logged_subject.digest {
        return Err(CheckError::SubjectMismatch {
            release,
            detail: format!(
                "the registry lists {}@{} with digest {}, the log released digest {}",
                name, info.version, info.digest, logged_subject.digest
            ),
        });
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
}

/// Assesses the verdicts the verified log accepted for a release under
/// `policy`: only trusted keys count, a threshold counts distinct verifiers
/// (two keys of one account, or two keys filed under one trust label, are
/// one), and a trusted revocation wins.
pub fn assess(policy: &TrustPolicy, facts: &ReleaseFacts) -> TrustView {
    let assessment = policy.assess(facts);
    let standing = policy.standing(&assessment);
    TrustView {
        assessment,
        standing,
    }
}

/// A release that has passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The publisher's verified statement (for its manifest).
    pub statement: Verified<ReleaseStatement>,
    /// The release as the verified log holds it.
    pub facts: ReleaseFacts,
    /// Its verdicts under the client's policy.
    pub trust: TrustView,
    /// Set when the log says it is yanked.
    pub yanked: Option<YankNote>,
    /// Set when the log says its artifact was taken down.
    pub taken_down: Option<YankNote>,
}

/// [`verify_logged`] then [`assess`], for the release as looked up in the
/// replica of its home's log.
pub fn check_version(
    name: &PackageName,
    version: &Version,
    info: &VersionInfo,
    lookup: &Lookup<'_>,
    policy: &TrustPolicy,
) -> Result<Checked, CheckError> {
    let logged = in_log(name, version, lookup)?;
    let statement = verify_logged(name, version, info, logged)?;
    let facts = logged.facts.clone();
    let trust = assess(policy, &facts);
    Ok(Checked {
        statement,
        yanked: yank_of(logged),
        taken_down: takedown_of(logged),
        facts,
        trust,
    })
}

/// [`verify_logged`], for the release as looked up in the replica of its
/// home's log: what a verifier checks before signing a verdict on it.
pub fn verify_in_log(
    name: &PackageName,
    version: &Version,
    info: &VersionInfo,
    lookup: &Lookup<'_>,
) -> Result<Verified<ReleaseStatement>, CheckError> {
    verify_logged(name, version, info, in_log(name, version, lookup)?)
}

/// The release as the log holds it; refused when the log does not.
fn in_log<'l>(
    name: &PackageName,
    version: &Version,
    lookup: &'l Lookup<'_>,
) -> Result<&'l Logged<'l>, CheckError> {
    lookup.logged.as_ref().ok_or_else(|| CheckError::NotInLog {
        release: format!("{name}@{version}"),
        origin: lookup.origin.to_string(),
    })
}

/// The yank of a logged release, when it is yanked.
pub fn yank_of(logged: &Logged<'_>) -> Option<YankNote> {
    if !logged.facts.yanked {
        return None;
    }
    Some(logged.yank.cloned().unwrap_or_else(|| YankNote {
        reason: "(no reason recorded)".into(),
        by: "(unknown)".into(),
        at: String::new(),
    }))
}

/// The takedown of a logged release, if its artifact was taken down.
pub fn takedown_of(logged: &Logged<'_>) -> Option<YankNote> {
    if !logged.facts.taken_down {
        return None;
    }
    Some(logged.takedown.cloned().unwrap_or_else(|| YankNote {
        reason: "(no reason recorded)".into(),
        by: "(unknown)".into(),
        at: String::new(),
    }))
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
            taken_down: None,
            unusable: None,
        }
    }

    /// Adds a verdict signed by `verifier` about the release's own subject.
    pub fn add_verdict(info: &mut VersionInfo, verifier: &KeyPair, verdict: Verdict) {
        let subject = ReleaseStatement::new(info.manifest.clone(), info.digest).subject;
        let reason = (verdict != Verdict::Approve).then(|| "found a flaw".to_string());
        let env = VerdictStatement::new(verdict, subject, "registry.test+0+test", reason, 1)
            .sign(verifier);
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
            advisory: None,
        });
    }

    /// A policy trusting `keys` (unlabelled: each counts as the account the
    /// log registered it to) with `threshold`.
    pub fn policy(keys: &[&KeyPair], threshold: u32) -> TrustPolicy {
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
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use shire_core::statement::Verdict;
    use shire_core::{Digest, KeyPair};

    fn name() -> PackageName {
        PackageName::parse("braintree/crm").unwrap()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    use crate::transparency::testlog::{cast, Cast, Released, ORIGIN};
    use shire_core::policy::TrustedKey;
    use shire_core::wire::Role as R;

    /// Checks `r` as the registry describes it (`info`) against `c`'s log.
    fn check(
        c: &Cast,
        r: &Released,
        info: &VersionInfo,
        p: &TrustPolicy,
    ) -> Result<Checked, CheckError> {
        let replica = c.log.replica();
        check_version(
            &r.name,
            &r.version,
            info,
            &replica.lookup(&r.name, &r.version),
            p,
        )
    }

    #[test]
    fn a_second_statement_of_the_logged_release_is_refused() {
        // The publisher signs another manifest of the same subject (other
        // dependencies) after the log took the first; a registry serves it.
        let mut c = cast();
        let r = c.release("braintree/crm", "1.0.0");
        let mut manifest = r.info.manifest.clone();
        manifest.package.description = "the same bytes, other dependencies".into();
        manifest.dependencies.insert(
            PackageName::parse("braintree/evil").unwrap(),
            shire_core::VersionReq::STAR,
        );
        let mut served = r.info.clone();
        served.release = ReleaseStatement::new(manifest, r.info.digest).sign(&c.publisher);
        let err = check(&c, &r, &served, &policy(&[&c.verifier], 1)).unwrap_err();
        assert!(
            err.to_string().contains("not the one the log holds"),
            "{err}"
        );
        check(&c, &r, &r.info, &policy(&[&c.verifier], 1)).unwrap();
    }

    #[test]
    fn a_logged_release_verifies_under_the_key_the_log_registered() {
        let mut c = cast();
        let r = c.release("braintree/crm", "1.0.0");
        let ok = check(&c, &r, &r.info, &policy(&[&c.verifier], 1)).unwrap();
        assert_eq!(Some(ok.facts.index), r.info.log_index);
        assert_eq!(ok.statement.subject.digest, r.info.digest);
        // The registry names another publisher key: it is ignored, the log's is used.
        let mut lying = r.info.clone();
        lying.publisher_key = key_info(&KeyPair::generate(), "braintree", R::Publisher);
        check(&c, &r, &lying, &policy(&[&c.verifier], 1)).unwrap();
    }

    #[test]
    fn a_statement_the_log_does_not_hold_is_refused() {
        let mut c = cast();
        let r = c.release("braintree/crm", "1.0.0");
        let p = policy(&[&c.verifier], 1);
        // Signed by another key (relabelled as the publisher's).
        let mut forged = r.info.clone();
        forged.release = release(
            &KeyPair::generate(),
            "braintree/crm",
            "1.0.0",
            &[],
            b"braintree/crm@1.0.0",
        )
        .release;
        forged.release.signatures[0].keyid = c.publisher.key_id().to_string();
        assert!(matches!(
            check(&c, &r, &forged, &p),
            Err(CheckError::BadRelease { .. })
        ));
        // Genuinely signed by the publisher, but for other bytes than the log holds.
        let mut other = r.info.clone();
        other.release = release(&c.publisher, "braintree/crm", "1.0.0", &[], b"evil").release;
        other.digest = Digest::of(b"evil");
        let err = check(&c, &r, &other, &p).unwrap_err();
        assert!(
            matches!(err, CheckError::NotLoggedStatement { .. }),
            "{err}"
        );
        // The registry lists other bytes than the ones the log released.
        let mut claim = r.info.clone();
        claim.digest = Digest::of(b"evil");
        assert!(matches!(
            check(&c, &r, &claim, &p),
            Err(CheckError::SubjectMismatch { .. })
        ));
        // A release the log never saw.
        let ghost = Released {
            name: name(),
            version: v("9.0.0"),
            info: release(&c.publisher, "braintree/crm", "9.0.0", &[], b"ghost"),
        };
        let err = check(&c, &ghost, &ghost.info, &p).unwrap_err();
        assert!(matches!(err, CheckError::NotInLog { .. }), "{err}");
        assert!(err.to_string().contains(ORIGIN), "{err}");
    }

    #[test]
    fn build_metadata_cannot_pass_one_release_off_as_another() {
        // The log released 2.0.0+good; a registry lists 2.0.0+other, genuinely
        // signed by the publisher but never accepted by the log.
        let mut c = cast();
        let good = c.release("braintree/crm", "2.0.0+good");
        let other = Released {
            name: name(),
            version: v("2.0.0+other"),
            info: release(&c.publisher, "braintree/crm", "2.0.0+other", &[], b"other"),
        };
        let p = policy(&[&c.verifier], 1);
        let err = check(&c, &other, &other.info, &p).unwrap_err();
        assert!(
            matches!(err, CheckError::NotLoggedStatement { .. }),
            "{err}"
        );
        check(&c, &good, &good.info, &p).unwrap();
    }

    #[test]
    fn standing_comes_from_the_log_never_from_the_registry() {
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        let p = policy(&[&c.verifier], 1);
        // Unapproved: installs only with --allow-unverified.
        let ok = check(&c, &r, &r.info, &p).unwrap();
        assert_eq!(ok.trust.standing, Standing::Unapproved { have: 0, need: 1 });
        assert!(matches!(
            admit("x", &ok.trust.standing, false),
            Err(CheckError::NotApproved { .. })
        ));
        assert!(matches!(
            admit("x", &ok.trust.standing, true),
            Ok(Admission::Unverified(_))
        ));
        // A registry that shows an approval the log does not hold changes nothing.
        let mut claims = r.info.clone();
        add_verdict(&mut claims, &c.verifier, Verdict::Approve);
        claims.state = shire_core::wire::ReleaseState::Approved;
        let ok = check(&c, &r, &claims, &p).unwrap();
        assert_eq!(ok.trust.standing, Standing::Unapproved { have: 0, need: 1 });

        // Approved in the log.
        c.approve(&mut r);
        let ok = check(&c, &r, &r.info, &p).unwrap();
        assert_eq!(
            admit("x", &ok.trust.standing, false).unwrap(),
            Admission::Approved
        );
        // Then revoked in the log: a registry that hides the revocation
        // (attack 6) serves the record from before it.
        let before = r.info.clone();
        c.log.verdict(&c.verifier, &mut r, Verdict::Revoke);
        let ok = check(&c, &r, &before, &p).unwrap();
        assert!(
            matches!(ok.trust.standing, Standing::Revoked(ref why) if why.contains("CVE-2026-0001"))
        );
        for allow in [false, true] {
            let err = admit("braintree/crm@1.0.0", &ok.trust.standing, allow).unwrap_err();
            assert!(matches!(err, CheckError::Revoked { .. }));
        }
        // The threshold is the client's: two verifiers needed, one approved.
        let ok = check(
            &c,
            &r,
            &before,
            &policy(&[&c.verifier, &KeyPair::generate()], 2),
        )
        .unwrap();
        assert!(matches!(ok.trust.standing, Standing::Revoked(_)));
    }

    #[test]
    fn yanks_come_from_the_log() {
        let mut c = cast();
        let r = c.release("braintree/crm", "1.0.0");
        c.log.yank(&r, "broken build", "bt-dev");
        let ok = check(&c, &r, &r.info, &policy(&[], 1)).unwrap();
        let y = ok.yanked.unwrap();
        assert_eq!(
            (y.reason.as_str(), y.by.as_str()),
            ("broken build", "bt-dev")
        );
    }

    #[test]
    fn two_keys_of_one_verifier_count_once() {
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        // socitm-rev registers a second key and approves with both.
        let second = KeyPair::generate();
        c.log.key(&second, "socitm-rev", "socitm", R::Verifier);
        c.approve(&mut r);
        c.log.verdict(&second, &mut r, Verdict::Approve);
        let both = policy(&[&c.verifier, &second], 2);
        let ok = check(&c, &r, &r.info, &both).unwrap();
        assert_eq!(ok.trust.standing, Standing::Unapproved { have: 1, need: 2 });

        // Two accounts, but the user filed both keys under one label.
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        let colleague = KeyPair::generate();
        c.log.key(&colleague, "socitm-rev2", "socitm", R::Verifier);
        c.approve(&mut r);
        c.log.verdict(&colleague, &mut r, Verdict::Approve);
        let labelled = |a: &str, b: &str| TrustPolicy {
            keys: [(&c.verifier, a), (&colleague, b)]
                .into_iter()
                .map(|(k, l)| {
                    (
                        k.key_id(),
                        TrustedKey {
                            public_key: k.public(),
                            label: l.into(),
                        },
                    )
                })
                .collect(),
            threshold: 2,
        };
        let ok = check(&c, &r, &r.info, &labelled("socitm", "socitm")).unwrap();
        assert_eq!(ok.trust.standing, Standing::Unapproved { have: 1, need: 2 });
        // Two verifiers filed apart: approved.
        let ok = check(&c, &r, &r.info, &labelled("socitm", "socitm-audit")).unwrap();
        assert_eq!(ok.trust.standing, Standing::Approved);
    }
}
