//! Command-line interface: `shire-registry serve` and `shire-registry key`.

use crate::config::{self, Config};
use crate::federation::config::FileConfig;
use crate::identity;
use crate::startup;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A Shire registry node.
#[derive(Debug, Parser)]
#[command(name = "shire-registry", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry node.
    Serve(ServeArgs),
    /// Print the node's public key, key id and signed-note verifier key
    /// (creating the key if needed).
    Key(KeyArgs),
    /// One pass over every peer of `--config FILE`, then exit: 0 when every
    /// peer is in sync, 1 naming the peers that failed (the node must not be
    /// running on the same data folder).
    Sync(ServeArgs),
    /// How each followed peer is doing (from what is stored), and resuming
    /// a peer stopped for a fault.
    #[command(subcommand)]
    Peers(PeersCommand),
    /// The bootstrap admin's token (`DATA/admin-token`).
    #[command(subcommand)]
    AdminToken(AdminTokenCommand),
    /// The node's settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Back a node up into a new folder while it serves (`--url`), or from
    /// its data folder when it is not running.
    Backup {
        /// The new folder to write the backup into.
        #[arg(long)]
        to: PathBuf,
        /// The node.
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Check a backup on its own: the log's root against its signed
    /// checkpoint, every artifact against its digest.
    VerifyBackup {
        /// The backup folder.
        backup: PathBuf,
        /// The node's note key as you know it (`shire-registry key`): the
        /// backup must be that node's (without it, the backup's own key is
        /// trusted, and whoever could write the backup could re-sign it).
        #[arg(long)]
        node_key: Option<String>,
    },
    /// Copy a stopped embedded node (its data folder) into the shared backend
    /// named by a configuration file's `[storage]` table: every tree, the log
    /// with its hashes, every artifact. The node key stays the same, so
    /// clients that pinned it see no fork.
    Migrate {
        /// The embedded node's data folder (the node must be stopped).
        #[arg(long)]
        from: PathBuf,
        /// A configuration file with `[storage] backend = "shared"`.
        #[arg(long)]
        to_config: PathBuf,
        /// Also make this folder a data folder for the shared node's
        /// processes: its node key, admin token and origin.
        #[arg(long)]
        process_data: Option<PathBuf>,
    },
    /// Verify a backup, then write it into a new data folder (refused when
    /// the folder is not empty).
    Restore {
        /// The backup folder.
        backup: PathBuf,
        /// The new data folder.
        #[arg(long)]
        data: PathBuf,
        /// The node's note key as you know it (see `verify-backup`).
        #[arg(long)]
        node_key: Option<String>,
    },
}

/// Takes a backup: through the running node at `--url` (with the admin
/// token of its data folder), or from the data folder of a stopped node.
async fn take_backup(node: &NodeArgs, to: &std::path::Path) -> Result<crate::backup::Manifest> {
    let data = node
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA));
    let to = std::path::absolute(to).with_context(|| format!("resolving {}", to.display()))?;
    match &node.url {
        Some(url) => {
            let base = url.trim_end_matches('/');
            let token = std::fs::read_to_string(data.join(identity::ADMIN_TOKEN_FILE))
                .with_context(|| format!("reading the admin token in {}", data.display()))?;
            let resp = reqwest::Client::new()
                .post(format!("{base}/api/v1/admin/backup"))
                .bearer_auth(token.trim())
                .json(&serde_json::json!({ "to": to }))
                .send()
                .await
                .with_context(|| format!("asking {base}"))?;
            let status = resp.status();
            let body = resp.text().await.context("reading the answer")?;
            if !status.is_success() {
                anyhow::bail!("{base} answered {status}: {}", shire_core::clip(&body));
            }
            serde_json::from_str(&body).context("reading the backup's manifest")
        }
        None => {
            let config = node.serve_args().resolve()?;
            let key = identity::load_existing_key(&config.data_dir)?;
            let (store, flusher) = startup::open_store(&config, &key).with_context(|| {
                format!(
                    "opening the database in {} (is the node running? then use --url)",
                    data.display()
                )
            })?;
            let flusher = tokio::spawn(flusher.run());
            let manifest = crate::backup::backup(&store, &config.data_dir, &key, &to)?;
            drop(store);
            flusher.await.context("flusher task")?;
            Ok(manifest)
        }
    }
}

/// `admin-token ...`.
#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Replace the admin token: the old one stops working at once, the new
    /// one is written to `DATA/admin-token` (mode 0600).
    Rotate(NodeArgs),
}

