//! The `shire` binary: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = shire_client::cli::Cli::parse();
    let json = cli.json;
    match shire_client::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            if json {
                println!("{}", shire_client::output::error_json(&e));
            }
            eprintln!("{}", shire_client::output::error_line(&e));
            ExitCode::from(shire_client::EXIT_ERROR)
        }
    }
}
