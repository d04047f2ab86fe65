//! One module per command group. Each command function takes the [`Ctx`] and its
//! parsed arguments, prints text or (with `--json`) JSON on stdout, and returns
//! the run's [`Outcome`](crate::Outcome).

pub mod account;
pub mod admin;
pub mod audit;
pub mod browse;
pub mod club;
pub mod install;
pub mod key;
pub mod lifecycle;
pub mod log;
pub mod offline;
pub mod peers;
pub mod project;
pub mod token;
pub mod trust;
pub mod verdict;
pub mod webhook;
pub mod yank;

use crate::api::Client;
use crate::home::{normalise_registry, Home};
use crate::transparency::{self, NodeKey, VerifiedLog};
use anyhow::Result;

/// What every command needs: the registry, the output mode and SHIRE_HOME.
pub struct Ctx {
    /// The registry URL (normalised, no trailing `/`).
    pub registry: String,
    /// Print JSON instead of text.
    pub json: bool,
    /// The client's state folder.
    pub home: Home,
    /// The node key given with `--node-key` / `SHIRE_NODE_KEY`, if any.
    pub node_key: Option<NodeKey>,
}

impl Ctx {
    /// Builds the context, locating SHIRE_HOME.
    pub fn new(registry: &str, json: bool) -> Result<Self> {
        Ok(Self {
            registry: normalise_registry(registry),
            json,
            home: Home::locate()?,
            node_key: None,
        })
    }

    /// The same context trusting `key` as the registry's node key.
    pub fn with_node_key(mut self, key: Option<NodeKey>) -> Self {
        self.node_key = key;
        self
    }

    /// Fetches and verifies the registry's latest log checkpoint against the
    /// pinned node key and the checkpoint verified before (see `transparency`).
    pub fn verified_log(&self, client: &Client) -> Result<VerifiedLog> {
        transparency::sync(client, &self.home, &self.registry, self.node_key.as_ref())
    }

    /// The token to use: `SHIRE_TOKEN` when set, else the one stored by `shire login`.
    pub fn token(&self) -> Result<Option<String>> {
        let env = std::env::var("SHIRE_TOKEN").ok();
        pick_token(env, || self.home.token_for(&self.registry))
    }

    /// A registry client carrying the token, if any.
    pub fn client(&self) -> Result<Client> {
        Ok(Client::new(&self.registry, self.token()?)?)
    }
}

/// Why `name` is not found on the registry, with the closest package names
/// it holds when one looks like a typo of `name`.
pub fn unknown_package(client: &Client, name: &shire_core::PackageName) -> String {
    let mut known: Vec<String> = Vec::new();
    for q in [name.org().as_str(), name.name()] {
        if let Ok(res) = client.search(q, 50, false) {
            known.extend(res.results.into_iter().map(|h| h.name.to_string()));
        }
    }
    known.sort();
    known.dedup();
    format!(
        "{name} is not a package on {}{}",
        client.base(),
        crate::output::did_you_mean(&name.to_string(), &known)
    )
}

/// The environment's token wins over the stored one; an empty variable counts as unset.
fn pick_token(
    env: Option<String>,
    stored: impl FnOnce() -> Result<Option<String>>,
) -> Result<Option<String>> {
    match env.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
        Some(t) => Ok(Some(t)),
        None => stored(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_token_wins_over_stored_token() {
        let stored = || Ok(Some("stored".to_string()));
        assert_eq!(
            pick_token(Some("env".into()), stored).unwrap().as_deref(),
            Some("env")
        );
        assert_eq!(
            pick_token(Some("  ".into()), stored).unwrap().as_deref(),
            Some("stored")
        );
        assert_eq!(pick_token(None, stored).unwrap().as_deref(), Some("stored"));
        assert_eq!(pick_token(None, || Ok(None)).unwrap(), None);
    }
}
