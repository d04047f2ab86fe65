//! The rules as data: a log in, what each entry did and the final state out,
//! one case per rule (rust-analyzer's `check(input, expect![[...]])`).
//! Keys and digests are deterministic and shown by name.

use super::*;
use crate::digest::Digest;
use crate::keys::KeyPair;
use crate::manifest::Manifest;
use crate::statement::{
    AdoptionAction, AdoptionStatement, KeyStatement, ReleaseStatement, VerdictStatement,
};
use expect_test::{expect, Expect};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

const NODE: &str = "node.example";
/// The log's name: what its node's note verifier key would be.
const LOG: &str = "node.example+01234567+AQ";
const AT: &str = "2026-12-01T00:00:00Z";
const KEYS: [&str; 8] = [
    "bt-dev",
    "bt-dev-2",
    "kent-dev",
    "socitm",
    "socitm-2",
    "delt",
    "thief",
    "bt-verifier",
];

fn key(name: &str) -> KeyPair {
    KeyPair::from_secret_bytes(&Sha256::digest(name.as_bytes()).into())
}

fn org_of(key_name: &str) -> &'static str {
    match key_name {
        "bt-dev" | "bt-dev-2" | "bt-verifier" => "braintree",
        "kent-dev" => "kent",
        "socitm" | "socitm-2" => "socitm",
        "delt" => "delt",
        _ => "braintree",
    }
}

fn org(name: &str) -> LogEvent {
    LogEvent::OrgCreated {
        org: OrgName::parse(name).unwrap(),
        at: AT.into(),
    }
}

/// A registration of key `k` to `account`, proved by `prover` for the log `log`.
fn register_as(k: &str, account: &str, role: Role, prover: &str, log: &str) -> LogEvent {
    let kp = key(k);
    let o = OrgName::parse(org_of(k)).ok();
    let mut st = KeyStatement::new(&kp, account, o.clone(), role, log, 1);
    st.public_key = kp.public();
    LogEvent::KeyRegistered {
        key_id: kp.key_id(),
        public_key: kp.public(),
        account: account.into(),
        org: o,
        role,
        proof: st.sign(&key(prover)),
        at: AT.into(),
    }
}

/// An honest registration of key `k` to the account of the same name.
fn register(k: &str, role: Role) -> LogEvent {
    register_as(k, k, role, k, LOG)
}

fn subject(name: &str, version: &str, bytes: &str) -> Subject {
    Subject {
        name: PackageName::parse(name).unwrap(),
        version: Version::parse(version).unwrap(),
        digest: Digest::of(bytes.as_bytes()),
    }
}

fn release(k: &str, name: &str, version: &str, bytes: &str) -> LogEvent {
    let mut m = Manifest::skeleton(PackageName::parse(name).unwrap());
    m.package.version = Version::parse(version).unwrap();
    LogEvent::Release {
        envelope: ReleaseStatement::new(m, Digest::of(bytes.as_bytes())).sign(&key(k)),
        key_id: key(k).key_id(),
        at: AT.into(),
    }
}

fn verdict(k: &str, v: Verdict, s: Subject) -> LogEvent {
    verdict_for(k, v, s, LOG)
}

fn verdict_for(k: &str, v: Verdict, s: Subject, log: &str) -> LogEvent {
    let reason = (v != Verdict::Approve).then(|| "a flaw".to_string());
    LogEvent::Verdict {
        envelope: VerdictStatement::new(v, s, log, reason, 1).sign(&key(k)),
        key_id: key(k).key_id(),
        at: AT.into(),
    }
}

fn approve(k: &str, name: &str, version: &str, bytes: &str) -> LogEvent {
    verdict(k, Verdict::Approve, subject(name, version, bytes))
}

fn yank(name: &str, version: &str, bytes: &str, reason: Option<&str>) -> LogEvent {
    let s = subject(name, version, bytes);
    match reason {
        Some(r) => LogEvent::Yank {
            name: s.name,
            version: s.version,
            digest: s.digest,
            reason: r.into(),
            by: "bt-dev".into(),
            at: AT.into(),
        },
        None => LogEvent::Unyank {
            name: s.name,
            version: s.version,
            digest: s.digest,
            by: "bt-dev".into(),
            at: AT.into(),
        },
    }
}

/// The log every case starts from: four organisations, a publisher of
/// braintree, a verifier of socitm and one of braintree.
fn base() -> Vec<LogEvent> {
    vec![
        org("braintree"),
        org("socitm"),
        org("kent"),
        org("delt"),
        register("bt-dev", Role::Publisher),
        register("socitm", Role::Verifier),
        register("bt-verifier", Role::Verifier),
    ]
}

/// Replaces key ids and digests by names, so expectations stay readable.
fn named(mut text: String, digests: &[&str]) -> String {
    for k in KEYS {
        let id = key(k).key_id();
        text = text.replace(id.as_str(), &format!("<{k}>"));
        text = text.replace(id.short(), &format!("<{k}>"));
    }
    for d in digests {
        let full = Digest::of(d.as_bytes()).to_string();
        text = text.replace(&full, &format!("<{d}>"));
    }
    text
}

