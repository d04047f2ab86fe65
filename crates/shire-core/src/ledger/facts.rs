//! What the ledger knows about a log's state, and the read-only [`View`] it
//! asks for it.
//!
//! Facts are the part of the state the rules need: which log is home of an
//! organisation, which keys the log registered and to whom, and each
//! release's subject, verdicts and yank. A node keeps them in its database,
//! a follower in its mirror trees, a client in memory ([`super::MemoryLedger`]);
//! each answers the same questions through [`View`].

use crate::digest::Digest;
use crate::keys::{KeyId, PublicKey};
use crate::names::{OrgName, PackageName};
use crate::statement::{Subject, Verdict};
use crate::wire::Role;
use semver::{BuildMetadata, Version};
use serde::{Deserialize, Serialize};

/// A key as the log registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFacts {
    /// Its id (the hash of the key).
    pub key_id: KeyId,
    /// The key.
    pub public_key: PublicKey,
    /// The account it is registered to.
    pub account: String,
    /// That account's organisation.
    pub org: Option<OrgName>,
    /// That account's role.
    pub role: Role,
    /// Whether a later entry revoked it: it then signs nothing more.
    #[serde(default)]
    pub revoked: bool,
}

/// An account as the log's key registrations describe it: one organisation
/// and one role, whatever the number of its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFacts {
    /// Its organisation.
    pub org: Option<OrgName>,
    /// Its role.
    pub role: Role,
}

/// One verdict the log accepted for a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictFact {
    /// What it decided.
    pub verdict: Verdict,
    /// The key that signed it.
    pub key_id: KeyId,
    /// The verifier account that key is registered to: thresholds count
    /// accounts, not keys.
    pub account: String,
    /// That account's organisation.
    pub org: Option<OrgName>,
    /// The verifier's reason or note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A revocation's advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<crate::statement::Advisory>,
    /// Its index in the log.
    pub index: u64,
}

/// A release as the log established it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseFacts {
    /// Exactly what was released (the version as published, build metadata
    /// included).
    pub subject: Subject,
    /// The SHA-256 of the release statement's signed payload: which signed
    /// manifest (dependencies included) the log holds for it, so a second
    /// statement of the same subject served later is told apart.
    pub statement: Digest,
    /// The key that signed the release statement.
    pub publisher_key: KeyId,
    /// The publishing account.
    pub publisher: String,
    /// The release entry's index in the log.
    pub index: u64,
    /// Accepted verdicts, in log order.
    #[serde(default)]
    pub verdicts: Vec<VerdictFact>,
    /// Whether it is yanked now.
    #[serde(default)]
    pub yanked: bool,
    /// Whether the node's operator took its artifact down (for good).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub taken_down: bool,
}

impl ReleaseFacts {
    /// Whether any accepted verdict is `verdict`.
    pub fn any(&self, verdict: Verdict) -> bool {
        self.verdicts.iter().any(|v| v.verdict == verdict)
    }

    /// Whether the key `key` already gave `verdict`.
    pub fn given_by(&self, key: &KeyId, verdict: Verdict) -> bool {
        self.verdicts
            .iter()
            .any(|v| v.verdict == verdict && &v.key_id == key)
    }
}

/// An organisation's latest statement about a package, as the log
/// established it: the version it declared it runs, or that it withdrew
/// (kept, so that a later statement must follow it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionFact {
    /// The adopting organisation.
    pub org: OrgName,
    /// The release it runs (for a withdrawal: the one it ran).
    pub subject: Subject,
    /// The key that signed the statement.
    pub key_id: KeyId,
    /// That key's account.
    pub account: String,
    /// The statement's index in the log.
    pub index: u64,
    /// When the log accepted it (RFC 3339).
    pub at: String,
    /// The SHA-256 of the statement's signed payload: the same statement
    /// sent again is a replay.
    pub statement: Digest,
    /// Whether the statement withdrew the adoption.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// A supporter's latest offer for a package, and whether the package's
/// organisation accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportFact {
    /// The package.
    pub package: PackageName,
    /// The supporting organisation.
    pub supporter: OrgName,
    /// The versions covered.
    pub versions: semver::VersionReq,
    /// The last day of support, `YYYY-MM-DD`.
    pub until: String,
    /// The SHA-256 of the offer's signed payload (what an acceptance names).
    pub offer: Digest,
    /// The offer's index in the log.
    pub offer_index: u64,
    /// When the log accepted the offer (RFC 3339).
    pub offered_at: String,
    /// The acceptance's index, once the package's organisation accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_index: Option<u64>,
    /// When the log accepted the acceptance (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    /// The index of the latest statement (offer or acceptance): the one a
    /// new offer follows.
    pub index: u64,
    /// The terms last accepted, which stand until the package's
    /// organisation accepts new ones: an offer alone (a renewal, or an
    /// earlier end) changes nothing agreed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed: Option<AgreedSupport>,
}

/// Support terms both sides signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreedSupport {
    /// The versions covered.
    pub versions: semver::VersionReq,
    /// The last day of support, `YYYY-MM-DD`.
    pub until: String,
    /// The accepted offer's index in the log.
    pub offer_index: u64,
    /// The acceptance's index in the log.
    pub accepted_index: u64,
    /// When the log accepted the acceptance (RFC 3339).
    pub accepted_at: String,
}

/// The identity of a version: semver §10 says build metadata does not tell
/// versions apart, so `2.0.0+good` and `2.0.0+other` are one version, and a
/// log holds at most one release of it. Storage keys releases by this.
pub fn version_identity(v: &Version) -> Version {
    let mut id = v.clone();
    id.build = BuildMetadata::EMPTY;
    id
}

/// Read-only access to a log's state as it stands before the event being
/// applied. Implementations read their own storage; `Error` is theirs, and
/// the ledger hands it back untouched (a storage fault is not a rule).
pub trait View {
    /// What reading the state can fail with.
    type Error;

    /// The origin of the log that is home of `org` on this reader (its own
    /// log for a node's organisations, a peer's for mirrored ones), or `None`
    /// when no log created it.
    fn org_home(&self, org: &OrgName) -> Result<Option<String>, Self::Error>;

    /// A key this log registered.
    fn key(&self, id: &KeyId) -> Result<Option<KeyFacts>, Self::Error>;

    /// An account this log registered keys to.
    fn account(&self, name: &str) -> Result<Option<AccountFacts>, Self::Error>;

    /// The release of `name` whose version has the same
    /// [`version_identity`] as `version`.
    fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseFacts>, Self::Error>;

    /// `org`'s latest statement about the package `name` (an adoption, or
    /// a withdrawal), in any log this reader holds (an organisation adopts
    /// only in its home log, so there is at most one).
    fn adoption(
        &self,
        org: &OrgName,
        name: &PackageName,
    ) -> Result<Option<AdoptionFact>, Self::Error>;

    /// `supporter`'s latest support offer for `package`, in the package's
    /// home log.
    fn support(
        &self,
        package: &PackageName,
        supporter: &OrgName,
    ) -> Result<Option<SupportFact>, Self::Error>;
}
