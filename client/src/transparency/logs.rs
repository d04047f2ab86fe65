//! The logs one command relies on: the replica of the registry's own log,
//! synced to its verified checkpoint when the command starts, and the replica
//! of each mirrored origin's log, synced to that origin's verified checkpoint
//! (through the mirror) the first time a package of that origin comes up.
//!
//! Which log a package belongs to is its home: the origin the lockfile
//! recorded, else the one the registry names. A registry that names the wrong
//! home can only make the package fail (its releases are not in that log, or
//! that origin's key is not pinned); it cannot make a release pass.

use super::mirror;
use super::origins::{self, OriginTrust};
use super::replica::{self, Replica, Source};
use super::VerifiedLog;
use crate::api::Client;
use crate::home::Home;
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// The replicas of the logs a command has read so far.
pub struct Logs<'a> {
    home: &'a Home,
    client: &'a Client,
    own: Replica,
    trust: Option<OriginTrust>,
    mirrored: BTreeMap<String, Replica>,
}

impl<'a> Logs<'a> {
    /// Syncs the replica of the registry's own log to `log`, its verified checkpoint.
    pub fn open(
        home: &'a Home,
        client: &'a Client,
        registry: &str,
        log: &VerifiedLog,
    ) -> Result<Self> {
        let own = replica::sync(home, client, registry, &log.verified_head(), Source::Own)
            .with_context(|| format!("replaying the log of {registry}"))?;
        Ok(Self {
            home,
            client,
            own,
            trust: None,
            mirrored: BTreeMap::new(),
        })
    }

    /// The replica of the registry's own log.
    pub fn own(&self) -> &Replica {
        &self.own
    }

    /// The registry's own origin.
    pub fn own_origin(&self) -> &str {
        self.own.origin()
    }

    fn trust(&mut self) -> Result<&OriginTrust> {
        if self.trust.is_none() {
            self.trust = Some(origins::load(&self.home.trust_path())?);
        }
        Ok(self.trust.get_or_insert_with(OriginTrust::default))
    }

    /// Whether releases home on `origin` can be checked here: it is the
    /// registry's own origin, or one whose node key is pinned in `trust.toml`.
    pub fn can_check(&mut self, origin: &str) -> Result<bool> {
        Ok(origin == self.own_origin() || self.trust()?.nodes.contains_key(origin))
    }

    /// The replica of `origin`'s log, synced to its verified checkpoint (the
    /// registry's own, or a mirrored origin's read through the registry).
    /// `example` names a package of that origin for the error telling the
    /// user to pin the origin's key.
    pub fn of(&mut self, origin: &str, example: &str) -> Result<&Replica> {
        if origin == self.own.origin() {
            return Ok(&self.own);
        }
        if !self.mirrored.contains_key(origin) {
            let (home, client) = (self.home, self.client);
            let trust = self.trust()?;
            let head = mirror::verified_origin(home, client, trust, origin, example)?;
            let r = replica::sync(
                home,
                client,
                &mirror::state_key(origin),
                &head,
                Source::Mirror(origin),
            )
            .with_context(|| format!("replaying the log of {origin} through the mirror"))?;
            self.mirrored.insert(origin.to_string(), r);
        }
        self.mirrored
            .get(origin)
            .with_context(|| format!("no replica of the log of {origin}"))
    }
}