/// Rotates the admin token in `data`: through the running node at `url`,
/// or in the data folder of a node that is not running.
async fn rotate_admin_token(node: &NodeArgs) -> Result<()> {
    let data = node
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA));
    let path = data.join(identity::ADMIN_TOKEN_FILE);
    let old = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the admin token in {}", path.display()))?;
    let old = old.trim();
    let new = match &node.url {
        Some(url) => {
            let base = url.trim_end_matches('/');
            let resp = reqwest::Client::new()
                .post(format!("{base}/api/v1/tokens/rotate"))
                .bearer_auth(old)
                .send()
                .await
                .with_context(|| format!("asking {base}"))?;
            let status = resp.status();
            let body = resp.text().await.context("reading the answer")?;
            if !status.is_success() {
                anyhow::bail!("{base} answered {status}: {}", shire_core::clip(&body));
            }
            let made: shire_core::token::TokenInfo =
                serde_json::from_str(&body).context("reading the new token")?;
            made.token.context("the node sent no new token")?
        }
        None => {
            let config = node.serve_args().resolve()?;
            let key = identity::load_existing_key(&config.data_dir)?;
            let (store, flusher) = startup::open_store(&config, &key).with_context(|| {
                format!(
                    "opening the database in {} (is the node running? then use --url)",
                    data.display()
                )
            })?;
            let flusher = tokio::spawn(flusher.run());
            let (token, hash) = crate::auth::new_token();
            store
                .rotate_token(&crate::auth::hash_token(old), &hash)?
                .with_context(|| {
                    format!("{} holds a token this node does not know", path.display())
                })?;
            store.durable().await?;
            drop(store);
            flusher.await.context("flusher task")?;
            token
        }
    };
    if let Err(e) = identity::write_secret(&data, identity::ADMIN_TOKEN_FILE, &format!("{new}\n")) {
        // The old token no longer works: this is the only copy of the new one.
        anyhow::bail!(
            "the admin token was rotated but {} could not be written ({e:#}); the new token is {new}",
            path.display()
        );
    }
    tracing::warn!("admin token rotated");
    println!(
        "rotated the admin token: the old one no longer works; the new one is in {}",
        path.display()
    );
    Ok(())
}

/// `config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file (with the environment and flags over it):
    /// errors name their line; on success, print the settings in force.
    Check(ServeArgs),
}

