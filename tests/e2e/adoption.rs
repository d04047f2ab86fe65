//! "Used by" through the real binaries (issue 14): councils declare with
//! `shire adopt` that they run a release, `shire info` lists them checked
//! against the log, withdrawals take them off, and `shire log verify`
//! replays every adoption.

use shire_e2e::club::{account, Club};
use shire_e2e::Project;

#[test]
fn two_councils_adopt_and_shire_info_lists_both() {
    let club = Club::new();
    club.admin.ok(&["admin", "org", "create", "kent"]);
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    club.approve("braintree/crm-lite@1.0.0");
    let colchester = account(&club.node, &club.admin, "col-it", "colchester", "publisher");
    let kent = account(&club.node, &club.admin, "kent-it", "kent", "publisher");

    // Without a version: the newest approved one (nothing installed here).
    let out = colchester.ok(&["adopt", "braintree/crm-lite"]);
    assert!(
        out.contains("colchester declared that it runs braintree/crm-lite@1.0.0"),
        "{out}"
    );
    kent.ok(&["adopt", "braintree/crm-lite@1.0.0"]);
    // Again: a replay, nothing logged.
    let before = club.installer.ok(&["log", "verify"]);
    assert!(kent
        .ok(&["adopt", "braintree/crm-lite@1.0.0"])
        .contains("already declared"));
    assert_eq!(club.installer.ok(&["log", "verify"]), before);

    let info = club.installer.ok(&["info", "braintree/crm-lite"]);
    assert!(info.contains("used by:"), "{info}");
    for org in ["colchester", "kent"] {
        let line = info
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{org} runs 1.0.0")))
            .unwrap_or_else(|| panic!("{org} missing from:\n{info}"));
        assert!(line.contains("verified in its log"), "{line}");
    }
    let json = club.installer.json(&["info", "braintree/crm-lite"]);
    assert_eq!(json["used_by"].as_array().unwrap().len(), 2);

    // A council cannot withdraw what it never declared; kent withdraws.
    let refused = club
        .verifier
        .fails(&["adopt", "braintree/crm-lite", "--withdraw"]);
    assert!(refused.contains("no adoption"), "{refused}");
    kent.ok(&["adopt", "braintree/crm-lite", "--withdraw"]);
    let info = club.installer.ok(&["info", "braintree/crm-lite"]);
    assert!(!info.contains("kent runs"), "{info}");
    assert!(info.contains("colchester runs 1.0.0"), "{info}");
    assert!(club.installer.ok(&["log", "verify"]).contains("verified"));
}

