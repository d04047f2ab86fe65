//! The rules of a transparency log, written once.
//!
//! A log is a list of [`LogEvent`]s. [`Ledger::apply`] is a pure function of
//! (the state before, one event): it answers the [`Change`] the event makes,
//! or the [`RuleError`] it breaks. It does no I/O; the state comes through the
//! read-only [`View`], implemented by each reader over its own storage:
//!
//! - the node's routes (publish, verdict, yank, organisation, key), inside the
//!   storage transaction that then writes the change;
//! - the follower, for every entry it mirrors from a peer's log;
//! - the client, replaying a log for `shire log verify`, `shire audit` and
//!   `shire install` ([`MemoryLedger`]).
//!
//! Storage writes only a [`Change`], and only this module can make one (each
//! payload carries a private seal), so nothing reaches a log that the rules
//! did not accept.
//!
//! # The rules
//!
//! - **Organisations** are created once, in one log: their *home*. Every later
//!   event about an organisation must come in its home's log; a peer's log may
//!   be home only of the organisations the follower's configuration allows.
//! - **A log is named by its node's note verifier key** (`origin+hash+key`):
//!   the origin alone is a name anyone may take. Key registrations and
//!   verdicts are signed for one log, and refused in any other.
//! - **Keys** are registered at their holder's request: the entry carries a
//!   [`KeyStatement`](crate::statement::KeyStatement) signed by the key,
//!   naming the same key, account, organisation, role and this log.
//!   A key belongs to one account for ever; an account has one organisation
//!   and role; a revoked key signs nothing more and is never registered again.
//! - **Releases** are signed by an unrevoked publisher key of the package's
//!   organisation; a version (build metadata aside, semver §10) is released
//!   once, ever.
//! - **Verdicts** are signed by an unrevoked verifier key of another
//!   organisation, for this log, about exactly a release of it (name,
//!   version, digest). An approval is refused once the release is rejected or revoked;
//!   a rejection once it has an approval (revoke it then); a revocation needs
//!   an approval. These do not depend on any threshold, so every reader, with
//!   whatever threshold, agrees on which entries are valid.
//! - **Adoptions** ("used by") are signed by an unrevoked key of a member of
//!   the adopting organisation, for this log, which must be that
//!   organisation's home: an organisation adopts only as itself. An adoption
//!   of a package whose organisation is home in this log names exactly a
//!   release of it; one of another log's package is that organisation's
//!   claim about it, which clients check in that log. An organisation holds
//!   one statement per package, its latest: each new one names the index of
//!   the one it follows (`replaces`), so an old statement replayed later is
//!   refused and nobody holding the log can roll an adoption back; the same
//!   statement again is a replay. A withdrawal names exactly the release of
//!   the adoption it withdraws.
//! - **Support** is offered by an unrevoked key of a member of the
//!   supporting organisation and accepted by one of the package's
//!   organisation, both in this log, which must be home of both
//!   organisations. An offer follows the supporter's latest statement about
//!   the package (`replaces`); an acceptance names exactly the current
//!   offer (the SHA-256 of its signed payload). The terms last accepted
//!   stand until new ones are: nobody can claim to support another's
//!   package alone, nor change what was agreed alone.
//! - **Yanks** name exactly a release of this log, yank one that is not yanked
//!   and un-yank one that is, with a reason of bounded length.
//! - **Replays** (a key registered again to its own account, a key revoked
//!   again, a verdict a key already gave and that the release's state still
//!   allows) are [`Change::Unchanged`]: a node answers them without
//!   appending anything. (Another key of the same account is logged: a
//!   reader trusting only that key must see its verdict; thresholds count
//!   the account once.)
//! - **Text a person reads** (reasons, times) holds no control or invisible characters (bidirectional overrides, zero-width characters).
//!
//! Thresholds ([`tally`]) count distinct verifier accounts, never keys.

mod error;
mod facts;
mod memory;
mod tally;
#[cfg(test)]
mod tests;

