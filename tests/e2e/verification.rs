//! Issue 3: the verifier workflow and the client's trust policy, through the
//! real binaries: only releases approved by trusted verifiers install.

use shire_core::statement::{Subject, Verdict, VerdictStatement};
use shire_e2e::club::account;
use shire_e2e::{Club, Project, Proxy, User};

fn state(club: &Club, name: &str, version: &str) -> String {
    club.node
        .get_json(&format!("/api/v1/packages/{name}/{version}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn subject(club: &Club, name: &str, version: &str) -> Subject {
    let v = club
        .node
        .get_json(&format!("/api/v1/packages/{name}/{version}"));
    Subject {
        name: shire_core::PackageName::parse(name).unwrap(),
        version: shire_core::Version::parse(version).unwrap(),
        digest: shire_core::Digest::parse(v["digest"].as_str().unwrap()).unwrap(),
    }
}

fn verdicts_path(name: &str, version: &str) -> String {
    format!("/api/v1/packages/{name}/{version}/verdicts")
}

#[test]
fn pending_is_refused_then_approved_installs() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    assert_eq!(state(&club, "braintree/crm", "1.0.0"), "pending");
    let dir = club.installer.path("pk");
    let d = dir.to_str().unwrap();
    let err = club
        .installer
        .fails(&["install", "braintree/crm", "--dir", d]);
    assert!(err.contains("braintree/crm"), "{err}");
    assert!(!dir.join("braintree/crm").exists());

    // The verifier's queue shows it, with what changed.
    let queue = club.verifier.json(&["review"]);
    assert_eq!(queue[0]["name"], "braintree/crm");
    assert_eq!(queue[0]["files"]["added"][0], "Shire.toml");

    club.approve("braintree/crm@1.0.0");
    assert_eq!(state(&club, "braintree/crm", "1.0.0"), "approved");
    club.installer.ok(&["install", "braintree/crm", "--dir", d]);
    assert!(dir.join("braintree/crm/src/main.py").exists());

    // Search and info show the approver.
    let info = club.installer.json(&["info", "braintree/crm"]).to_string();
    let vid = shire_core::PublicKey::parse(&club.verifier_key)
        .unwrap()
        .key_id();
    assert!(info.contains(vid.as_str()), "{info}");
}

#[test]
fn the_second_version_review_shows_file_and_dependency_changes() {
    let club = Club::new();
    club.publish(&Project::new("braintree/common", "1.0.0"));
    club.publish(&Project::new("braintree/crm", "1.0.0").file("old.txt", "old"));
    club.approve("braintree/crm@1.0.0");
    club.approve("braintree/common@1.0.0");
    club.publish(
        &Project::new("braintree/crm", "1.1.0")
            .file("new.txt", "new")
            .dep("braintree/common", "^1"),
    );
    let queue = club.verifier.json(&["review"]);
    let item = &queue[0];
    assert_eq!(item["version"], "1.1.0");
    assert_eq!(item["previous"], "1.0.0");
    let files = item["files"].to_string();
    assert!(
        files.contains("new.txt") && files.contains("old.txt"),
        "{files}"
    );
    assert!(
        item["dependencies"]["added"]["braintree/common"].is_string(),
        "{item}"
    );
}

#[test]
fn a_client_threshold_of_two_needs_two_trusted_approvals() {
    let club = Club::new();
    let second = account(&club.node, &club.admin, "socitm-two", "socitm", "verifier");
    let second_key = shire_e2e::club::public_key(&second);
    club.installer.ok(&["trust", "add", &second_key]);
    club.installer.ok(&["trust", "threshold", "2"]);
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    // Signing twice with one key still counts once.
    let _ = club.verifier.run(&["approve", "braintree/crm@1.0.0"]);
    let dir = club.installer.path("pk");
    let d = dir.to_str().unwrap();
    let err = club
        .installer
        .fails(&["install", "braintree/crm", "--dir", d]);
    assert!(err.contains('1') && err.contains('2'), "{err}");
    second.ok(&["approve", "braintree/crm@1.0.0"]);
    club.installer.ok(&["install", "braintree/crm", "--dir", d]);
}

#[test]
fn node_threshold_two_counts_each_key_once() {
    let club = Club::with_node(shire_e2e::Node::start_with(&["--threshold", "2"]));
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    let subject = subject(&club, "braintree/crm", "1.0.0");
    let key = club.verifier.key_pair();
    for _ in 0..2 {
        let env = VerdictStatement::new(
            Verdict::Approve,
            subject.clone(),
            &club.node.log_name(),
            None,
            1,
        )
        .sign(&key);
        let (status, _) = club.verifier.post_json(
            &verdicts_path("braintree/crm", "1.0.0"),
            &serde_json::json!({ "envelope": env }),
        );
        assert!(status < 500);
    }
    assert_eq!(state(&club, "braintree/crm", "1.0.0"), "pending");
}

#[test]
fn verdict_attacks_are_refused_and_change_nothing() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.publish(&Project::new("braintree/crm", "1.0.1"));
    let path = verdicts_path("braintree/crm", "1.0.1");
    let subject = subject(&club, "braintree/crm", "1.0.1");

    // Signed by a key nobody registered.
    let stranger = shire_core::KeyPair::generate();
    let env = VerdictStatement::new(
        Verdict::Approve,
        subject.clone(),
        &club.node.log_name(),
        None,
        1,
    )
    .sign(&stranger);
    let (status, body) = club
        .verifier
        .post_json(&path, &serde_json::json!({ "envelope": env }));
    assert!(status == 403 || status == 404, "{status} {body}");

    // A verifier's envelope whose signature was forged under its key id.
    let mut env = VerdictStatement::new(
        Verdict::Approve,
        subject.clone(),
        &club.node.log_name(),
        None,
        1,
    )
    .sign(&stranger);
    env.signatures[0].keyid = club.verifier.key_pair().key_id().to_string();
    let (status, body) = club
        .verifier
        .post_json(&path, &serde_json::json!({ "envelope": env }));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_signature");

    // The publisher approving its own release.
    let err = club.publisher.fails(&["approve", "braintree/crm@1.0.1"]);
    assert!(err.contains("not_verifier"), "{err}");

    // A verifier approving its own organisation's release.
    let insider = account(&club.node, &club.admin, "bt-rev", "braintree", "verifier");
    let err = insider.fails(&["approve", "braintree/crm@1.0.1"]);
    assert!(err.contains("own_org"), "{err}");

    // A subject whose digest differs from the release's.
    let mut other = subject.clone();
    other.digest = shire_core::Digest::of(b"other bytes");
    let env = VerdictStatement::new(Verdict::Approve, other, &club.node.log_name(), None, 1)
        .sign(&club.verifier.key_pair());
    let (status, body) = club
        .verifier
        .post_json(&path, &serde_json::json!({ "envelope": env }));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "subject_mismatch");

    // 1.0.0's genuine approval replayed for 1.0.1.
    club.approve("braintree/crm@1.0.0");
    let v100 = club.node.get_json("/api/v1/packages/braintree/crm/1.0.0");
    let genuine = v100["verdicts"][0]["envelope"].clone();
    let (status, body) = club
        .verifier
        .post_json(&path, &serde_json::json!({ "envelope": genuine }));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "subject_mismatch");

    let v101 = club.node.get_json("/api/v1/packages/braintree/crm/1.0.1");
    assert_eq!(v101["state"], "pending");
    assert_eq!(v101["verdicts"].as_array().map(Vec::len).unwrap_or(0), 0);
}

