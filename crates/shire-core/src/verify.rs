//! Signature verification: the only place a [`Verified`] value is made.
//!
//! Storage and installation take `Verified<…>` values, so a statement that was
//! never checked cannot reach them by accident.

use crate::dsse::{Envelope, EnvelopeError};
use crate::keys::PublicKey;
use crate::manifest::ManifestError;
use crate::names::OrgName;
use crate::statement::{
    AdoptionStatement, Advisory, KeyStatement, ReleaseStatement, Verdict, VerdictStatement,
    ADOPTION_PAYLOAD_TYPE, ADOPTION_TAG, KEY_PAYLOAD_TYPE, KEY_TAG, MAX_ADVISORY_CHARS,
    RELEASE_PAYLOAD_TYPE, RELEASE_TAG, SUPPORT_ACCEPT_PAYLOAD_TYPE, SUPPORT_ACCEPT_TAG,
    SUPPORT_OFFER_PAYLOAD_TYPE, SUPPORT_OFFER_TAG, VERDICT_PAYLOAD_TYPE, VERDICT_TAG,
};
use crate::statement::{SupportAcceptance, SupportOffer};
use std::ops::Deref;

/// A value whose signature has been checked against a named key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T> {
    value: T,
    key: PublicKey,
}

impl<T> Verified<T> {
    /// The key whose signature was checked.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Why a statement did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The envelope's signature or encoding is bad.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The signed payload is not a statement of the expected kind.
    #[error("signed payload is not a valid statement: {0}")]
    Payload(String),
    /// The statement contradicts itself or its context.
    #[error("statement does not match: {0}")]
    Mismatch(String),
    /// The manifest inside the statement is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Checks a release envelope against the publisher's key and returns the statement.
pub fn release(env: &Envelope, key: &PublicKey) -> Result<Verified<ReleaseStatement>, VerifyError> {
    let payload = env.verify(RELEASE_PAYLOAD_TYPE, key)?;
    let st: ReleaseStatement =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    if st.statement != RELEASE_TAG {
        return Err(VerifyError::Payload(format!(
            "statement tag {:?} is not {RELEASE_TAG:?}",
            st.statement
        )));
    }
    if st.manifest.package.name != st.subject.name
        || st.manifest.package.version != st.subject.version
    {
        return Err(VerifyError::Mismatch(format!(
            "manifest names {}@{} but the statement is for {}",
            st.manifest.package.name, st.manifest.package.version, st.subject
        )));
    }
    st.manifest.validate()?;
    Ok(Verified {
        value: st,
        key: key.clone(),
    })
}

/// Checks a verdict envelope against a verifier's key and returns the statement.
pub fn verdict(env: &Envelope, key: &PublicKey) -> Result<Verified<VerdictStatement>, VerifyError> {
    let payload = env.verify(VERDICT_PAYLOAD_TYPE, key)?;
    let st: VerdictStatement =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    if st.statement != VERDICT_TAG {
        return Err(VerifyError::Payload(format!(
            "statement tag {:?} is not {VERDICT_TAG:?}",
            st.statement
        )));
    }
    if matches!(st.verdict, Verdict::Reject | Verdict::Revoke)
        && st.reason.as_deref().map(str::trim).unwrap_or("").is_empty()
    {
        return Err(VerifyError::Mismatch(format!(
            "a {} must give a reason",
            st.verdict
        )));
    }
    if st.reason.as_deref().is_some_and(crate::has_invisible) {
        return Err(VerifyError::Mismatch(
            "the reason holds control or invisible characters".into(),
        ));
    }
    if let Some(a) = &st.advisory {
        check_advisory(a, &st)?;
    }
    check_log_name(&st.log)?;
    Ok(Verified {
        value: st,
        key: key.clone(),
    })
}

/// An advisory comes with a revocation only, says something readable, and
/// names a fixed version newer than the revoked one.
fn check_advisory(a: &Advisory, st: &VerdictStatement) -> Result<(), VerifyError> {
    if st.verdict != Verdict::Revoke {
        return Err(VerifyError::Mismatch(format!(
            "only a revocation carries an advisory, not a {}",
            st.verdict
        )));
    }
    let n = a.description.trim().chars().count();
    if n == 0 || a.description.chars().count() > MAX_ADVISORY_CHARS {
        return Err(VerifyError::Mismatch(format!(
            "an advisory's description must hold 1 to {MAX_ADVISORY_CHARS} characters"
        )));
    }
    if crate::has_invisible(&a.description) {
        return Err(VerifyError::Mismatch(
            "the advisory holds control or invisible characters".into(),
        ));
    }
    if let Some(fixed) = &a.fixed_in {
        if fixed <= &st.subject.version {
            return Err(VerifyError::Mismatch(format!(
                "the advisory says {fixed} fixes {}, which is not newer",
                st.subject
            )));
        }
    }
    Ok(())
}

/// A support statement: an offer or an acceptance, told apart by the
/// envelope's payload type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportStatement {
    /// A supporter's offer.
    Offer(SupportOffer),
    /// A publisher organisation's acceptance.
    Accept(SupportAcceptance),
}

