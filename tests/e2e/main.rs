//! End-to-end tests: one binary, one module per area.
mod adoption;
mod catalogue;
mod client_life;
mod federation;
mod foundation;
mod log;
mod operations;
mod review_attacks;
mod shared;
mod verification;
