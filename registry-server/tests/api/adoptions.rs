//! `POST /api/v1/adoptions` (issue 14): an organisation declares it runs a
//! release, the package's document says "used by", replays change nothing,
//! and each refusal leaves the stored state as it was.

use super::club;
use crate::helpers::{Actor, Release, TestApp};
use serde_json::json;
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

/// Support counts only once the package's organisation accepts the
/// supporter's offer; nobody can offer or accept for another organisation,
/// replay an old offer, or accept an offer that is not the current one.
#[tokio::test]
async fn support_is_offered_then_accepted_by_the_publisher() {
    use shire_core::statement::{SupportAcceptance, SupportOffer};
    let c = club().await;
    let app = &c.app;
    app.publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let crm = shire_core::PackageName::parse("braintree/crm").unwrap();
    let kent = OrgName::parse("kent").unwrap();
    let offer = |who: &str, replaces: Option<u64>, until: &str| {
        SupportOffer::new(
            OrgName::parse(who).unwrap(),
            crm.clone(),
            semver::VersionReq::parse("^1").unwrap(),
            until,
            &app.log_name,
            replaces,
            1,
        )
    };
    let send = |env: shire_core::dsse::Envelope, token: String| async move {
        app.post("/api/v1/support", &token, json!({ "envelope": env }))
            .await
    };
    let first = offer("kent", None, "2027-12-31");
    let digest = shire_core::Digest::of(&serde_json::to_vec(&first).unwrap());
    let a = send(first.sign(&c.kent.key), c.kent.token.clone()).await;
    let offered = a.ok(200)["offer_index"].as_u64().unwrap();
    // Offered, not accepted: the package's document does not list it.
    let pkg = app.get("/api/v1/packages/braintree/crm").await;
    assert_eq!(pkg.ok(200)["supported_by"], json!([]));

    let before = app.snapshot();
    // braintree's member offering as kent.
    send(
        offer("kent", Some(offered), "2030-01-01").sign(&c.bt.key),
        c.bt.token.clone(),
    )
    .await
    .refused(403, "wrong_org");
    // kent accepting its own offer for braintree's package.
    let own = SupportAcceptance::new(crm.clone(), kent.clone(), digest, &app.log_name, 1);
    send(own.sign(&c.kent.key), c.kent.token.clone())
        .await
        .refused(403, "wrong_org");
    // An acceptance of an offer that is not the current one.
    let wrong = SupportAcceptance::new(
        crm.clone(),
        kent.clone(),
        shire_core::Digest::of(b"another offer"),
        &app.log_name,
        1,
    );
    send(wrong.sign(&c.bt.key), c.bt.token.clone())
        .await
        .refused(404, "support_not_found");
    // An offer that does not follow the latest statement.
    send(
        offer("kent", None, "2031-01-01").sign(&c.kent.key),
        c.kent.token.clone(),
    )
    .await
    .refused(409, "invalid_transition");
    assert_eq!(app.snapshot(), before);

    // braintree accepts: now the document lists kent, with its origin.
    let accept = SupportAcceptance::new(crm.clone(), kent.clone(), digest, &app.log_name, 1);
    let a = send(accept.sign(&c.bt.key), c.bt.token.clone()).await;
    let accepted = a.ok(200)["accepted_index"].as_u64().unwrap();
    let pkg = app.get("/api/v1/packages/braintree/crm").await;
    let s = pkg.ok(200)["supported_by"][0].clone();
    assert_eq!(s["supporter"], "kent");
    assert_eq!(s["versions"], "^1");
    assert_eq!(s["until"], "2027-12-31");
    assert_eq!(s["accepted_index"], accepted);
    assert_eq!(s["origin"], app.origin.as_str());
    // A renewal alone changes nothing agreed: the accepted terms stand,
    // with the new offer pending, until braintree accepts it.
    let renewal = send(
        offer("kent", Some(accepted), "2028-12-31").sign(&c.kent.key),
        c.kent.token.clone(),
    )
    .await;
    let pending = renewal.ok(200)["offer_index"].as_u64().unwrap();
    let pkg = app.get("/api/v1/packages/braintree/crm").await;
    let s = pkg.ok(200)["supported_by"][0].clone();
    assert_eq!(s["until"], "2027-12-31");
    assert_eq!(s["pending_offer"], pending);
}

/// Search ranks by adoption when asked: the package more organisations run
/// comes first, and every hit says how many run it.
#[tokio::test]
async fn search_ranks_by_adoption_when_asked() {
    let c = club().await;
    let app = &c.app;
    for name in ["braintree/crm-alpha", "braintree/crm-beta"] {
        app.publish(&c.bt, &Release::new(name, "1.0.0"))
            .await
            .ok(201);
    }
    let s = app.subject("braintree/crm-beta", "1.0.0").await;
    declare(app, &c.kent, "kent", AdoptionAction::Adopt, &s)
        .await
        .ok(200);
    let names = |body: &serde_json::Value| -> Vec<(String, u64)> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["name"].as_str().unwrap().to_string(),
                    h["adopters"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let by_adoption = app.get("/api/v1/search?q=crm&sort=adoption").await;
    assert_eq!(
        names(by_adoption.ok(200)),
        vec![
            ("braintree/crm-beta".to_string(), 1),
            ("braintree/crm-alpha".to_string(), 0)
        ]
    );
    let by_relevance = app.get("/api/v1/search?q=crm").await;
    let ranked = names(by_relevance.ok(200));
    assert_eq!(ranked.len(), 2);
    assert!(ranked.contains(&("braintree/crm-beta".to_string(), 1)));
    app.get("/api/v1/search?q=crm&sort=popularity")
        .await
        .refused(400, "bad_query");
}
