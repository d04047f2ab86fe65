//! Starting a node: open the data folder, make or load its identity, bind the
//! listener (port 0 allowed) and run the HTTP server. Tests call [`start`] too.

use crate::config::{Config, MAX_JSON_BODY};
use crate::error;
use crate::identity;
use crate::routes;
use crate::state::AppState;
use crate::store::Store;
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use anyhow::{Context, Result};
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
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
    trimmer: Option<JoinHandle<()>>,
    followers: crate::federation::Followers,
}

impl RunningServer {
    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
            ..
        } = self;
        drop(store);
        if let Some(t) = trimmer {
            t.abort();
        }
        let served = server.await.context("server task");
        followers.stop().await;
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

/// Opens the node's data and starts serving. Must be called inside a tokio runtime.
pub async fn start(config: Config) -> Result<RunningServer> {
    if let Some(o) = &config.origin {
        if !signed_note::is_key_name_valid(o) {
            anyhow::bail!("--origin {o:?} is not a valid name (no spaces, no '+')");
        }
    }
    let data = &config.data_dir;
    let node_key = identity::load_or_create_key(data)?;
    let (store, flusher) = Store::open_with_cache(data, config.cache_mib << 20)
        .with_context(|| format!("opening the database in {}", data.display()))?;
    let flusher = tokio::spawn(flusher.run());
    let origin = store
        .origin(
            || {
                config
                    .origin
                    .clone()
                    .unwrap_or_else(|| identity::default_origin(&node_key))
            },
            config.origin.as_deref(),
        )
        .context("settling the node's origin")?;
    identity::record_origin(data, &origin)?;
    let admin_token = identity::bootstrap_admin(&store, data).await?;

    let node_key = Arc::new(node_key);
    let federation = match config.federation.clone() {
        Some(f) => Some(Arc::new(crate::federation::Federation::new(
            store.clone(),
            origin.clone(),
            node_key.clone(),
            config.threshold.max(1),
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
    };
    let listener =
        TcpListener::bind(&config.listen).with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(error::json_config(MAX_JSON_BODY))
            .app_data(error::path_config())
            .app_data(error::query_config())
            .wrap(tracing_middleware())
            .configure(routes::configure)
            .default_service(web::to(error::not_found))
    })
    .listen(listener)?;
    if let Some(w) = config.workers {
        server = server.workers(w);
    }
    let server = server.run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(%addr, %origin, "shire-registry started");
    let followers = federation
        .map(crate::federation::Followers::start)
        .unwrap_or_default();
    let trimmer = crate::memory::spawn_trimmer();
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
    })
}

fn tracing_middleware() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%r %s %b %Dms").log_target("shire_registry::http")
}

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
