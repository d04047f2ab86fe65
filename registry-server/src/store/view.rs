//! The ledger's [`View`] over the node's trees: the state one log's events
//! are judged against, read inside the transaction that then writes the
//! change ([`Tx`](super::db::Tx)), or outside any for an early answer
//! ([`Db`](super::db::Db)).
//!
//! Organisations are one namespace across logs: the `orgs` tree holds this
//! node's own (home: its origin), `mirror_orgs` the mirrored ones (home: the
//! origin that created them). Keys and accounts belong to one log: this
//! node's in `keys`/`accounts`, a mirrored origin's in `mirror_keys` /
//! `mirror_accounts` under `origin \0 …`. Releases live in one tree whatever
//! their log; the ledger checks an organisation's home before it reads them.

use super::db::{Reader, T};
use super::error::StoreError;
use super::records::{
    adoption_key, release_key, AccountRecord, AdoptionRecord, KeyRecord, MirrorKeyRecord,
    OrgRecord, ReleaseRecord, SupportRecord,
};
use shire_core::ledger::{AccountFacts, AdoptionFact, KeyFacts, ReleaseFacts, SupportFact, View};
use shire_core::{KeyId, OrgName, PackageName, Version};

/// Which log a view reads the keys and accounts of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRef<'a> {
    /// This node's own log.
    Local,
    /// The mirror of an origin's log.
    Mirror(&'a str),
}

/// `origin \0 suffix`: the key of an origin's item in a mirror tree.
pub fn okey(origin: &str, suffix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(origin.len() + 1 + suffix.len());
    k.extend_from_slice(origin.as_bytes());
    k.push(0);
    k.extend_from_slice(suffix);
    k
}

/// The state of one log as the ledger asks for it.
pub struct LedgerView<'a, R: Reader> {
    reader: &'a R,
    own_origin: &'a str,
    log: LogRef<'a>,
}

impl<'a, R: Reader> LedgerView<'a, R> {
    /// A view of `log` through `reader`, on the node whose origin is `own_origin`.
    pub fn new(reader: &'a R, own_origin: &'a str, log: LogRef<'a>) -> Self {
        Self {
            reader,
            own_origin,
            log,
        }
    }
}

impl<R: Reader> View for LedgerView<'_, R> {
    type Error = R::Error;

    fn org_home(&self, org: &OrgName) -> Result<Option<String>, R::Error> {
        let name = org.as_str().as_bytes();
        if self.reader.read::<OrgRecord>(T::Orgs, name)?.is_some() {
            return Ok(Some(self.own_origin.to_string()));
        }
        self.reader.read::<String>(T::MirrorOrgs, name)
    }

    fn key(&self, id: &KeyId) -> Result<Option<KeyFacts>, R::Error> {
        match self.log {
            LogRef::Local => {
                let Some(k) = self
                    .reader
                    .read::<KeyRecord>(T::Keys, id.as_str().as_bytes())?
                else {
                    return Ok(None);
                };
                let a = self
                    .reader
                    .read::<AccountRecord>(T::Accounts, k.account.as_bytes())?
                    .ok_or_else(|| {
                        R::fail(StoreError::Corrupt(format!(
                            "key {id} names a missing account {}",
                            k.account
                        )))
                    })?;
                Ok(Some(KeyFacts {
                    key_id: k.key_id,
                    public_key: k.public_key,
                    account: k.account,
                    org: a.org,
                    role: a.role,
                    revoked: k.revoked_at.is_some(),
                }))
            }
            LogRef::Mirror(origin) => Ok(self
                .reader
                .read::<MirrorKeyRecord>(T::MirrorKeys, &okey(origin, id.as_str().as_bytes()))?
                .map(|k| k.facts)),
        }
    }

    fn account(&self, name: &str) -> Result<Option<AccountFacts>, R::Error> {
        match self.log {
            LogRef::Local => Ok(self
                .reader
                .read::<AccountRecord>(T::Accounts, name.as_bytes())?
                .map(|a| AccountFacts {
                    org: a.org,
                    role: a.role,
                })),
            LogRef::Mirror(origin) => self
                .reader
                .read::<AccountFacts>(T::MirrorAccounts, &okey(origin, name.as_bytes())),
        }
    }

    fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseFacts>, R::Error> {
        Ok(self
            .reader
            .read::<ReleaseRecord>(T::Releases, &release_key(name, version))?
            .map(|r| r.facts()))
    }

    fn adoption(
        &self,
        org: &OrgName,
        name: &PackageName,
    ) -> Result<Option<AdoptionFact>, R::Error> {
        Ok(self
            .reader
            .read::<AdoptionRecord>(T::Adoptions, &adoption_key(name, org))?
            .map(|r| r.fact))
    }

    fn support(
        &self,
        package: &PackageName,
        supporter: &OrgName,
    ) -> Result<Option<SupportFact>, R::Error> {
        Ok(self
            .reader
            .read::<SupportRecord>(T::Supports, &adoption_key(package, supporter))?
            .map(|r| r.fact))
    }
}
