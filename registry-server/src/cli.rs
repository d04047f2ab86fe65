//! Command-line interface: `shire-registry serve` and `shire-registry key`.

use crate::config::{self, Config};
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
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data folder (database, blobs, node key, admin token).
    #[arg(long, default_value = config::DEFAULT_DATA)]
    pub data: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = config::DEFAULT_LISTEN)]
    pub listen: String,
    /// The node's origin name (first start only; default shire.local/<key id prefix>).
    #[arg(long)]
    pub origin: Option<String>,
    /// Largest artifact upload in bytes.
    #[arg(long, default_value_t = config::DEFAULT_MAX_UPLOAD)]
    pub max_upload: u64,
    /// Distinct verifier keys whose approvals make a release approved.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub threshold: u32,
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
    /// The configuration these flags describe.
    pub fn config(&self) -> Config {
        Config {
            listen: self.listen.clone(),
            origin: self.origin.clone(),
            max_upload: self.max_upload,
            threshold: self.threshold,
            ..Config::new(self.data.clone())
        }
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
            rt.block_on(startup::serve(args.config()))
        }
        Command::Key(args) => {
            let key = identity::load_or_create_key(&args.data)?;
            let origin = identity::origin_for_key(&args.data, &key, args.origin.as_deref());
            if !signed_note::is_key_name_valid(&origin) {
                anyhow::bail!("origin {origin:?} is not a valid name (no spaces, no '+')");
            }
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
    }
}