#[test]
fn approvals_by_keys_the_client_does_not_trust_do_not_count() {
    let club = Club::new();
    let outsider = account(
        &club.node,
        &club.admin,
        "other-rev",
        "colchester",
        "verifier",
    );
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    outsider.ok(&["approve", "braintree/crm@1.0.0"]);
    assert_eq!(
        state(&club, "braintree/crm", "1.0.0"),
        "approved",
        "the node counts it"
    );
    let dir = club.installer.path("pk");
    let err = club
        .installer
        .fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
    assert!(err.contains("braintree/crm"), "{err}");
}

#[test]
fn a_forged_approval_served_by_the_registry_is_refused() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    let subject = subject(&club, "braintree/crm", "1.0.0");
    let rogue = shire_core::KeyPair::generate();
    let mut env = VerdictStatement::new(Verdict::Approve, subject, &club.node.log_name(), None, 1)
        .sign(&rogue);
    let verifier_id = club.verifier.key_pair().key_id();
    env.signatures[0].keyid = verifier_id.to_string();
    let forged = serde_json::json!({
        "envelope": env,
        "key_id": verifier_id.to_string(),
        "org": "socitm",
        "at": "2026-01-01T00:00:00Z",
    });
    let proxy = Proxy::start(&club.node.url);
    proxy.rewrite(move |_, body| {
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return body;
        };
        let mut patch = |ver: &mut serde_json::Value| {
            ver["state"] = "approved".into();
            ver["verdicts"] = serde_json::json!([forged.clone()]);
        };
        if let Some(vs) = v.get_mut("versions").and_then(|x| x.as_array_mut()) {
            vs.iter_mut().for_each(&mut patch);
        } else if v.get("release").is_some() {
            patch(&mut v);
        }
        serde_json::to_vec(&v).unwrap()
    });
    let user = User::new(&proxy.url, None);
    user.ok(&["trust", "add", &club.verifier_key]);
    let dir = user.path("pk");
    let err = user.fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
    assert!(err.contains("braintree/crm"), "{err}");
    assert!(!dir.join("braintree/crm").exists());
}

