//! The security review's attacks that a client must catch by itself (issue
//! 11), through the real binaries: each performs the attack, sees it refused
//! and checks that nothing the client keeps changed.

use serde_json::Value;
use shire_e2e::club::account;
use shire_e2e::{Club, Project, Proxy, User};
use std::path::Path;

/// Every file under `dir` with its bytes (what a client keeps).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Removes every revocation from the verdicts of package documents.
fn strip_revocations(path: &str, body: Vec<u8>) -> Vec<u8> {
    if !path.starts_with("/api/v1/packages/") {
        return body;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let strip = |x: &mut Value| {
        if let Some(vs) = x.get_mut("verdicts").and_then(Value::as_array_mut) {
            vs.retain(|item| {
                let payload = item["envelope"]["payload"].as_str().unwrap_or("");
                let decoded =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, payload)
                        .unwrap_or_default();
                !String::from_utf8_lossy(&decoded).contains("\"revoke\"")
            });
        }
        if x.get("state").is_some() {
            x["state"] = "approved".into();
        }
    };
    match v.get_mut("versions").and_then(Value::as_array_mut) {
        Some(vs) => vs.iter_mut().for_each(strip),
        None => strip(&mut v),
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn a_revocation_hidden_by_the_registry() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    // A council installs through a proxy while all is well.
    let proxy = Proxy::start(&club.node.url);
    let user = User::new(&proxy.url, None);
    user.ok(&["trust", "add", &club.verifier_key, "--label", "socitm"]);
    let dir = user.path("apps");
    let d = dir.to_str().unwrap();
    user.ok(&["install", "braintree/crm", "--dir", d]);
    user.ok(&["audit", "--dir", d]);
    // Socitm revokes it; the proxy hides the revocation from every document.
    club.verifier
        .ok(&["revoke", "braintree/crm@1.0.0", "--reason", "CVE-2026-0042"]);
    proxy.rewrite(strip_revocations);
    let doc: Value = serde_json::from_slice(
        &reqwest::blocking::get(format!("{}/api/v1/packages/braintree/crm", proxy.url))
            .unwrap()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["versions"][0]["state"], "approved", "the proxy lies");
    // Audit takes the revocation from the log it verifies, and fails.
    let out = user.run(&["audit", "--dir", d]);
    assert_eq!(out.status.code(), Some(1), "audit must fail");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("revoked") && text.contains("CVE-2026-0042"),
        "{text}"
    );
    // A new install of it is refused, and nothing is written.
    let other = user.path("other");
    let before = files(&user.home.path().join("replicas"));
    let err = user.fails(&["install", "braintree/crm", "--dir", other.to_str().unwrap()]);
    assert!(err.contains("revoked"), "{err}");
    assert!(!other.exists());
    // What the client keeps of the log only grew along the verified log.
    let after = files(&user.home.path().join("replicas"));
    assert_eq!(before.len(), after.len());
}

#[test]
fn the_client_threshold_counts_verifiers_not_keys() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    club.approve("braintree/crm@1.0.0");
    // socitm's verifier registers a second key and approves with it too.
    let second = club.node.user(club.verifier.token.as_deref());
    second.ok(&["key", "generate"]);
    second.ok(&["key", "register"]);
    let second_key = shire_e2e::club::public_key(&second);
    // The node logs it (a council trusting only the second key must see
    // it), but its state counts one verifier.
    second.ok(&["approve", "braintree/crm@1.0.0"]);
    let v = club.node.get_json("/api/v1/packages/braintree/crm/1.0.0");
    assert_eq!(v["verdicts"].as_array().unwrap().len(), 2);
    // A council trusting both keys, needing two verifiers, refuses it.
    let user = club.node.user(None);
    user.ok(&["trust", "add", &club.verifier_key]);
    user.ok(&["trust", "add", &second_key]);
    user.ok(&["trust", "threshold", "2"]);
    let dir = user.path("apps");
    let err = user.fails(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
    assert!(err.contains("1 of 2"), "{err}");
    assert!(!dir.exists());
    // A second verifier account makes two.
    let delt = account(
        &club.node,
        &club.admin,
        "delt-rev",
        "colchester",
        "verifier",
    );
    user.ok(&["trust", "add", &shire_e2e::club::public_key(&delt)]);
    delt.ok(&["approve", "braintree/crm@1.0.0"]);
    user.ok(&["install", "braintree/crm", "--dir", dir.to_str().unwrap()]);
}

#[test]
fn build_metadata_makes_two_releases_of_one_version() {
    let club = Club::new();
    club.publish(&Project::new("braintree/x", "2.0.0+good"));
    club.approve("braintree/x@2.0.0+good");
    let other = Project::new("braintree/x", "2.0.0+other").file("other.txt", "other");
    let dir = other.write(club.publisher.cwd.path());
    let err = club.publisher.fails(&["publish", dir.to_str().unwrap()]);
    assert!(err.contains("already published"), "{err}");
    // Asking for either build installs the one release there is.
    for asked in ["braintree/x@=2.0.0+good", "braintree/x@=2.0.0"] {
        let apps = club.installer.path(&format!("apps-{}", asked.len()));
        let out = club
            .installer
            .json(&["install", asked, "--dir", apps.to_str().unwrap()]);
        assert_eq!(out["packages"][0]["version"], "2.0.0+good", "{asked}");
    }
}

#[test]
fn a_verifier_signs_only_what_the_log_released() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm", "1.0.0"));
    // Socitm's verifier reviews through a compromised proxy, which serves a
    // release of other bytes, signed by a key it names as braintree's
    // publisher.
    let proxy = Proxy::start(&club.node.url);
    let verifier = User::new(&proxy.url, club.verifier.token.as_deref());
    verifier.ok(&["key", "generate"]);
    verifier.ok(&["key", "register"]);
    let path = "/api/v1/packages/braintree/crm/1.0.0";
    let mut info: shire_core::wire::VersionInfo =
        serde_json::from_value(club.node.get_json(path)).unwrap();
    let forger = shire_core::KeyPair::generate();
    let evil = shire_core::Digest::of(b"other bytes");
    info.release =
        shire_core::statement::ReleaseStatement::new(info.manifest.clone(), evil).sign(&forger);
    info.digest = evil;
    info.publisher_key.key_id = forger.key_id();
    info.publisher_key.public_key = forger.public();
    proxy.replace(path, serde_json::to_vec(&info).unwrap());
    let before = club.node.checkpoint();
    let err = verifier.fails(&["approve", "braintree/crm@1.0.0"]);
    assert!(
        err.contains("not signing a verdict on braintree/crm@1.0.0"),
        "{err}"
    );
    assert_eq!(club.node.checkpoint(), before, "nothing was submitted");
    let logged = club.node.get_json(path);
    assert_eq!(logged["verdicts"].as_array().map(Vec::len), Some(0));
    assert_eq!(logged["state"], "pending");
}