pub use error::{LedgerError, RuleError};
pub use facts::{
    version_identity, AccountFacts, AdoptionFact, AgreedSupport, KeyFacts, ReleaseFacts,
    SupportFact, VerdictFact, View,
};
pub use memory::{MemoryLedger, Overlay};
pub use tally::{node_state, tally, Tally};

use crate::dsse::Envelope;
use crate::event::LogEvent;
use crate::keys::KeyId;
use crate::names::{OrgName, PackageName};
use crate::statement::{
    AdoptionAction, AdoptionStatement, ReleaseStatement, Subject, Verdict, VerdictStatement,
};
use crate::verify::{self, Verified};
use crate::wire::Role;
use semver::Version;

/// Longest yank reason, in characters.
pub const MAX_REASON_CHARS: usize = 1024;
/// Longest timestamp an entry may carry, in bytes.
pub const MAX_TIME_LEN: usize = 64;

/// Makes [`Change`] payloads impossible to build outside this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal(());

/// An organisation created in this log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgCreated {
    /// The organisation; this log is now its home.
    pub org: OrgName,
    /// When (as the entry says).
    pub at: String,
    seal: Seal,
}

/// A key registered at its holder's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRegistered {
    /// The key as registered.
    pub key: KeyFacts,
    /// The holder's signed request (kept in the log).
    pub proof: Envelope,
    /// When.
    pub at: String,
    seal: Seal,
}

/// A key revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevoked {
    /// The key, now revoked.
    pub key: KeyFacts,
    /// When.
    pub at: String,
    seal: Seal,
}

/// A release accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The publisher's statement, verified under `key`.
    pub statement: Verified<ReleaseStatement>,
    /// The envelope exactly as logged.
    pub envelope: Envelope,
    /// The publisher key.
    pub key: KeyFacts,
    /// The release as the log now holds it.
    pub release: ReleaseFacts,
    /// When.
    pub at: String,
    seal: Seal,
}

/// A verdict accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The verifier's statement, verified under `key`.
    pub statement: Verified<VerdictStatement>,
    /// The envelope exactly as logged.
    pub envelope: Envelope,
    /// The verifier key.
    pub key: KeyFacts,
    /// The verdict as the log records it.
    pub verdict: VerdictFact,
    /// The release with this verdict added.
    pub release: ReleaseFacts,
    /// When.
    pub at: String,
    seal: Seal,
}

/// An adoption declared or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The member's statement, verified under `key`.
    pub statement: Verified<AdoptionStatement>,
    /// The envelope exactly as logged.
    pub envelope: Envelope,
    /// The signing key.
    pub key: KeyFacts,
    /// The organisation's statement about the package as it now stands
    /// (`withdrawn` for a withdrawal).
    pub adoption: AdoptionFact,
    seal: Seal,
}

/// A support offer or acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supported {
    /// The member's statement, verified under `key`.
    pub statement: Verified<crate::verify::SupportStatement>,
    /// The envelope exactly as logged.
    pub envelope: Envelope,
    /// The signing key.
    pub key: KeyFacts,
    /// The supporter's offer as it now stands.
    pub support: SupportFact,
    seal: Seal,
}

/// A release yanked or un-yanked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yanked {
    /// The release after the change.
    pub release: ReleaseFacts,
    /// Why (`None`: an un-yank).
    pub reason: Option<String>,
    /// The publisher account that asked.
    pub by: String,
    /// When.
    pub at: String,
    seal: Seal,
}

/// A release's artifact taken down by the node's operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenDown {
    /// The release after the change.
    pub release: ReleaseFacts,
    /// Why.
    pub reason: String,
    /// The admin account that did it.
    pub by: String,
    /// When.
    pub at: String,
    seal: Seal,
}

/// An event that repeats one already applied: nothing changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchanged {
    /// What it repeats, for a person.
    pub what: String,
    seal: Seal,
}

