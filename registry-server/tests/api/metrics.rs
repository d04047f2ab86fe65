//! `GET /metrics` (issue 15): the Prometheus text, parsed with a Prometheus
//! text parser, and its values moving when events happen.

use super::club_with;
use crate::helpers::Release;

/// The value of `name` with the labels `labels` in the node's metrics (0 when absent).
pub(crate) async fn metric(
    app: &crate::helpers::TestApp,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let text = reqwest::get(format!("{}/metrics", app.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.last().map(|b| b.count).unwrap_or(0.0),
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_parse_and_move_with_events() {
    // Figures computed at every scrape, to see each event move them.
    let c = club_with(|c| c.node_figures_every = std::time::Duration::ZERO).await;
    let value = |name: &'static str, labels: &'static [(&'static str, &'static str)]| {
        let app = &c.app;
        async move { metric(app, name, labels).await }
    };
    let published = &[("route", "/api/v1/releases"), ("status", "201")];
    let (p0, r0, pending0, log0, up0, flush0) = (
        value("shire_packages", &[]).await,
        value("shire_http_requests_total", published).await,
        value("shire_pending_reviews", &[]).await,
        value("shire_log_entries", &[]).await,
        value("shire_artifact_bytes_uploaded_total", &[]).await,
        value("shire_group_commit_flushes_total", &[]).await,
    );
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    assert_eq!(value("shire_packages", &[]).await, p0 + 1.0);
    assert_eq!(
        value("shire_http_requests_total", published).await,
        r0 + 1.0
    );
    assert_eq!(value("shire_pending_reviews", &[]).await, pending0 + 1.0);
    assert_eq!(
        value("shire_releases", &[("state", "pending")]).await,
        pending0 + 1.0
    );
    assert_eq!(value("shire_log_entries", &[]).await, log0 + 1.0);
    assert_eq!(
        value("shire_artifact_bytes_uploaded_total", &[]).await,
        up0 + r.archive.len() as f64
    );
    // Each backend commits the publish in a flush (a PostgreSQL commit).
    assert!(value("shire_group_commit_flushes_total", &[]).await > flush0);
    assert!(
        value(
            "shire_http_request_duration_seconds",
            &[("route", "/api/v1/releases")]
        )
        .await
            >= 1.0
    );

    // Approval empties the queue and moves the release's state.
    c.app
        .approve(&c.rev, "braintree/crm", "1.0.0")
        .await
        .ok(200);
    assert_eq!(value("shire_pending_reviews", &[]).await, pending0);
    assert_eq!(value("shire_releases", &[("state", "approved")]).await, 1.0);
    // A download counts its bytes; unknown paths count under one label.
    let down0 = value("shire_artifact_bytes_downloaded_total", &[]).await;
    c.app
        .get(&format!("/api/v1/artifacts/{}", r.digest()))
        .await
        .ok(200);
    assert_eq!(
        value("shire_artifact_bytes_downloaded_total", &[]).await,
        down0 + r.archive.len() as f64
    );
    c.app
        .get("/api/no/such/path/at/all")
        .await
        .refused(404, "not_found");
    assert!(
        value(
            "shire_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .await
            >= 1.0
    );
}

#[tokio::test]
async fn the_store_counters_move_between_refreshes_of_the_figures() {
    // The node's figures are reused for an hour: only counters that are
    // read at every scrape can move.
    let c = club_with(|c| c.node_figures_every = std::time::Duration::from_secs(3600)).await;
    let (packages0, flushes0) = (
        metric(&c.app, "shire_packages", &[]).await,
        metric(&c.app, "shire_group_commit_flushes_total", &[]).await,
    );
    c.app
        .publish(&c.bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    assert!(metric(&c.app, "shire_group_commit_flushes_total", &[]).await > flushes0);
    // The figures were not computed again (the test sees the reuse it relies on).
    assert_eq!(metric(&c.app, "shire_packages", &[]).await, packages0);
}
