//! End-to-end tests: one binary, one module per area.
mod foundation;
mod log;
mod verification;
