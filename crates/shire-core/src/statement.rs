//! The statements Shire signs: a publisher's release statement, a verifier's
//! verdict (approval, rejection, revocation), and the key registration that
//! every key signs for itself (proof of possession).
//!
//! Each is JSON inside a DSSE envelope; the payload type and a `statement` tag
//! both name the kind, so a signature over one kind can never be replayed as
//! another. A verdict names its subject exactly (name, version, digest), so an
//! approval of 1.0.0 cannot be presented for 1.0.1 or for other bytes.

use crate::digest::Digest;
use crate::dsse::Envelope;
use crate::keys::{KeyPair, PublicKey};
use crate::manifest::Manifest;
use crate::names::{OrgName, PackageName};
use crate::wire::Role;
use semver::Version;
use serde::{Deserialize, Serialize};
use std::fmt;

/// DSSE payload type of a release statement.
pub const RELEASE_PAYLOAD_TYPE: &str = "application/vnd.shire.release.v1+json";
/// DSSE payload type of a verdict statement.
pub const VERDICT_PAYLOAD_TYPE: &str = "application/vnd.shire.verdict.v1+json";
/// The `statement` tag of a release statement.
pub const RELEASE_TAG: &str = "shire.release/v1";
/// The `statement` tag of a verdict statement.
pub const VERDICT_TAG: &str = "shire.verdict/v1";
/// DSSE payload type of a key registration statement.
pub const KEY_PAYLOAD_TYPE: &str = "application/vnd.shire.key.v1+json";
/// The `statement` tag of a key registration statement.
pub const KEY_TAG: &str = "shire.key/v1";

/// DSSE payload type of an adoption statement.
pub const ADOPTION_PAYLOAD_TYPE: &str = "application/vnd.shire.adoption.v1+json";
/// The `statement` tag of an adoption statement.
pub const ADOPTION_TAG: &str = "shire.adoption/v1";

/// Exactly which release a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// `org/name`.
    pub name: PackageName,
    /// The version.
    pub version: Version,
    /// The artifact's digest.
    pub digest: Digest,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// A publisher's statement that this artifact is this release, with this manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseStatement {
    /// Always [`RELEASE_TAG`].
    pub statement: String,
    /// What is released.
    pub subject: Subject,
    /// The manifest, as the publisher wrote it.
    pub manifest: Manifest,
}

impl ReleaseStatement {
    /// Builds a statement for a manifest and the digest of its artifact.
    pub fn new(manifest: Manifest, digest: Digest) -> Self {
        Self {
            statement: RELEASE_TAG.into(),
            subject: Subject {
                name: manifest.package.name.clone(),
                version: manifest.package.version.clone(),
                digest,
            },
            manifest,
        }
    }

    /// Serialises and signs the statement with the publisher's key.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        // Plain data always serialises.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(RELEASE_PAYLOAD_TYPE, &bytes, key)
    }
}

/// What a verifier decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Reviewed and fit to install.
    Approve,
    /// Reviewed and not fit to install.
    Reject,
    /// Was approved, but must no longer be installed (a security flaw, say).
    Revoke,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
            Verdict::Revoke => "revoke",
        })
    }
}

/// How serious the flaw behind a revocation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    /// Little harm; upgrade when convenient.
    Low,
    /// Some harm; upgrade soon.
    Medium,
    /// Serious harm; upgrade now.
    High,
    /// Actively harmful or exploited; stop running it.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "{:?} is not a severity: low, medium, high or critical",
                crate::clip(s)
            )),
        }
    }
}

/// Longest advisory description, in characters.
pub const MAX_ADVISORY_CHARS: usize = 4096;

/// What a revocation tells the users of the release: how serious it is,
/// what is wrong, and the version that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Advisory {
    /// How serious.
    pub severity: Severity,
    /// What is wrong and what to do (at most [`MAX_ADVISORY_CHARS`]).
    pub description: String,
    /// The version that fixes it, when there is one: newer than the revoked one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub fixed_in: Option<Version>,
}