/// What an accepted event changes. Storage accepts nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An organisation is created.
    OrgCreated(OrgCreated),
    /// A key is registered.
    KeyRegistered(KeyRegistered),
    /// A key is revoked.
    KeyRevoked(KeyRevoked),
    /// A release is accepted.
    Released(Box<Released>),
    /// A verdict is accepted.
    Judged(Box<Judged>),
    /// An adoption is declared or withdrawn.
    Adopted(Box<Adopted>),
    /// A support offer is made or accepted.
    Supported(Box<Supported>),
    /// A release is yanked or un-yanked.
    Yanked(Yanked),
    /// A release's artifact is taken down.
    TakenDown(TakenDown),
    /// A replay of something already in the log.
    Unchanged(Unchanged),
}

impl Change {
    /// Whether the change writes anything (everything but a replay does).
    pub fn is_unchanged(&self) -> bool {
        matches!(self, Change::Unchanged(_))
    }
}

/// Which log events are applied to, and what it may be home of.
pub struct Ledger<'a> {
    origin: &'a str,
    name: &'a str,
    may_home: Option<&'a dyn Fn(&OrgName) -> bool>,
}

type Outcome<V> = Result<Change, LedgerError<<V as View>::Error>>;

impl<'a> Ledger<'a> {
    /// The rules of a log read on its own (a node's own log, or any log a
    /// client replays): it may be home of any organisation it creates. The
    /// log is `origin`'s, named `name` (its node's note verifier key).
    pub fn own(origin: &'a str, name: &'a str) -> Self {
        Ledger {
            origin,
            name,
            may_home: None,
        }
    }

    /// The rules of a peer's log as a follower applies them: it may be home
    /// only of the organisations `may_home` admits.
    pub fn peer(origin: &'a str, name: &'a str, may_home: &'a dyn Fn(&OrgName) -> bool) -> Self {
        Ledger {
            origin,
            name,
            may_home: Some(may_home),
        }
    }

    /// The log's name: its node's note verifier key.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The origin of the log.
    pub fn origin(&self) -> &str {
        self.origin
    }

    /// Applies the event that is entry `index` of the log to the state
    /// `view` shows (everything before it).
    pub fn apply<V: View>(&self, view: &V, index: u64, event: &LogEvent) -> Outcome<V> {
        match event {
            LogEvent::OrgCreated { org, at } => self.org_created(view, org, at),
            LogEvent::KeyRegistered {
                key_id,
                public_key,
                account,
                org,
                role,
                proof,
                at,
            } => {
                let key = KeyFacts {
                    key_id: key_id.clone(),
                    public_key: public_key.clone(),
                    account: account.clone(),
                    org: org.clone(),
                    role: *role,
                    revoked: false,
                };
                self.key_registered(view, key, proof, at)
            }
            LogEvent::KeyRevoked { key_id, at } => self.key_revoked(view, key_id, at),
            LogEvent::Release {
                envelope,
                key_id,
                at,
            } => self.release(view, index, envelope, key_id, at),
            LogEvent::Verdict {
                envelope,
                key_id,
                at,
            } => self.verdict(view, index, envelope, key_id, at),
            LogEvent::Adoption {
                envelope,
                key_id,
                at,
            } => self.adoption(view, index, envelope, key_id, at),
            LogEvent::Support {
                envelope,
                key_id,
                at,
            } => self.support(view, index, envelope, key_id, at),
            LogEvent::Yank {
                name,
                version,
                digest,
                reason,
                by,
                at,
            } => {
                let s = Subject {
                    name: name.clone(),
                    version: version.clone(),
                    digest: *digest,
                };
                self.yank(view, &s, Some(reason), by, at)
            }
            LogEvent::Unyank {
                name,
                version,
                digest,
                by,
                at,
            } => {
                let s = Subject {
                    name: name.clone(),
                    version: version.clone(),
                    digest: *digest,
                };
                self.yank(view, &s, None, by, at)
            }
            LogEvent::Takedown {
                name,
                version,
                digest,
                reason,
                by,
                at,
            } => {
                let s = Subject {
                    name: name.clone(),
                    version: version.clone(),
                    digest: *digest,
                };
                self.takedown(view, &s, reason, by, at)
            }
        }
    }

