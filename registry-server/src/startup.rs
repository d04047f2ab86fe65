//! Starting a node: open the data folder, make or load its identity, bind the
//! listener (port 0 allowed) and run the HTTP server. Tests call [`start`] too.

use crate::config::{Config, MAX_JSON_BODY};
use crate::error;
use crate::identity;
use crate::memory::Trimmer;
use crate::middleware;
use crate::routes;
use crate::state::AppState;
use crate::store::{Flusher, OpenOptions, Store};
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::{Context, Result};
use shire_core::KeyPair;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A node that is up and answering.
pub struct RunningServer {
    /// The address it is bound to.
    pub addr: SocketAddr,
    /// The admin token, on the first start of a data folder only.
    pub admin_token: Option<String>,
    /// The node's origin name.
    pub origin: String,
    store: Store,
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
    flusher: JoinHandle<()>,
    trimmer: Option<Trimmer>,
    followers: crate::federation::Followers,
    webhooks: crate::webhooks::Dispatcher,
}

impl RunningServer {
    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many heap trims have run (None where there is no trim): tests
    /// read it to see that a serving node keeps trimming.
    pub fn trims(&self) -> Option<Arc<AtomicU64>> {
        self.trimmer.as_ref().map(Trimmer::counter)
    }

    /// A handle that stops the server (for callers that hand [`Self::wait`]
    /// to another task).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// The node's storage (for inspection by tests and tools).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits until the server stops (on SIGINT/SIGTERM), then for the final flush.
    pub async fn wait(self) -> Result<()> {
        let RunningServer {
            store,
            server,
            flusher,
            trimmer,
            followers,
            webhooks,
            ..
        } = self;
        drop(store);
        let served = server.await.context("server task");
        // Only now: the node trims for as long as it serves.
        if let Some(t) = trimmer {
            t.stop();
        }
        followers.stop().await;
        webhooks.stop();
        served??;
        flusher.await.context("flusher task")?;
        Ok(())
    }

    /// Stops the server gracefully and waits until the database is closed, so
    /// the same data folder can be opened again.
    pub async fn stop(self) -> Result<()> {
        self.handle.stop(true).await;
        self.wait().await
    }
}

/// Opens the data folder's store for this configuration: its page cache,
/// threshold and origin (the one asked for, or one made from the node key
/// on a folder's first start).
pub fn open_store(config: &Config, node_key: &KeyPair) -> Result<(Store, Flusher)> {
    let options = OpenOptions {
        cache_bytes: config.cache_mib << 20,
        threshold: config.threshold.max(1),
        origin: config.origin.clone(),
        min_free_bytes: config.min_free_bytes,
        node_key: Some(node_key.public()),
        shared: config.storage.clone(),
        max_artifact_bytes: config.max_upload,
    };
    Ok(Store::open(&config.data_dir, &options, || {
        identity::default_origin(node_key)
    })?)
}

