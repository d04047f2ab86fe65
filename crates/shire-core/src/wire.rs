//! The HTTP API's JSON bodies, shared by server and client so the two cannot drift.
//!
//! These are wire types only: the server keeps its own storage records and
//! converts. Every path is under `/api/v1` (see `docs/api.md`).

use crate::archive::FileChanges;
use crate::digest::Digest;
use crate::dsse::Envelope;
use crate::keys::{KeyId, PublicKey};
use crate::manifest::Manifest;
use crate::names::{OrgName, PackageName};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Every server error: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine-readable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, snake_case (`bad_signature`, `version_exists`, ...).
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes and yanks its organisation's packages.
    Publisher,
    /// Approves, rejects and revokes other organisations' releases.
    Verifier,
    /// Runs the node: organisations and accounts.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Publisher => "publisher",
            Role::Verifier => "verifier",
            Role::Admin => "admin",
        })
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "publisher" => Ok(Role::Publisher),
            "verifier" => Ok(Role::Verifier),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "{s:?} is not a role (publisher, verifier or admin)"
            )),
        }
    }
}

/// `POST /api/v1/orgs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateOrg {
    /// The new organisation.
    pub name: OrgName,
}

/// An organisation as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgInfo {
    /// Its name.
    pub name: OrgName,
    /// The node it is home on (this node's origin for local organisations).
    pub origin: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// `POST /api/v1/accounts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateAccount {
    /// Login name: same shape as an organisation name.
    pub username: OrgName,
    /// The organisation it belongs to.
    pub org: OrgName,
    /// What it may do.
    pub role: Role,
}

/// An account, as `whoami` and account creation return it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountInfo {
    /// Login name.
    pub username: String,
    /// Its organisation (none for the node's bootstrap admin).
    pub org: Option<OrgName>,
    /// Its role.
    pub role: Role,
    /// The API token: only in the answer to account creation, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Since when the account is disabled (RFC 3339), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterKey {
    /// The public key to register to the calling account.
    pub public_key: PublicKey,
    /// Proof of possession: a [`crate::statement::KeyStatement`] for this
    /// key, the calling account (its organisation and role) and this node's
    /// origin, signed with the key itself.
    pub proof: Envelope,
}

/// A registered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    /// Hex SHA-256 of the key bytes.
    pub key_id: KeyId,
    /// The key.
    pub public_key: PublicKey,
    /// The account it is registered to.
    pub account: String,
    /// That account's organisation.
    pub org: Option<OrgName>,
    /// That account's role.
    pub role: Role,
    /// When it was registered (RFC 3339).
    pub registered_at: String,
    /// When it was revoked (RFC 3339), if it was: statements it signs are
    /// no longer accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `PUT /api/v1/blobs/{digest}` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobInfo {
    /// The digest the bytes hashed to.
    pub digest: Digest,
    /// Their size.
    pub size: u64,
}

/// `POST /api/v1/releases` (publish) and `POST .../verdicts` bodies: one envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitEnvelope {
    /// The signed statement.
    pub envelope: Envelope,
}

/// A release's state on the node that answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    /// Awaiting verification.
    Pending,
    /// Approved by the node's threshold of verifiers.
    Approved,
    /// Rejected by a verifier.
    Rejected,
    /// Revoked by a verifier after approval.
    Revoked,
}

impl fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReleaseState::Pending => "pending",
            ReleaseState::Approved => "approved",
            ReleaseState::Rejected => "rejected",
            ReleaseState::Revoked => "revoked",
        })
    }
}

/// Why and when a release was yanked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct YankInfo {
    /// The publisher's reason.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub by: String,
}

/// A verifier's verdict as stored with a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerdictInfo {
    /// The signed verdict, to be checked by the reader.
    pub envelope: Envelope,
    /// The signing key's id (as the node recorded it).
    pub key_id: KeyId,
    /// The verifier account's organisation (as the node recorded it).
    pub org: Option<OrgName>,
    /// When the node accepted it (RFC 3339).
    pub at: String,
    /// Index of the verdict's entry in the origin node's transparency log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// A revocation's advisory (also inside `envelope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<crate::statement::Advisory>,
}

