//! `shire-registry`: a Shire registry node.
//!
//! An actix-web HTTP API (`docs/api.md`) over sled metadata and a
//! content-addressed blob store. The node checks every statement it accepts
//! with `shire_core::verify`, stores it only as a `Verified<…>` value, and
//! acknowledges a change only once it is durable (see [`store`]).
//!
//! Module map: [`cli`] (flags) → [`startup`] (binding, serving) → [`routes`]
//! (one file per resource) → [`store`] (sled trees, blobs, log hook, search).
//! Errors become HTTP in one place, [`error`]; tokens and roles live in [`auth`].
#![deny(missing_docs)]

pub mod auth;
pub mod backup;
pub mod catalogue;
pub mod cli;
pub mod config;
pub mod error;
pub mod federation;
pub mod identity;
pub mod memory;
pub mod metrics;
pub mod middleware;
pub mod migrate;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod webhooks;

pub use cli::{run, Cli};
pub use config::Config;
pub use startup::{start, RunningServer};