/// Opens the node's data and starts serving. Must be called inside a tokio runtime.
pub async fn start(config: Config) -> Result<RunningServer> {
    if let Some(o) = &config.origin {
        shire_tlog::Origin::parse(o).context("--origin")?;
    }
    let data = &config.data_dir;
    let node_key = identity::load_or_create_key(data)?;
    let (store, flusher) = open_store(&config, &node_key)
        .with_context(|| format!("opening the database in {}", data.display()))?;
    let flusher = tokio::spawn(flusher.run());
    let origin = store.origin().to_string();
    identity::record_origin(data, &origin)?;
    let admin_token = identity::bootstrap_admin(&store, data).await?;

    let node_key = Arc::new(node_key);
    let federation = match config.federation.clone() {
        Some(f) => Some(Arc::new(crate::federation::Federation::new(
            store.clone(),
            origin.clone(),
            node_key.clone(),
            config.archive_limits,
            config.max_upload,
            f,
        )?)),
        None => None,
    };
    let state = AppState {
        federation: federation.clone(),
        store: store.clone(),
        origin: origin.clone(),
        node_key,
        max_upload: config.max_upload,
        threshold: config.threshold.max(1),
        archive_limits: config.archive_limits,
        metrics: Arc::new(crate::metrics::Metrics::new(config.node_figures_every)?),
        webhook_allow_private: config.webhook_allow_private,
    };
    // The responses actix's HTTP/1 layer makes itself carry the JSON error
    // body too (vendor/actix-http/SHIRE-PATCHES.md).
    let _ = actix_http::h1::ERROR_BODY.set(error::dispatcher_error_body);
    let listener =
        TcpListener::bind(&config.listen).with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let data = web::Data::new(state);
    let deadline = web::Data::new(config.body_deadline);
    let catalogue = web::Data::new(crate::catalogue::Catalogue::default());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(deadline.clone())
            .app_data(catalogue.clone())
            .app_data(error::json_config(MAX_JSON_BODY))
            .app_data(error::path_config())
            .app_data(error::query_config())
            .wrap(from_fn(middleware::body_deadline))
            .wrap(from_fn(middleware::head_as_get))
            .wrap(from_fn(middleware::request_id))
            .wrap(from_fn(crate::metrics::track))
            .wrap(crate::catalogue::security_headers())
            .configure(routes::configure)
            .configure(crate::catalogue::configure)
            .default_service(web::to(crate::catalogue::not_found))
    })
    // A response's head and body leave as separate writes: with Nagle's
    // algorithm the second waits for the client's delayed ACK (some 40 ms
    // per small download, measured in the install benchmark).
    .tcp_nodelay(true)
    // On SIGTERM: stop accepting, give requests in flight (an upload, a
    // publish) this long to finish, then the final flush. SIGINT and SIGQUIT
    // stop at once (actix-server's choice); the final flush still runs.
    .shutdown_timeout(SHUTDOWN_GRACE_SECS)
    .listen(listener)?;
    server = server.workers(config.http_workers());
    let server = server.run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(%addr, %origin, "shire-registry started");
    let followers = federation
        .map(crate::federation::Followers::start)
        .unwrap_or_default();
    let trimmer = Trimmer::spawn(config.trim_every);
    let webhooks = crate::webhooks::Dispatcher::spawn(
        store.clone(),
        origin.clone(),
        config.webhook_retry,
        config.webhook_allow_private,
    )?;
    Ok(RunningServer {
        followers,
        addr,
        admin_token,
        origin,
        store,
        handle,
        server,
        flusher,
        trimmer,
        webhooks,
    })
}

/// Seconds requests in flight get to finish after SIGTERM.
pub const SHUTDOWN_GRACE_SECS: u64 = 30;

/// `shire-registry serve`: start, print the stdout contract, serve until stopped.
///
/// Stdout gets, flushed, `admin token: <TOKEN>` (first start only) and then
/// exactly one `shire-registry listening on http://IP:PORT`.
pub async fn serve(config: Config) -> Result<()> {
    let running = start(config).await?;
    let mut out = std::io::stdout().lock();
    if let Some(t) = &running.admin_token {
        writeln!(out, "admin token: {t}")?;
    }
    writeln!(out, "shire-registry listening on {}", running.url())?;
    out.flush()?;
    drop(out);
    running.wait().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// The heap trim must run for as long as the node serves, not only until
    /// [`RunningServer::wait`] is called (a bug that once stopped it at once).
    #[tokio::test]
    async fn a_serving_node_keeps_trimming_until_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path());
        config.listen = "127.0.0.1:0".into();
        config.trim_every = Duration::from_millis(20);
        let running = start(config).await.unwrap();
        let Some(trims) = running.trims() else {
            return; // not glibc: there is no trim
        };
        let handle = running.handle();
        let waiting = tokio::spawn(running.wait());
        let seen = trims.load(Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while trims.load(Ordering::Relaxed) < seen + 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no trim ran while the node was serving"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        handle.stop(true).await;
        waiting.await.unwrap().unwrap();
        let stopped_at = trims.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(trims.load(Ordering::Relaxed), stopped_at);
    }
}
