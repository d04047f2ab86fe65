//! The registry's HTTP API, end to end against an in-process node on loopback:
//! the happy path, and every attack refused with the right status and code and
//! nothing stored changed.
//!
//! This run is on the embedded backend (sled and pack files); `api_shared.rs`
//! runs the same tests on PostgreSQL and S3.

/// Which backend the suite runs on.
const SHARED: bool = false;

#[path = "api/adoptions.rs"]
mod adoptions;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/log_tests.rs"]
mod log_tests;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/review_attacks.rs"]
mod review_attacks;
#[path = "api/robustness.rs"]
mod robustness;
#[path = "api/takedown.rs"]
mod takedown;
#[path = "api/webhooks.rs"]
mod webhooks;

include!("api/suite.rs");