/// One version of a package, with everything needed to check it offline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// The version.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub version: Version,
    /// The artifact digest.
    pub digest: Digest,
    /// Artifact size in bytes.
    pub size: u64,
    /// State on this node.
    pub state: ReleaseState,
    /// Set when yanked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<YankInfo>,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// The publisher's signed release statement.
    pub release: Envelope,
    /// The publisher key (so a client can check it against the organisation).
    pub publisher_key: KeyInfo,
    /// Verifier verdicts, oldest first.
    #[serde(default)]
    pub verdicts: Vec<VerdictInfo>,
    /// The manifest (also inside `release`; repeated for convenience, never trusted).
    pub manifest: Manifest,
    /// Index of the release's entry in the node's transparency log, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// Set once the node's operator took its artifact down: the bytes are
    /// gone (downloads answer 410), the release stays in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_down: Option<YankInfo>,
    /// Why this node cannot serve an install of it, when it cannot: a
    /// mirrored release whose dependencies this node does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unusable: Option<String>,
}

/// `GET /api/v1/packages/{org}/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageInfo {
    /// `org/name`.
    pub name: PackageName,
    /// Latest version's description.
    pub description: String,
    /// The node the package is home on.
    pub origin: String,
    /// Every version, oldest first.
    pub versions: Vec<VersionInfo>,
    /// The organisations that declared, in a signed and logged statement,
    /// that they run it ("used by"), in the order of their names.
    #[serde(default)]
    pub used_by: Vec<AdoptionInfo>,
    /// The organisations that support it, by offers the package's
    /// organisation accepted, in the order of their names.
    #[serde(default)]
    pub supported_by: Vec<SupportInfo>,
}

/// `GET /api/v1/search?q=...`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    /// Matches, best first: an exact name match leads.
    pub results: Vec<SearchHit>,
    /// How many matched in all (results may be cut to the limit).
    pub total: usize,
}

/// One search match.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// `org/name`.
    pub name: PackageName,
    /// Latest version's description.
    pub description: String,
    /// Highest version that is not yanked, if any (else the highest).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub latest: Version,
    /// That version's state.
    pub state: ReleaseState,
    /// Key ids that approved that version.
    #[serde(default)]
    pub approvers: Vec<KeyId>,
    /// Who approved that version: each verifier account with its
    /// organisation and key.
    #[serde(default)]
    pub approved_by: Vec<Approver>,
    /// Keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// publiccode categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Home node.
    pub origin: String,
    /// Whether the query is this package's exact name.
    pub exact: bool,
    /// How many organisations declare they run a release of it that this
    /// node holds.
    #[serde(default)]
    pub adopters: usize,
}

/// A verifier who approved a release, as the node's log records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approver {
    /// The verifier's account.
    pub account: String,
    /// The account's organisation.
    pub org: Option<OrgName>,
    /// The key that signed the approval.
    pub key_id: KeyId,
}

/// `POST .../{version}/yank`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct YankRequest {
    /// Why, shown to anyone who resolves this version.
    pub reason: String,
}

/// One pending release in a verifier's queue (`GET /api/v1/review`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewItem {
    /// `org/name`.
    pub name: PackageName,
    /// Version awaiting review.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub version: Version,
    /// Its digest.
    pub digest: Digest,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// The version it is compared with (the highest earlier one), if any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub previous: Option<Version>,
    /// Files added, removed and changed since `previous`.
    pub files: FileChanges,
    /// Dependency changes since `previous`.
    pub dependencies: DependencyChanges,
}

/// How dependencies changed between two versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DependencyChanges {
    /// New dependencies.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub added: BTreeMap<PackageName, VersionReq>,
    /// Dropped dependencies.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub removed: BTreeMap<PackageName, VersionReq>,
    /// Dependencies whose requirement changed: (old, new).
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Vec<String>>))]
    pub changed: BTreeMap<PackageName, (VersionReq, VersionReq)>,
}

