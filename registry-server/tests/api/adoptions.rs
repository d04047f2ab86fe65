//! `POST /api/v1/adoptions` (issue 14): an organisation declares it runs a
//! release, the package's document says "used by", replays change nothing,
//! and each refusal leaves the stored state as it was.

use super::club;
use crate::helpers::{Actor, Release, TestApp};
use shire_core::statement::{AdoptionAction, AdoptionStatement, Subject};
use shire_core::OrgName;

async fn declare(
    app: &TestApp,
    who: &Actor,
    org: &str,
    action: AdoptionAction,
    s: &Subject,
) -> crate::helpers::Answer {
    declare_for(app, who, org, action, s, &app.log_name.clone(), None).await
}

async fn declare_for(
    app: &TestApp,
    who: &Actor,
    org: &str,
    action: AdoptionAction,
    s: &Subject,
    log: &str,
    replaces: Option<u64>,
) -> crate::helpers::Answer {
    let st = AdoptionStatement::new(
        action,
        OrgName::parse(org).unwrap(),
        s.clone(),
        log,
        replaces,
        1,
    );
    app.post(
        "/api/v1/adoptions",
        &who.token,
        serde_json::json!({ "envelope": st.sign(&who.key) }),
    )
    .await
}

#[tokio::test]
async fn an_organisation_declares_and_withdraws_what_it_runs() {
    let c = club().await;
    let app = &c.app;
    app.publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let s = app.subject("braintree/crm", "1.0.0").await;

    let a = declare(app, &c.kent, "kent", AdoptionAction::Adopt, &s).await;
    let body = a.ok(200).clone();
    assert_eq!(body["replayed"], false);
    assert_eq!(body["adoption"]["org"], "kent");
    let pkg = app.get("/api/v1/packages/braintree/crm").await;
    let used_by = pkg.ok(200)["used_by"].as_array().unwrap().clone();
    assert_eq!(used_by.len(), 1);
    assert_eq!(used_by[0]["org"], "kent");
    assert_eq!(used_by[0]["version"], "1.0.0");
    assert_eq!(used_by[0]["origin"], app.origin.as_str());
    let logged = used_by[0]["log_index"].as_u64().unwrap();
    let size = app.checkpoint().await.size();
    assert_eq!(logged + 1, size);

    // A replay: answered, nothing logged or changed.
    let before = app.snapshot();
    let again = declare(app, &c.kent, "kent", AdoptionAction::Adopt, &s).await;
    assert_eq!(again.ok(200)["replayed"], true);
    assert_eq!(app.checkpoint().await.size(), size);
    assert_eq!(app.snapshot(), before);

    // Attacks, each refused with the state unchanged.
    let before = app.snapshot();
    // kent's member speaking for braintree.
    declare(app, &c.kent, "braintree", AdoptionAction::Adopt, &s)
        .await
        .refused(403, "wrong_org");
    // Signed for another node's log.
    declare_for(
        app,
        &c.kent,
        "kent",
        AdoptionAction::Adopt,
        &s,
        "elsewhere.example+01234567+AQ",
        None,
    )
    .await
    .refused(400, "wrong_log");
    // Bytes the log does not hold for that version.
    let mut forged = s.clone();
    forged.digest = shire_core::Digest::of(b"other bytes");
    declare_for(
        app,
        &c.kent,
        "kent",
        AdoptionAction::Adopt,
        &forged,
        &app.log_name,
        Some(logged),
    )
    .await
    .refused(409, "subject_mismatch");
    // An old statement (following nothing) after the adoption: refused.
    let other = AdoptionStatement::new(
        AdoptionAction::Withdraw,
        OrgName::parse("kent").unwrap(),
        s.clone(),
        &app.log_name,
        None,
        2,
    );
    app.post(
        "/api/v1/adoptions",
        &c.kent.token,
        serde_json::json!({ "envelope": other.sign(&c.kent.key) }),
    )
    .await
    .refused(409, "invalid_transition");
    // A package the node does not hold.
    let mut unknown = s.clone();
    unknown.name = shire_core::PackageName::parse("braintree/nothing").unwrap();
    declare(app, &c.kent, "kent", AdoptionAction::Adopt, &unknown)
        .await
        .refused(404, "package_not_found");
    // Signed with someone else's key.
    let stolen = AdoptionStatement::new(
        AdoptionAction::Adopt,
        OrgName::parse("braintree").unwrap(),
        s.clone(),
        &app.log_name,
        None,
        1,
    )
    .sign(&c.bt.key);
    app.post(
        "/api/v1/adoptions",
        &c.kent.token,
        serde_json::json!({ "envelope": stolen }),
    )
    .await
    .refused(403, "key_not_yours");
    // A withdrawal of what socitm never adopted.
    declare(app, &c.rev, "socitm", AdoptionAction::Withdraw, &s)
        .await
        .refused(404, "adoption_not_found");
    assert_eq!(app.snapshot(), before);
    assert_eq!(app.checkpoint().await.size(), size);

    // Withdrawn: gone from "used by". The same withdrawal again is a
    // replay; a new one, or the old adoption replayed, is refused.
    let withdrawn = declare_for(
        app,
        &c.kent,
        "kent",
        AdoptionAction::Withdraw,
        &s,
        &app.log_name,
        Some(logged),
    )
    .await;
    let withdrawal = withdrawn.ok(200)["adoption"]["log_index"].as_u64().unwrap();
    assert_eq!(withdrawal, size);
    let pkg = app.get("/api/v1/packages/braintree/crm").await;
    assert_eq!(pkg.ok(200)["used_by"], serde_json::json!([]));
    let again = declare_for(
        app,
        &c.kent,
        "kent",
        AdoptionAction::Withdraw,
        &s,
        &app.log_name,
        Some(logged),
    )
    .await;
    assert_eq!(again.ok(200)["replayed"], true);
    let before = app.snapshot();
    declare_for(
        app,
        &c.kent,
        "kent",
        AdoptionAction::Withdraw,
        &s,
        &app.log_name,
        Some(withdrawal),
    )
    .await
    .refused(404, "adoption_not_found");
    // The first adoption, replayed after the withdrawal: it would bring the
    // adoption back, and is refused.
    declare(app, &c.kent, "kent", AdoptionAction::Adopt, &s)
        .await
        .refused(409, "invalid_transition");
    assert_eq!(app.snapshot(), before);
}

