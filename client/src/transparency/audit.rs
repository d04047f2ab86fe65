//! Replaying a whole log (`shire log verify`): every statement is checked
//! against the keys the same log registered before it, so a node cannot slip in
//! a release or approval that no registered, unrevoked key signed.
//!
//! Rules, entry by entry ([`Replay::check`], pure):
//! - `KeyRegistered`: the key id is the key's; a key belongs to one account;
//!   a revoked key is never registered again.
//! - `KeyRevoked`: revokes a registered key; from then on it signs nothing.
//! - `Release`: signed (and verifying) by a registered, unrevoked key of a
//!   publisher account of the package's organisation; one release per version.
//! - `Verdict`: signed by a registered, unrevoked verifier key of another
//!   organisation, about a release logged earlier (same name, version, digest).
//! - `Yank` / `Unyank`: of a release logged earlier.
//!
//! [`first_unhashed`] finds the first downloaded entry whose bytes are not the
//! ones in the signed tree.

use shire_core::event::LogEvent;
use shire_core::verify;
use shire_core::wire::Role;
use shire_core::{Digest, KeyId, OrgName, PublicKey};
use shire_tlog::{verify_consistency, Hash, MemoryLog, TreeError, TreeHead};
use std::collections::BTreeMap;

/// The first entry that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadEntry {
    /// Its index.
    pub index: u64,
    /// Why, in one line.
    pub reason: String,
}

struct KeyRecord {
    public_key: PublicKey,
    account: String,
    org: Option<OrgName>,
    role: Role,
    revoked_at: Option<u64>,
}

/// The keys and releases a log has established so far.
#[derive(Default)]
pub struct Replay {
    keys: BTreeMap<KeyId, KeyRecord>,
    /// `org/name@version` → (digest, entry index).
    releases: BTreeMap<String, (Digest, u64)>,
}

impl Replay {
    /// A replay of an empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks entry `index` (its exact bytes) given every entry before it, and
    /// records what it establishes.
    pub fn check(&mut self, index: u64, bytes: &[u8]) -> Result<(), String> {
        let event = LogEvent::from_bytes(bytes).map_err(|e| format!("not a log event ({e})"))?;
        match event {
            LogEvent::OrgCreated { .. } => Ok(()),
            LogEvent::KeyRegistered {
                key_id,
                public_key,
                account,
                org,
                role,
                ..
            } => {
                if public_key.key_id() != key_id {
                    return Err(format!(
                        "registers key id {} for a key whose id is {}",
                        key_id.short(),
                        public_key.key_id().short()
                    ));
                }
                if let Some(k) = self.keys.get(&key_id) {
                    if let Some(at) = k.revoked_at {
                        return Err(format!(
                            "registers key {} again after entry {at} revoked it",
                            key_id.short()
                        ));
                    }
                    if k.account != account {
                        return Err(format!(
                            "registers key {} to {account}, but it belongs to {}",
                            key_id.short(),
                            k.account
                        ));
                    }
                    return Ok(());
                }
                self.keys.insert(
                    key_id,
                    KeyRecord {
                        public_key,
                        account,
                        org,
                        role,
                        revoked_at: None,
                    },
                );
                Ok(())
            }
            LogEvent::KeyRevoked { key_id, .. } => match self.keys.get_mut(&key_id) {
                Some(k) => {
                    k.revoked_at.get_or_insert(index);
                    Ok(())
                }
                None => Err(format!(
                    "revokes key {}, which no earlier entry registers",
                    key_id.short()
                )),
            },
            LogEvent::Release {
                envelope, key_id, ..
            } => {
                let k = self.signer(&key_id, "release", Role::Publisher)?;
                let st = verify::release(&envelope, &k.public_key).map_err(|e| {
                    format!(
                        "release statement does not verify under key {}: {e}",
                        key_id.short()
                    )
                })?;
                let s = &st.subject;
                if k.org.as_ref() != Some(s.name.org()) {
                    return Err(format!(
                        "release of {s} is signed by key {} of account {} of organisation {}, not of {}",
                        key_id.short(),
                        k.account,
                        k.org.as_ref().map(|o| o.as_str()).unwrap_or("(none)"),
                        s.name.org()
                    ));
                }
                let release = s.to_string();
                if let Some((_, at)) = self.releases.get(&release) {
                    return Err(format!(
                        "a second release of {release} (entry {at} released it)"
                    ));
                }
                self.releases.insert(release, (s.digest, index));
                Ok(())
            }
            LogEvent::Verdict {
                envelope, key_id, ..
            } => {
                let k = self.signer(&key_id, "verdict", Role::Verifier)?;
                let st = verify::verdict(&envelope, &k.public_key).map_err(|e| {
                    format!("verdict does not verify under key {}: {e}", key_id.short())
                })?;
                let s = &st.subject;
                if k.org.as_ref() == Some(s.name.org()) {
                    return Err(format!(
                        "verdict on {s} by key {} of the release's own organisation",
                        key_id.short()
                    ));
                }
                self.logged_release(&s.to_string(), &s.digest, "verdict on")
            }
            LogEvent::Yank {
                name,
                version,
                digest,
                ..
            } => self.logged_release(&format!("{name}@{version}"), &digest, "yank of"),
            LogEvent::Unyank {
                name,
                version,
                digest,
                ..
            } => self.logged_release(&format!("{name}@{version}"), &digest, "un-yank of"),
        }
    }