impl DependencyChanges {
    /// Compares two dependency tables.
    pub fn between(
        old: &BTreeMap<PackageName, VersionReq>,
        new: &BTreeMap<PackageName, VersionReq>,
    ) -> Self {
        let mut out = Self::default();
        for (k, v) in new {
            match old.get(k) {
                None => {
                    out.added.insert(k.clone(), v.clone());
                }
                Some(o) if o != v => {
                    out.changed.insert(k.clone(), (o.clone(), v.clone()));
                }
                Some(_) => {}
            }
        }
        for (k, v) in old {
            if !new.contains_key(k) {
                out.removed.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `"ok"` (or `"alive"`, `"ready"`); `"degraded"` when the node cannot
    /// write now.
    pub status: String,
    /// Server version.
    pub version: String,
    /// This node's origin name (its log's origin line).
    pub origin: String,
    /// Why the node is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /api/v1/node`: who this node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeInfo {
    /// The node's origin: the first line of its checkpoints.
    pub origin: String,
    /// The node's Ed25519 key, which signs its checkpoints.
    pub public_key: PublicKey,
    /// That key's id.
    pub key_id: KeyId,
    /// The C2SP signed-note verifier key (`origin+hash+base64`).
    pub note_key: String,
}

/// `GET /api/v1/log/entries?start=S&end=E`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntries {
    /// The entries, in index order (possibly fewer than asked for, never more).
    pub entries: Vec<LogEntry>,
}

/// One log entry on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    /// Its index in the log.
    pub index: u64,
    /// Base64 of the exact entry bytes (the JSON of a `LogEvent`).
    pub data: String,
}

/// `GET /api/v1/log/proof/inclusion?index=I&size=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The audit path, base64 hashes.
    pub hashes: Vec<String>,
}

/// `GET /api/v1/log/proof/consistency?from=M&size=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub size: u64,
    /// The proof, base64 hashes.
    pub hashes: Vec<String>,
}

/// How a followed peer is doing (`GET /api/v1/peers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PeerHealth {
    /// Not tried yet since the node started.
    Starting,
    /// The last pass verified and mirrored everything the peer showed.
    Ok,
    /// The peer could not be reached (or answered with a server error);
    /// retried with capped exponential backoff.
    Retrying,
    /// The peer served something that fails a check (bad signature,
    /// inconsistent checkpoint, changed artifact, organisation it is not home
    /// of): no longer followed until the operator resumes it.
    Stopped,
}

impl fmt::Display for PeerHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerHealth::Starting => "starting",
            PeerHealth::Ok => "ok",
            PeerHealth::Retrying => "retrying",
            PeerHealth::Stopped => "stopped",
        })
    }
}

/// One followed peer and its progress (`GET /api/v1/peers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeerStatus {
    /// The peer's name in the node's configuration.
    pub name: String,
    /// Where it is fetched from.
    pub url: String,
    /// The origin whose log is followed (the peer itself, or the origin it relays).
    pub origin: String,
    /// Set when `url` is a relay re-serving `origin`'s log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Whether this node cosigns the origin's checkpoints.
    #[serde(default)]
    pub witness: bool,
    /// Health.
    pub status: PeerHealth,
    /// Size of the last origin checkpoint verified and fully mirrored.
    pub checkpoint_size: u64,
    /// Its root hash (base64), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_root: Option<String>,
    /// Entries of the origin's log mirrored here.
    pub mirrored: u64,
    /// Entries the latest checkpoint seen from the peer holds beyond `mirrored`.
    pub entries_behind: u64,
    /// The last failure, if the last pass failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When a pass last succeeded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// Failed passes in a row.
    #[serde(default)]
    pub failures: u32,
}

/// One origin whose log a node mirrors and re-serves (`GET /api/v1/mirrors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MirrorInfo {
    /// The origin (first line of its checkpoints).
    pub origin: String,
    /// Entries mirrored.
    pub size: u64,
    /// Size of the origin checkpoint served at `.../log/checkpoint`.
    pub checkpoint_size: u64,
    /// Witness names whose cosignatures that checkpoint carries here.
    #[serde(default)]
    pub cosigned_by: Vec<String>,
}

/// One organisation's signed declaration that it runs a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdoptionInfo {
    /// The organisation that runs it.
    pub org: OrgName,
    /// The version it declared it runs.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub version: Version,
    /// That release's digest, as the statement names it.
    pub digest: Digest,
    /// Since when (the log's time for the statement, RFC 3339).
    pub since: String,
    /// The node whose log holds the statement: the organisation's home.
    pub origin: String,
    /// The statement's index in that log.
    pub log_index: u64,
    /// The member's signed statement, to check offline.
    pub statement: Envelope,
}

