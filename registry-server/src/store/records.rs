//! Storage records: what the node keeps in sled, as JSON values.
//!
//! These are not the wire types: they hold what the node needs (token hashes,
//! publish sequence numbers, verdict kinds) and are turned into
//! `shire_core::wire` answers by the `to_*` functions here, the one place the
//! two meet. Fields are only ever added (with `#[serde(default)]`), so records
//! written by an older node still decode.

use serde::{Deserialize, Serialize};
use shire_core::dsse::Envelope;
use shire_core::ledger::{version_identity, KeyFacts, ReleaseFacts, VerdictFact};
use shire_core::statement::Subject;
use shire_core::wire::{KeyInfo, ReleaseState, Role, VerdictInfo, YankInfo};
use shire_core::{Digest, KeyId, Manifest, OrgName, PackageName, PublicKey, Version};

/// An organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    /// Its name.
    pub name: OrgName,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// An account. Its token is stored only as a SHA-256 hash (in the tokens tree
/// and here, for reference).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Login name.
    pub username: String,
    /// Organisation (none for the bootstrap admin).
    pub org: Option<OrgName>,
    /// Role.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Since when it is disabled (RFC 3339): its tokens stop working; what
    /// it signed stays in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
}

/// A token, stored under the SHA-256 of the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The account it acts for.
    pub account: String,
    /// A name for people.
    pub name: String,
    /// What it may do; empty for everything the account may do.
    #[serde(default)]
    pub scopes: Vec<shire_core::token::Scope>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it stops working (RFC 3339), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// What the tokens tree holds: a token record, or (data folders from
/// before scoped tokens) the bare name of the account whose first token it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredToken {
    /// A token with its scopes and expiry.
    Record(TokenRecord),
    /// An account's first token, from before scoped tokens: unscoped, never expiring.
    Account(String),
}

impl StoredToken {
    /// The account the token acts for.
    pub fn account(&self) -> &str {
        match self {
            StoredToken::Record(r) => &r.account,
            StoredToken::Account(a) => a,
        }
    }

    /// The token as a record (`account` is its account, for an old entry).
    pub fn into_record(self, account: &AccountRecord) -> TokenRecord {
        match self {
            StoredToken::Record(r) => r,
            StoredToken::Account(a) => TokenRecord {
                account: a,
                name: "account token".into(),
                scopes: Vec::new(),
                created_at: account.created_at.clone(),
                expires_at: None,
            },
        }
    }
}

/// A registered public key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's id.
    pub key_id: KeyId,
    /// The key.
    pub public_key: PublicKey,
    /// The account it belongs to.
    pub account: String,
    /// When it was registered (RFC 3339).
    pub registered_at: String,
    /// When it was revoked (RFC 3339); a revoked key signs nothing more here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A package: the index entry over its releases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Small number naming the package in the search index.
    pub id: u32,
    /// `org/name`.
    pub name: PackageName,
    /// The highest version published (whose description, keywords and
    /// categories the record keeps). The versions themselves are the
    /// package's keys in the releases tree ([`super::Store::releases_of`]):
    /// a publish rewrites this record, so it must not grow with them.
    #[serde(default)]
    pub highest: Option<Version>,
    /// Description of the highest version (what search shows and indexes).
    pub description: String,
    /// Keywords of the highest version.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// publiccode categories of the highest version.
    #[serde(default)]
    pub categories: Vec<String>,
    /// When its first version was published (RFC 3339).
    pub created_at: String,
    /// The origin node it is home on, when mirrored from a peer (None: this node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// One verdict accepted for a release: the ledger's fact (its index in the
/// transparency log among it), with the statement and the time of acceptance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The signed statement, exactly as received.
    pub envelope: Envelope,
    /// When the node accepted it (RFC 3339).
    pub at: String,
    /// The verdict as the log records it.
    #[serde(flatten)]
    pub fact: VerdictFact,
}

/// A yank, or a takedown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct YankRecord {
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
    /// Which account.
    pub by: String,
}

/// One release.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// `org/name`.
    pub name: PackageName,
    /// Version.
    pub version: Version,
    /// Artifact digest.
    pub digest: Digest,
    /// Artifact size.
    pub size: u64,
    /// Current state.
    pub state: ReleaseState,
    /// Set while yanked.
    pub yanked: Option<YankRecord>,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// The publisher's signed statement, exactly as received.
    pub envelope: Envelope,
    /// The key that signed it.
    pub publisher_key: KeyId,
    /// The publishing account.
    pub publisher: String,
    /// The manifest from the verified statement.
    pub manifest: Manifest,
    /// Verdicts, oldest first.
    pub verdicts: Vec<VerdictRecord>,
    /// The publish event's transparency-log index.
    pub log_index: u64,
    /// Publish sequence number: its key in the pending queue.
    pub seq: u64,
    /// The origin node whose log holds it, when mirrored from a peer (None:
    /// this node). `log_index` and the verdicts' indices are then in the
    /// origin's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Set once the node's operator took its artifact down (for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_down: Option<YankRecord>,
}