#[test]
fn revoked_never_installs_and_audit_reports_it() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.publish(&Project::new("braintree/other", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    club.approve("braintree/other@1.0.0");
    let dir = club.installer.path("pk");
    let d = dir.to_str().unwrap();
    club.installer.ok(&["install", "braintree/crm", "--dir", d]);
    club.installer.ok(&["audit", "--dir", d]);

    // Revocation needs a reason and a verifier.
    let err = club.publisher.fails(&[
        "revoke",
        "braintree/crm@1.0.0",
        "--reason",
        "not mine to revoke",
    ]);
    assert!(err.contains("not_verifier"), "{err}");
    club.verifier.ok(&[
        "revoke",
        "braintree/crm@1.0.0",
        "--reason",
        "CVE-2026-0001: SQL injection",
    ]);
    assert_eq!(state(&club, "braintree/crm", "1.0.0"), "revoked");

    let out = club.installer.run(&["audit", "--dir", d]);
    assert!(!out.status.success(), "audit must fail on a revocation");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("revoked") && text.contains("CVE-2026-0001"),
        "{text}"
    );

    // Never installed, not even with --allow-unverified or from the lock.
    let fresh = club.installer.path("fresh");
    let f = fresh.to_str().unwrap();
    club.installer
        .fails(&["install", "braintree/crm", "--dir", f]);
    club.installer
        .fails(&["install", "braintree/crm", "--dir", f, "--allow-unverified"]);
    std::fs::remove_dir_all(dir.join("braintree")).unwrap();
    club.installer.fails(&["install", "--dir", d]);
}

#[test]
fn allow_unverified_is_the_loud_exception() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    let dir = club.installer.path("pk");
    let out = club.installer.run(&[
        "install",
        "braintree/crm",
        "--dir",
        dir.to_str().unwrap(),
        "--allow-unverified",
    ]);
    assert!(out.status.success());
    let warn = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        warn.contains("warning") && warn.contains("braintree/crm"),
        "{warn}"
    );
    assert!(dir.join("braintree/crm/src/main.py").exists());
}

#[test]
fn a_rejection_blocks_install() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.verifier.ok(&[
        "reject",
        "braintree/crm@1.0.0",
        "--reason",
        "no licence file",
    ]);
    assert_eq!(state(&club, "braintree/crm", "1.0.0"), "rejected");
    let dir = club.installer.path("pk");
    club.installer
        .fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
}
