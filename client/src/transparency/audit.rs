//! `shire log verify`'s decisions about a whole log: the first entry whose
//! event breaks the log's rules ([`first_bad_statement`], replaying through
//! the same `shire_core::ledger` the node applies, via
//! [`Replica::apply`](super::replica::Replica::apply)), and the first entry
//! whose bytes are not the ones in the signed tree ([`first_unhashed`]).

use super::replica::Replica;
use shire_tlog::{verify_consistency, Hash, MemoryLog, TreeError, TreeHead};

/// The first entry that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadEntry {
    /// Its index.
    pub index: u64,
    /// Why, in one line.
    pub reason: String,
}

/// The first entry of the log of `origin` named `name` (its entries from 0,
/// in order) whose event breaks the log's rules, if any.
pub fn first_bad_statement<'a>(
    origin: &str,
    name: &str,
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Option<BadEntry> {
    let mut replica = Replica::new(origin, origin, name);
    for (index, bytes) in (0u64..).zip(entries) {
        if let Err(e) = replica.apply(index, bytes) {
            return Some(BadEntry {
                index,
                reason: e.to_string(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::testlog::{cast, Cast, AT};
    use shire_core::event::LogEvent;
    use shire_core::statement::Verdict;
    use shire_core::wire::Role;
    use shire_core::KeyPair;

    /// An honest log: orgs, keys, a release, its approval, a yank.
    fn honest() -> Cast {
        let mut c = cast();
        let mut r = c.release("braintree/crm", "1.0.0");
        c.approve(&mut r);
        c.log.yank(&r, "old", "bt-dev");
        c
    }

    fn first_bad(c: &Cast) -> Option<BadEntry> {
        let bytes = c.log.entries();
        first_bad_statement(
            c.log.origin(),
            c.log.name(),
            bytes.iter().map(Vec::as_slice),
        )
    }

    fn bad_at(c: &Cast) -> (u64, String) {
        let b = first_bad(c).expect("a bad entry");
        (b.index, b.reason)
    }

    #[test]
    fn an_honest_log_passes() {
        assert_eq!(first_bad(&honest()), None);
    }

    #[test]
    fn a_forged_release_is_the_first_bad_entry() {
        let mut c = honest();
        // The node claims the publisher's key signed a release it signed itself.
        let forger = KeyPair::generate();
        let mut env = c
            .log
            .clone()
            .release_by(&forger, "braintree/crm", "2.0.0")
            .info
            .release;
        env.signatures[0].keyid = c.publisher.key_id().to_string();
        let index = c.log.push(LogEvent::Release {
            envelope: env,
            key_id: c.publisher.key_id(),
            at: AT.into(),
        });
        c.log.release_by(&forger, "braintree/crm", "3.0.0");
        let (at, why) = bad_at(&c);
        assert_eq!(at, index);
        assert!(why.contains("signature"), "{why}");
    }

    #[test]
    fn a_release_by_an_unregistered_key_is_refused() {
        let stranger = KeyPair::generate();
        let mut c = cast();
        let index = c.log.len();
        c.log.release_by(&stranger, "braintree/hr", "1.0.0");
        let (at, why) = bad_at(&c);
        assert_eq!(at, index);
        assert!(why.contains("not registered in this log"), "{why}");
        // Registered only later does not help.
        let mut c = honest();
        let index = c.log.len();
        c.log.release_by(&stranger, "braintree/hr", "1.0.0");
        c.log
            .key(&stranger, "bt-other", "braintree", Role::Publisher);
        assert_eq!(bad_at(&c).0, index);
    }

    #[test]
    fn a_revoked_key_signs_nothing_afterwards_and_is_never_registered_again() {
        let mut c = honest();
        c.log.revoke_key(&c.publisher);
        let index = c.log.len();
        c.release("braintree/crm", "1.1.0");
        let (at, why) = bad_at(&c);
        assert_eq!(at, index);
        assert!(why.contains("revoked"), "{why}");
        let mut c = honest();
        c.log.revoke_key(&c.verifier);
        let index = c.log.len();
        c.log
            .key(&c.verifier, "socitm-rev", "socitm", Role::Verifier);
        assert_eq!(bad_at(&c).0, index);
    }

    #[test]
    fn keys_sign_only_for_their_role_and_organisation() {
        // A publisher of another organisation.
        let mut c = honest();
        let kent = KeyPair::generate();
        c.log.org("kent");
        c.log.key(&kent, "kent-dev", "kent", Role::Publisher);
        let index = c.log.len();
        c.log.release_by(&kent, "braintree/hr", "1.0.0");
        let (at, why) = bad_at(&c);
        assert_eq!(at, index);
        assert!(why.contains("organisation kent"), "{why}");
        // A verifier key signing a release; a publisher key signing a verdict.
        let mut c = honest();
        let index = c.log.len();
        c.log.release_by(&c.verifier, "braintree/hr", "1.0.0");
        assert_eq!(bad_at(&c).0, index);
        let mut c = honest();
        let mut r = c.release("braintree/hr", "1.0.0");
        let index = c.log.len();
        c.log.verdict(&c.publisher, &mut r, Verdict::Approve);
        assert_eq!(bad_at(&c).0, index);
        // A verdict about a release the log never saw.
        let mut c = honest();
        let mut ghost = c
            .log
            .clone()
            .release_by(&c.publisher, "braintree/crm", "9.0.0");
        let index = c.log.len();
        c.log.verdict(&c.verifier, &mut ghost, Verdict::Approve);
        let (at, why) = bad_at(&c);
        assert_eq!(at, index);
        assert!(why.contains("does not exist"), "{why}");
    }

    #[test]
    fn registrations_need_their_key_s_own_proof() {
        // A key registered under another key's id.
        let mut c = honest();
        let other = KeyPair::generate();
        let braintree = shire_core::OrgName::parse("braintree").ok();
        let index = c.log.push(LogEvent::KeyRegistered {
            key_id: c.publisher.key_id(),
            public_key: other.public(),
            account: "bt-x".into(),
            org: braintree.clone(),
            role: Role::Publisher,
            proof: shire_core::statement::KeyStatement::new(
                &other,
                "bt-x",
                braintree,
                Role::Publisher,
                c.log.name(),
                1,
            )
            .sign(&other),
            at: AT.into(),
        });
        assert_eq!(bad_at(&c).0, index);
        // Attack 5: an account registers another verifier's public key with a
        // proof it signed itself.
        let mut c = honest();
        let thief = KeyPair::generate();
        let victim = KeyPair::generate();
        let index = c.log.push(LogEvent::KeyRegistered {
            key_id: victim.key_id(),
            public_key: victim.public(),
            account: "bt-dev".into(),
            org: shire_core::OrgName::parse("braintree").ok(),
            role: Role::Publisher,
            proof: shire_core::statement::KeyStatement::new(
                &victim,
                "bt-dev",
                shire_core::OrgName::parse("braintree").ok(),
                Role::Publisher,
                c.log.name(),
                1,
            )
            .sign(&thief),
            at: AT.into(),
        });
        let (at, why) = bad_at(&c);
        assert_eq!(at, index);
        assert!(why.contains("proof of possession"), "{why}");
    }

    #[test]
    fn undecodable_bytes_are_a_bad_entry() {
        let c = honest();
        let mut bytes = c.log.entries();
        bytes[2] = b"{\"event\":\"nonsense\"}".to_vec();
        let bad = first_bad_statement(
            c.log.origin(),
            c.log.name(),
            bytes.iter().map(Vec::as_slice),
        )
        .unwrap();
        assert_eq!(bad.index, 2);
        assert!(bad.reason.contains("not a log event"), "{}", bad.reason);
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
