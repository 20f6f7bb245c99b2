//! `hop-bench`: measures the production shape (25,544 strategies x 82 days by default) and prints
//! one `name: value unit` line per figure. Run it in release: `cargo run --release -p hop-bench`
//! (add `-- --share` for the share path through the six services, after
//! `cargo build --release --bins`; `-- --curve` for fitness against evaluations and time).

mod curve;
mod measure;
mod share;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "hop-bench",
    about = "Heavy Optimizer benchmark on production-shape data"
)]
pub struct BenchArgs {
    /// Real data to bootstrap from (default: the legacy 2,500-strategy fixture beside the repo,
    /// else the 500-strategy sample in fixtures/).
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// Strategies to generate.
    #[arg(long, default_value_t = 25_544)]
    pub strategies: usize,
    /// Portfolio size for the evaluation rates and the whole job.
    #[arg(long, default_value_t = 35)]
    pub k: usize,
    /// Generator and job seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Single-swap evaluations timed for the swap rate.
    #[arg(long, default_value_t = 2_000_000)]
    pub swaps: usize,
    /// Whole-portfolio evaluations timed for the batch rate.
    #[arg(long, default_value_t = 200_000)]
    pub batch: usize,
    /// Repetitions of each timed step (the best is reported, and the median for the whole job).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Also time the share path (job file -> completed JSON through the six services, per hop,
    /// on both sides); needs the release `hop` binary beside this one
    /// (`cargo build --release --bins`).
    #[arg(long)]
    pub share: bool,
    /// Print only the convergence curves instead: each algorithm's fitness against evaluations
    /// and time, on one thread, at budgets from 1/16 to 4 times its default.
    #[arg(long)]
    pub curve: bool,
}

pub fn main() -> ExitCode {
    let args = BenchArgs::parse();
    match measure::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The default fixture: the legacy 2,500 x 82 file in `../shared`, else the in-repo sample.
pub fn default_fixture() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/fixtures/legacy/sensex_2500x82.csv");
    if shared.exists() {
        shared
    } else {
        root.join("fixtures/sensex_500x82.csv")
    }
}
