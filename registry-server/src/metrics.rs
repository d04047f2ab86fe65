//! `GET /metrics`: Prometheus text exposition, split as crates.io splits
//! its metrics.
//!
//! - **Per process**, counted as requests go by: requests by route pattern
//!   and status, a latency histogram by route, requests in flight, bytes
//!   uploaded and downloaded, group-commit flushes and the time they took.
//! - **Per node**, computed at each scrape from what is stored: packages,
//!   releases by state, pending reviews and the age of the oldest, the log's
//!   size, the age of its newest durable entry (a checkpoint is signed on
//!   demand for the durable size, so this is how old the latest checkpoint's
//!   content is), and per followed peer: entries behind, the last success,
//!   failures and whether it is stopped. These read every release, so they
//!   are computed once for all the scrapes of [`NODE_FIGURES_EVERY`].
//!
//! Each node has its own registry (tests run several in one process).

use crate::state::AppState;
use crate::store::Store;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use shire_core::wire::{PeerHealth, PeerStatus, ReleaseState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A node's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    /// Artifact bytes received by uploads.
    pub bytes_uploaded: IntCounter,
    /// Artifact bytes sent by downloads.
    pub bytes_downloaded: IntCounter,
    flushes: IntCounter,
    flush_seconds: Gauge,
    flushes_seen: AtomicU64,
    postgres_calls: IntCounter,
    postgres_calls_seen: AtomicU64,
    row_cache_bytes: IntGauge,
    packages: IntGauge,
    releases: IntGaugeVec,
    pending: IntGauge,
    oldest_pending: Gauge,
    log_entries: IntGauge,
    webhooks_pending: IntGauge,
    checkpoint_age: Gauge,
    peer_behind: IntGaugeVec,
    peer_last_success: GaugeVec,
    peer_failures: IntGaugeVec,
    peer_stopped: IntGaugeVec,
    /// When the node's figures were last computed: one computation at a
    /// time, at most every [`NODE_FIGURES_EVERY`], however many scrape.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    every: std::time::Duration,
}

/// How long the node's figures (which read every release) are reused, by
/// default (`Config::node_figures_every`).
pub const NODE_FIGURES_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the metrics could not be set up or rendered.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

