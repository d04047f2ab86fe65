//! The `shire-registry` binary: parse flags, run, map the result to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = shire_registry::Cli::parse();
    match shire_registry::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever a peer's answer quoted in it.
            let message = shire_core::escape_invisible(&format!("{e:#}"));
            eprintln!("shire-registry: {message}");
            ExitCode::FAILURE
        }
    }
}
