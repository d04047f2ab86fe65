//! Why the ledger refused an event: one variant per rule, so every caller
//! (the node's routes, the follower, the client's replay) reports the same
//! refusal the same way.

use crate::keys::KeyId;
use crate::names::OrgName;
use crate::statement::Verdict;
use crate::verify::VerifyError;
use crate::wire::Role;

/// A broken rule. Messages name only bounded values (names, versions,
/// digests, key ids), never unbounded input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// An adoption signed by a member of another organisation than the one
    /// it declares for.
    #[error("key {key_id} of {key_org} may not declare an adoption for organisation {org}")]
    AdoptAsOther {
        /// The signing key.
        key_id: KeyId,
        /// Its account's organisation (`none` when it has none).
        key_org: String,
        /// The organisation the statement names.
        org: OrgName,
    },
    /// An adoption statement that does not follow the organisation's latest
    /// statement about the package: an old one replayed, or one signed
    /// against a state the log has moved on from.
    #[error(
        "the {action} of {package} by {org} follows log entry {}, but the organisation's latest statement about it is {}",
        entry(.replaces),
        entry(.current)
    )]
    StaleAdoption {
        /// Adoption or withdrawal.
        action: crate::statement::AdoptionAction,
        /// The organisation.
        org: OrgName,
        /// The package.
        package: String,
        /// The entry it says it follows.
        replaces: Option<u64>,
        /// The latest statement's entry.
        current: Option<u64>,
    },
    /// A support statement signed by a member of another organisation than
    /// the one that must give it (the supporter for an offer, the package's
    /// organisation for an acceptance).
    #[error(
        "key {key_id} of {key_org} may not give this support statement for organisation {org}"
    )]
    SupportAsOther {
        /// The signing key.
        key_id: KeyId,
        /// Its account's organisation.
        key_org: String,
        /// The organisation that must sign it.
        org: OrgName,
    },
    /// A support offer that does not follow the supporter's latest
    /// statement about the package.
    #[error(
        "the support offer of {supporter} for {package} follows log entry {}, but the latest support statement is {}",
        entry(.replaces),
        entry(.current)
    )]
    StaleSupport {
        /// The supporter.
        supporter: OrgName,
        /// The package.
        package: String,
        /// The entry it says it follows.
        replaces: Option<u64>,
        /// The latest statement's entry.
        current: Option<u64>,
    },
    /// An acceptance of an offer the log does not hold (none, or not the
    /// supporter's current one).
    #[error("{supporter} has no current support offer for {package} with that digest")]
    SupportUnknown {
        /// The supporter.
        supporter: OrgName,
        /// The package.
        package: String,
    },
    /// A withdrawal of an adoption the log does not hold.
    #[error("organisation {org} has no adoption of {package} to withdraw")]
    AdoptionUnknown {
        /// The organisation.
        org: OrgName,
        /// The package.
        package: String,
    },
    /// The organisation already exists, in this log or another one.
    #[error("organisation {org} already exists (its home is {home})")]
    OrgExists {
        /// The organisation.
        org: OrgName,
        /// The log that is its home.
        home: String,
    },
    /// No log created the organisation.
    #[error("organisation {0} does not exist")]
    OrgUnknown(OrgName),
    /// The organisation's home is another log: this one may not change it.
    #[error("organisation {org} is home on {home}; {log} may not publish, judge or yank for it")]
    NotHome {
        /// The organisation.
        org: OrgName,
        /// Its home.
        home: String,
        /// The log the event came in.
        log: String,
    },
    /// The log's origin is not configured as a possible home of the organisation.
    #[error("{log} is not configured as the home of organisation {org}")]
    HomeNotAllowed {
        /// The organisation.
        org: OrgName,
        /// The log.
        log: String,
    },
    /// A registration names a key id that is not its key's.
    #[error("key id {claimed} is not the id of the registered key ({actual})")]
    KeyIdMismatch {
        /// What the entry says.
        claimed: KeyId,
        /// The key's real id.
        actual: KeyId,
    },
    /// A registration lacks a valid proof that the key's holder asked for it.
    #[error("the registration of key {key_id} carries no valid proof of possession: {reason}")]
    BadProof {
        /// The key.
        key_id: KeyId,
        /// What is wrong.
        reason: String,
    },
    /// The key is registered to another account.
    #[error("key {key_id} is already registered to another account")]
    KeyTaken {
        /// The key.
        key_id: KeyId,
    },
    /// A revoked key can never be registered again.
    #[error("key {0} was revoked; it can never be registered again")]
    KeyWasRevoked(KeyId),
    /// The log never registered the key.
    #[error("key {0} is not registered in this log")]
    KeyUnknown(KeyId),
    /// The key was revoked: it signs nothing more.
    #[error("key {0} was revoked; it can no longer sign statements")]
    KeyRevoked(KeyId),
    /// An account's keys disagree on its organisation or role.
    #[error("account {account} is already registered as {role} of {}", .org.as_ref().map(OrgName::as_str).unwrap_or("no organisation"))]
    AccountMismatch {
        /// The account.
        account: String,
        /// Its organisation, as earlier keys registered it.
        org: Option<OrgName>,
        /// Its role, as earlier keys registered it.
        role: Role,
    },
    /// The key's account does not have the role the statement needs.
    #[error("key {key_id} belongs to a {role} account; a {needed} key must sign this")]
    WrongRole {
        /// The key.
        key_id: KeyId,
        /// Its account's role.
        role: Role,
        /// The role needed.
        needed: Role,
    },
    /// A release signed by a key of another organisation.
    #[error("key {key_id} belongs to organisation {}, not to {package_org}", .key_org.as_ref().map(OrgName::as_str).unwrap_or("(none)"))]
    WrongOrg {
        /// The key.
        key_id: KeyId,
        /// The key's organisation.
        key_org: Option<OrgName>,
        /// The package's organisation.
        package_org: OrgName,
    },
    /// A statement signed for another log.
    #[error("{what} was signed for the log {log}, not for this log {this}")]
    OtherLog {
        /// What it is.
        what: String,
        /// The log it names.
        log: String,
        /// This log.
        this: String,
    },
    /// A verifier judging its own organisation's release.
    #[error("{account} is a verifier of {org}: it cannot judge its own organisation's release {release}")]
    OwnOrg {
        /// The verifier account.
        account: String,
        /// The organisation.
        org: OrgName,
        /// `org/name@version`.
        release: String,
    },
    /// The signed statement does not verify or is malformed.
    #[error(transparent)]
    Statement(#[from] VerifyError),
    /// A release of this version exists (build metadata does not make another version).
    #[error("{release} was already published (as {existing}); a version can never be published again, even after a yank")]
    VersionExists {
        /// What was submitted.
        release: String,
        /// The version already released.
        existing: String,
    },
    /// No such release in this log.
    #[error("{0} does not exist")]
    ReleaseUnknown(String),
    /// A statement about other bytes or another version than the release.
    #[error("the statement is about {claimed}, but the release is {stored}")]
    SubjectMismatch {
        /// What the statement names (`name@version digest`).
        claimed: String,
        /// What the log holds.
        stored: String,
    },
    /// The verdict is not allowed given the verdicts already accepted.
    #[error("cannot {verdict} {release}: {why}")]
    Transition {
        /// The verdict refused.
        verdict: Verdict,
        /// `org/name@version`.
        release: String,
        /// Why.
        why: &'static str,
    },
    /// Yanking a yanked release, or un-yanking one that is not.
    #[error("{release} is {}", if *.yanked { "already yanked" } else { "not yanked" })]
    YankState {
        /// `org/name@version`.
        release: String,
        /// Whether it is yanked now.
        yanked: bool,
    },
    /// Taking down a release already taken down.
    #[error("{0} is already taken down")]
    TakenDownAlready(String),
    /// An entry field is malformed (too long, or not of its shape).
    #[error("malformed entry: {0}")]
    Malformed(&'static str),
    /// A yank without a reason, or with one too long or holding control or invisible characters.
    #[error("a yank or takedown needs a reason of 1 to {max} printable characters: it is shown to everyone who resolves the version")]
    BadReason {
        /// The longest reason accepted.
        max: usize,
    },
}

/// The ledger's answer when it cannot accept an event: a broken rule, or a
/// fault reading the state (the view's own error, handed back untouched so a
/// storage layer can retry or report it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError<E> {
    /// The event breaks a rule.
    Rule(RuleError),
    /// The view could not be read.
    View(E),
}

impl<E> From<RuleError> for LedgerError<E> {
    fn from(e: RuleError) -> Self {
        LedgerError::Rule(e)
    }
}

impl<E: std::fmt::Display> std::fmt::Display for LedgerError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerError::Rule(e) => e.fmt(f),
            LedgerError::View(e) => write!(f, "reading the log's state: {e}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for LedgerError<E> {}

/// A log index for a message, `none` when there is none.
fn entry(i: &Option<u64>) -> String {
    i.map_or_else(|| "none".to_string(), |i| i.to_string())
}