/// Checks a support envelope against a member's key and returns the
/// statement, with the SHA-256 of its signed payload.
pub fn support(
    env: &Envelope,
    key: &PublicKey,
) -> Result<(Verified<SupportStatement>, crate::digest::Digest), VerifyError> {
    let (st, payload) = if env.payload_type == SUPPORT_OFFER_PAYLOAD_TYPE {
        let payload = env.verify(SUPPORT_OFFER_PAYLOAD_TYPE, key)?;
        let st: SupportOffer =
            serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
        if st.statement != SUPPORT_OFFER_TAG {
            return Err(VerifyError::Payload(format!(
                "statement tag is not {SUPPORT_OFFER_TAG:?}"
            )));
        }
        if crate::manifest::parse_date(&st.until).is_none() {
            return Err(VerifyError::Mismatch(format!(
                "until {:?} is not a date of the form YYYY-MM-DD",
                crate::clip(&st.until)
            )));
        }
        check_log_name(&st.log)?;
        (SupportStatement::Offer(st), payload)
    } else {
        let payload = env.verify(SUPPORT_ACCEPT_PAYLOAD_TYPE, key)?;
        let st: SupportAcceptance =
            serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
        if st.statement != SUPPORT_ACCEPT_TAG {
            return Err(VerifyError::Payload(format!(
                "statement tag is not {SUPPORT_ACCEPT_TAG:?}"
            )));
        }
        check_log_name(&st.log)?;
        (SupportStatement::Accept(st), payload)
    };
    Ok((
        Verified {
            value: st,
            key: key.clone(),
        },
        crate::digest::Digest::of(&payload),
    ))
}

/// Longest log name (a note verifier key) a statement may carry.
pub const MAX_LOG_LEN: usize = 512;

fn check_log_name(log: &str) -> Result<(), VerifyError> {
    if log.is_empty() || log.len() > MAX_LOG_LEN || crate::has_invisible(log) {
        return Err(VerifyError::Mismatch(format!(
            "the log must be named by 1 to {MAX_LOG_LEN} printable bytes"
        )));
    }
    Ok(())
}

/// Checks a key registration envelope: signed by the very key it registers,
/// for an account of the usual name shape and a bounded log name.
pub fn key_registration(env: &Envelope) -> Result<Verified<KeyStatement>, VerifyError> {
    // The key to check the signature with is in the payload itself; it is
    // trusted only once its own signature over that payload verifies.
    let claimed: KeyStatement = serde_json::from_slice(&env.payload_bytes()?)
        .map_err(|e| VerifyError::Payload(e.to_string()))?;
    let key = claimed.public_key;
    let payload = env.verify(KEY_PAYLOAD_TYPE, &key)?;
    let st: KeyStatement =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    if st.statement != KEY_TAG {
        return Err(VerifyError::Payload(format!(
            "statement tag is not {KEY_TAG:?}"
        )));
    }
    if OrgName::parse(&st.account).is_err() {
        return Err(VerifyError::Mismatch(
            "the account is not a valid account name".into(),
        ));
    }
    check_log_name(&st.log)?;
    Ok(Verified { value: st, key })
}

