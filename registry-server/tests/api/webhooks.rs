//! Webhooks (issue 14): a local listener receives each event, signed with
//! the webhook's secret (HMAC-SHA-256, checked here with the `hmac` crate);
//! a delivery that fails three times and then succeeds arrives exactly once
//! per event id; a delivery pending when the node stops is sent after it
//! starts again; registrations the rules refuse leave nothing stored.

use super::club_with;
use crate::helpers::{Release, TestApp};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the listener got, and whether it answered 200.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    event: String,
    signature: String,
    body: Vec<u8>,
    accepted: bool,
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    /// Requests still to answer with 500.
    fail: AtomicUsize,
}

/// An HTTP endpoint on loopback that records what it is sent.
struct Listener {
    url: String,
    shared: Arc<Shared>,
}

impl Listener {
    async fn start(fail_first: usize) -> Listener {
        let shared = Arc::new(Shared::default());
        shared.fail.store(fail_first, Ordering::SeqCst);
        let data = web::Data::from(shared.clone());
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", tcp.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/hook", web::post().to(receive))
        })
        .workers(1)
        .listen(tcp)
        .unwrap()
        .run();
        tokio::spawn(server);
        Listener { url, shared }
    }

    fn got(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }

    /// The accepted deliveries of `event`.
    fn accepted(&self, event: &str) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.accepted && r.event == event)
            .collect()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let fail = shared
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    shared.got.lock().unwrap().push(Received {
        event_id: header("X-Shire-Event-Id"),
        event: header("X-Shire-Event"),
        signature: header("X-Shire-Signature-256"),
        body: body.to_vec(),
        accepted: !fail,
    });
    if fail {
        HttpResponse::InternalServerError().finish()
    } else {
        HttpResponse::Ok().finish()
    }
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signed_with(secret: &str, r: &Received) -> bool {
    let Some(hex_sig) = r.signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    mac.verify_slice(&sig).is_ok()
}

async fn register(app: &TestApp, token: &str, url: &str, events: &[&str]) -> (String, String) {
    let a = app
        .post(
            "/api/v1/webhooks",
            token,
            json!({ "url": url, "events": events }),
        )
        .await;
    let body = a.ok(201);
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn webhooks_deliver_signed_events_once_through_failures_and_restarts() {
    let mut c = club_with(|c| {
        c.webhook_retry = Duration::from_millis(100);
        c.node_figures_every = Duration::ZERO;
        // The listeners are on loopback.
        c.webhook_allow_private = true;
    })
    .await;
    let verifiers = Listener::start(3).await;
    let publisher = Listener::start(0).await;
    let adopter = Listener::start(0).await;
    let (v_id, v_secret) = register(&c.app, &c.rev.token, &verifiers.url, &["pending"]).await;
    let (_, p_secret) = register(&c.app, &c.bt.token, &publisher.url, &[]).await;
    let (_, a_secret) = register(&c.app, &c.kent.token, &adopter.url, &["revoked"]).await;

    // A release awaiting review reaches the verifiers' organisation, through
    // three failed attempts, exactly once per event id, signed.
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    wait_until("the verifiers get the pending release", || {
        !verifiers.accepted("pending").is_empty()
    })
    .await;
    let got = verifiers.got();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|r| r.event_id == got[0].event_id));
    assert_eq!(verifiers.accepted("pending").len(), 1);
    assert!(got.iter().all(|r| signed_with(&v_secret, r)));
    assert!(
        !signed_with(&p_secret, &got[0]),
        "each webhook has its own key"
    );
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["package"], "braintree/crm");
    assert_eq!(body["event"], "pending");
    // The receiver answers before the node records the answer: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        let log = c
            .app
            .get_as(&format!("/api/v1/webhooks/{v_id}/deliveries"), &c.rev.token)
            .await;
        let log = log.ok(200).as_array().unwrap().clone();
        if log[0]["status"] == "delivered" || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(log[0]["status"], "delivered");
    assert_eq!(log[0]["attempts"], 4);
    // The publisher, subscribed to everything, did not hear of its own
    // release awaiting review.
    assert!(publisher.accepted("pending").is_empty());

    // An approval reaches the publisher; a revocation with an advisory
    // reaches the publisher and the organisation that runs it.
    c.app
        .approve(&c.rev, "braintree/crm", "1.0.0")
        .await
        .ok(200);
    wait_until("the publisher hears of the approval", || {
        !publisher.accepted("approved").is_empty()
    })
    .await;
    let s = c.app.subject("braintree/crm", "1.0.0").await;
    let adopt = shire_core::statement::AdoptionStatement::new(
        shire_core::statement::AdoptionAction::Adopt,
        shire_core::OrgName::parse("kent").unwrap(),
        s.clone(),
        &c.app.log_name,
        None,
        1,
    );
    c.app
        .post(
            "/api/v1/adoptions",
            &c.kent.token,
            json!({ "envelope": adopt.sign(&c.kent.key) }),
        )
        .await
        .ok(200);
    let revocation = shire_core::statement::VerdictStatement::new(
        shire_core::statement::Verdict::Revoke,
        s,
        &c.app.log_name,
        Some("SQL injection".into()),
        1,
    )
    .with_advisory(shire_core::statement::Advisory {
        severity: shire_core::statement::Severity::Critical,
        description: "SQL injection in search".into(),
        fixed_in: Some(semver::Version::new(1, 0, 1)),
    })
    .sign(&c.rev.key);
    c.app
        .verdict(&c.rev, "braintree/crm", "1.0.0", &revocation)
        .await
        .ok(200);
    wait_until(
        "the publisher and the adopter hear of the revocation",
        || !publisher.accepted("revoked").is_empty() && !adopter.accepted("revoked").is_empty(),
    )
    .await;
    let to_adopter = &adopter.accepted("revoked")[0];
    assert!(signed_with(&a_secret, to_adopter));
    let body: Value = serde_json::from_slice(&to_adopter.body).unwrap();
    assert_eq!(body["advisory"]["severity"], "critical");
    assert_eq!(body["advisory"]["fixed_in"], "1.0.1");
    assert!(adopter.got().iter().all(|r| r.event == "revoked"));

    // A delivery pending when the node stops is sent after it starts again.
    verifiers.shared.fail.store(usize::MAX, Ordering::SeqCst);
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.1.0"))
        .await
        .ok(201);
    wait_until("a failing attempt at the second release", || {
        verifiers.got().len() > 4
    })
    .await;
    let metrics = reqwest::get(format!("{}/metrics", c.app.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nshire_webhook_deliveries_pending 1\n"),
        "{metrics}"
    );
    c.app.restart().await;
    verifiers.shared.fail.store(0, Ordering::SeqCst);
    wait_until("the pending delivery arrives after the restart", || {
        verifiers.accepted("pending").len() == 2
    })
    .await;
    let ids: std::collections::BTreeSet<String> = verifiers
        .accepted("pending")
        .iter()
        .map(|r| r.event_id.clone())
        .collect();
    assert_eq!(ids.len(), 2, "each event id accepted once");
}