fn describe(c: &Change) -> String {
    match c {
        Change::OrgCreated(c) => format!("created {}", c.org),
        Change::KeyRegistered(c) => format!("registered to {}", c.key.account),
        Change::KeyRevoked(c) => format!("revoked {}", c.key.key_id),
        Change::Released(c) => format!("released by {}", c.key.account),
        Change::Judged(c) => format!("{} by {}", c.statement.verdict, c.key.account),
        Change::Yanked(c) => format!("yanked={}", c.release.yanked),
        Change::TakenDown(c) => format!("taken down by {}", c.by),
        Change::Adopted(c) => format!(
            "{} {} by {} (key of {})",
            if c.adoption.withdrawn {
                "withdrew"
            } else {
                "adopted"
            },
            c.adoption.subject,
            c.adoption.org,
            c.key.account
        ),
        Change::Supported(c) => format!(
            "{} support of {} for {} {} until {}",
            if c.support.accepted_index.is_some() {
                "accepted"
            } else {
                "offered"
            },
            c.support.supporter,
            c.support.package,
            c.support.versions,
            c.support.until
        ),
        Change::Unchanged(u) => format!("unchanged: {}", u.what),
    }
}

/// Replays `extra` after [`base`] with `ledger`'s rules and renders what each
/// entry did and every release's state at thresholds 1 and 2.
fn run_with(view: &mut MemoryLedger, extra: &[LogEvent], digests: &[&str]) -> String {
    let mut out = String::new();
    let events: Vec<LogEvent> = base().into_iter().chain(extra.iter().cloned()).collect();
    for (i, e) in events.iter().enumerate() {
        let result = view.replay(i as u64, e);
        if i >= base().len() {
            let what = match result {
                Ok(c) => describe(&c),
                Err(e) => format!("REFUSED {e}"),
            };
            let _ = writeln!(out, "{i} {}: {what}", e.summary());
        } else {
            assert!(result.is_ok(), "the base log is valid: {result:?}");
        }
    }
    for r in view.releases() {
        let _ = writeln!(
            out,
            "state {}: {} at 1, {} at 2{}",
            r.subject,
            node_state(r, 1),
            node_state(r, 2),
            if r.yanked { ", yanked" } else { "" },
        )
        .and_then(|()| {
            if r.taken_down {
                writeln!(out, "  (taken down)")
            } else {
                Ok(())
            }
        });
    }
    named(out, digests)
}

fn check(extra: &[LogEvent], digests: &[&str], expect: Expect) {
    let mut m = MemoryLedger::new(NODE, LOG);
    expect.assert_eq(&run_with(&mut m, extra, digests));
}

#[test]
fn an_honest_log_is_accepted_entry_by_entry() {
    check(
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            approve("socitm", "braintree/crm", "1.0.0", "one"),
            yank("braintree/crm", "1.0.0", "one", Some("superseded")),
            yank("braintree/crm", "1.0.0", "one", None),
        ],
        &["one"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            8 verdict approve braintree/crm@1.0.0 signed by <socitm>: approve by socitm
            9 yank braintree/crm@1.0.0: superseded: yanked=true
            10 un-yank braintree/crm@1.0.0: yanked=false
            state braintree/crm@1.0.0: approved at 1, pending at 2
        "#]],
    );
}