/// A verifier revokes with a critical advisory naming the fixed version;
/// every council running the release sees it in `shire audit` (which fails)
/// and in `shire info`.
#[test]
fn a_revocation_advisory_reaches_every_auditing_council() {
    let club = Club::new();
    for v in ["1.0.0", "1.0.1"] {
        club.publish(&Project::new("braintree/crm-lite", v));
        club.approve(&format!("braintree/crm-lite@{v}"));
    }
    let council = || {
        let u = club.node.user(None);
        u.ok(&["trust", "add", &club.verifier_key]);
        u.ok(&["install", "braintree/crm-lite@=1.0.0", "--dir", "apps"]);
        u
    };
    let councils = [council(), council()];
    // A fixed version that is not newer is refused before anything is signed.
    let refused = club.verifier.fails(&[
        "revoke",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "flaw",
        "--severity",
        "low",
        "--fixed-in",
        "0.9.0",
    ]);
    assert!(refused.contains("not newer"), "{refused}");
    club.verifier.ok(&[
        "revoke",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "SQL injection in the search form",
        "--severity",
        "critical",
        "--fixed-in",
        "1.0.1",
    ]);
    for u in &councils {
        let out = u.run(&["audit", "--dir", "apps"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("advisory [CRITICAL]: SQL injection in the search form"),
            "{text}"
        );
        assert!(text.contains("fixed in 1.0.1"), "{text}");
        let info = u.ok(&["info", "braintree/crm-lite"]);
        assert!(info.contains("1.0.0: advisory [CRITICAL]"), "{info}");
    }
    let version = club
        .node
        .get_json("/api/v1/packages/braintree/crm-lite/1.0.0");
    let revocation = version["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["advisory"].is_object())
        .unwrap_or_else(|| panic!("no advisory in {version}"));
    assert_eq!(revocation["advisory"]["severity"], "critical");
    assert_eq!(revocation["advisory"]["fixed_in"], "1.0.1");
}

/// `shire install --report` declares what it installed, and only when asked.
#[test]
fn install_reports_what_it_installed_only_when_asked() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    club.approve("braintree/crm-lite@1.0.0");
    let colchester = account(&club.node, &club.admin, "col-it", "colchester", "publisher");
    colchester.ok(&["trust", "add", &club.verifier_key]);
    let used_by = || {
        club.node.get_json("/api/v1/packages/braintree/crm-lite")["used_by"]
            .as_array()
            .unwrap()
            .len()
    };
    colchester.ok(&["install", "braintree/crm-lite", "--dir", "quiet"]);
    assert_eq!(used_by(), 0, "nothing is reported without --report");
    let out = colchester.ok(&["install", "braintree/crm-lite", "--dir", "apps", "--report"]);
    assert!(
        out.contains("colchester declared that it runs braintree/crm-lite@1.0.0"),
        "{out}"
    );
    assert_eq!(used_by(), 1);
}

/// A release whose maintenance contract has ended, or ends within 90 days,
/// is flagged by `shire audit` and `shire outdated` (warnings: the audit
/// still passes), and `shire info` shows the contractors.
#[test]
fn audit_and_outdated_warn_when_support_ends() {
    let club = Club::new();
    let today = time::OffsetDateTime::now_utc().date();
    let soon = (today + time::Duration::days(30)).to_string();
    let later = (today + time::Duration::days(400)).to_string();
    let past = (today - time::Duration::days(1)).to_string();
    for (name, until) in [
        ("braintree/ending", &soon),
        ("braintree/fine", &later),
        ("braintree/ended", &past),
    ] {
        club.publish(&Project::new(name, "1.0.0").contractor("Delt Shared Services", until));
        club.approve(&format!("{name}@1.0.0"));
        club.installer.ok(&["install", name, "--dir", "apps"]);
    }
    let out = club.installer.run(&["audit", "--dir", "apps"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("braintree/ending@1.0.0  support_ending: its support (Delt Shared Services) ends on {soon}, in 30 day(s)")),
        "{text}"
    );
    assert!(text.contains(&format!("braintree/ended@1.0.0  support_ended: its support (Delt Shared Services) ended on {past}")), "{text}");
    assert!(!text.contains("braintree/fine@1.0.0  support_"), "{text}");
    let out = club.installer.run(&["outdated", "--dir", "apps"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("braintree/ending@1.0.0: support_ending"),
        "{err}"
    );
    assert!(
        err.contains("braintree/ended@1.0.0: support_ended"),
        "{err}"
    );
    let info = club.installer.ok(&["info", "braintree/ended"]);
    assert!(
        info.contains(&format!(
            "contractor Delt Shared Services until {past} (ENDED)"
        )),
        "{info}"
    );
}

/// The club's promise, end to end: two councils adopt braintree/crm-lite
/// and register webhooks; a verifier revokes it with a critical advisory;
/// both councils' endpoints receive the revocation within seconds, signed
/// with their own secrets; `shire audit` at each prints the advisory and
/// the fixed version.
#[test]
fn a_revocation_reaches_every_council_that_runs_it() {
    use hmac::Mac as _;
    // The councils' endpoints are on loopback: the operator allows that.
    let settings = tempfile::tempdir().unwrap();
    let file = settings.path().join("node.toml");
    std::fs::write(&file, "webhook_allow_private = true\n").unwrap();
    let club = Club::with_node(shire_e2e::Node::start_with(&[
        "--config",
        file.to_str().unwrap(),
    ]));
    club.admin.ok(&["admin", "org", "create", "kent"]);
    for v in ["1.0.0", "1.0.1"] {
        club.publish(&Project::new("braintree/crm-lite", v));
        club.approve(&format!("braintree/crm-lite@{v}"));
    }
    let mut councils = Vec::new();
    for (user, org) in [("col-it", "colchester"), ("kent-it", "kent")] {
        let u = account(&club.node, &club.admin, user, org, "publisher");
        u.ok(&["trust", "add", &club.verifier_key]);
        u.ok(&[
            "install",
            "braintree/crm-lite@=1.0.0",
            "--dir",
            "apps",
            "--report",
        ]);
        let listener = shire_e2e::hooks::HookListener::start();
        let made = u.json(&["webhook", "add", &listener.url, "--event", "revoked"]);
        let secret = made["secret"].as_str().unwrap().to_string();
        let id = made["id"].as_str().unwrap().to_string();
        councils.push((u, listener, secret, id));
    }
    let info = club.installer.ok(&["info", "braintree/crm-lite"]);
    assert!(info.contains("colchester runs 1.0.0"), "{info}");
    assert!(info.contains("kent runs 1.0.0"), "{info}");

    club.verifier.ok(&[
        "revoke",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "SQL injection in the search form",
        "--severity",
        "critical",
        "--fixed-in",
        "1.0.1",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for (u, listener, secret, id) in &councils {
        while listener.got().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "no delivery to {}",
                listener.url
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let hook = &listener.got()[0];
        assert_eq!(hook.header("x-shire-event"), Some("revoked"));
        let sig = hook
            .header("x-shire-signature-256")
            .and_then(|s| s.strip_prefix("sha256="))
            .and_then(|h| hex::decode(h).ok())
            .expect("a signature");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&hook.body);
        assert!(
            mac.verify_slice(&sig).is_ok(),
            "signed with the council's secret"
        );
        let body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
        assert_eq!(body["package"], "braintree/crm-lite");
        assert_eq!(body["advisory"]["severity"], "critical");
        // The delivery log says so too.
        let log = u.json(&["webhook", "deliveries", id]);
        assert_eq!(log[0]["status"], "delivered", "{log}");

        let out = u.run(&["audit", "--dir", "apps"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("advisory [CRITICAL]"), "{text}");
        assert!(text.contains("fixed in 1.0.1"), "{text}");
    }
}

/// A supplier offers support with `shire support offer`; it counts once the
/// publisher accepts it with `shire support accept`: then `shire info`
/// lists it, checked in the log, and `shire audit` warns as its end nears.
#[test]
fn support_offered_and_accepted_is_shown_and_warned_about() {
    let club = Club::new();
    club.admin.ok(&["admin", "org", "create", "delt"]);
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    club.approve("braintree/crm-lite@1.0.0");
    club.installer
        .ok(&["install", "braintree/crm-lite", "--dir", "apps"]);
    let delt = account(&club.node, &club.admin, "delt-it", "delt", "publisher");
    let soon = (time::OffsetDateTime::now_utc().date() + time::Duration::days(20)).to_string();
    let out = delt.ok(&[
        "support",
        "offer",
        "braintree/crm-lite",
        "--versions",
        "^1",
        "--until",
        &soon,
    ]);
    assert!(
        out.contains("delt offered to support braintree/crm-lite ^1"),
        "{out}"
    );
    // Not accepted yet: not shown, no warning.
    let info = club.installer.ok(&["info", "braintree/crm-lite"]);
    assert!(!info.contains("supported by"), "{info}");
    let audit = club.installer.ok(&["audit", "--dir", "apps"]);
    assert!(!audit.contains("support_ending"), "{audit}");
    // Only braintree may accept.
    let accept = |user: &shire_e2e::User, until: &str| {
        user.run(&[
            "support",
            "accept",
            "braintree/crm-lite",
            "--supporter",
            "delt",
            "--versions",
            "^1",
            "--until",
            until,
        ])
    };
    let refused = accept(&delt, &soon);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only braintree accepts"),
        "{refused:?}"
    );
    // braintree accepts only the terms it names.
    let other = accept(&club.publisher, "2099-01-01");
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("nothing accepted"),
        "{other:?}"
    );
    assert!(accept(&club.publisher, &soon).status.success());
    let info = club.installer.ok(&["info", "braintree/crm-lite"]);
    assert!(
        info.contains(&format!("delt supports ^1 until {soon}"))
            && info.contains("verified in its log"),
        "{info}"
    );
    let audit = club.installer.ok(&["audit", "--dir", "apps"]);
    assert!(
        audit.contains(&format!(
            "support_ending: its support (delt) ends on {soon}, in 20 day(s)"
        )),
        "{audit}"
    );
    // A new offer alone changes nothing agreed: the warning stays, and
    // info says a new offer awaits acceptance.
    delt.ok(&[
        "support",
        "offer",
        "braintree/crm-lite",
        "--versions",
        "^1",
        "--until",
        "2099-12-31",
    ]);
    let audit = club.installer.ok(&["audit", "--dir", "apps"]);
    assert!(audit.contains("support_ending"), "{audit}");
    let info = club.installer.ok(&["info", "braintree/crm-lite"]);
    assert!(info.contains("awaits acceptance"), "{info}");
}
