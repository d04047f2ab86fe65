//! `shire-bench`: starts `shire-registry` (and, when given, nginx and Verdaccio) on
//! loopback with data in a temporary folder, runs the same workloads on each, stops
//! what it started and prints one table of figures, ratios and targets.
//!
//! `bench/run.sh` installs the other servers and calls this; `bench/smoke.sh` runs it
//! with `--smoke` (Shire only, tiny counts).

mod fixtures;
mod install;
mod load;
mod options;
mod procfs;
mod servers;
mod shire;
mod table;
mod verdaccio;
mod workloads;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = options::Options::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shire-bench: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // On Ctrl-C or SIGTERM the run is dropped, and with it every server it
    // started (each is stopped when its handle drops).
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = workloads::run(opts) => r,
            s = stop_signal() => {
                eprintln!("shire-bench: {s}, stopping the servers");
                Ok(ExitCode::from(130))
            }
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shire-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Waits for Ctrl-C or SIGTERM and says which came.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted",
            _ = term.recv() => "terminated",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}