    fn org_created<V: View>(&self, view: &V, org: &OrgName, at: &str) -> Outcome<V> {
        check_time(at)?;
        if let Some(home) = view.org_home(org).map_err(LedgerError::View)? {
            return Err(RuleError::OrgExists {
                org: org.clone(),
                home,
            }
            .into());
        }
        self.check_may_home(org)?;
        Ok(Change::OrgCreated(OrgCreated {
            org: org.clone(),
            at: at.to_string(),
            seal: Seal(()),
        }))
    }

    fn key_registered<V: View>(
        &self,
        view: &V,
        key: KeyFacts,
        proof: &Envelope,
        at: &str,
    ) -> Outcome<V> {
        check_time(at)?;
        let actual = key.public_key.key_id();
        if actual != key.key_id {
            return Err(RuleError::KeyIdMismatch {
                claimed: key.key_id,
                actual,
            }
            .into());
        }
        let bad = |reason: String| RuleError::BadProof {
            key_id: key.key_id.clone(),
            reason,
        };
        let st = verify::key_registration(proof).map_err(|e| bad(e.to_string()))?;
        if st.public_key != key.public_key {
            return Err(bad("it is signed for another key".into()).into());
        }
        if st.account != key.account || st.org != key.org || st.role != key.role {
            return Err(bad(format!(
                "it asks for account {} ({} of {}), not for this one",
                st.account,
                st.role,
                st.org
                    .as_ref()
                    .map(OrgName::as_str)
                    .unwrap_or("no organisation")
            ))
            .into());
        }
        if st.log != self.name {
            return Err(bad(format!(
                "it asks for the log {}, not {}",
                crate::clip(&st.log),
                self.name
            ))
            .into());
        }
        if let Some(org) = &key.org {
            self.home(view, org)?;
        }
        if let Some(existing) = view.key(&key.key_id).map_err(LedgerError::View)? {
            if existing.revoked {
                return Err(RuleError::KeyWasRevoked(key.key_id).into());
            }
            if existing.account != key.account {
                return Err(RuleError::KeyTaken { key_id: key.key_id }.into());
            }
            return Ok(unchanged(format!(
                "key {} is already registered to {}",
                key.key_id.short(),
                key.account
            )));
        }
        if let Some(a) = view.account(&key.account).map_err(LedgerError::View)? {
            if a.org != key.org || a.role != key.role {
                return Err(RuleError::AccountMismatch {
                    account: key.account,
                    org: a.org,
                    role: a.role,
                }
                .into());
            }
        }
        Ok(Change::KeyRegistered(KeyRegistered {
            key,
            proof: proof.clone(),
            at: at.to_string(),
            seal: Seal(()),
        }))
    }

    fn key_revoked<V: View>(&self, view: &V, id: &KeyId, at: &str) -> Outcome<V> {
        check_time(at)?;
        let mut key = view
            .key(id)
            .map_err(LedgerError::View)?
            .ok_or_else(|| RuleError::KeyUnknown(id.clone()))?;
        if let Some(org) = &key.org {
            self.home(view, org)?;
        }
        if key.revoked {
            return Ok(unchanged(format!("key {} is already revoked", id.short())));
        }
        key.revoked = true;
        Ok(Change::KeyRevoked(KeyRevoked {
            key,
            at: at.to_string(),
            seal: Seal(()),
        }))
    }