/// `POST /api/v1/adoptions` answers with the adoption as it now stands
/// (`withdrawn` set for a withdrawal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdoptionAnswer {
    /// The adoption declared, or the one withdrawn.
    pub adoption: AdoptionInfo,
    /// Whether this withdrew it.
    pub withdrawn: bool,
    /// Whether the statement repeated one already in the log (nothing logged).
    pub replayed: bool,
}

/// The events a webhook may ask for: `pending` (a release awaits review;
/// to verifiers' organisations), `approved`, `rejected`, `yanked` (to the
/// publisher's organisation), `revoked` and `taken_down` (to the
/// publisher's organisation and every organisation that declared it runs
/// the release).
pub const WEBHOOK_EVENTS: &[&str] = &[
    "pending",
    "approved",
    "rejected",
    "revoked",
    "yanked",
    "taken_down",
];

/// `POST /api/v1/webhooks`: an endpoint for the caller's organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: `https://`, or `http://` to a loopback
    /// address only.
    pub url: String,
    /// The events wanted ([`WEBHOOK_EVENTS`]); empty for all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookInfo {
    /// Its id.
    pub id: String,
    /// The organisation it notifies.
    pub org: OrgName,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it wants; empty for all.
    pub events: Vec<String>,
    /// The account that registered it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// The HMAC key of its signatures: only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One delivery of one event to a webhook, as its delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryInfo {
    /// The delivery's id (also in the `X-Shire-Delivery` header).
    pub id: String,
    /// The event's id (also in the body and the `X-Shire-Event-Id` header).
    pub event_id: String,
    /// The event's kind.
    pub event: String,
    /// `pending`, `delivered` or `failed` (retried for 24 hours without a 2xx).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was stored (RFC 3339).
    pub created_at: String,
    /// The last attempt (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    /// The next attempt (RFC 3339), while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// What the last attempt got: an HTTP status, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
}

/// The JSON body of a webhook delivery, signed with the webhook's secret
/// (`X-Shire-Signature-256: sha256=<hex HMAC-SHA-256 of the body>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEvent {
    /// The event's id, `origin/log index`: the same in every retry and for
    /// every webhook it goes to, so a receiver can drop repeats.
    pub id: String,
    /// Its kind ([`WEBHOOK_EVENTS`]).
    pub event: String,
    /// The node whose log holds it.
    pub origin: String,
    /// Its index in that log.
    pub log_index: u64,
    /// The package.
    pub package: PackageName,
    /// The version.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub version: Version,
    /// The artifact's digest.
    pub digest: Digest,
    /// When the log accepted it (RFC 3339).
    pub at: String,
    /// Why (rejections, revocations, yanks, takedowns), or an approval's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A revocation's advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<crate::statement::Advisory>,
    /// The account that acted (the verifier, publisher or admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The support terms a supporter offered and the package's organisation
/// accepted, as a package's document lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupportInfo {
    /// The supporting organisation.
    pub supporter: OrgName,
    /// The versions covered.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub versions: VersionReq,
    /// The last day of support, `YYYY-MM-DD`.
    pub until: String,
    /// When the package's organisation accepted it (RFC 3339).
    pub accepted_at: String,
    /// The node whose log holds it: the package's home.
    pub origin: String,
    /// The offer's index in that log.
    pub offer_index: u64,
    /// The acceptance's index in that log.
    pub accepted_index: u64,
    /// The supporter's signed offer.
    pub offer: Envelope,
    /// The package organisation's signed acceptance.
    pub acceptance: Envelope,
    /// The log index of a newer offer not yet accepted, if any (the terms
    /// above stand until it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_offer: Option<u64>,
}

/// `POST /api/v1/support` answers with the supporter's offer as it now
/// stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupportAnswer {
    /// The supporting organisation.
    pub supporter: OrgName,
    /// The package.
    pub package: PackageName,
    /// The versions covered.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub versions: VersionReq,
    /// The last day of support.
    pub until: String,
    /// The offer's index in the log.
    pub offer_index: u64,
    /// The acceptance's index, once accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_index: Option<u64>,
    /// Whether the statement repeated one already in the log (nothing logged).
    pub replayed: bool,
}
