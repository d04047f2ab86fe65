//! Command-line options and the scale (counts, durations, budgets) each mode uses.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Command line of `shire-bench`.
#[derive(Debug, Parser)]
#[command(
    name = "shire-bench",
    about = "Runs the same workloads on shire-registry, nginx and Verdaccio and prints one table"
)]
pub struct Options {
    /// The `shire-registry` binary to benchmark.
    #[arg(long)]
    pub shire_bin: PathBuf,
    /// The `shire` client binary, for the install workload (skipped when absent).
    #[arg(long)]
    pub client_bin: Option<PathBuf>,
    /// The npm binary, for the install workload's other side.
    #[arg(long)]
    pub npm: Option<PathBuf>,
    /// The nginx binary (skipped when absent).
    #[arg(long)]
    pub nginx: Option<PathBuf>,
    /// The wrk binary used as load generator (the built-in generator otherwise).
    #[arg(long)]
    pub wrk: Option<PathBuf>,
    /// Verdaccio's `bin/verdaccio` script (skipped when absent).
    #[arg(long)]
    pub verdaccio: Option<PathBuf>,
    /// The node binary that runs Verdaccio.
    #[arg(long, default_value = "node")]
    pub node: PathBuf,
    /// Runs in under two minutes: fewer, shorter runs; Verdaccio filled to 1,000 only.
    #[arg(long)]
    pub quick: bool,
    /// Shire only, tiny counts: checks the benchmark still starts and prints its table.
    #[arg(long)]
    pub smoke: bool,
    /// A configuration file whose `[storage]` table names a shared backend
    /// (PostgreSQL and S3, empty): adds its rows (workload `shared`).
    #[arg(long)]
    pub shared_config: Option<PathBuf>,
    /// Appends the id of every process started, one a line (for a caller's cleanup trap).
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Runs only these workloads (comma-separated: download, metadata, publish,
    /// search, memory, install); all when not given. For profiling one path.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Keeps the servers running this many seconds after the table, for probing
    /// them by hand (their addresses are printed when they start).
    #[arg(long, default_value_t = 0)]
    pub hold_secs: u64,
    /// Writes the table as JSON to this file as well.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// How much work each measurement does.
#[derive(Debug, Clone)]
pub struct Scale {
    /// `smoke`, `quick` or `full`.
    pub mode: &'static str,
    /// Repetitions whose median is reported.
    pub runs: usize,
    /// Length of one GET load run.
    pub load_duration: Duration,
    /// Concurrent connections for GET loads.
    pub connections: usize,
    /// Size of the download artifact.
    pub download_bytes: usize,
    /// Most publishes in one publish run.
    pub publish_cap: usize,
    /// Longest publish run.
    pub publish_duration: Duration,
    /// Concurrent publishing clients.
    pub publishers: usize,
    /// Package counts at which search is measured.
    pub search_scales: [usize; 2],
    /// Longest a Shire fill to the larger scale may take.
    pub shire_fill_budget: Duration,
    /// Largest Verdaccio fill.
    pub verdaccio_fill_max: usize,
    /// Longest a Verdaccio fill may take.
    pub verdaccio_fill_budget: Duration,
    /// Search queries timed on Shire at each scale.
    pub search_queries: usize,
    /// Longest the Verdaccio search timing may take at each scale.
    pub verdaccio_search_budget: Duration,
    /// Size of the artifact uploaded and downloaded while memory is sampled.
    pub big_bytes: usize,
    /// Dependencies of the application the install workload installs.
    pub install_deps: usize,
}

impl Scale {
    /// The scale for the chosen mode.
    pub fn for_options(opts: &Options) -> Self {
        const MIB: usize = 1 << 20;
        if opts.smoke {
            Self {
                mode: "smoke",
                runs: 1,
                load_duration: Duration::from_millis(500),
                connections: 16,
                download_bytes: MIB,
                publish_cap: 40,
                publish_duration: Duration::from_secs(2),
                publishers: 8,
                search_scales: [20, 100],
                shire_fill_budget: Duration::from_secs(15),
                verdaccio_fill_max: 100,
                verdaccio_fill_budget: Duration::from_secs(5),
                search_queries: 40,
                verdaccio_search_budget: Duration::from_secs(1),
                big_bytes: 16 * MIB,
                install_deps: 3,
            }
        } else if opts.quick {
            Self {
                mode: "quick",
                runs: 3,
                load_duration: Duration::from_secs(2),
                connections: 64,
                download_bytes: 10 * MIB,
                publish_cap: 2_000,
                publish_duration: Duration::from_secs(2),
                publishers: 8,
                search_scales: [1_000, 10_000],
                shire_fill_budget: Duration::from_secs(30),
                verdaccio_fill_max: 1_000,
                verdaccio_fill_budget: Duration::from_secs(15),
                search_queries: 500,
                verdaccio_search_budget: Duration::from_secs(2),
                big_bytes: 200 * MIB,
                install_deps: 50,
            }
        } else {
            Self {
                mode: "full",
                runs: 5,
                load_duration: Duration::from_secs(5),
                connections: 64,
                download_bytes: 10 * MIB,
                publish_cap: 10_000,
                publish_duration: Duration::from_secs(5),
                publishers: 8,
                search_scales: [1_000, 10_000],
                shire_fill_budget: Duration::from_secs(300),
                verdaccio_fill_max: 10_000,
                verdaccio_fill_budget: Duration::from_secs(400),
                search_queries: 2_000,
                verdaccio_search_budget: Duration::from_secs(20),
                big_bytes: 200 * MIB,
                install_deps: 50,
            }
        }
    }
}