/// Checks an adoption envelope against a member's key and returns the statement.
pub fn adoption(
    env: &Envelope,
    key: &PublicKey,
) -> Result<Verified<AdoptionStatement>, VerifyError> {
    let payload = env.verify(ADOPTION_PAYLOAD_TYPE, key)?;
    let st: AdoptionStatement =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    if st.statement != ADOPTION_TAG {
        return Err(VerifyError::Payload(format!(
            "statement tag {:?} is not {ADOPTION_TAG:?}",
            st.statement
        )));
    }
    check_log_name(&st.log)?;
    Ok(Verified {
        value: st,
        key: key.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::keys::KeyPair;
    use crate::manifest::Manifest;
    use crate::names::PackageName;
    use crate::statement::Subject;
    use base64::Engine as _;

    fn manifest() -> Manifest {
        Manifest::skeleton(PackageName::parse("braintree/crm").unwrap())
    }

    /// An advisory rides on a revocation only, with readable text and a
    /// fixed version newer than the revoked one.
    #[test]
    fn advisories_belong_to_revocations() {
        use crate::statement::{Advisory, Severity};
        let kp = KeyPair::generate();
        let subject = Subject {
            name: PackageName::parse("braintree/crm").unwrap(),
            version: semver::Version::new(1, 0, 0),
            digest: Digest::of(b"x"),
        };
        let advisory = |description: &str, fixed: Option<(u64, u64, u64)>| Advisory {
            severity: Severity::Critical,
            description: description.into(),
            fixed_in: fixed.map(|(a, b, c)| semver::Version::new(a, b, c)),
        };
        let verdict_with = |v: Verdict, a: Advisory| {
            let reason = (v != Verdict::Approve).then(|| "a flaw".to_string());
            let env = VerdictStatement::new(v, subject.clone(), "log", reason, 0)
                .with_advisory(a)
                .sign(&kp);
            verdict(&env, &kp.public())
        };
        let ok = verdict_with(Verdict::Revoke, advisory("SQL injection", Some((1, 0, 1)))).unwrap();
        assert_eq!(ok.advisory.as_ref().unwrap().severity, Severity::Critical);
        assert!(verdict_with(Verdict::Revoke, advisory("no fix yet", None)).is_ok());
        for (v, a) in [
            (Verdict::Approve, advisory("fine", None)),
            (Verdict::Reject, advisory("bad", None)),
            (Verdict::Revoke, advisory("  ", None)),
            (
                Verdict::Revoke,
                advisory(&"x".repeat(MAX_ADVISORY_CHARS + 1), None),
            ),
            (Verdict::Revoke, advisory("hidden \u{202e}text", None)),
            (Verdict::Revoke, advisory("same version", Some((1, 0, 0)))),
            (Verdict::Revoke, advisory("older", Some((0, 9, 0)))),
        ] {
            assert!(
                matches!(verdict_with(v, a.clone()), Err(VerifyError::Mismatch(_))),
                "{v} with {a:?}"
            );
        }
    }

    #[test]
    fn release_round_trip() {
        let kp = KeyPair::generate();
        let st = ReleaseStatement::new(manifest(), Digest::of(b"x"));
        let env = st.sign(&kp);
        let v = release(&env, &kp.public()).unwrap();
        assert_eq!(*v, st);
        assert_eq!(v.key(), &kp.public());
    }

    #[test]
    fn release_attacks() {
        let kp = KeyPair::generate();
        let mut st = ReleaseStatement::new(manifest(), Digest::of(b"x"));
        // Forged: signed by someone else.
        let forged = st.sign(&KeyPair::generate());
        assert!(release(&forged, &kp.public()).is_err());
        // A verdict envelope is not a release, even when the key is right.
        let v =
            VerdictStatement::new(Verdict::Approve, st.subject.clone(), "log", None, 0).sign(&kp);
        assert!(release(&v, &kp.public()).is_err());
        // Subject and manifest disagree.
        st.subject.version = semver::Version::new(9, 9, 9);
        assert!(matches!(
            release(&st.sign(&kp), &kp.public()),
            Err(VerifyError::Mismatch(_))
        ));
        // Payload edited after signing.
        let mut env = ReleaseStatement::new(manifest(), Digest::of(b"x")).sign(&kp);
        let edited = String::from_utf8(env.payload_bytes().unwrap())
            .unwrap()
            .replace("0.1.0", "0.1.1");
        env.payload = base64::engine::general_purpose::STANDARD.encode(edited);
        assert!(release(&env, &kp.public()).is_err());
    }

    #[test]
    fn a_key_registration_is_signed_by_the_key_it_registers() {
        use crate::wire::Role;
        let kp = KeyPair::generate();
        let org = crate::names::OrgName::parse("socitm").ok();
        let st = KeyStatement::new(&kp, "reviewer", org, Role::Verifier, "node.example+1", 1);
        let v = key_registration(&st.sign(&kp)).unwrap();
        assert_eq!(v.account, "reviewer");
        assert_eq!(v.key(), &kp.public());
        // Someone else's key named in a statement they signed themselves.
        let thief = KeyPair::generate();
        let mut stolen = st.clone();
        stolen.public_key = kp.public();
        assert!(key_registration(&stolen.sign(&thief)).is_err());
        // A release or verdict envelope is not a registration.
        let rel = ReleaseStatement::new(manifest(), Digest::of(b"x")).sign(&kp);
        assert!(key_registration(&rel).is_err());
        // Unbounded or odd fields are refused.
        let mut long = st.clone();
        long.log = "n".repeat(MAX_LOG_LEN + 1);
        assert!(key_registration(&long.sign(&kp)).is_err());
        let mut odd = st;
        odd.account = "Not An Account".into();
        assert!(key_registration(&odd.sign(&kp)).is_err());
    }

    #[test]
    fn verdict_needs_reason_to_reject() {
        let kp = KeyPair::generate();
        let subject = Subject {
            name: PackageName::parse("a/b").unwrap(),
            version: semver::Version::new(1, 0, 0),
            digest: Digest::of(b"x"),
        };
        let v = |reason: Option<&str>| {
            VerdictStatement::new(
                Verdict::Reject,
                subject.clone(),
                "log",
                reason.map(Into::into),
                1,
            )
            .sign(&kp)
        };
        assert!(verdict(&v(None), &kp.public()).is_err());
        assert_eq!(
            verdict(&v(Some("bad")), &kp.public()).unwrap().verdict,
            Verdict::Reject
        );
        // A reason that would drive a terminal is refused.
        assert!(verdict(&v(Some("ok\u{1b}[8m hidden")), &kp.public()).is_err());
    }
}
