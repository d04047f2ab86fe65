//! The ledger's state held in memory: a client's replay of a log, the
//! follower's view of a batch before it is written, and the rules' tests.

use super::facts::{
    version_identity, AccountFacts, AdoptionFact, KeyFacts, ReleaseFacts, SupportFact, View,
};
use super::{Change, Ledger, LedgerError, RuleError};
use crate::event::LogEvent;
use crate::keys::KeyId;
use crate::names::{OrgName, PackageName};
use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;

/// A whole log's state in maps. Serialisable, so a client can keep its
/// replay of a log between runs and extend it with new entries only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryLedger {
    /// The origin of the log whose changes are committed here: the home of
    /// the organisations it creates.
    origin: String,
    /// The log's name: its node's note verifier key.
    name: String,
    orgs: BTreeMap<OrgName, String>,
    keys: BTreeMap<KeyId, KeyFacts>,
    accounts: BTreeMap<String, AccountFacts>,
    /// Keyed by `org/name@` + the version's identity (no build metadata).
    releases: BTreeMap<String, ReleaseFacts>,
    /// Keyed by [`adoption_key`].
    #[serde(default)]
    adoptions: BTreeMap<String, AdoptionFact>,
    /// Keyed by `org/name supporter`.
    #[serde(default)]
    supports: BTreeMap<String, SupportFact>,
}

/// `org/name adopter`: a package's adoptions sort together.
fn adoption_key(name: &PackageName, org: &OrgName) -> String {
    format!("{name} {org}")
}

fn release_key(name: &PackageName, version: &Version) -> String {
    format!("{name}@{}", version_identity(version))
}

impl MemoryLedger {
    /// The state of the empty log of `origin`, named `name` (its node's
    /// note verifier key).
    pub fn new(origin: &str, name: &str) -> Self {
        Self {
            origin: origin.to_string(),
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// The log's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The origin of the log.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Applies entry `index` of this log under the rules of a log read on
    /// its own ([`Ledger::own`]) and records what it changes.
    pub fn replay(&mut self, index: u64, event: &LogEvent) -> Result<Change, RuleError> {
        let (origin, name) = (self.origin.clone(), self.name.clone());
        let change = Ledger::own(&origin, &name)
            .apply(&*self, index, event)
            .map_err(|e| match e {
                LedgerError::Rule(r) => r,
                LedgerError::View(never) => match never {},
            })?;
        self.commit(&change);
        Ok(change)
    }

    /// Records what an accepted change established.
    pub fn commit(&mut self, change: &Change) {
        match change {
            Change::OrgCreated(c) => {
                self.orgs.insert(c.org.clone(), self.origin.clone());
            }
            Change::KeyRegistered(c) => {
                self.accounts.insert(
                    c.key.account.clone(),
                    AccountFacts {
                        org: c.key.org.clone(),
                        role: c.key.role,
                    },
                );
                self.keys.insert(c.key.key_id.clone(), c.key.clone());
            }
            Change::KeyRevoked(c) => {
                self.keys.insert(c.key.key_id.clone(), c.key.clone());
            }
            Change::Released(c) => self.put_release(&c.release),
            Change::Judged(c) => self.put_release(&c.release),
            Change::Yanked(c) => self.put_release(&c.release),
            Change::TakenDown(c) => self.put_release(&c.release),
            Change::Adopted(c) => {
                let key = adoption_key(&c.adoption.subject.name, &c.adoption.org);
                self.adoptions.insert(key, c.adoption.clone());
            }
            Change::Supported(c) => {
                let key = adoption_key(&c.support.package, &c.support.supporter);
                self.supports.insert(key, c.support.clone());
            }
            Change::Unchanged(_) => {}
        }
    }

    fn put_release(&mut self, r: &ReleaseFacts) {
        self.releases
            .insert(release_key(&r.subject.name, &r.subject.version), r.clone());
    }

    /// Every release, by name and version.
    pub fn releases(&self) -> impl Iterator<Item = &ReleaseFacts> {
        self.releases.values()
    }

    /// The release of `name` at `version` (build metadata aside).
    pub fn release_facts(&self, name: &PackageName, version: &Version) -> Option<&ReleaseFacts> {
        self.releases.get(&release_key(name, version))
    }

    /// The organisations that declare they run `name` (withdrawn adoptions
    /// left out), with the release each runs.
    pub fn adoptions_of<'a>(
        &'a self,
        name: &'a PackageName,
    ) -> impl Iterator<Item = &'a AdoptionFact> + 'a {
        self.adoptions
            .range(format!("{name} ")..)
            .take_while(move |(_, a)| &a.subject.name == name)
            .map(|(_, a)| a)
            .filter(|a| !a.withdrawn)
    }

    /// The support offers for `name`, accepted or not.
    pub fn supports_of<'a>(
        &'a self,
        name: &'a PackageName,
    ) -> impl Iterator<Item = &'a SupportFact> + 'a {
        self.supports
            .range(format!("{name} ")..)
            .take_while(move |(_, s)| &s.package == name)
            .map(|(_, s)| s)
    }