/// The key of a release in the releases and files trees: `org/name@version`,
/// the version without build metadata (semver §10: `2.0.0+a` and `2.0.0+b`
/// are one version, and so one key).
pub fn release_key(name: &PackageName, version: &Version) -> Vec<u8> {
    format!("{name}@{}", version_identity(version)).into_bytes()
}

impl ReleaseRecord {
    /// The exact subject the release answers to.
    pub fn subject(&self) -> Subject {
        Subject {
            name: self.name.clone(),
            version: self.version.clone(),
            digest: self.digest,
        }
    }

    /// The release as the ledger sees it.
    pub fn facts(&self) -> ReleaseFacts {
        ReleaseFacts {
            subject: self.subject(),
            statement: Digest::of(&self.envelope.payload_bytes().unwrap_or_default()),
            publisher_key: self.publisher_key.clone(),
            publisher: self.publisher.clone(),
            index: self.log_index,
            verdicts: self.verdicts.iter().map(|v| v.fact.clone()).collect(),
            yanked: self.yanked.is_some(),
            taken_down: self.taken_down.is_some(),
        }
    }
}

/// A key as a mirrored origin's log registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorKeyRecord {
    /// The key as the ledger knows it.
    pub facts: KeyFacts,
    /// When registered (the origin's clock).
    pub at: String,
    /// When a later entry revoked it (the origin's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl MirrorKeyRecord {
    /// Wire form, as served with a mirrored release.
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo {
            key_id: self.facts.key_id.clone(),
            public_key: self.facts.public_key.clone(),
            account: self.facts.account.clone(),
            org: self.facts.org.clone(),
            role: self.facts.role,
            registered_at: self.at.clone(),
            revoked_at: self.revoked_at.clone(),
        }
    }
}

/// Wire form of a key, joined with its account's organisation and role.
pub fn to_key_info(key: &KeyRecord, account: &AccountRecord) -> KeyInfo {
    KeyInfo {
        key_id: key.key_id.clone(),
        public_key: key.public_key.clone(),
        account: key.account.clone(),
        org: account.org.clone(),
        role: account.role,
        registered_at: key.registered_at.clone(),
        revoked_at: key.revoked_at.clone(),
    }
}

/// Wire form of a verdict.
pub fn to_verdict_info(v: &VerdictRecord) -> VerdictInfo {
    VerdictInfo {
        envelope: v.envelope.clone(),
        key_id: v.fact.key_id.clone(),
        org: v.fact.org.clone(),
        at: v.at.clone(),
        log_index: Some(v.fact.index),
        advisory: v.fact.advisory.clone(),
    }
}

/// Wire form of a yank.
pub fn to_yank_info(y: &YankRecord) -> YankInfo {
    YankInfo {
        reason: y.reason.clone(),
        at: y.at.clone(),
        by: y.by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_metadata_does_not_make_another_release_key() {
        let a = PackageName::parse("bt/x").unwrap();
        let good = Version::parse("2.0.0+good").unwrap();
        let other = Version::parse("2.0.0+other").unwrap();
        assert_eq!(release_key(&a, &good), release_key(&a, &other));
        assert_eq!(release_key(&a, &good), b"bt/x@2.0.0");
        assert_ne!(
            release_key(&a, &Version::parse("2.0.0-rc.1").unwrap()),
            release_key(&a, &good)
        );
    }

    #[test]
    fn release_keys_of_different_packages_never_share_a_prefix_scan() {
        let a = PackageName::parse("bt/crm").unwrap();
        let b = PackageName::parse("bt/crm-lite").unwrap();
        let v = Version::new(1, 0, 0);
        let prefix = format!("{a}@");
        assert!(release_key(&a, &v).starts_with(prefix.as_bytes()));
        assert!(!release_key(&b, &v).starts_with(prefix.as_bytes()));
    }
}

/// An organisation's current adoption of a package, from the log that is
/// the organisation's home (this node's or a mirrored one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionRecord {
    /// What the log established.
    pub fact: shire_core::ledger::AdoptionFact,
    /// The member's signed statement, as logged.
    pub envelope: shire_core::dsse::Envelope,
    /// The origin whose log holds it; `None` for this node's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// The key of `org`'s adoption of `name` in the adoptions tree.
pub fn adoption_key(name: &PackageName, org: &OrgName) -> Vec<u8> {
    let mut k = format!("{name}").into_bytes();
    k.push(0);
    k.extend_from_slice(org.as_str().as_bytes());
    k
}

/// A supporter's latest offer for a package and its acceptance, from the
/// package's home log (this node's or a mirrored one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportRecord {
    /// What the log established.
    pub fact: shire_core::ledger::SupportFact,
    /// The supporter's latest signed offer.
    pub offer: shire_core::dsse::Envelope,
    /// The offer last accepted (the agreed terms), once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed_offer: Option<shire_core::dsse::Envelope>,
    /// The publisher organisation's signed acceptance of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<shire_core::dsse::Envelope>,
    /// The origin whose log holds it; `None` for this node's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}
