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
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML: node options and `[[peer]]` tables, see
    /// docs/federation.md); flags given here win over it.
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
    /// Largest artifact upload in bytes.
    #[arg(long, default_value_t = config::DEFAULT_MAX_UPLOAD)]
    pub max_upload: u64,
    /// Distinct verifier accounts whose approvals make a release approved
    /// (two keys of one account count once) [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threshold: Option<u32>,
    /// Cap of the database's page cache in MiB (more keeps more of a large
    /// registry in memory; resident memory grows up to about this plus 20 MiB).
    #[arg(long, default_value_t = config::DEFAULT_CACHE_MIB, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub cache_mib: u64,
    /// Free space to keep on the data folder's disk, in MiB: below it the
    /// node refuses writes (507) and `/readyz` answers 503, and it resumes by
    /// itself once there is room again.
    #[arg(long, default_value_t = config::DEFAULT_MIN_FREE_MIB)]
    pub min_free_mib: u64,
}

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
    /// The configuration these flags describe (no file read).
    pub fn config(&self) -> Config {
        self.merge(&FileConfig::default())
    }

    /// Flags over a configuration file's node options (flags win).
    pub fn merge(&self, file: &FileConfig) -> Config {
        let data = self
            .data
            .clone()
            .or_else(|| file.data.clone())
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA));
        Config {
            listen: self
                .listen
                .clone()
                .or_else(|| file.listen.clone())
                .unwrap_or_else(|| config::DEFAULT_LISTEN.into()),
            origin: self.origin.clone().or_else(|| file.origin.clone()),
            max_upload: self.max_upload,
            cache_mib: self.cache_mib,
            min_free_bytes: self.min_free_mib << 20,
            threshold: self.threshold.or(file.threshold).unwrap_or(1).max(1),
            ..Config::new(data)
        }
    }

    /// The configuration of flags and `--config FILE` with its peers.
    pub fn resolve(&self) -> Result<Config> {
        let Some(path) = &self.config else {
            return Ok(self.config());
        };
        let file = FileConfig::load(path)?;
        let federation = file
            .federation()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(Config {
            federation: Some(federation),
            ..self.merge(&file)
        })
    }
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            init_tracing();
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
            let statuses = rt.block_on(crate::federation::sync_command(config))?;
            crate::federation::report_sync(&statuses)
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

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