    /// A registered key.
    pub fn key_facts(&self, id: &KeyId) -> Option<&KeyFacts> {
        self.keys.get(id)
    }
}

impl View for MemoryLedger {
    type Error = Infallible;

    fn org_home(&self, org: &OrgName) -> Result<Option<String>, Infallible> {
        Ok(self.orgs.get(org).cloned())
    }

    fn key(&self, id: &KeyId) -> Result<Option<KeyFacts>, Infallible> {
        Ok(self.keys.get(id).cloned())
    }

    fn account(&self, name: &str) -> Result<Option<AccountFacts>, Infallible> {
        Ok(self.accounts.get(name).cloned())
    }

    fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseFacts>, Infallible> {
        Ok(self.release_facts(name, version).cloned())
    }

    fn adoption(
        &self,
        org: &OrgName,
        name: &PackageName,
    ) -> Result<Option<AdoptionFact>, Infallible> {
        Ok(self.adoptions.get(&adoption_key(name, org)).cloned())
    }

    fn support(
        &self,
        package: &PackageName,
        supporter: &OrgName,
    ) -> Result<Option<SupportFact>, Infallible> {
        Ok(self
            .supports
            .get(&adoption_key(package, supporter))
            .cloned())
    }
}

/// Changes not yet stored, over a view of what is: the follower checks a
/// whole batch of a peer's entries this way before fetching its artifacts.
pub struct Overlay<'a, V: View> {
    base: &'a V,
    over: MemoryLedger,
}

impl<'a, V: View> Overlay<'a, V> {
    /// Nothing yet of `origin`'s log over `base`.
    pub fn new(base: &'a V, origin: &str) -> Self {
        Self {
            base,
            over: MemoryLedger::new(origin, ""),
        }
    }

    /// Records an accepted change on top of the base.
    pub fn commit(&mut self, change: &Change) {
        self.over.commit(change);
    }
}

impl<V: View> View for Overlay<'_, V> {
    type Error = V::Error;

    fn org_home(&self, org: &OrgName) -> Result<Option<String>, V::Error> {
        match self.over.orgs.get(org) {
            Some(h) => Ok(Some(h.clone())),
            None => self.base.org_home(org),
        }
    }

    fn key(&self, id: &KeyId) -> Result<Option<KeyFacts>, V::Error> {
        match self.over.keys.get(id) {
            Some(k) => Ok(Some(k.clone())),
            None => self.base.key(id),
        }
    }

    fn account(&self, name: &str) -> Result<Option<AccountFacts>, V::Error> {
        match self.over.accounts.get(name) {
            Some(a) => Ok(Some(a.clone())),
            None => self.base.account(name),
        }
    }

    fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseFacts>, V::Error> {
        match self.over.release_facts(name, version) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.release(name, version),
        }
    }

    fn adoption(
        &self,
        org: &OrgName,
        name: &PackageName,
    ) -> Result<Option<AdoptionFact>, V::Error> {
        match self.over.adoptions.get(&adoption_key(name, org)) {
            Some(a) => Ok(Some(a.clone())),
            None => self.base.adoption(org, name),
        }
    }

    fn support(
        &self,
        package: &PackageName,
        supporter: &OrgName,
    ) -> Result<Option<SupportFact>, V::Error> {
        match self.over.supports.get(&adoption_key(package, supporter)) {
            Some(s) => Ok(Some(s.clone())),
            None => self.base.support(package, supporter),
        }
    }
}
