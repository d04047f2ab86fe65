//! Test fixtures: real logs, built event by event as a node would append
//! them (organisations, key registrations with their proofs, releases,
//! verdicts, yanks), with the registry's `VersionInfo` for each release, so
//! a test can replay a log into a replica and break exactly one thing.

use super::replica::{Replica, VerifiedHead};
use crate::checks::fixtures;
use shire_core::event::LogEvent;
use shire_core::statement::{KeyStatement, ReleaseStatement, Verdict, VerdictStatement};
use shire_core::wire::{Role, VerdictInfo, VersionInfo};
use shire_core::{KeyPair, OrgName, PackageName, Version};
use shire_tlog::{MemoryLog, TreeHead};

/// The time every fixture entry carries.
pub const AT: &str = "2026-01-01T00:00:00Z";
/// The origin of [`cast`]'s log.
pub const ORIGIN: &str = "shire.test/a";

/// A log under construction.
#[derive(Debug, Clone)]
pub struct TestLog {
    origin: String,
    name: String,
    events: Vec<LogEvent>,
}

/// A release in a [`TestLog`], with the registry's record of it.
#[derive(Debug, Clone)]
pub struct Released {
    /// The package.
    pub name: PackageName,
    /// The version.
    pub version: Version,
    /// What an honest registry serves for it.
    pub info: VersionInfo,
}

impl TestLog {
    /// The empty log of `origin`.
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_string(),
            name: format!("{origin}+00000000+test"),
            events: Vec::new(),
        }
    }

    /// Its origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Its name, which its statements are signed for (a node's would be its
    /// note verifier key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size.
    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }

    /// Keeps the first `n` entries.
    pub fn truncate(&mut self, n: usize) {
        self.events.truncate(n);
    }

    /// Appends an event; returns its index.
    pub fn push(&mut self, e: LogEvent) -> u64 {
        self.events.push(e);
        self.len() - 1
    }

    /// The entries' bytes.
    pub fn entries(&self) -> Vec<Vec<u8>> {
        self.events.iter().map(LogEvent::to_bytes).collect()
    }

    /// The whole tree.
    pub fn tree(&self) -> MemoryLog {
        MemoryLog::from_entries(self.entries()).unwrap()
    }

    /// Its head, as if verified.
    pub fn head(&self) -> VerifiedHead {
        let t = self.tree();
        VerifiedHead::for_tests(
            &self.origin,
            &self.name,
            TreeHead {
                size: t.size(),
                root: t.root().unwrap(),
            },
        )
    }

    /// The log replayed into a replica (panics on an invalid entry).
    pub fn replica(&self) -> Replica {
        self.replica_as("http://registry.test")
    }

    /// [`TestLog::replica`], stored under `log`.
    pub fn replica_as(&self, log: &str) -> Replica {
        let mut r = Replica::new(log, &self.origin, &self.name);
        for (i, e) in (0u64..).zip(self.entries()) {
            r.apply(i, &e).unwrap_or_else(|e| panic!("entry {i}: {e}"));
        }
        r
    }

    /// Creates an organisation.
    pub fn org(&mut self, org: &str) {
        self.push(LogEvent::OrgCreated {
            org: OrgName::parse(org).unwrap(),
            at: AT.into(),
        });
    }

    /// Registers `key` to `account` of `org` with `role`, with a proof.
    pub fn key(&mut self, key: &KeyPair, account: &str, org: &str, role: Role) {
        let org = OrgName::parse(org).ok();
        let proof = KeyStatement::new(key, account, org.clone(), role, &self.name, 1).sign(key);
        self.push(LogEvent::KeyRegistered {
            key_id: key.key_id(),
            public_key: key.public(),
            account: account.into(),
            org,
            role,
            proof,
            at: AT.into(),
        });
    }

    /// Revokes `key`.
    pub fn revoke_key(&mut self, key: &KeyPair) {
        self.push(LogEvent::KeyRevoked {
            key_id: key.key_id(),
            at: AT.into(),
        });
    }

    /// Logs a release of `name@version` with `deps` signed by `publisher`.
    pub fn release_with(
        &mut self,
        publisher: &KeyPair,
        name: &str,
        version: &str,
        deps: &[(&str, &str)],
    ) -> Released {
        let bytes = format!("{name}@{version}");
        let mut info = fixtures::release(publisher, name, version, deps, bytes.as_bytes());
        let index = self.push(LogEvent::Release {
            envelope: info.release.clone(),
            key_id: publisher.key_id(),
            at: AT.into(),
        });
        info.log_index = Some(index);
        Released {
            name: PackageName::parse(name).unwrap(),
            version: info.version.clone(),
            info,
        }
    }

    /// Logs a release of `name@version` signed by `publisher`.
    pub fn release_by(&mut self, publisher: &KeyPair, name: &str, version: &str) -> Released {
        self.release_with(publisher, name, version, &[])
    }

    /// Logs `verifier`'s verdict on `r`, and lists it in `r`'s record.
    pub fn verdict(&mut self, verifier: &KeyPair, r: &mut Released, verdict: Verdict) {
        let subject = ReleaseStatement::new(r.info.manifest.clone(), r.info.digest).subject;
        let reason = (verdict != Verdict::Approve).then(|| "CVE-2026-0001".to_string());
        let envelope =
            VerdictStatement::new(verdict, subject, &self.name, reason, 1).sign(verifier);
        let index = self.push(LogEvent::Verdict {
            envelope: envelope.clone(),
            key_id: verifier.key_id(),
            at: AT.into(),
        });
        r.info.verdicts.push(VerdictInfo {
            envelope,
            key_id: verifier.key_id(),
            org: None,
            at: AT.into(),
            log_index: Some(index),
            advisory: None,
        });
    }

    /// Logs a yank of `r` by the account `by`.
    pub fn yank(&mut self, r: &Released, reason: &str, by: &str) {
        self.push(LogEvent::Yank {
            name: r.name.clone(),
            version: r.version.clone(),
            digest: r.info.digest,
            reason: reason.into(),
            by: by.into(),
            at: AT.into(),
        });
    }
}

/// The usual cast: `braintree` publishes (key of `bt-dev`), `socitm` verifies
/// (key of `socitm-rev`), in the log of [`ORIGIN`].
pub struct Cast {
    /// The log.
    pub log: TestLog,
    /// bt-dev's key.
    pub publisher: KeyPair,
    /// socitm-rev's key.
    pub verifier: KeyPair,
}

impl Cast {
    /// Logs a release by the publisher.
    pub fn release(&mut self, name: &str, version: &str) -> Released {
        self.log.release_by(&self.publisher, name, version)
    }

    /// Logs an approval of `r` by the verifier.
    pub fn approve(&mut self, r: &mut Released) {
        self.log.verdict(&self.verifier, r, Verdict::Approve);
    }
}

/// A log with the organisations `braintree` and `socitm` and their keys.
pub fn cast() -> Cast {
    let publisher = KeyPair::generate();
    let verifier = KeyPair::generate();
    let mut log = TestLog::new(ORIGIN);
    log.org("braintree");
    log.org("socitm");
    log.key(&publisher, "bt-dev", "braintree", Role::Publisher);
    log.key(&verifier, "socitm-rev", "socitm", Role::Verifier);
    Cast {
        log,
        publisher,
        verifier,
    }
}