/// A verifier's signed verdict about one exact release, in one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictStatement {
    /// Always [`VERDICT_TAG`].
    pub statement: String,
    /// The decision.
    pub verdict: Verdict,
    /// The release it is about.
    pub subject: Subject,
    /// The log it is given in, named by its node's note verifier key
    /// (`origin+hash+key`): a verdict given on one node cannot be replayed
    /// on another, even one that took the same origin name.
    pub log: String,
    /// Why (required for rejections and revocations; a note for approvals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was signed, seconds since the Unix epoch (informative).
    pub issued_at: u64,
    /// For a revocation: the advisory its users are told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<Advisory>,
}

impl VerdictStatement {
    /// Builds a verdict about `subject` for the log named `log`.
    pub fn new(
        verdict: Verdict,
        subject: Subject,
        log: &str,
        reason: Option<String>,
        issued_at: u64,
    ) -> Self {
        Self {
            statement: VERDICT_TAG.into(),
            verdict,
            subject,
            log: log.to_string(),
            reason,
            issued_at,
            advisory: None,
        }
    }

    /// The same verdict carrying `advisory` (revocations only).
    pub fn with_advisory(mut self, advisory: Advisory) -> Self {
        self.advisory = Some(advisory);
        self
    }

    /// Serialises and signs the verdict with the verifier's key.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(VERDICT_PAYLOAD_TYPE, &bytes, key)
    }
}

/// A key holder's request to register its key to one account on one node,
/// signed with that key itself: proof that whoever registers the key holds
/// it. It binds the account, its organisation and role, and the node's log
/// (origin and key), so it cannot be replayed for another account or on
/// another node, even one that took the same origin name.
/// The node logs it inside the registration entry, so anyone replaying the
/// log checks it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyStatement {
    /// Always [`KEY_TAG`].
    pub statement: String,
    /// The key being registered; it signs this statement.
    pub public_key: PublicKey,
    /// The account it is registered to.
    pub account: String,
    /// That account's organisation.
    pub org: Option<OrgName>,
    /// That account's role.
    pub role: Role,
    /// The log it is registered in, named by its node's note verifier key
    /// (`origin+hash+key`).
    pub log: String,
    /// When it was signed, seconds since the Unix epoch (informative).
    pub issued_at: u64,
}

impl KeyStatement {
    /// Builds a registration of `key`'s public half.
    pub fn new(
        key: &KeyPair,
        account: &str,
        org: Option<OrgName>,
        role: Role,
        log: &str,
        issued_at: u64,
    ) -> Self {
        Self {
            statement: KEY_TAG.into(),
            public_key: key.public(),
            account: account.to_string(),
            org,
            role,
            log: log.to_string(),
            issued_at,
        }
    }

    /// Serialises and signs the registration with the key it registers.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(KEY_PAYLOAD_TYPE, &bytes, key)
    }
}

/// What an adoption statement declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdoptionAction {
    /// The organisation runs this release (replacing the version it declared
    /// before, if any).
    Adopt,
    /// The organisation no longer runs the package.
    Withdraw,
}

impl fmt::Display for AdoptionAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdoptionAction::Adopt => "adoption",
            AdoptionAction::Withdraw => "withdrawal",
        })
    }
}

/// An organisation's signed declaration that it runs a release ("used
/// by"), or no longer runs the package, signed by a member's registered key
/// for one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptionStatement {
    /// Always [`ADOPTION_TAG`].
    pub statement: String,
    /// Adopt or withdraw.
    pub action: AdoptionAction,
    /// The adopting organisation: the signer's own.
    pub org: OrgName,
    /// The release it runs (for a withdrawal, the adoption's release).
    pub subject: Subject,
    /// The log it is given in, named by its node's note verifier key.
    pub log: String,
    /// The log index of the organisation's statement about this package that
    /// this one follows (its current adoption, or its withdrawal); none for
    /// the first. An older statement replayed later names an older index and
    /// is refused, so nobody holding the log can roll an adoption back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<u64>,
    /// When it was signed, seconds since the Unix epoch (informative).
    pub issued_at: u64,
}