    fn release<V: View>(
        &self,
        view: &V,
        index: u64,
        envelope: &Envelope,
        key_id: &KeyId,
        at: &str,
    ) -> Outcome<V> {
        check_time(at)?;
        let key = signer(view, key_id, Role::Publisher)?;
        let statement = verify::release(envelope, &key.public_key).map_err(RuleError::from)?;
        let subject = statement.subject.clone();
        let org = subject.name.org();
        if key.org.as_ref() != Some(org) {
            return Err(RuleError::WrongOrg {
                key_id: key.key_id.clone(),
                key_org: key.org.clone(),
                package_org: org.clone(),
            }
            .into());
        }
        self.home(view, org)?;
        if let Some(existing) = release_of(view, &subject.name, &subject.version)? {
            return Err(RuleError::VersionExists {
                release: subject.to_string(),
                existing: existing.subject.version.to_string(),
            }
            .into());
        }
        let payload = envelope
            .payload_bytes()
            .map_err(|e| RuleError::Statement(crate::verify::VerifyError::Envelope(e)))?;
        let release = ReleaseFacts {
            subject,
            statement: crate::digest::Digest::of(&payload),
            publisher_key: key.key_id.clone(),
            publisher: key.account.clone(),
            index,
            verdicts: Vec::new(),
            yanked: false,
            taken_down: false,
        };
        Ok(Change::Released(Box::new(Released {
            statement,
            envelope: envelope.clone(),
            key,
            release,
            at: at.to_string(),
            seal: Seal(()),
        })))
    }

