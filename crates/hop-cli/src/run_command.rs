//! `hop run`: one job in process — parse the CSV, search, write the run folder, print its path
//! as the last line of standard output.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;
use hop_compute::EngineChoice;
use hop_core::run::{JobProgress, Prepared, search_only, validate};
use hop_core::types::{FoldMode, WalkForwardOptions};
use hop_core::{Aggregation, Algorithm, JobOptions, Metric};
use hop_report::RunInfo;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The input CSV (legacy format: Date, Day, then one column per strategy).
    #[arg(long)]
    pub csv: PathBuf,
    #[command(flatten)]
    pub options: JobOptionArgs,
    /// Where run folders go.
    #[arg(long, default_value = "output")]
    pub out: PathBuf,
    /// Print no progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Evaluator: `auto` (the GPU when one is usable, else the CPU; the choice is logged and in
    /// results.json), `cpu`, or `gpu` (fails with the reason when no GPU is usable).
    #[arg(long, default_value = "auto")]
    pub engine: EngineChoice,
}

/// The job options as flags (shared by `hop run` and `hop submit`).
#[derive(Debug, Clone, Args)]
pub struct JobOptionArgs {
    /// Portfolio size k (ignored when --min-size/--max-size are given).
    #[arg(long, default_value_t = 35)]
    pub portfolio_size: usize,
    /// Smallest size of a size sweep.
    #[arg(long, requires = "max_size")]
    pub min_size: Option<usize>,
    /// Largest size of a size sweep.
    #[arg(long, requires = "min_size")]
    pub max_size: Option<usize>,
    #[arg(long, default_value_t = hop_core::types::DEFAULT_SEED)]
    pub seed: u64,
    /// Comma-separated algorithms (GA,PSO,SA,DE,ACO,HC,BO,RS); all eight by default.
    #[arg(long, value_parser = parse_algorithms)]
    pub algorithms: Option<AlgorithmList>,
    /// Fitness evaluations per algorithm and size (default: each algorithm's own).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Fitness metric: ratio, roi, "less max dd", "win percentage", "profit factor", expectancy;
    /// robust: "ratio floor", cdar.
    #[arg(long, default_value = "ratio", value_parser = parse_metric)]
    pub metric: Metric,
    /// Weight of the mean pairwise correlation subtracted from the fitness (0 disables it).
    #[arg(long, default_value_t = hop_core::types::DEFAULT_PENALTY_WEIGHT)]
    pub penalty_weight: f64,
    /// Combine members by their mean (reference optimizer) or their sum (later legacy workflow).
    #[arg(long, default_value = "mean", value_parser = parse_aggregation)]
    pub aggregation: Aggregation,
    /// Invert strategies whose ROI is negative (ULTA) and list them in inversion_report.md.
    #[arg(long)]
    pub ulta: bool,
    /// Skip the walk-forward validation (the run folder is then the legacy one, byte for byte).
    #[arg(long)]
    pub no_walk_forward: bool,
    /// Walk-forward training windows: anchored (from the first day) or rolling.
    #[arg(long, default_value = "anchored", value_parser = parse_fold_mode)]
    pub walk_forward_mode: FoldMode,
    /// Training days per fold in rolling mode (default: the days before the first test window).
    #[arg(long)]
    pub walk_forward_train_days: Option<usize>,
    /// Days per walk-forward test window.
    #[arg(long, default_value_t = WalkForwardOptions::default().test_days)]
    pub walk_forward_test_days: usize,
    /// Walk-forward folds (their test windows end on the last day).
    #[arg(long, default_value_t = WalkForwardOptions::default().folds)]
    pub walk_forward_folds: usize,
}

/// A comma-separated list of algorithms (one command-line value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmList(pub Vec<Algorithm>);

fn parse_algorithms(text: &str) -> Result<AlgorithmList, String> {
    Algorithm::parse_list(text)
        .map(AlgorithmList)
        .map_err(|e| e.to_string())
}

fn parse_metric(text: &str) -> Result<Metric, String> {
    Metric::parse(text).map_err(|e| e.to_string())
}

fn parse_fold_mode(text: &str) -> Result<FoldMode, String> {
    FoldMode::parse(text).map_err(|e| e.to_string())
}

fn parse_aggregation(text: &str) -> Result<Aggregation, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "mean" => Ok(Aggregation::Mean),
        "sum" => Ok(Aggregation::Sum),
        other => Err(format!("unknown aggregation {other:?}; use mean or sum")),
    }
}

