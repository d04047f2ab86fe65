//! Transparency-log events: one entry per thing a node accepts.
//!
//! An entry's bytes are the JSON of a [`LogEvent`], written once and never
//! re-serialised: the Merkle leaf hash is over exactly the stored bytes, and the
//! signed statements inside keep their own exact bytes in their envelopes.

use crate::digest::Digest;
use crate::dsse::Envelope;
use crate::keys::{KeyId, PublicKey};
use crate::names::{OrgName, PackageName};
use crate::wire::Role;
use semver::Version;
use serde::{Deserialize, Serialize};

/// One event in a node's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LogEvent {
    /// An organisation was created on this node.
    OrgCreated {
        /// The organisation.
        org: OrgName,
        /// When (RFC 3339).
        at: String,
    },
    /// A public key was registered to an account, at the request of whoever
    /// holds it (`proof`).
    KeyRegistered {
        /// The key's id.
        key_id: KeyId,
        /// The key.
        public_key: PublicKey,
        /// The account.
        account: String,
        /// The account's organisation.
        org: Option<OrgName>,
        /// The account's role.
        role: Role,
        /// The key holder's signed [`crate::statement::KeyStatement`]
        /// naming this key, account, organisation, role and node.
        proof: Envelope,
        /// When (RFC 3339).
        at: String,
    },
    /// A key was revoked: statements it signs from now on are refused.
    KeyRevoked {
        /// The key's id.
        key_id: KeyId,
        /// When (RFC 3339).
        at: String,
    },
    /// A release was published.
    Release {
        /// The publisher's signed release statement.
        envelope: Envelope,
        /// The key that signed it.
        key_id: KeyId,
        /// When (RFC 3339).
        at: String,
    },
    /// A verifier's approval, rejection or revocation was accepted.
    Verdict {
        /// The verifier's signed verdict.
        envelope: Envelope,
        /// The key that signed it.
        key_id: KeyId,
        /// When (RFC 3339).
        at: String,
    },
    /// An organisation declared that it runs a release, or withdrew that.
    Adoption {
        /// The member's signed adoption statement.
        envelope: Envelope,
        /// The key that signed it.
        key_id: KeyId,
        /// When (RFC 3339).
        at: String,
    },
    /// A support offer, or its acceptance by the package's organisation.
    Support {
        /// The member's signed offer or acceptance.
        envelope: Envelope,
        /// The key that signed it.
        key_id: KeyId,
        /// When (RFC 3339).
        at: String,
    },
    /// A publisher yanked a release.
    Yank {
        /// Package.
        name: PackageName,
        /// Version.
        version: Version,
        /// Artifact digest.
        digest: Digest,
        /// Why.
        reason: String,
        /// Which account.
        by: String,
        /// When (RFC 3339).
        at: String,
    },
    /// The node's operator took a release's artifact down (a leaked
    /// secret, a court order): its bytes are deleted everywhere the log is
    /// followed, the release stays in the log, and nothing installs it.
    Takedown {
        /// Package.
        name: PackageName,
        /// Version.
        version: Version,
        /// Artifact digest.
        digest: Digest,
        /// Why, shown to everyone who asks for it.
        reason: String,
        /// Which admin account.
        by: String,
        /// When (RFC 3339).
        at: String,
    },
    /// A publisher un-yanked a release.
    Unyank {
        /// Package.
        name: PackageName,
        /// Version.
        version: Version,
        /// Artifact digest.
        digest: Digest,
        /// Which account.
        by: String,
        /// When (RFC 3339).
        at: String,
    },
}

impl LogEvent {
    /// The entry bytes as stored and hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses stored entry bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// A one-line human description, for `shire log show`.
    pub fn summary(&self) -> String {
        match self {
            LogEvent::OrgCreated { org, .. } => format!("organisation {org} created"),
            LogEvent::KeyRegistered {
                key_id,
                account,
                role,
                ..
            } => format!("key {} registered to {account} ({role})", key_id.short()),
            LogEvent::KeyRevoked { key_id, .. } => format!("key {} revoked", key_id.short()),
            LogEvent::Release {
                envelope, key_id, ..
            } => {
                let what = envelope
                    .payload_bytes()
                    .ok()
                    .and_then(|b| {
                        serde_json::from_slice::<crate::statement::ReleaseStatement>(&b).ok()
                    })
                    .map(|s| format!("{} {}", s.subject, s.subject.digest))
                    .unwrap_or_else(|| "(unreadable statement)".into());
                format!("release {what} signed by {}", key_id.short())
            }
            LogEvent::Verdict {
                envelope, key_id, ..
            } => {
                let what = envelope
                    .payload_bytes()
                    .ok()
                    .and_then(|b| {
                        serde_json::from_slice::<crate::statement::VerdictStatement>(&b).ok()
                    })
                    .map(|s| format!("{} {}", s.verdict, s.subject))
                    .unwrap_or_else(|| "(unreadable statement)".into());
                format!("verdict {what} signed by {}", key_id.short())
            }
            LogEvent::Adoption {
                envelope, key_id, ..
            } => {
                let what = envelope
                    .payload_bytes()
                    .ok()
                    .and_then(|b| {
                        serde_json::from_slice::<crate::statement::AdoptionStatement>(&b).ok()
                    })
                    .map(|s| format!("{} of {} by {}", s.action, s.subject, s.org))
                    .unwrap_or_else(|| "(unreadable statement)".into());
                format!("{what} signed by {}", key_id.short())
            }
            LogEvent::Support {
                envelope, key_id, ..
            } => {
                let bytes = envelope.payload_bytes().unwrap_or_default();
                let what = if let Ok(o) =
                    serde_json::from_slice::<crate::statement::SupportOffer>(&bytes)
                {
                    format!(
                        "support offer by {} for {} {} until {}",
                        o.supporter, o.package, o.versions, o.until
                    )
                } else if let Ok(a) =
                    serde_json::from_slice::<crate::statement::SupportAcceptance>(&bytes)
                {
                    format!("{} accepts the support of {}", a.package, a.supporter)
                } else {
                    "(unreadable support statement)".into()
                };
                format!("{what}, signed by {}", key_id.short())
            }
            LogEvent::Yank {
                name,
                version,
                reason,
                ..
            } => format!("yank {name}@{version}: {}", crate::printable(reason)),
            LogEvent::Unyank { name, version, .. } => format!("un-yank {name}@{version}"),
            LogEvent::Takedown {
                name,
                version,
                reason,
                ..
            } => format!("take down {name}@{version}: {}", crate::printable(reason)),
        }
    }
}