/// `peers ...`.
#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    /// Every peer's status: what is mirrored, the last success, why it stopped.
    List(NodeArgs),
    /// Resume a peer stopped for a fault (logged); it passes again at once.
    Resume {
        /// The peer's name (its `[[peer]]` table's `name`).
        name: String,
        /// The node.
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Which node a `peers` command acts on: a running one (`--url`, with the
/// admin token from its data folder), or its data folder (not running).
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Configuration file naming the peers.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data folder [default: ./shire-data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A running node's URL (e.g. http://127.0.0.1:7878).
    #[arg(long)]
    pub url: Option<String>,
}

impl NodeArgs {
    fn serve_args(&self) -> ServeArgs {
        ServeArgs {
            config: self.config.clone(),
            data: self.data.clone(),
            listen: None,
            origin: None,
            max_upload: None,
            threshold: None,
            cache_mib: None,
            min_free_mib: None,
            log_format: None,
            workers: None,
        }
    }
}

/// Runs a `peers` command against a running node's API.
async fn peers_online(
    url: &str,
    data: &std::path::Path,
    resume: Option<&str>,
) -> Result<Vec<shire_core::wire::PeerStatus>> {
    let base = url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let resp = match resume {
        None => http.get(format!("{base}/api/v1/peers")).send().await,
        Some(name) => {
            let token_path = data.join("admin-token");
            let token = std::fs::read_to_string(&token_path)
                .with_context(|| format!("reading the admin token in {}", token_path.display()))?;
            // The name is one path segment, escaped: never a way to another route.
            let mut url =
                reqwest::Url::parse(base).with_context(|| format!("{base} is not a URL"))?;
            url.path_segments_mut()
                .map_err(|_| anyhow::anyhow!("{base} cannot take a path"))?
                .pop_if_empty()
                .extend(["api", "v1", "peers", name, "resume"]);
            http.post(url).bearer_auth(token.trim()).send().await
        }
    }
    .with_context(|| format!("asking {base}"))?;
    let status = resp.status();
    let body = resp.text().await.context("reading the answer")?;
    if !status.is_success() {
        anyhow::bail!("{base} answered {status}: {}", shire_core::clip(&body));
    }
    match resume {
        None => serde_json::from_str(&body).context("reading the peers"),
        Some(_) => Ok(vec![
            serde_json::from_str(&body).context("reading the peer")?
        ]),
    }
}

/// `serve` flags. Every setting can also come from the `--config` file and
/// from a `SHIRE_<NAME>` environment variable (`SHIRE_MAX_UPLOAD`,
/// `SHIRE_CACHE_MIB`, ...): a flag wins over the environment, which wins
/// over the file; what none sets takes its default.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML: every setting below and `[[peer]]` tables,
    /// see docs/operations.md and docs/federation.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data folder (database, blobs, node key, admin token) [default: ./shire-data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:7878].
    #[arg(long)]
    pub listen: Option<String>,
    /// The node's origin name (first start only; default shire.local/<key id prefix>).
    #[arg(long)]
    pub origin: Option<String>,
    /// Largest artifact upload in bytes [default: 52428800].
    #[arg(long)]
    pub max_upload: Option<u64>,
    /// Distinct verifier accounts whose approvals make a release approved
    /// (two keys of one account count once) [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threshold: Option<u32>,
    /// Cap of the database's page cache in MiB (more keeps more of a large
    /// registry in memory; resident memory grows up to about this plus 20 MiB)
    /// [default: 8].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub cache_mib: Option<u64>,
    /// Free space to keep on the data folder's disk, in MiB: below it the
    /// node refuses writes (507) and `/readyz` answers 503, and it resumes by
    /// itself once there is room again [default: 64].
    #[arg(long)]
    pub min_free_mib: Option<u64>,
    /// Log lines as `text` or `json` (one object a line, with each request's
    /// id among its fields), on stderr [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// HTTP worker threads [default: one per core; four per core with
    /// `[storage] backend = "shared"`, whose requests wait on PostgreSQL].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS as u64))]
    pub workers: Option<u64>,
}

/// Most HTTP worker threads a process may be given.
const MAX_WORKERS: usize = 1024;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

impl LogFormat {
    fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The settings an environment variable may set (`SHIRE_` + upper case).
pub const ENV_SETTINGS: &[&str] = &[
    "data",
    "listen",
    "origin",
    "threshold",
    "max_upload",
    "cache_mib",
    "min_free_mib",
    "log_format",
    "workers",
    "poll_interval_ms",
    "retry_min_ms",
    "retry_max_ms",
    "batch",
    "webhook_retry_ms",
    "webhook_allow_private",
];

/// `key` flags.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Data folder.
    #[arg(long, default_value = config::DEFAULT_DATA)]
    pub data: PathBuf,
    /// Print JSON `{"public_key", "key_id", "origin", "note_key"}`.
    #[arg(long)]
    pub json: bool,
    /// The origin the note key is for when the node has not settled one yet
    /// (its first start); default shire.local/<key id prefix>.
    #[arg(long)]
    pub origin: Option<String>,
}

impl ServeArgs {
    /// The flags given, as the top layer (unset ones set nothing).
    fn flags(&self) -> FileConfig {
        FileConfig {
            data: self.data.clone(),
            listen: self.listen.clone(),
            origin: self.origin.clone(),
            threshold: self.threshold,
            max_upload: self.max_upload,
            cache_mib: self.cache_mib,
            min_free_mib: self.min_free_mib,
            log_format: self.log_format.map(|f| f.name().to_string()),
            workers: self.workers,
            ..FileConfig::default()
        }
    }

    /// The settings these flags describe alone (no file, no environment).
    pub fn config(&self) -> Config {
        settings_config(&self.flags())
    }

    /// The settings, layered with figment: the `--config` file, then
    /// `SHIRE_<NAME>` environment variables, then the flags.
    pub fn layered(&self) -> Result<FileConfig> {
        use figment::providers::{Env, Format, Serialized, Toml};
        let mut fig = figment::Figment::new();
        if let Some(path) = &self.config {
            // Read here, so a file's syntax errors carry their line.
            FileConfig::load(path)?;
            fig = fig.merge(Toml::file(path));
        }
        let layered: FileConfig = fig
            .merge(Env::prefixed("SHIRE_").only(ENV_SETTINGS))
            .merge(Serialized::defaults(self.flags()))
            .extract()
            .context("reading the settings (file, SHIRE_ environment variables, flags)")?;
        if let Some(f) = &layered.log_format {
            if f != "text" && f != "json" {
                anyhow::bail!("log_format {f:?} is neither \"text\" nor \"json\"");
            }
        }
        if layered.cache_mib.is_some_and(|m| !(1..=65536).contains(&m)) {
            anyhow::bail!("cache_mib must be 1 to 65536");
        }
        if layered
            .workers
            .is_some_and(|w| !(1..=MAX_WORKERS as u64).contains(&w))
        {
            anyhow::bail!("workers must be 1 to {MAX_WORKERS}");
        }
        if layered.threshold == Some(0) {
            anyhow::bail!("threshold must be at least 1");
        }
        if let Some(storage) = &layered.storage {
            storage.shared().map_err(anyhow::Error::msg)?;
        }
        Ok(layered)
    }

    /// The configuration of every layer, with the peers checked.
    pub fn resolve(&self) -> Result<Config> {
        let layered = self.layered()?;
        let mut config = settings_config(&layered);
        if self.config.is_some() || !layered.peers.is_empty() {
            let federation = layered.federation().with_context(|| {
                format!(
                    "in {}",
                    self.config
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "the settings".into())
                )
            })?;
            config.federation = Some(federation);
        }
        Ok(config)
    }

    /// The log format the layers settle on.
    pub fn log_format(&self) -> LogFormat {
        match self.layered().ok().and_then(|l| l.log_format) {
            Some(f) if f == "json" => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// A node's configuration from layered settings, defaults for what none set.
fn settings_config(s: &FileConfig) -> Config {
    let workers = s.workers.and_then(|w| usize::try_from(w).ok());
    let data = s
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA));
    Config {
        listen: s
            .listen
            .clone()
            .unwrap_or_else(|| config::DEFAULT_LISTEN.into()),
        origin: s.origin.clone(),
        max_upload: s.max_upload.unwrap_or(config::DEFAULT_MAX_UPLOAD),
        cache_mib: s
            .cache_mib
            .unwrap_or(config::DEFAULT_CACHE_MIB)
            .clamp(1, 65536),
        min_free_bytes: s.min_free_mib.unwrap_or(config::DEFAULT_MIN_FREE_MIB) << 20,
        threshold: s.threshold.unwrap_or(1).max(1),
        webhook_retry: s
            .webhook_retry_ms
            .map(|ms| std::time::Duration::from_millis(ms.max(1)))
            .unwrap_or(crate::webhooks::DEFAULT_RETRY),
        webhook_allow_private: s.webhook_allow_private.unwrap_or(false),
        storage: s.storage.as_ref().and_then(|st| {
            let mut shared = st.shared().ok().flatten()?;
            // The pool's default follows the workers set: each waits on
            // its own connection.
            if let (None, Some(w)) = (st.max_connections, workers) {
                shared.max_connections = crate::store::shared::max_connections_for(w);
            }
            Some(shared)
        }),
        workers,
        ..Config::new(data)
    }
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            init_tracing_as(args.log_format());
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(startup::serve(args.resolve()?))
        }
        Command::Sync(args) => {
            init_tracing();
            if args.config.is_none() {
                anyhow::bail!("sync needs --config FILE naming the peers");
            }
            let config = args.resolve()?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let statuses = rt.block_on(crate::federation::offline_command(
                config,
                crate::federation::Offline::Sync,
            ))?;
            crate::federation::report_sync(&statuses)
        }
        Command::Config(ConfigCommand::Check(args)) => {
            let config = args.resolve()?;
            let source = args
                .config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "no file".into());
            println!("{source}: ok");
            println!("data {}", config.data_dir.display());
            println!("listen {}", config.listen);
            println!(
                "origin {}",
                config.origin.as_deref().unwrap_or("(from the node key)")
            );
            println!("threshold {}", config.threshold);
            println!("max_upload {}", config.max_upload);
            println!("cache_mib {}", config.cache_mib);
            println!("min_free_mib {}", config.min_free_bytes >> 20);
            println!("log_format {}", args.log_format().name());
            println!("workers {}", config.http_workers());
            match &config.storage {
                None => println!("storage embedded (in the data folder)"),
                Some(s) => {
                    println!("storage shared");
                    println!("postgres {}", crate::store::shared::redact(&s.postgres));
                    println!("objects {}", s.objects);
                    println!("max_connections {}", s.max_connections);
                    println!(
                        "downloads {}",
                        if s.redirect_downloads {
                            "redirect"
                        } else {
                            "stream"
                        }
                    );
                    println!("copies_mib {}", s.copies_max_bytes >> 20);
                }
            }
            println!("webhook_retry_ms {}", config.webhook_retry.as_millis());
            println!("webhook_allow_private {}", config.webhook_allow_private);
            println!(
                "peers {}",
                config
                    .federation
                    .as_ref()
                    .map(|f| f.peers.len())
                    .unwrap_or(0)
            );
            Ok(())
        }
        Command::Backup { to, node } => {
            init_tracing();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let m = rt.block_on(take_backup(&node, &to))?;
            println!(
                "backed up {} entries of {} and {} artifacts into {}",
                m.log_size,
                m.origin,
                m.artifacts,
                to.display()
            );
            Ok(())
        }
        Command::VerifyBackup { backup, node_key } => {
            let v = crate::backup::verify(&backup, node_key.as_deref())?;
            println!(
                "backup of {} verified: {} log entries, root {} (signed), {} artifacts, taken {}",
                v.manifest.origin,
                v.manifest.log_size,
                v.root,
                v.manifest.artifacts,
                v.manifest.created_at
            );
            Ok(())
        }
        Command::Migrate {
            from,
            to_config,
            process_data,
        } => {
            init_tracing();
            let file = FileConfig::load(&to_config)?;
            let storage = file
                .storage
                .as_ref()
                .map(|s| s.shared())
                .transpose()
                .map_err(anyhow::Error::msg)?
                .flatten()
                .with_context(|| {
                    format!(
                        "{} has no [storage] table with backend = \"shared\"",
                        to_config.display()
                    )
                })?;
            let m = crate::migrate::migrate(&from, &storage, process_data.as_deref())?;
            println!(
                "migrated {}: {} log entries, {} database entries, {} artifacts; start each \
                 process with `shire-registry serve --config {}` and a data folder holding \
                 this node-key{}",
                m.origin,
                m.log_size,
                m.entries,
                m.artifacts,
                to_config.display(),
                process_data
                    .map(|d| format!(" (such as {})", d.display()))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Restore {
            backup,
            data,
            node_key,
        } => {
            let v = crate::backup::restore(&backup, &data, node_key.as_deref())?;
            println!(
                "restored {} log entries of {} into {}: start it with `shire-registry serve --data {}`",
                v.manifest.log_size,
                v.manifest.origin,
                data.display(),
                data.display()
            );
            Ok(())
        }
        Command::AdminToken(AdminTokenCommand::Rotate(node)) => {
            init_tracing();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(rotate_admin_token(&node))
        }
        Command::Peers(cmd) => {
            init_tracing();
            let (node, resume) = match &cmd {
                PeersCommand::List(node) => (node, None),
                PeersCommand::Resume { name, node } => (node, Some(name.clone())),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let statuses = match &node.url {
                Some(url) => {
                    let data = node
                        .data
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA));
                    rt.block_on(peers_online(url, &data, resume.as_deref()))?
                }
                None => {
                    let config = node.serve_args().resolve()?;
                    let what = match resume {
                        Some(name) => crate::federation::Offline::Resume(name),
                        None => crate::federation::Offline::List,
                    };
                    rt.block_on(crate::federation::offline_command(config, what))?
                }
            };
            crate::federation::print_statuses(&statuses);
            Ok(())
        }
        Command::Key(args) => {
            let key = identity::load_or_create_key(&args.data)?;
            let origin = identity::origin_for_key(&args.data, &key, args.origin.as_deref());
            shire_tlog::Origin::parse(&origin).context("origin")?;
            let note_key = identity::note_key(&origin, &key);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "public_key": key.public().to_string(),
                        "key_id": key.key_id().to_string(),
                        "origin": origin,
                        "note_key": note_key,
                    })
                );
            } else {
                println!("{}", key.public());
                println!("key id: {}", key.key_id());
                println!("note key: {note_key}");
            }
            Ok(())
        }
    }
}