impl JobOptionArgs {
    pub fn options(&self) -> JobOptions {
        let (min_size, max_size) = match (self.min_size, self.max_size) {
            (Some(a), Some(b)) => (a, b),
            _ => (self.portfolio_size, self.portfolio_size),
        };
        JobOptions {
            min_size,
            max_size,
            algorithms: self
                .algorithms
                .clone()
                .map_or_else(|| Algorithm::ALL.to_vec(), |l| l.0),
            seed: self.seed,
            budget: self.budget,
            metric: self.metric,
            penalty_weight: self.penalty_weight,
            aggregation: self.aggregation,
            ulta: self.ulta,
            walk_forward: WalkForwardOptions {
                enabled: !self.no_walk_forward,
                mode: self.walk_forward_mode,
                train_days: self.walk_forward_train_days,
                test_days: self.walk_forward_test_days,
                folds: self.walk_forward_folds,
            },
        }
    }
}

/// What an in-process job produced.
#[derive(Debug)]
pub struct JobOutput {
    pub result: hop_core::RunResult,
    pub folder: PathBuf,
    /// Seconds per step: parse, prepare, search, report.
    pub timings: Vec<(String, f64)>,
}

/// One job in process on the CPU evaluator: CSV file -> run folder under `out`.
pub fn run_job(
    csv: &Path,
    options: &JobOptions,
    out: &Path,
    progress: &(dyn Fn(JobProgress) + Sync),
) -> Result<JobOutput, CliError> {
    let cpu = hop_compute::Engine::resolve(EngineChoice::Cpu);
    run_job_on(&cpu, csv, options, out, progress)
}

/// One job in process on `engine`'s evaluator (the GPU one when it is the engine).
pub fn run_job_on(
    engine: &hop_compute::Engine,
    csv: &Path,
    options: &JobOptions,
    out: &Path,
    progress: &(dyn Fn(JobProgress) + Sync),
) -> Result<JobOutput, CliError> {
    let timestamp = chrono::Local::now().naive_local();
    let csv_name = csv.display().to_string();
    let mut timings = Vec::new();
    let mut lap = Instant::now();
    let mut step = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_string(), lap.elapsed().as_secs_f64()));
        lap = Instant::now();
    };
    let bytes = std::fs::read(csv).map_err(|source| CliError::Read {
        path: csv_name.clone(),
        source,
    })?;
    let matrix = hop_core::csv::parse_csv(&bytes).map_err(|source| CliError::Csv {
        path: csv_name.clone(),
        source,
    })?;
    step("parse", &mut timings);
    let prepared = Prepared::new(matrix, options, None)?;
    step("prepare", &mut timings);
    let eval = engine
        .evaluator(&prepared.problem, options)
        .map_err(|e| CliError::Engine(e.message))?;
    let mut result = search_only(&prepared, options, &*eval, progress);
    step("search", &mut timings);
    validate(&prepared, &mut result);
    if options.walk_forward.enabled {
        step("walk-forward", &mut timings);
    }
    let info = RunInfo {
        job_id: None,
        input_file: csv_name,
        timestamp,
        side: None,
        engine: eval.name().to_string(),
        errors: Vec::new(),
        timings: timings.clone(),
    };
    let folder = hop_report::write_run_folder(out, &info, &result)?;
    step("report", &mut timings);
    Ok(JobOutput {
        result,
        folder,
        timings,
    })
}

pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let reported = Mutex::new(Vec::new());
    let progress = |p: JobProgress| {
        if args.quiet {
            return;
        }
        let percent = 100 * p.progress.evaluations / p.progress.budget.max(1);
        let mut seen = reported.lock().unwrap_or_else(|e| e.into_inner());
        // One line per algorithm and quarter, so a long job shows it is alive without flooding.
        let key = (p.portfolio_size, p.algorithm, percent / 25);
        if !seen.contains(&key) {
            seen.push(key);
            eprintln!(
                "progress: size {} {} {:>3}% best {}",
                p.portfolio_size,
                p.algorithm,
                percent,
                hop_core::format::float(p.progress.best)
            );
        }
    };
    let JobOutput {
        result,
        folder,
        timings,
    } = {
        let engine = hop_compute::Engine::resolve(args.engine);
        let name = engine.name().map_err(|e| CliError::Engine(e.message))?;
        if !args.quiet {
            eprintln!("engine: {name} ({})", engine.device());
        }
        run_job_on(
            &engine,
            &args.csv,
            &args.options.options(),
            &args.out,
            &progress,
        )?
    };
    for size in &result.sizes {
        for a in &size.algorithms {
            println!(
                "size {:>3}  {:<4} fitness {:>22}  evaluations {:>8}  {:.3} s",
                a.portfolio_size,
                a.algorithm.as_str(),
                hop_core::format::float(a.fitness),
                a.evaluations,
                a.seconds
            );
        }
    }
    let best = result.best();
    println!(
        "best: size {} {} fitness {} ({} strategies, {} days) in {:.3} s [{}]",
        best.portfolio_size,
        best.algorithm,
        hop_core::format::float(best.fitness),
        result.strategy_names.len(),
        result.dates.len(),
        started.elapsed().as_secs_f64(),
        timings
            .iter()
            .map(|(n, s)| format!("{n} {s:.3}s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("{}", folder.display());
    Ok(())
}