#[tokio::test]
async fn webhook_registrations_are_checked() {
    let c = club_with(|_| {}).await;
    let app = &c.app;
    let before = app.snapshot();
    for (url, events, code) in [
        ("http://10.0.0.5/hook", vec![], "bad_webhook"),
        // Loopback and private addresses, unless the operator allows them.
        ("http://127.0.0.1:9/hook", vec![], "bad_webhook"),
        ("https://192.168.1.1/hook", vec![], "bad_webhook"),
        ("file:///etc/passwd", vec![], "bad_webhook"),
        ("https://user:pw@hooks.example/x", vec![], "bad_webhook"),
        ("https://hooks.example/x", vec!["everything"], "bad_webhook"),
    ] {
        app.post(
            "/api/v1/webhooks",
            &c.kent.token,
            json!({ "url": url, "events": events }),
        )
        .await
        .refused(400, code);
    }
    // The bootstrap admin belongs to no organisation.
    app.post(
        "/api/v1/webhooks",
        &app.admin,
        json!({ "url": "https://hooks.example/x" }),
    )
    .await
    .refused(403, "wrong_org");
    assert_eq!(app.snapshot(), before);
    // One organisation cannot read or remove another's webhook.
    let (id, _) = register(app, &c.kent.token, "https://hooks.kent.example/x", &[]).await;
    let listed = app.get_as("/api/v1/webhooks", &c.kent.token).await;
    let listed = listed.ok(200).clone();
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0]["secret"].is_null(), "the secret is shown once");
    assert_eq!(
        app.get_as("/api/v1/webhooks", &c.bt.token).await.ok(200),
        &json!([])
    );
    app.get_as(&format!("/api/v1/webhooks/{id}/deliveries"), &c.bt.token)
        .await
        .refused(404, "webhook_not_found");
    app.send(
        reqwest::Method::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        Some(&c.bt.token),
        None,
    )
    .await
    .refused(404, "webhook_not_found");
    app.send(
        reqwest::Method::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        Some(&c.kent.token),
        None,
    )
    .await
    .ok(200);
    assert_eq!(
        app.get_as("/api/v1/webhooks", &c.kent.token).await.ok(200),
        &json!([])
    );
}