fn reg<T: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    m: T,
) -> Result<T, MetricsError> {
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

impl Metrics {
    /// Every metric, registered in a registry of this node's own; the
    /// node's figures are computed at most once every `every`.
    pub fn new(every: std::time::Duration) -> Result<Self, MetricsError> {
        let r = Registry::new();
        let buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
        ];
        Ok(Self {
            requests: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "shire_http_requests_total",
                        "HTTP requests by route and status",
                    ),
                    &["route", "status"],
                )?,
            )?,
            latency: reg(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "shire_http_request_duration_seconds",
                        "HTTP request latency by route",
                    )
                    .buckets(buckets),
                    &["route"],
                )?,
            )?,
            in_flight: reg(
                &r,
                IntGauge::new(
                    "shire_http_requests_in_flight",
                    "HTTP requests being served",
                )?,
            )?,
            bytes_uploaded: reg(
                &r,
                IntCounter::new(
                    "shire_artifact_bytes_uploaded_total",
                    "Artifact bytes received",
                )?,
            )?,
            bytes_downloaded: reg(
                &r,
                IntCounter::new(
                    "shire_artifact_bytes_downloaded_total",
                    "Artifact bytes sent",
                )?,
            )?,
            flushes: reg(
                &r,
                IntCounter::new(
                    "shire_group_commit_flushes_total",
                    "Group-commit flushes of the database",
                )?,
            )?,
            flush_seconds: reg(
                &r,
                Gauge::new(
                    "shire_group_commit_flush_seconds_total",
                    "Seconds spent in group-commit flushes",
                )?,
            )?,
            flushes_seen: AtomicU64::new(0),
            postgres_calls: reg(
                &r,
                IntCounter::new(
                    "shire_postgres_calls_total",
                    "Calls this process made to PostgreSQL (shared backend): each a \
                     statement or one step of a write",
                )?,
            )?,
            postgres_calls_seen: AtomicU64::new(0),
            row_cache_bytes: reg(
                &r,
                IntGauge::new(
                    "shire_row_cache_bytes",
                    "Bytes of rows this process keeps for its next writes (shared backend; \
                     at most 32 MiB, emptied when full)",
                )?,
            )?,
            packages: reg(
                &r,
                IntGauge::new("shire_packages", "Packages on this node")?,
            )?,
            releases: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new("shire_releases", "Releases on this node by state"),
                    &["state"],
                )?,
            )?,
            pending: reg(
                &r,
                IntGauge::new("shire_pending_reviews", "Releases awaiting review")?,
            )?,
            oldest_pending: reg(
                &r,
                Gauge::new(
                    "shire_oldest_pending_review_age_seconds",
                    "Age of the oldest release awaiting review (0 when none)",
                )?,
            )?,
            log_entries: reg(
                &r,
                IntGauge::new("shire_log_entries", "Durable entries of this node's log")?,
            )?,
            webhooks_pending: reg(
                &r,
                IntGauge::new(
                    "shire_webhook_deliveries_pending",
                    "Webhook deliveries not yet answered with a 2xx nor given up",
                )?,
            )?,
            checkpoint_age: reg(
                &r,
                Gauge::new(
                    "shire_checkpoint_age_seconds",
                    "Age of the newest entry the latest checkpoint covers",
                )?,
            )?,
            peer_behind: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "shire_peer_entries_behind",
                        "Entries a peer's checkpoint holds that are not mirrored",
                    ),
                    &["peer"],
                )?,
            )?,
            peer_last_success: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "shire_peer_last_success_timestamp_seconds",
                        "Unix time of a peer's last good pass (0: never)",
                    ),
                    &["peer"],
                )?,
            )?,
            peer_failures: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "shire_peer_failures",
                        "Failed passes over a peer since its last good one",
                    ),
                    &["peer"],
                )?,
            )?,
            peer_stopped: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new("shire_peer_stopped", "1 when a peer is stopped for a fault"),
                    &["peer"],
                )?,
            )?,
            registry: r,
            refreshed: tokio::sync::Mutex::new(None),
            every,
        })
    }

    /// Counts one answered request.
    fn observe(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// Sets the node's figures from what is stored, and the peers' from `peers`.
    fn refresh(&self, store: &Store, peers: &[PeerStatus]) -> Result<(), crate::store::StoreError> {
        let now = time::OffsetDateTime::now_utc();
        let age = |at: &str| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map(|t| (now - t).as_seconds_f64().max(0.0))
                .unwrap_or(0.0)
        };
        self.packages
            .set(i64::try_from(store.all_packages()?.len()).unwrap_or(i64::MAX));
        let mut by_state = std::collections::BTreeMap::new();
        for s in [
            ReleaseState::Pending,
            ReleaseState::Approved,
            ReleaseState::Rejected,
            ReleaseState::Revoked,
        ] {
            by_state.insert(s.to_string(), 0i64);
        }
        for r in store.all_releases()? {
            *by_state.entry(r.state.to_string()).or_default() += 1;
        }
        for (state, n) in by_state {
            self.releases.with_label_values(&[&state]).set(n);
        }
        let pending = store.pending()?;
        self.pending
            .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
        self.oldest_pending
            .set(pending.first().map(|r| age(&r.published_at)).unwrap_or(0.0));
        let size = store.durable_log_size();
        self.log_entries
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        self.webhooks_pending
            .set(i64::try_from(store.pending_delivery_count()?).unwrap_or(i64::MAX));
        let newest = match size.checked_sub(1) {
            Some(last) => store
                .log_entry(last)?
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["at"].as_str().map(age))
                .unwrap_or(0.0),
            None => 0.0,
        };
        self.checkpoint_age.set(newest);
        for p in peers {
            let name = [p.name.as_str()];
            self.peer_behind
                .with_label_values(&name)
                .set(i64::try_from(p.entries_behind).unwrap_or(i64::MAX));
            self.peer_failures
                .with_label_values(&name)
                .set(i64::from(p.failures));
            self.peer_stopped
                .with_label_values(&name)
                .set(i64::from(p.status == PeerHealth::Stopped));
            let last = p
                .last_success
                .as_deref()
                .and_then(|at| {
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(|t| t.unix_timestamp() as f64)
                .unwrap_or(0.0);
            self.peer_last_success.with_label_values(&name).set(last);
        }
        Ok(())
    }

    /// Brings the store's counters (PostgreSQL calls, group-commit flushes,
    /// the row cache's size)
    /// up to its counts at every scrape, not only when the node's figures
    /// are computed: they are atomics, free to read, and a load test reads
    /// them around each run.
    fn count_store_work(&self, store: &Store) {
        let calls = store.postgres_calls();
        let seen = self.postgres_calls_seen.swap(calls, Ordering::Relaxed);
        self.postgres_calls.inc_by(calls.saturating_sub(seen));
        self.row_cache_bytes
            .set(i64::try_from(store.cached_bytes()).unwrap_or(i64::MAX));
        let (flushes, seconds) = store.flush_stats();
        let seen = self.flushes_seen.swap(flushes, Ordering::Relaxed);
        self.flushes.inc_by(flushes.saturating_sub(seen));
        self.flush_seconds.set(seconds);
    }

    /// The text exposition of every metric.
    fn render(&self) -> Result<Vec<u8>, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(out)
    }
}

/// Middleware: counts every request by route pattern (never the raw path,
/// which would let clients make unbounded label values) and status, times
/// it, and keeps the in-flight gauge.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let began = Instant::now();
    if let Some(m) = &metrics {
        m.in_flight.inc();
    }
    let result = next.call(req).await;
    if let Some(m) = &metrics {
        m.in_flight.dec();
        let status = match &result {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        m.observe(&route, status, began.elapsed().as_secs_f64());
    }
    result
}

/// `GET /metrics`.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"))
)]
pub async fn scrape(state: web::Data<AppState>) -> Result<HttpResponse, crate::error::ApiError> {
    let peers = state
        .federation
        .as_ref()
        .map(|f| f.board.all())
        .unwrap_or_default();
    // Up to the calls made before this scrape (its own refresh's show at
    // the next), refresh or not, failed or not.
    state.metrics.count_store_work(&state.store);
    {
        // Concurrent scrapes wait for one computation and share it.
        let mut last = state.metrics.refreshed.lock().await;
        if last.is_none_or(|at| at.elapsed() >= state.metrics.every) {
            let st = state.clone();
            web::block(move || st.metrics.refresh(&st.store, &peers))
                .await
                .map_err(crate::error::ApiError::internal)??;
            *last = Some(Instant::now());
        }
    }
    let body = state
        .metrics
        .render()
        .map_err(crate::error::ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