/// An advisory rides on a revocation only: an approval carrying one is
/// refused and nothing is stored; a revocation's advisory is served.
#[tokio::test]
async fn an_advisory_rides_on_a_revocation_only() {
    use shire_core::statement::{Advisory, Severity, Verdict, VerdictStatement};
    let c = club().await;
    let app = &c.app;
    app.publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let s = app.subject("braintree/crm", "1.0.0").await;
    let advisory = Advisory {
        severity: Severity::High,
        description: "stored XSS in the contact form".into(),
        fixed_in: Some(semver::Version::new(1, 0, 1)),
    };
    let sign = |v: Verdict| {
        let reason = (v != Verdict::Approve).then(|| "a flaw".to_string());
        VerdictStatement::new(v, s.clone(), &app.log_name, reason, 1)
            .with_advisory(advisory.clone())
            .sign(&c.rev.key)
    };
    let before = app.snapshot();
    app.verdict(&c.rev, "braintree/crm", "1.0.0", &sign(Verdict::Approve))
        .await
        .refused(400, "bad_statement");
    assert_eq!(app.snapshot(), before);
    app.approve(&c.rev, "braintree/crm", "1.0.0").await.ok(200);
    let v = app
        .verdict(&c.rev, "braintree/crm", "1.0.0", &sign(Verdict::Revoke))
        .await;
    let body = v.ok(200);
    assert_eq!(body["state"], "revoked");
    let served = body["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["advisory"].is_object())
        .unwrap();
    assert_eq!(served["advisory"]["severity"], "high");
    assert_eq!(served["advisory"]["fixed_in"], "1.0.1");
}