    /// The registered, unrevoked key `id` of an account with `role`.
    fn signer(&self, id: &KeyId, what: &str, role: Role) -> Result<&KeyRecord, String> {
        let k = self.keys.get(id).ok_or_else(|| {
            format!(
                "{what} signed by key {}, which no earlier entry registers",
                id.short()
            )
        })?;
        if let Some(at) = k.revoked_at {
            return Err(format!(
                "{what} signed by key {}, which entry {at} revoked",
                id.short()
            ));
        }
        if k.role != role {
            return Err(format!(
                "{what} signed by key {} of {} account {}, not a {role}",
                id.short(),
                k.role,
                k.account
            ));
        }
        Ok(k)
    }

    fn logged_release(&self, release: &str, digest: &Digest, what: &str) -> Result<(), String> {
        match self.releases.get(release) {
            Some((d, _)) if d == digest => Ok(()),
            Some((d, at)) => Err(format!(
                "{what} {release} with digest {digest}, but entry {at} released it with digest {d}"
            )),
            None => Err(format!("{what} {release}, which no earlier entry releases")),
        }
    }
}

/// The first entry whose statement is wrong, if any.
pub fn first_bad_statement<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Option<BadEntry> {
    let mut replay = Replay::new();
    for (index, bytes) in (0u64..).zip(entries) {
        if let Err(reason) = replay.check(index, bytes) {
            return Some(BadEntry { index, reason });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures;
    use shire_core::statement::{ReleaseStatement, Verdict, VerdictStatement};
    use shire_core::KeyPair;

    fn at() -> String {
        "2026-01-01T00:00:00Z".into()
    }

    fn registered(k: &KeyPair, org: &str, role: Role) -> LogEvent {
        LogEvent::KeyRegistered {
            key_id: k.key_id(),
            public_key: k.public(),
            account: format!("{org}-{role}"),
            org: Some(OrgName::parse(org).unwrap()),
            role,
            at: at(),
        }
    }

    fn release(k: &KeyPair, name: &str, version: &str) -> LogEvent {
        let info = fixtures::release(k, name, version, &[], version.as_bytes());
        LogEvent::Release {
            envelope: info.release,
            key_id: k.key_id(),
            at: at(),
        }
    }

    fn approval(k: &KeyPair, publisher: &KeyPair, name: &str, version: &str) -> LogEvent {
        let info = fixtures::release(publisher, name, version, &[], version.as_bytes());
        let subject = ReleaseStatement::new(info.manifest, info.digest).subject;
        LogEvent::Verdict {
            envelope: VerdictStatement::new(Verdict::Approve, subject, None, 1).sign(k),
            key_id: k.key_id(),
            at: at(),
        }
    }

    struct Cast {
        publisher: KeyPair,
        verifier: KeyPair,
        honest: Vec<LogEvent>,
    }

    /// An honest log: orgs, keys, a release, its approval, a yank.
    fn cast() -> Cast {
        let publisher = KeyPair::generate();
        let verifier = KeyPair::generate();
        let honest = vec![
            LogEvent::OrgCreated {
                org: OrgName::parse("braintree").unwrap(),
                at: at(),
            },
            registered(&publisher, "braintree", Role::Publisher),
            registered(&verifier, "socitm", Role::Verifier),
            release(&publisher, "braintree/crm", "1.0.0"),
            approval(&verifier, &publisher, "braintree/crm", "1.0.0"),
            LogEvent::Yank {
                name: shire_core::PackageName::parse("braintree/crm").unwrap(),
                version: shire_core::Version::new(1, 0, 0),
                digest: Digest::of(b"1.0.0"),
                reason: "old".into(),
                by: "bt".into(),
                at: at(),
            },
        ];
        Cast {
            publisher,
            verifier,
            honest,
        }
    }

    fn first_bad(events: &[LogEvent]) -> Option<BadEntry> {
        let bytes: Vec<Vec<u8>> = events.iter().map(LogEvent::to_bytes).collect();
        first_bad_statement(bytes.iter().map(Vec::as_slice))
    }

    #[test]
    fn an_honest_log_passes() {
        assert_eq!(first_bad(&cast().honest), None);
    }

    #[test]
    fn a_forged_release_is_the_first_bad_entry() {
        let mut c = cast();
        // The node claims the publisher's key signed a release it signed itself.
        let forger = KeyPair::generate();
        let LogEvent::Release { envelope, .. } = release(&forger, "braintree/crm", "2.0.0") else {
            unreachable!()
        };
        let mut env = envelope;
        env.signatures[0].keyid = c.publisher.key_id().to_string();
        c.honest.push(LogEvent::Release {
            envelope: env,
            key_id: c.publisher.key_id(),
            at: at(),
        });
        c.honest.push(release(&forger, "braintree/crm", "3.0.0"));
        let bad = first_bad(&c.honest).unwrap();
        assert_eq!(bad.index, 6);
        assert!(bad.reason.contains("does not verify"), "{}", bad.reason);
    }

    #[test]
    fn a_release_by_an_unregistered_key_is_refused() {
        let mut c = cast();
        let stranger = KeyPair::generate();
        c.honest
            .insert(3, release(&stranger, "braintree/hr", "1.0.0"));
        let bad = first_bad(&c.honest).unwrap();
        assert_eq!(bad.index, 3);
        assert!(
            bad.reason.contains("no earlier entry registers"),
            "{}",
            bad.reason
        );
        // Registered only later does not help.
        let mut c = cast();
        c.honest.push(release(&stranger, "braintree/hr", "1.0.0"));
        c.honest
            .push(registered(&stranger, "braintree", Role::Publisher));
        assert_eq!(first_bad(&c.honest).unwrap().index, 6);
    }

    #[test]
    fn a_revoked_key_signs_nothing_afterwards() {
        let mut c = cast();
        c.honest.push(LogEvent::KeyRevoked {
            key_id: c.publisher.key_id(),
            at: at(),
        });
        c.honest
            .push(release(&c.publisher, "braintree/crm", "1.1.0"));
        let bad = first_bad(&c.honest).unwrap();
        assert_eq!(bad.index, 7);
        assert!(bad.reason.contains("entry 6 revoked"), "{}", bad.reason);
        // Nor may it be registered again.
        let mut c = cast();
        c.honest.push(LogEvent::KeyRevoked {
            key_id: c.verifier.key_id(),
            at: at(),
        });
        c.honest
            .push(registered(&c.verifier, "socitm", Role::Verifier));
        assert_eq!(first_bad(&c.honest).unwrap().index, 7);
    }

    #[test]
    fn keys_sign_only_for_their_role_and_organisation() {
        // A publisher of another organisation.
        let mut c = cast();
        let kent = KeyPair::generate();
        c.honest.push(registered(&kent, "kent", Role::Publisher));
        c.honest.push(release(&kent, "braintree/hr", "1.0.0"));
        let bad = first_bad(&c.honest).unwrap();
        assert_eq!(bad.index, 7);
        assert!(bad.reason.contains("organisation kent"), "{}", bad.reason);
        // A verifier key signing a release; a publisher key signing a verdict.
        let mut c = cast();
        c.honest.push(release(&c.verifier, "braintree/hr", "1.0.0"));
        assert_eq!(first_bad(&c.honest).unwrap().index, 6);
        let mut c = cast();
        c.honest.push(approval(
            &c.publisher,
            &c.publisher,
            "braintree/crm",
            "1.0.0",
        ));
        assert_eq!(first_bad(&c.honest).unwrap().index, 6);
        // A verdict about a release the log never saw.
        let mut c = cast();
        c.honest.push(approval(
            &c.verifier,
            &c.publisher,
            "braintree/crm",
            "9.0.0",
        ));
        let bad = first_bad(&c.honest).unwrap();
        assert!(
            bad.reason.contains("no earlier entry releases"),
            "{}",
            bad.reason
        );
        // A key registered under another key's id; undecodable bytes.
        let mut c = cast();
        let LogEvent::KeyRegistered { key_id, .. } = registered(&c.publisher, "x", Role::Publisher)
        else {
            unreachable!()
        };
        let other = KeyPair::generate();
        c.honest.push(LogEvent::KeyRegistered {
            key_id,
            public_key: other.public(),
            account: "x".into(),
            org: None,
            role: Role::Publisher,
            at: at(),
        });
        assert_eq!(first_bad(&c.honest).unwrap().index, 6);
        let mut bytes: Vec<Vec<u8>> = cast().honest.iter().map(LogEvent::to_bytes).collect();
        bytes[2] = b"{\"event\":\"nonsense\"}".to_vec();
        let bad = first_bad_statement(bytes.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(bad.index, 2);
    }
}

/// The first entry of `tree` (the downloaded entries, in order) that does not
/// hash into the signed tree `head`, if any.
///
/// A prefix of `m` entries is good when `proof(m)`, the registry's consistency
/// proof from size `m` to `head.size`, ties the prefix's recomputed root to the
/// signed root (`m == head.size`: the roots are equal; `proof` returns `None`
/// for an unusable proof). Prefixes are good up to the first bad entry and bad
/// from there on, so a bisection finds it with about `log2(n)` proofs.
pub fn first_unhashed<E>(
    tree: &MemoryLog,
    head: &TreeHead,
    mut proof: impl FnMut(u64) -> Result<Option<Vec<Hash>>, E>,
) -> Result<Option<u64>, E>
where
    E: From<TreeError>,
{
    let mut prefix_ok = |m: u64| -> Result<bool, E> {
        if m == 0 {
            return Ok(true);
        }
        let root = tree.root_at(m)?;
        if m == head.size {
            return Ok(root == head.root);
        }
        Ok(match proof(m)? {
            Some(p) => verify_consistency(&p, m, &root, head.size, &head.root).is_ok(),
            None => false,
        })
    };
    let n = tree.size().min(head.size);
    if prefix_ok(n)? {
        return Ok(None);
    }
    // prefix_ok(lo) holds, prefix_ok(hi) fails.
    let (mut lo, mut hi) = (0u64, n);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if prefix_ok(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(hi - 1))
}

#[cfg(test)]
mod bisection_tests {
    use super::*;

    fn honest(n: u32) -> MemoryLog {
        MemoryLog::from_entries((0..n).map(|i| format!("entry {i}"))).unwrap()
    }

    fn find(downloaded: &MemoryLog, signed: &MemoryLog) -> Option<u64> {
        let head = TreeHead {
            size: signed.size(),
            root: signed.root().unwrap(),
        };
        first_unhashed::<TreeError>(downloaded, &head, |m| {
            Ok(Some(signed.consistency_proof(m, signed.size())?))
        })
        .unwrap()
    }

    #[test]
    fn bisection_names_the_first_altered_or_removed_entry() {
        for n in [1u32, 2, 7, 8, 33] {
            let signed = honest(n);
            assert_eq!(find(&signed, &signed), None, "n={n}");
            for k in 0..n {
                // Altered entry k (and maybe a later one too).
                let mut entries: Vec<String> = (0..n).map(|i| format!("entry {i}")).collect();
                entries[k as usize] = "evil".into();
                if k + 2 < n {
                    entries[(k + 2) as usize] = "evil too".into();
                }
                let altered = MemoryLog::from_entries(&entries).unwrap();
                assert_eq!(find(&altered, &signed), Some(u64::from(k)), "n={n} k={k}");
                // Entry k removed, the rest moved up (a shorter download).
                let mut shifted: Vec<String> = (0..n).map(|i| format!("entry {i}")).collect();
                shifted.remove(k as usize);
                let shifted = MemoryLog::from_entries(&shifted).unwrap();
                if k + 1 < n {
                    assert_eq!(find(&shifted, &signed), Some(u64::from(k)), "n={n} k={k}");
                }
            }
        }
        // A registry that gives no usable proof is no help to a bad prefix.
        let signed = honest(9);
        let head = TreeHead {
            size: 9,
            root: signed.root().unwrap(),
        };
        let mut e: Vec<String> = (0..9).map(|i| format!("entry {i}")).collect();
        e[4] = "evil".into();
        let altered = MemoryLog::from_entries(&e).unwrap();
        let got = first_unhashed::<TreeError>(&altered, &head, |_| Ok(None)).unwrap();
        assert!(got.is_some_and(|i| i <= 4));
    }
}