    fn verdict<V: View>(
        &self,
        view: &V,
        index: u64,
        envelope: &Envelope,
        key_id: &KeyId,
        at: &str,
    ) -> Outcome<V> {
        check_time(at)?;
        let key = signer(view, key_id, Role::Verifier)?;
        let statement = verify::verdict(envelope, &key.public_key).map_err(RuleError::from)?;
        let claimed = &statement.subject;
        let org = claimed.name.org();
        self.home(view, org)?;
        if key.org.as_ref() == Some(org) {
            return Err(RuleError::OwnOrg {
                account: key.account.clone(),
                org: org.clone(),
                release: claimed.to_string(),
            }
            .into());
        }
        if statement.log != self.name {
            return Err(RuleError::OtherLog {
                what: format!("the {} of {claimed}", statement.verdict),
                log: crate::clip(&statement.log),
                this: self.name.to_string(),
            }
            .into());
        }
        let mut release = release_of(view, &claimed.name, &claimed.version)?
            .ok_or_else(|| RuleError::ReleaseUnknown(claimed.to_string()))?;
        if &release.subject != claimed {
            return Err(mismatch(claimed, &release.subject).into());
        }
        let verdict = statement.verdict;
        let refuse = |why: &'static str| -> Outcome<V> {
            Err(RuleError::Transition {
                verdict,
                release: claimed.to_string(),
                why,
            }
            .into())
        };
        match verdict {
            Verdict::Approve if release.any(Verdict::Revoke) => return refuse("it is revoked"),
            Verdict::Approve if release.any(Verdict::Reject) => return refuse("it was rejected"),
            Verdict::Reject if release.any(Verdict::Approve) => {
                return refuse("it has an approval already (revoke it instead)")
            }
            Verdict::Revoke if !release.any(Verdict::Approve) => {
                return refuse("only a release with an approval can be revoked (reject it instead)")
            }
            _ => {}
        }
        // After the transitions: an approval repeated once the release was
        // revoked is refused, not answered as if nothing had happened.
        if release.given_by(&key.key_id, verdict) {
            return Ok(unchanged(format!(
                "key {} of {} already gave this {verdict} of {claimed}",
                key.key_id.short(),
                key.account
            )));
        }
        let fact = VerdictFact {
            verdict,
            key_id: key.key_id.clone(),
            account: key.account.clone(),
            org: key.org.clone(),
            reason: statement.reason.clone(),
            advisory: statement.advisory.clone(),
            index,
        };
        release.verdicts.push(fact.clone());
        Ok(Change::Judged(Box::new(Judged {
            statement,
            envelope: envelope.clone(),
            key,
            verdict: fact,
            release,
            at: at.to_string(),
            seal: Seal(()),
        })))
    }

    fn adoption<V: View>(
        &self,
        view: &V,
        index: u64,
        envelope: &Envelope,
        key_id: &KeyId,
        at: &str,
    ) -> Outcome<V> {
        check_time(at)?;
        let key = member_key(view, key_id)?;
        let statement = verify::adoption(envelope, &key.public_key).map_err(RuleError::from)?;
        let org = &statement.org;
        if key.org.as_ref() != Some(org) {
            return Err(RuleError::AdoptAsOther {
                key_id: key.key_id.clone(),
                key_org: org_label(&key),
                org: org.clone(),
            }
            .into());
        }
        self.home(view, org)?;
        let subject = &statement.subject;
        if statement.log != self.name {
            return Err(RuleError::OtherLog {
                what: format!("the {} of {subject}", statement.action),
                log: crate::clip(&statement.log),
                this: self.name.to_string(),
            }
            .into());
        }
        let payload = envelope
            .payload_bytes()
            .map_err(|e| RuleError::Statement(crate::verify::VerifyError::Envelope(e)))?;
        let digest = crate::digest::Digest::of(&payload);
        let current = view
            .adoption(org, &subject.name)
            .map_err(LedgerError::View)?;
        if let Some(c) = current.as_ref().filter(|c| c.statement == digest) {
            return Ok(unchanged(format!(
                "this {} of {} by {org} is log entry {} already",
                statement.action, c.subject, c.index
            )));
        }
        let latest = current.as_ref().map(|c| c.index);
        if statement.replaces != latest {
            return Err(RuleError::StaleAdoption {
                action: statement.action,
                org: org.clone(),
                package: subject.name.to_string(),
                replaces: statement.replaces,
                current: latest,
            }
            .into());
        }
        let active = current.filter(|c| !c.withdrawn);
        let withdrawn = statement.action == AdoptionAction::Withdraw;
        if withdrawn {
            let Some(c) = active else {
                return Err(RuleError::AdoptionUnknown {
                    org: org.clone(),
                    package: subject.name.to_string(),
                }
                .into());
            };
            if &c.subject != subject {
                return Err(mismatch(subject, &c.subject).into());
            }
        } else {
            // A package of this log's own organisations: exactly a release
            // the log holds. Another log's: the organisation's claim, which
            // clients check in that log.
            let package_org = subject.name.org();
            if view
                .org_home(package_org)
                .map_err(LedgerError::View)?
                .as_deref()
                == Some(self.origin)
            {
                let release = release_of(view, &subject.name, &subject.version)?
                    .ok_or_else(|| RuleError::ReleaseUnknown(subject.to_string()))?;
                if &release.subject != subject {
                    return Err(mismatch(subject, &release.subject).into());
                }
            }
            if let Some(c) = active.filter(|c| &c.subject == subject) {
                return Ok(unchanged(format!(
                    "{org} already declared that it runs {} (log entry {})",
                    c.subject, c.index
                )));
            }
        }
        let adoption = AdoptionFact {
            org: org.clone(),
            subject: subject.clone(),
            key_id: key.key_id.clone(),
            account: key.account.clone(),
            index,
            at: at.to_string(),
            statement: digest,
            withdrawn,
        };
        Ok(Change::Adopted(Box::new(Adopted {
            envelope: envelope.clone(),
            key,
            adoption,
            statement,
            seal: Seal(()),
        })))
    }

    fn support<V: View>(
        &self,
        view: &V,
        index: u64,
        envelope: &Envelope,
        key_id: &KeyId,
        at: &str,
    ) -> Outcome<V> {
        use crate::verify::SupportStatement;
        check_time(at)?;
        let key = member_key(view, key_id)?;
        let (statement, digest) =
            verify::support(envelope, &key.public_key).map_err(RuleError::from)?;
        let as_other = |org: &OrgName| RuleError::SupportAsOther {
            key_id: key.key_id.clone(),
            key_org: org_label(&key),
            org: org.clone(),
        };
        let log_of = |log: &str| {
            (log != self.name).then(|| RuleError::OtherLog {
                what: "the support statement".into(),
                log: crate::clip(log),
                this: self.name.to_string(),
            })
        };
        let support = match &*statement {
            SupportStatement::Offer(o) => {
                if key.org.as_ref() != Some(&o.supporter) {
                    return Err(as_other(&o.supporter).into());
                }
                self.home(view, &o.supporter)?;
                self.home(view, o.package.org())?;
                if let Some(e) = log_of(&o.log) {
                    return Err(e.into());
                }
                let current = view
                    .support(&o.package, &o.supporter)
                    .map_err(LedgerError::View)?;
                if let Some(c) = current.as_ref().filter(|c| c.offer == digest) {
                    return Ok(unchanged(format!(
                        "this support offer of {} for {} is log entry {} already",
                        o.supporter, o.package, c.offer_index
                    )));
                }
                let latest = current.as_ref().map(|c| c.index);
                if o.replaces != latest {
                    return Err(RuleError::StaleSupport {
                        supporter: o.supporter.clone(),
                        package: o.package.to_string(),
                        replaces: o.replaces,
                        current: latest,
                    }
                    .into());
                }
                SupportFact {
                    package: o.package.clone(),
                    supporter: o.supporter.clone(),
                    versions: o.versions.clone(),
                    until: o.until.clone(),
                    offer: digest,
                    offer_index: index,
                    offered_at: at.to_string(),
                    accepted_index: None,
                    accepted_at: None,
                    index,
                    agreed: current.and_then(|c| c.agreed),
                }
            }
            SupportStatement::Accept(a) => {
                let org = a.package.org();
                if key.org.as_ref() != Some(org) {
                    return Err(as_other(org).into());
                }
                self.home(view, org)?;
                if let Some(e) = log_of(&a.log) {
                    return Err(e.into());
                }
                let unknown = || RuleError::SupportUnknown {
                    supporter: a.supporter.clone(),
                    package: a.package.to_string(),
                };
                let mut current = view
                    .support(&a.package, &a.supporter)
                    .map_err(LedgerError::View)?
                    .filter(|c| c.offer == a.offer)
                    .ok_or_else(unknown)?;
                if let Some(i) = current.accepted_index {
                    return Ok(unchanged(format!(
                        "{}'s support of {} was accepted at log entry {i}",
                        a.supporter, a.package
                    )));
                }
                current.accepted_index = Some(index);
                current.accepted_at = Some(at.to_string());
                current.index = index;
                current.agreed = Some(AgreedSupport {
                    versions: current.versions.clone(),
                    until: current.until.clone(),
                    offer_index: current.offer_index,
                    accepted_index: index,
                    accepted_at: at.to_string(),
                });
                current
            }
        };
        Ok(Change::Supported(Box::new(Supported {
            statement,
            envelope: envelope.clone(),
            key,
            support,
            seal: Seal(()),
        })))
    }

    /// The release `subject` names, checked: a valid time, account and
    /// reason, a package of this log, the exact release the log holds.
    fn acted_on<V: View>(
        &self,
        view: &V,
        subject: &Subject,
        reason: Option<&String>,
        by: &str,
        at: &str,
    ) -> Result<ReleaseFacts, LedgerError<V::Error>> {
        check_time(at)?;
        if OrgName::parse(by).is_err() {
            return Err(RuleError::Malformed("the acting account is not an account name").into());
        }
        if let Some(r) = reason {
            let n = r.trim().chars().count();
            if n == 0 || r.chars().count() > MAX_REASON_CHARS || crate::has_invisible(r) {
                return Err(RuleError::BadReason {
                    max: MAX_REASON_CHARS,
                }
                .into());
            }
        }
        self.home(view, subject.name.org())?;
        let release = release_of(view, &subject.name, &subject.version)?
            .ok_or_else(|| RuleError::ReleaseUnknown(subject.to_string()))?;
        if release.subject != *subject {
            return Err(mismatch(subject, &release.subject).into());
        }
        Ok(release)
    }

    fn takedown<V: View>(
        &self,
        view: &V,
        subject: &Subject,
        reason: &String,
        by: &str,
        at: &str,
    ) -> Outcome<V> {
        let mut release = self.acted_on(view, subject, Some(reason), by, at)?;
        if release.taken_down {
            return Err(RuleError::TakenDownAlready(subject.to_string()).into());
        }
        release.taken_down = true;
        Ok(Change::TakenDown(TakenDown {
            release,
            reason: reason.clone(),
            by: by.to_string(),
            at: at.to_string(),
            seal: Seal(()),
        }))
    }

    fn yank<V: View>(
        &self,
        view: &V,
        subject: &Subject,
        reason: Option<&String>,
        by: &str,
        at: &str,
    ) -> Outcome<V> {
        let mut release = self.acted_on(view, subject, reason, by, at)?;
        let yank = reason.is_some();
        if release.yanked == yank {
            return Err(RuleError::YankState {
                release: subject.to_string(),
                yanked: release.yanked,
            }
            .into());
        }
        release.yanked = yank;
        Ok(Change::Yanked(Yanked {
            release,
            reason: reason.cloned(),
            by: by.to_string(),
            at: at.to_string(),
            seal: Seal(()),
        }))
    }

    /// Refuses an organisation whose home is not this log.
    fn home<V: View>(&self, view: &V, org: &OrgName) -> Result<(), LedgerError<V::Error>> {
        match view.org_home(org).map_err(LedgerError::View)? {
            None => Err(RuleError::OrgUnknown(org.clone()).into()),
            Some(home) if home != self.origin => Err(RuleError::NotHome {
                org: org.clone(),
                home,
                log: self.origin.to_string(),
            }
            .into()),
            Some(_) => Ok(self.check_may_home(org)?),
        }
    }

    fn check_may_home(&self, org: &OrgName) -> Result<(), RuleError> {
        match self.may_home {
            Some(may) if !may(org) => Err(RuleError::HomeNotAllowed {
                org: org.clone(),
                log: self.origin.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

fn unchanged(what: String) -> Change {
    Change::Unchanged(Unchanged {
        what,
        seal: Seal(()),
    })
}

fn check_time(at: &str) -> Result<(), RuleError> {
    if at.len() > MAX_TIME_LEN || crate::has_invisible(at) {
        return Err(RuleError::Malformed(
            "the entry's time is too long or holds control or invisible characters",
        ));
    }
    Ok(())
}

fn mismatch(claimed: &Subject, stored: &Subject) -> RuleError {
    RuleError::SubjectMismatch {
        claimed: format!("{claimed} ({})", claimed.digest),
        stored: format!("{stored} ({})", stored.digest),
    }
}

/// The registered, unrevoked key `id`, whatever its account's role: what
/// signs the statements any member of an organisation may give.
fn member_key<V: View>(view: &V, id: &KeyId) -> Result<KeyFacts, LedgerError<V::Error>> {
    let key = view
        .key(id)
        .map_err(LedgerError::View)?
        .ok_or_else(|| RuleError::KeyUnknown(id.clone()))?;
    if key.revoked {
        return Err(RuleError::KeyRevoked(id.clone()).into());
    }
    Ok(key)
}

/// A key's organisation for a message.
fn org_label(key: &KeyFacts) -> String {
    key.org
        .as_ref()
        .map(|o| o.to_string())
        .unwrap_or_else(|| "no organisation".into())
}

/// The registered, unrevoked key `id` of an account with role `needed`.
fn signer<V: View>(view: &V, id: &KeyId, needed: Role) -> Result<KeyFacts, LedgerError<V::Error>> {
    let key = member_key(view, id)?;
    if key.role != needed {
        return Err(RuleError::WrongRole {
            key_id: id.clone(),
            role: key.role,
            needed,
        }
        .into());
    }
    Ok(key)
}

fn release_of<V: View>(
    view: &V,
    name: &PackageName,
    version: &Version,
) -> Result<Option<ReleaseFacts>, LedgerError<V::Error>> {
    view.release(name, version).map_err(LedgerError::View)
}
