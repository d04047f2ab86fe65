//! The registry's HTTP API suite (`api/suite.rs`) on the shared backend: each
//! node on a new database of a real PostgreSQL and a new prefix of a real S3
//! API (moto), both on loopback (`tests/services/up.sh` starts them unless
//! `SHIRE_TEST_POSTGRES` and `SHIRE_TEST_S3` name running ones).

/// Which backend the suite runs on.
const SHARED: bool = true;

#[path = "api/adoptions.rs"]
mod adoptions;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/hot_pool.rs"]
mod hot_pool;
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
#[path = "api/shared_only.rs"]
mod shared_only;
#[path = "api/takedown.rs"]
mod takedown;
#[path = "api/webhooks.rs"]
mod webhooks;

include!("api/suite.rs");