#[test]
fn organisations_are_created_once_and_must_exist() {
    check(
        &[
            org("braintree"),
            release("bt-dev", "nowhere/crm", "1.0.0", "x"),
        ],
        &["x"],
        expect![[r#"
            7 organisation braintree created: REFUSED organisation braintree already exists (its home is node.example)
            8 release nowhere/crm@1.0.0 <x> signed by <bt-dev>: REFUSED key <bt-dev> belongs to organisation braintree, not to nowhere
        "#]],
    );
}

#[test]
fn a_key_is_registered_only_with_its_holders_proof() {
    check(
        &[
            // The thief signs a registration of socitm's key to itself.
            register_as("socitm-2", "thief", Role::Verifier, "thief", LOG),
            // socitm's genuine statement, replayed for another account.
            {
                let LogEvent::KeyRegistered { proof, .. } = register("socitm", Role::Verifier)
                else {
                    unreachable!()
                };
                let k = key("socitm");
                LogEvent::KeyRegistered {
                    key_id: k.key_id(),
                    public_key: k.public(),
                    account: "thief".into(),
                    org: OrgName::parse("socitm").ok(),
                    role: Role::Verifier,
                    proof,
                    at: AT.into(),
                }
            },
            // A statement made for another node.
            register_as(
                "delt",
                "delt",
                Role::Verifier,
                "delt",
                "node.example+89abcdef+AQ",
            ),
            // A key id that is not the key's.
            {
                let LogEvent::KeyRegistered {
                    public_key,
                    account,
                    org,
                    role,
                    proof,
                    at,
                    ..
                } = register("socitm-2", Role::Verifier)
                else {
                    unreachable!()
                };
                LogEvent::KeyRegistered {
                    key_id: key("delt").key_id(),
                    public_key,
                    account,
                    org,
                    role,
                    proof,
                    at,
                }
            },
        ],
        &[],
        expect![[r#"
            7 key <socitm-2> registered to thief (verifier): REFUSED the registration of key <socitm-2> carries no valid proof of possession: envelope carries no signature by key <socitm-2>
            8 key <socitm> registered to thief (verifier): REFUSED the registration of key <socitm> carries no valid proof of possession: it asks for account socitm (verifier of socitm), not for this one
            9 key <delt> registered to delt (verifier): REFUSED the registration of key <delt> carries no valid proof of possession: it asks for the log node.example+89abcdef+AQ, not node.example+01234567+AQ
            10 key <delt> registered to socitm-2 (verifier): REFUSED key id <delt> is not the id of the registered key (<socitm-2>)
        "#]],
    );
}

#[test]
fn a_key_belongs_to_one_account_for_ever() {
    check(
        &[
            // Again to its own account: a replay.
            register("socitm", Role::Verifier),
            // To another account, with a genuine proof by the holder.
            register_as("socitm", "socitm-2", Role::Verifier, "socitm", LOG),
            // An account is one organisation and one role.
            register_as("socitm-2", "socitm", Role::Publisher, "socitm-2", LOG),
            LogEvent::KeyRevoked {
                key_id: key("socitm").key_id(),
                at: AT.into(),
            },
            LogEvent::KeyRevoked {
                key_id: key("socitm").key_id(),
                at: AT.into(),
            },
            register("socitm", Role::Verifier),
            LogEvent::KeyRevoked {
                key_id: key("delt").key_id(),
                at: AT.into(),
            },
        ],
        &[],
        expect![[r#"
            7 key <socitm> registered to socitm (verifier): unchanged: key <socitm> is already registered to socitm
            8 key <socitm> registered to socitm-2 (verifier): REFUSED key <socitm> is already registered to another account
            9 key <socitm-2> registered to socitm (publisher): REFUSED account socitm is already registered as verifier of socitm
            10 key <socitm> revoked: revoked <socitm>
            11 key <socitm> revoked: unchanged: key <socitm> is already revoked
            12 key <socitm> registered to socitm (verifier): REFUSED key <socitm> was revoked; it can never be registered again
            13 key <delt> revoked: REFUSED key <delt> is not registered in this log
        "#]],
    );
}

#[test]
fn releases_need_an_unrevoked_publisher_key_of_the_organisation() {
    let mut forged = release("thief", "braintree/crm", "1.0.0", "evil");
    if let LogEvent::Release {
        key_id, envelope, ..
    } = &mut forged
    {
        *key_id = key("bt-dev").key_id();
        envelope.signatures[0].keyid = key("bt-dev").key_id().to_string();
    }
    check(
        &[
            release("delt", "braintree/crm", "1.0.0", "x"),
            release("socitm", "socitm/tool", "1.0.0", "x"),
            register("kent-dev", Role::Publisher),
            release("kent-dev", "braintree/crm", "1.0.0", "x"),
            forged,
            LogEvent::KeyRevoked {
                key_id: key("bt-dev").key_id(),
                at: AT.into(),
            },
            release("bt-dev", "braintree/crm", "1.0.0", "x"),
        ],
        &["x", "evil"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <x> signed by <delt>: REFUSED key <delt> is not registered in this log
            8 release socitm/tool@1.0.0 <x> signed by <socitm>: REFUSED key <socitm> belongs to a verifier account; a publisher key must sign this
            9 key <kent-dev> registered to kent-dev (publisher): registered to kent-dev
            10 release braintree/crm@1.0.0 <x> signed by <kent-dev>: REFUSED key <kent-dev> belongs to organisation kent, not to braintree
            11 release braintree/crm@1.0.0 <evil> signed by <bt-dev>: REFUSED signature does not verify under key <bt-dev>
            12 key <bt-dev> revoked: revoked <bt-dev>
            13 release braintree/crm@1.0.0 <x> signed by <bt-dev>: REFUSED key <bt-dev> was revoked; it can no longer sign statements
        "#]],
    );
}

#[test]
fn a_version_is_released_once_whatever_its_build_metadata() {
    check(
        &[
            release("bt-dev", "braintree/x", "2.0.0+good", "good"),
            release("bt-dev", "braintree/x", "2.0.0+other", "other"),
            release("bt-dev", "braintree/x", "2.0.0", "plain"),
            release("bt-dev", "braintree/x", "2.0.0-rc.1", "rc"),
        ],
        &["good", "other", "plain", "rc"],
        expect![[r#"
            7 release braintree/x@2.0.0+good <good> signed by <bt-dev>: released by bt-dev
            8 release braintree/x@2.0.0+other <other> signed by <bt-dev>: REFUSED braintree/x@2.0.0+other was already published (as 2.0.0+good); a version can never be published again, even after a yank
            9 release braintree/x@2.0.0 <plain> signed by <bt-dev>: REFUSED braintree/x@2.0.0 was already published (as 2.0.0+good); a version can never be published again, even after a yank
            10 release braintree/x@2.0.0-rc.1 <rc> signed by <bt-dev>: released by bt-dev
            state braintree/x@2.0.0+good: pending at 1, pending at 2
            state braintree/x@2.0.0-rc.1: pending at 1, pending at 2
        "#]],
    );
}

#[test]
fn verdicts_are_about_exactly_a_release_by_another_organisation() {
    check(
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            approve("bt-verifier", "braintree/crm", "1.0.0", "one"),
            approve("socitm", "braintree/crm", "1.0.1", "one"),
            approve("socitm", "braintree/crm", "1.0.0", "other bytes"),
            approve("bt-dev", "braintree/crm", "1.0.0", "one"),
        ],
        &["one", "other bytes"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            8 verdict approve braintree/crm@1.0.0 signed by <bt-verifier>: REFUSED bt-verifier is a verifier of braintree: it cannot judge its own organisation's release braintree/crm@1.0.0
            9 verdict approve braintree/crm@1.0.1 signed by <socitm>: REFUSED braintree/crm@1.0.1 does not exist
            10 verdict approve braintree/crm@1.0.0 signed by <socitm>: REFUSED the statement is about braintree/crm@1.0.0 (<other bytes>), but the release is braintree/crm@1.0.0 (<one>)
            11 verdict approve braintree/crm@1.0.0 signed by <bt-dev>: REFUSED key <bt-dev> belongs to a publisher account; a verifier key must sign this
            state braintree/crm@1.0.0: pending at 1, pending at 2
        "#]],
    );
}

#[test]
fn transitions_do_not_depend_on_any_threshold() {
    let s = || subject("braintree/crm", "1.0.0", "one");
    let t = || subject("braintree/tool", "1.0.0", "two");
    check(
        &[
            register("delt", Role::Verifier),
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            release("bt-dev", "braintree/tool", "1.0.0", "two"),
            verdict("socitm", Verdict::Revoke, s()),
            verdict("socitm", Verdict::Reject, s()),
            approve("delt", "braintree/crm", "1.0.0", "one"),
            verdict("delt", Verdict::Approve, s()),
            approve("socitm", "braintree/tool", "1.0.0", "two"),
            verdict("delt", Verdict::Reject, t()),
            verdict("delt", Verdict::Revoke, t()),
            verdict("socitm", Verdict::Revoke, t()),
            approve("socitm", "braintree/tool", "1.0.0", "two"),
        ],
        &["one", "two"],
        expect![[r#"
            7 key <delt> registered to delt (verifier): registered to delt
            8 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            9 release braintree/tool@1.0.0 <two> signed by <bt-dev>: released by bt-dev
            10 verdict revoke braintree/crm@1.0.0 signed by <socitm>: REFUSED cannot revoke braintree/crm@1.0.0: only a release with an approval can be revoked (reject it instead)
            11 verdict reject braintree/crm@1.0.0 signed by <socitm>: reject by socitm
            12 verdict approve braintree/crm@1.0.0 signed by <delt>: REFUSED cannot approve braintree/crm@1.0.0: it was rejected
            13 verdict approve braintree/crm@1.0.0 signed by <delt>: REFUSED cannot approve braintree/crm@1.0.0: it was rejected
            14 verdict approve braintree/tool@1.0.0 signed by <socitm>: approve by socitm
            15 verdict reject braintree/tool@1.0.0 signed by <delt>: REFUSED cannot reject braintree/tool@1.0.0: it has an approval already (revoke it instead)
            16 verdict revoke braintree/tool@1.0.0 signed by <delt>: revoke by delt
            17 verdict revoke braintree/tool@1.0.0 signed by <socitm>: revoke by socitm
            18 verdict approve braintree/tool@1.0.0 signed by <socitm>: REFUSED cannot approve braintree/tool@1.0.0: it is revoked
            state braintree/crm@1.0.0: rejected at 1, rejected at 2
            state braintree/tool@1.0.0: revoked at 1, revoked at 2
        "#]],
    );
}

#[test]
fn a_threshold_counts_verifier_accounts_not_keys() {
    check(
        &[
            // socitm's second key, registered to the same account.
            register_as("socitm-2", "socitm", Role::Verifier, "socitm-2", LOG),
            register("delt", Role::Verifier),
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            approve("socitm", "braintree/crm", "1.0.0", "one"),
            approve("socitm-2", "braintree/crm", "1.0.0", "one"),
            approve("socitm", "braintree/crm", "1.0.0", "one"),
            approve("delt", "braintree/crm", "1.0.0", "one"),
        ],
        &["one"],
        expect![[r#"
            7 key <socitm-2> registered to socitm (verifier): registered to socitm
            8 key <delt> registered to delt (verifier): registered to delt
            9 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            10 verdict approve braintree/crm@1.0.0 signed by <socitm>: approve by socitm
            11 verdict approve braintree/crm@1.0.0 signed by <socitm-2>: approve by socitm
            12 verdict approve braintree/crm@1.0.0 signed by <socitm>: unchanged: key <socitm> of socitm already gave this approve of braintree/crm@1.0.0
            13 verdict approve braintree/crm@1.0.0 signed by <delt>: approve by delt
            state braintree/crm@1.0.0: approved at 1, approved at 2
        "#]],
    );
}

#[test]
fn statements_are_bound_to_the_log_they_were_signed_for() {
    // Another node took the same origin name: its key differs, and so does
    // the log name statements are signed for.
    let elsewhere = "node.example+fedcba98+AQ";
    check(
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            verdict_for(
                "socitm",
                Verdict::Approve,
                subject("braintree/crm", "1.0.0", "one"),
                elsewhere,
            ),
            register_as("delt", "delt", Role::Verifier, "delt", elsewhere),
        ],
        &["one"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            8 verdict approve braintree/crm@1.0.0 signed by <socitm>: REFUSED the approve of braintree/crm@1.0.0 was signed for the log node.example+fedcba98+AQ, not for this log node.example+01234567+AQ
            9 key <delt> registered to delt (verifier): REFUSED the registration of key <delt> carries no valid proof of possession: it asks for the log node.example+fedcba98+AQ, not node.example+01234567+AQ
            state braintree/crm@1.0.0: pending at 1, pending at 2
        "#]],
    );
}

#[test]
fn text_a_person_reads_holds_no_control_or_invisible_characters() {
    let s = subject("braintree/crm", "1.0.0", "one");
    let hidden = LogEvent::Verdict {
        envelope: VerdictStatement::new(
            Verdict::Reject,
            s.clone(),
            LOG,
            Some("ok\u{1b}[8m".into()),
            1,
        )
        .sign(&key("socitm")),
        key_id: key("socitm").key_id(),
        at: AT.into(),
    };
    let mut late = org("late");
    if let LogEvent::OrgCreated { at, .. } = &mut late {
        *at = "2026\r\n".into();
    }
    check(
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            hidden,
            yank("braintree/crm", "1.0.0", "one", Some("typo\u{7}")),
            yank(
                "braintree/crm",
                "1.0.0",
                "one",
                Some("fixed\u{202e}txt.exe"),
            ),
            late,
        ],
        &["one"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            8 verdict reject braintree/crm@1.0.0 signed by <socitm>: REFUSED statement does not match: the reason holds control or invisible characters
            9 yank braintree/crm@1.0.0: typo\u{7}: REFUSED a yank or takedown needs a reason of 1 to 1024 printable characters: it is shown to everyone who resolves the version
            10 yank braintree/crm@1.0.0: fixed\u{202e}txt.exe: REFUSED a yank or takedown needs a reason of 1 to 1024 printable characters: it is shown to everyone who resolves the version
            11 organisation late created: REFUSED malformed entry: the entry's time is too long or holds control or invisible characters
            state braintree/crm@1.0.0: pending at 1, pending at 2
        "#]],
    );
}

#[test]
fn yanks_name_exactly_a_release_and_change_its_state() {
    check(
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            yank("braintree/crm", "1.0.0", "one", None),
            yank("braintree/crm", "1.0.0", "one", Some("  ")),
            yank("braintree/crm", "1.0.0", "other", Some("typo")),
            yank("braintree/crm", "2.0.0", "one", Some("typo")),
            yank("braintree/crm", "1.0.0", "one", Some("typo")),
            yank("braintree/crm", "1.0.0", "one", Some("typo")),
        ],
        &["one", "other"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            8 un-yank braintree/crm@1.0.0: REFUSED braintree/crm@1.0.0 is not yanked
            9 yank braintree/crm@1.0.0:   : REFUSED a yank or takedown needs a reason of 1 to 1024 printable characters: it is shown to everyone who resolves the version
            10 yank braintree/crm@1.0.0: typo: REFUSED the statement is about braintree/crm@1.0.0 (<other>), but the release is braintree/crm@1.0.0 (<one>)
            11 yank braintree/crm@2.0.0: typo: REFUSED braintree/crm@2.0.0 does not exist
            12 yank braintree/crm@1.0.0: typo: yanked=true
            13 yank braintree/crm@1.0.0: typo: REFUSED braintree/crm@1.0.0 is already yanked
            state braintree/crm@1.0.0: pending at 1, pending at 2, yanked
        "#]],
    );
}

fn takedown(name: &str, version: &str, bytes: &str, reason: &str) -> LogEvent {
    let s = subject(name, version, bytes);
    LogEvent::Takedown {
        name: s.name,
        version: s.version,
        digest: s.digest,
        reason: reason.into(),
        by: "admin".into(),
        at: AT.into(),
    }
}

#[test]
fn takedowns_name_exactly_a_release_once() {
    check(
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            takedown("braintree/crm", "1.0.0", "other", "leaked .env"),
            takedown("braintree/crm", "2.0.0", "one", "leaked .env"),
            takedown("braintree/crm", "1.0.0", "one", ""),
            takedown("braintree/crm", "1.0.0", "one", "leaked .env"),
            takedown("braintree/crm", "1.0.0", "one", "leaked .env"),
            yank("braintree/crm", "1.0.0", "one", Some("see takedown")),
        ],
        &["one", "other"],
        expect![[r#"
            7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
            8 take down braintree/crm@1.0.0: leaked .env: REFUSED the statement is about braintree/crm@1.0.0 (<other>), but the release is braintree/crm@1.0.0 (<one>)
            9 take down braintree/crm@2.0.0: leaked .env: REFUSED braintree/crm@2.0.0 does not exist
            10 take down braintree/crm@1.0.0: : REFUSED a yank or takedown needs a reason of 1 to 1024 printable characters: it is shown to everyone who resolves the version
            11 take down braintree/crm@1.0.0: leaked .env: taken down by admin
            12 take down braintree/crm@1.0.0: leaked .env: REFUSED braintree/crm@1.0.0 is already taken down
            13 yank braintree/crm@1.0.0: see takedown: yanked=true
            state braintree/crm@1.0.0: pending at 1, pending at 2, yanked
              (taken down)
        "#]],
    );
}

/// A node's view of a peer's log: `mirrored` is home on `peer.example`,
/// `local` on this node (which is not the log being applied).
struct Federated {
    inner: MemoryLedger,
}

impl View for Federated {
    type Error = std::convert::Infallible;
    fn org_home(&self, org: &OrgName) -> Result<Option<String>, Self::Error> {
        Ok(match org.as_str() {
            "local" => Some("this.example".into()),
            _ => self.inner.org_home(org)?,
        })
    }
    fn key(&self, id: &KeyId) -> Result<Option<KeyFacts>, Self::Error> {
        self.inner.key(id)
    }
    fn account(&self, name: &str) -> Result<Option<AccountFacts>, Self::Error> {
        self.inner.account(name)
    }
    fn release(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<ReleaseFacts>, Self::Error> {
        self.inner.release(name, version)
    }
    fn adoption(
        &self,
        org: &OrgName,
        name: &PackageName,
    ) -> Result<Option<crate::ledger::AdoptionFact>, Self::Error> {
        self.inner.adoption(org, name)
    }
    fn support(
        &self,
        package: &PackageName,
        supporter: &OrgName,
    ) -> Result<Option<crate::ledger::SupportFact>, Self::Error> {
        self.inner.support(package, supporter)
    }
}

#[test]
fn a_peer_speaks_only_for_the_organisations_it_is_home_of() {
    let may_home = |o: &OrgName| o.as_str() != "kent";
    let peer = Ledger::peer(NODE, LOG, &may_home);
    let mut view = Federated {
        inner: MemoryLedger::new(NODE, LOG),
    };
    let mut out = Vec::new();
    let events = [
        org("braintree"),
        org("kent"),
        org("local"),
        register("bt-dev", Role::Publisher),
        release("bt-dev", "braintree/crm", "1.0.0", "one"),
        yank("local/crm", "1.0.0", "one", Some("not yours")),
    ];
    for (i, e) in events.iter().enumerate() {
        match peer.apply(&view, i as u64, e) {
            Ok(c) => {
                view.inner.commit(&c);
                out.push(format!("{i}: {}", describe(&c)));
            }
            Err(e) => out.push(format!("{i}: REFUSED {e}")),
        }
    }
    expect![[r#"
        0: created braintree
        1: REFUSED node.example is not configured as the home of organisation kent
        2: REFUSED organisation local already exists (its home is this.example)
        3: registered to bt-dev
        4: released by bt-dev
        5: REFUSED organisation local is home on this.example; node.example may not publish, judge or yank for it"#]]
    .assert_eq(&named(out.join("\n"), &["one"]));
}

#[test]
fn an_overlay_sees_earlier_changes_of_the_same_batch() {
    let base = MemoryLedger::new(NODE, LOG);
    let mut overlay = Overlay::new(&base, NODE);
    let ledger = Ledger::own(NODE, LOG);
    for (i, e) in base_events_and_release().iter().enumerate() {
        let c = ledger.apply(&overlay, i as u64, e).unwrap();
        overlay.commit(&c);
    }
    let s = subject("braintree/crm", "1.0.0", "one");
    let r = overlay.release(&s.name, &s.version).unwrap().unwrap();
    assert_eq!(r.subject, s);
    assert_eq!(base.release(&s.name, &s.version).unwrap(), None);
}

fn base_events_and_release() -> Vec<LogEvent> {
    let mut v = base();
    v.push(release("bt-dev", "braintree/crm", "1.0.0", "one"));
    v
}

fn adoption_after(
    k: &str,
    org: &str,
    action: AdoptionAction,
    s: Subject,
    log: &str,
    replaces: Option<u64>,
) -> LogEvent {
    LogEvent::Adoption {
        envelope: AdoptionStatement::new(action, OrgName::parse(org).unwrap(), s, log, replaces, 1)
            .sign(&key(k)),
        key_id: key(k).key_id(),
        at: AT.into(),
    }
}

fn adoption(k: &str, org: &str, action: AdoptionAction, s: Subject, log: &str) -> LogEvent {
    adoption_after(k, org, action, s, log, None)
}

#[test]
fn an_organisation_adopts_only_as_itself_and_withdraws_what_it_adopted() {
    use AdoptionAction::{Adopt, Withdraw};
    let crm = || subject("braintree/crm", "1.0.0", "one");
    let crm11 = || subject("braintree/crm", "1.1.0", "two");
    let first = adoption("kent-dev", "kent", Adopt, crm(), LOG);
    let mut m = MemoryLedger::new(NODE, LOG);
    let out = run_with(
        &mut m,
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            register("kent-dev", Role::Publisher),
            first.clone(),
            // 10: the same statement again: a replay changes nothing.
            first.clone(),
            // A new statement of the same adoption: nothing to log.
            adoption_after("kent-dev", "kent", Adopt, crm(), LOG, Some(9)),
            // A member of kent speaking for braintree.
            adoption("kent-dev", "braintree", Adopt, crm(), LOG),
            // An adoption signed for another log.
            adoption(
                "kent-dev",
                "kent",
                Adopt,
                crm(),
                "other.example+01234567+AQ",
            ),
            // A version, or bytes, the log does not hold.
            adoption_after(
                "kent-dev",
                "kent",
                Adopt,
                subject("braintree/crm", "2.0.0", "one"),
                LOG,
                Some(9),
            ),
            adoption_after(
                "kent-dev",
                "kent",
                Adopt,
                subject("braintree/crm", "1.0.0", "two"),
                LOG,
                Some(9),
            ),
            // Withdrawing what was never adopted.
            adoption(
                "kent-dev",
                "kent",
                Withdraw,
                subject("braintree/other", "1.0.0", "one"),
                LOG,
            ),
            // Another log's package: that organisation's claim, accepted.
            adoption(
                "kent-dev",
                "kent",
                Adopt,
                subject("elsewhere/app", "3.0.0", "three"),
                LOG,
            ),
            // A withdrawal must follow the latest statement and name its release.
            adoption("kent-dev", "kent", Withdraw, crm(), LOG),
            adoption_after("kent-dev", "kent", Withdraw, crm11(), LOG, Some(9)),
            adoption_after("kent-dev", "kent", Withdraw, crm(), LOG, Some(9)),
            adoption_after("kent-dev", "kent", Withdraw, crm(), LOG, Some(9)),
            // 22: the first adoption replayed after the withdrawal: refused.
            first.clone(),
            // Adopting again, then a newer version, which replaces it.
            adoption_after("kent-dev", "kent", Adopt, crm(), LOG, Some(20)),
            release("bt-dev", "braintree/crm", "1.1.0", "two"),
            adoption_after("kent-dev", "kent", Adopt, crm11(), LOG, Some(23)),
            // 26: rolling back to the statement of entry 23: refused.
            adoption_after("kent-dev", "kent", Adopt, crm(), LOG, Some(20)),
        ],
        &["one", "two", "three"],
    );
    let used_by: Vec<String> = m
        .adoptions_of(&PackageName::parse("elsewhere/app").unwrap())
        .chain(m.adoptions_of(&PackageName::parse("braintree/crm").unwrap()))
        .map(|a| format!("{} runs {} (entry {})", a.org, a.subject, a.index))
        .collect();
    expect![[r#"
        7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
        8 key <kent-dev> registered to kent-dev (publisher): registered to kent-dev
        9 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: adopted braintree/crm@1.0.0 by kent (key of kent-dev)
        10 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: unchanged: this adoption of braintree/crm@1.0.0 by kent is log entry 9 already
        11 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: unchanged: kent already declared that it runs braintree/crm@1.0.0 (log entry 9)
        12 adoption of braintree/crm@1.0.0 by braintree signed by <kent-dev>: REFUSED key <kent-dev> of kent may not declare an adoption for organisation braintree
        13 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: REFUSED the adoption of braintree/crm@1.0.0 was signed for the log other.example+01234567+AQ, not for this log node.example+01234567+AQ
        14 adoption of braintree/crm@2.0.0 by kent signed by <kent-dev>: REFUSED braintree/crm@2.0.0 does not exist
        15 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: REFUSED the statement is about braintree/crm@1.0.0 (<two>), but the release is braintree/crm@1.0.0 (<one>)
        16 withdrawal of braintree/other@1.0.0 by kent signed by <kent-dev>: REFUSED organisation kent has no adoption of braintree/other to withdraw
        17 adoption of elsewhere/app@3.0.0 by kent signed by <kent-dev>: adopted elsewhere/app@3.0.0 by kent (key of kent-dev)
        18 withdrawal of braintree/crm@1.0.0 by kent signed by <kent-dev>: REFUSED the withdrawal of braintree/crm by kent follows log entry none, but the organisation's latest statement about it is 9
        19 withdrawal of braintree/crm@1.1.0 by kent signed by <kent-dev>: REFUSED the statement is about braintree/crm@1.1.0 (<two>), but the release is braintree/crm@1.0.0 (<one>)
        20 withdrawal of braintree/crm@1.0.0 by kent signed by <kent-dev>: withdrew braintree/crm@1.0.0 by kent (key of kent-dev)
        21 withdrawal of braintree/crm@1.0.0 by kent signed by <kent-dev>: unchanged: this withdrawal of braintree/crm@1.0.0 by kent is log entry 20 already
        22 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: REFUSED the adoption of braintree/crm by kent follows log entry none, but the organisation's latest statement about it is 20
        23 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: adopted braintree/crm@1.0.0 by kent (key of kent-dev)
        24 release braintree/crm@1.1.0 <two> signed by <bt-dev>: released by bt-dev
        25 adoption of braintree/crm@1.1.0 by kent signed by <kent-dev>: adopted braintree/crm@1.1.0 by kent (key of kent-dev)
        26 adoption of braintree/crm@1.0.0 by kent signed by <kent-dev>: REFUSED the adoption of braintree/crm by kent follows log entry 20, but the organisation's latest statement about it is 25
        state braintree/crm@1.0.0: pending at 1, pending at 2
        state braintree/crm@1.1.0: pending at 1, pending at 2
        used by: ["kent runs elsewhere/app@3.0.0 (entry 17)", "kent runs braintree/crm@1.1.0 (entry 25)"]"#]].assert_eq(&format!("{out}used by: {used_by:?}"));
}

fn support_offer(
    k: &str,
    supporter: &str,
    until: &str,
    log: &str,
    replaces: Option<u64>,
) -> (LogEvent, Digest) {
    let offer = crate::statement::SupportOffer::new(
        OrgName::parse(supporter).unwrap(),
        PackageName::parse("braintree/crm").unwrap(),
        semver::VersionReq::parse("^1").unwrap(),
        until,
        log,
        replaces,
        1,
    );
    let digest = Digest::of(&serde_json::to_vec(&offer).unwrap());
    let event = LogEvent::Support {
        envelope: offer.sign(&key(k)),
        key_id: key(k).key_id(),
        at: AT.into(),
    };
    (event, digest)
}

fn support_accept(k: &str, supporter: &str, offer: Digest) -> LogEvent {
    let st = crate::statement::SupportAcceptance::new(
        PackageName::parse("braintree/crm").unwrap(),
        OrgName::parse(supporter).unwrap(),
        offer,
        LOG,
        1,
    );
    LogEvent::Support {
        envelope: st.sign(&key(k)),
        key_id: key(k).key_id(),
        at: AT.into(),
    }
}

#[test]
fn support_is_offered_by_the_supporter_and_accepted_by_the_publisher() {
    let (offer, first) = support_offer("delt", "delt", "2027-12-31", LOG, None);
    let (as_kent, _) = support_offer("delt", "kent", "2027-12-31", LOG, None);
    let (elsewhere, _) = support_offer(
        "delt",
        "delt",
        "2027-12-31",
        "other.example+01234567+AQ",
        Some(9),
    );
    let (bad_date, _) = support_offer("delt", "delt", "31/12/2027", LOG, Some(9));
    let (stale, _) = support_offer("delt", "delt", "2028-12-31", LOG, None);
    let (renewed, second) = support_offer("delt", "delt", "2028-12-31", LOG, Some(16));
    let (shortened, _) = support_offer("delt", "delt", "2027-01-31", LOG, Some(21));
    let mut m = MemoryLedger::new(NODE, LOG);
    let out = run_with(
        &mut m,
        &[
            release("bt-dev", "braintree/crm", "1.0.0", "one"),
            register("delt", Role::Publisher),
            // 9
            offer.clone(),
            offer.clone(),
            as_kent,
            elsewhere,
            bad_date,
            // The supporter cannot accept its own offer for braintree.
            support_accept("delt", "delt", first),
            // 15, 16: braintree accepts exactly the offer it read.
            support_accept("bt-dev", "delt", Digest::of(b"another offer")),
            support_accept("bt-dev", "delt", first),
            support_accept("bt-dev", "delt", first),
            stale,
            // 19: a renewal replaces the accepted offer, unaccepted.
            renewed,
            support_accept("bt-dev", "delt", first),
            support_accept("bt-dev", "delt", second),
            // 22: an earlier end offered alone changes nothing agreed.
            shortened,
        ],
        &["one"],
    );
    let supports: Vec<String> = m
        .supports_of(&PackageName::parse("braintree/crm").unwrap())
        .map(|s| {
            format!(
                "{} offers until {} (accepted at {:?}), agreed until {:?}",
                s.supporter,
                s.until,
                s.accepted_index,
                s.agreed.as_ref().map(|a| &a.until)
            )
        })
        .collect();
    expect![[r#"
        7 release braintree/crm@1.0.0 <one> signed by <bt-dev>: released by bt-dev
        8 key <delt> registered to delt (publisher): registered to delt
        9 support offer by delt for braintree/crm ^1 until 2027-12-31, signed by <delt>: offered support of delt for braintree/crm ^1 until 2027-12-31
        10 support offer by delt for braintree/crm ^1 until 2027-12-31, signed by <delt>: unchanged: this support offer of delt for braintree/crm is log entry 9 already
        11 support offer by kent for braintree/crm ^1 until 2027-12-31, signed by <delt>: REFUSED key <delt> of delt may not give this support statement for organisation kent
        12 support offer by delt for braintree/crm ^1 until 2027-12-31, signed by <delt>: REFUSED the support statement was signed for the log other.example+01234567+AQ, not for this log node.example+01234567+AQ
        13 support offer by delt for braintree/crm ^1 until 31/12/2027, signed by <delt>: REFUSED statement does not match: until "31/12/2027" is not a date of the form YYYY-MM-DD
        14 braintree/crm accepts the support of delt, signed by <delt>: REFUSED key <delt> of delt may not give this support statement for organisation braintree
        15 braintree/crm accepts the support of delt, signed by <bt-dev>: REFUSED delt has no current support offer for braintree/crm with that digest
        16 braintree/crm accepts the support of delt, signed by <bt-dev>: accepted support of delt for braintree/crm ^1 until 2027-12-31
        17 braintree/crm accepts the support of delt, signed by <bt-dev>: unchanged: delt's support of braintree/crm was accepted at log entry 16
        18 support offer by delt for braintree/crm ^1 until 2028-12-31, signed by <delt>: REFUSED the support offer of delt for braintree/crm follows log entry none, but the latest support statement is 16
        19 support offer by delt for braintree/crm ^1 until 2028-12-31, signed by <delt>: offered support of delt for braintree/crm ^1 until 2028-12-31
        20 braintree/crm accepts the support of delt, signed by <bt-dev>: REFUSED delt has no current support offer for braintree/crm with that digest
        21 braintree/crm accepts the support of delt, signed by <bt-dev>: accepted support of delt for braintree/crm ^1 until 2028-12-31
        22 support offer by delt for braintree/crm ^1 until 2027-01-31, signed by <delt>: offered support of delt for braintree/crm ^1 until 2027-01-31
        state braintree/crm@1.0.0: pending at 1, pending at 2
        supports: ["delt offers until 2027-01-31 (accepted at None), agreed until Some(\"2028-12-31\")"]"#]].assert_eq(&format!("{out}supports: {supports:?}"));
}