fn init_tracing() {
    init_tracing_as(LogFormat::Text);
}

fn init_tracing_as(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        let mut all = vec!["shire-registry", "serve"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Serve(a) => a,
            _ => panic!("not serve"),
        }
    }

    // figment's Jail takes closures returning its own (large) error type.
    #[allow(clippy::result_large_err)]
    #[test]
    fn a_flag_wins_over_the_environment_which_wins_over_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "node.toml",
                "max_upload = 1000\ncache_mib = 16\nlisten = \"127.0.0.1:9000\"\nlog_format = \"json\"\n",
            )?;
            let file = serve(&["--config", "node.toml"]).resolve().unwrap();
            assert_eq!((file.max_upload, file.cache_mib), (1000, 16));
            assert_eq!(file.listen, "127.0.0.1:9000");
            jail.set_env("SHIRE_MAX_UPLOAD", 2000);
            jail.set_env("SHIRE_TOKEN", "never a setting");
            let env = serve(&["--config", "node.toml"]).resolve().unwrap();
            assert_eq!((env.max_upload, env.cache_mib), (2000, 16));
            let flag = serve(&["--config", "node.toml", "--max-upload", "3000"]);
            assert_eq!(flag.resolve().unwrap().max_upload, 3000);
            assert_eq!(flag.log_format(), LogFormat::Json);
            // Nothing set: the defaults.
            jail.clear_env();
            let none = serve(&[]).resolve().unwrap();
            assert_eq!(none.max_upload, config::DEFAULT_MAX_UPLOAD);
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn a_bad_file_is_refused_naming_its_line() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bad.toml",
                "listen = \"127.0.0.1:1\"\nmax_upload = \"lots\"\n",
            )?;
            let err = format!(
                "{:#}",
                serve(&["--config", "bad.toml"]).resolve().unwrap_err()
            );
            assert!(err.contains("line 2"), "{err}");
            jail.create_file("typo.toml", "listen = \"127.0.0.1:1\"\nmax_uplod = 5\n")?;
            let err = format!(
                "{:#}",
                serve(&["--config", "typo.toml"]).resolve().unwrap_err()
            );
            assert!(err.contains("max_uplod") && err.contains("line 2"), "{err}");
            jail.create_file("fmt.toml", "log_format = \"xml\"\n")?;
            assert!(serve(&["--config", "fmt.toml"]).resolve().is_err());
            Ok(())
        });
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let cli = Cli::try_parse_from(["shire-registry", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("not serve")
        };
        let c = a.config();
        assert_eq!(c.data_dir, PathBuf::from("./shire-data"));
        assert_eq!(c.listen, "127.0.0.1:7878");
        assert_eq!(c.max_upload, 50 * 1024 * 1024);
        assert_eq!(c.threshold, 1);
        assert!(Cli::try_parse_from(["shire-registry", "serve", "--threshold", "0"]).is_err());
        assert_eq!(c.cache_mib, 8);
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn workers_come_from_any_layer_and_zero_is_refused() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(serve(&[]).resolve().unwrap().workers, None);
            jail.create_file("node.toml", "workers = 6\n")?;
            assert_eq!(
                serve(&["--config", "node.toml"]).resolve().unwrap().workers,
                Some(6)
            );
            jail.set_env("SHIRE_WORKERS", 5);
            assert_eq!(
                serve(&["--config", "node.toml"]).resolve().unwrap().workers,
                Some(5)
            );
            let flag = serve(&["--config", "node.toml", "--workers", "3"]);
            assert_eq!(flag.resolve().unwrap().workers, Some(3));
            jail.clear_env();
            // A shared backend's pool follows the workers, unless set.
            let shared = "[storage]\nbackend = \"shared\"\n\
                          postgres = \"postgres://u@127.0.0.1/d\"\nobjects = \"s3://b\"\n";
            jail.create_file("shared.toml", &format!("workers = 40\n{shared}"))?;
            let pool = |c: Config| c.storage.map(|s| s.max_connections);
            let many = serve(&["--config", "shared.toml"]).resolve().unwrap();
            assert_eq!(pool(many), Some(44));
            jail.create_file(
                "pinned.toml",
                &format!("workers = 40\n{shared}max_connections = 20\n"),
            )?;
            let pinned = serve(&["--config", "pinned.toml"]).resolve().unwrap();
            assert_eq!(pool(pinned), Some(20));
            jail.create_file("zero.toml", "workers = 0\n")?;
            assert!(serve(&["--config", "zero.toml"]).resolve().is_err());
            Ok(())
        });
        assert!(Cli::try_parse_from(["shire-registry", "serve", "--workers", "0"]).is_err());
    }

    #[test]
    fn cache_mib_reaches_the_config_and_zero_is_refused() {
        let cli = Cli::try_parse_from(["shire-registry", "serve", "--cache-mib", "64"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(a.config().cache_mib, 64);
        assert!(Cli::try_parse_from(["shire-registry", "serve", "--cache-mib", "0"]).is_err());
    }
}