impl AdoptionStatement {
    /// Builds `org`'s adoption (or withdrawal) of `subject` for the log `log`,
    /// following its statement at index `replaces`, if any.
    pub fn new(
        action: AdoptionAction,
        org: OrgName,
        subject: Subject,
        log: &str,
        replaces: Option<u64>,
        issued_at: u64,
    ) -> Self {
        Self {
            statement: ADOPTION_TAG.into(),
            action,
            org,
            subject,
            log: log.to_string(),
            replaces,
            issued_at,
        }
    }

    /// Serialises and signs the statement with a member's key.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(ADOPTION_PAYLOAD_TYPE, &bytes, key)
    }
}

/// DSSE payload type of a support offer.
pub const SUPPORT_OFFER_PAYLOAD_TYPE: &str = "application/vnd.shire.support-offer.v1+json";
/// The `statement` tag of a support offer.
pub const SUPPORT_OFFER_TAG: &str = "shire.support-offer/v1";
/// DSSE payload type of a support acceptance.
pub const SUPPORT_ACCEPT_PAYLOAD_TYPE: &str = "application/vnd.shire.support-accept.v1+json";
/// The `statement` tag of a support acceptance.
pub const SUPPORT_ACCEPT_TAG: &str = "shire.support-accept/v1";

/// A supplier's (or shared-service company's) signed offer to support a
/// package's versions until a date. It counts only once the package's
/// publisher organisation accepts it ([`SupportAcceptance`]): nobody can
/// claim to support another's package alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportOffer {
    /// Always [`SUPPORT_OFFER_TAG`].
    pub statement: String,
    /// The supporting organisation: the signer's own.
    pub supporter: OrgName,
    /// The package.
    pub package: PackageName,
    /// The versions covered.
    pub versions: semver::VersionReq,
    /// The last day of support, `YYYY-MM-DD`.
    pub until: String,
    /// The log it is given in, named by its node's note verifier key.
    pub log: String,
    /// The log index of the latest support statement about this package by
    /// this supporter that it follows (none for the first): an old offer
    /// replayed later is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<u64>,
    /// When it was signed, seconds since the Unix epoch (informative).
    pub issued_at: u64,
}

impl SupportOffer {
    /// Builds `supporter`'s offer for `package`'s `versions` until `until`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        supporter: OrgName,
        package: PackageName,
        versions: semver::VersionReq,
        until: &str,
        log: &str,
        replaces: Option<u64>,
        issued_at: u64,
    ) -> Self {
        Self {
            statement: SUPPORT_OFFER_TAG.into(),
            supporter,
            package,
            versions,
            until: until.to_string(),
            log: log.to_string(),
            replaces,
            issued_at,
        }
    }

    /// Serialises and signs the offer with a member's key.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(SUPPORT_OFFER_PAYLOAD_TYPE, &bytes, key)
    }
}

/// The package's publisher organisation's signed acceptance of exactly one
/// support offer (named by the SHA-256 of its signed payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportAcceptance {
    /// Always [`SUPPORT_ACCEPT_TAG`].
    pub statement: String,
    /// The package.
    pub package: PackageName,
    /// The supporting organisation.
    pub supporter: OrgName,
    /// The SHA-256 of the accepted offer's signed payload.
    pub offer: crate::digest::Digest,
    /// The log it is given in.
    pub log: String,
    /// When it was signed, seconds since the Unix epoch (informative).
    pub issued_at: u64,
}

impl SupportAcceptance {
    /// Builds the acceptance of the offer whose payload hashes to `offer`.
    pub fn new(
        package: PackageName,
        supporter: OrgName,
        offer: crate::digest::Digest,
        log: &str,
        issued_at: u64,
    ) -> Self {
        Self {
            statement: SUPPORT_ACCEPT_TAG.into(),
            package,
            supporter,
            offer,
            log: log.to_string(),
            issued_at,
        }
    }

    /// Serialises and signs the acceptance with a member's key.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(SUPPORT_ACCEPT_PAYLOAD_TYPE, &bytes, key)
    }
}
