//! One optimization job, in process: ULTA, per-strategy metrics, the search for every size and
//! algorithm, and the portfolio metrics of every result. Engines wrap this with their evaluator.

use rayon::prelude::*;

use crate::error::CoreError;
use crate::eval::{Evaluator, daily_series};
use crate::fitness::{FitnessSpec, Problem};
use crate::matrix::PnlMatrix;
use crate::metrics::{all_strategy_metrics, portfolio_metrics};
use crate::search::{self, Progress};
use crate::types::{
    Algorithm, AlgorithmResult, Inversion, JobOptions, RunResult, SizeResult, StrategyMetrics,
};
use crate::walk_forward;

/// A progress event of a running job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobProgress {
    pub portfolio_size: usize,
    pub algorithm: Algorithm,
    pub progress: Progress,
}

/// The data a job searches over, prepared once: the matrix after ULTA, its per-strategy metrics
/// and its exact quantized form.
#[derive(Debug)]
pub struct Prepared {
    pub matrix: PnlMatrix,
    pub inversions: Vec<Inversion>,
    pub strategy_metrics: Vec<StrategyMetrics>,
    pub problem: Problem,
}

impl Prepared {
    /// ULTA (when asked), per-strategy metrics and quantization. `metrics` may be supplied by an
    /// engine that computed them itself; otherwise they are computed here. Supplied metrics must
    /// be those of the matrix *after* ULTA: an engine that computes them itself calls [`ulta`]
    /// and [`Prepared::assemble`] instead.
    pub fn new(
        matrix: PnlMatrix,
        options: &JobOptions,
        metrics: Option<Vec<StrategyMetrics>>,
    ) -> Result<Self, CoreError> {
        let (matrix, inversions) = ulta(matrix, options)?;
        Self::assemble(matrix, inversions, metrics, options)
    }

    /// The last step of [`Prepared::new`], for a matrix already through [`ulta`]: checks the
    /// metrics' count (computing them when `None`) and quantizes.
    pub fn assemble(
        matrix: PnlMatrix,
        inversions: Vec<Inversion>,
        metrics: Option<Vec<StrategyMetrics>>,
        options: &JobOptions,
    ) -> Result<Self, CoreError> {
        options.validate(matrix.n_strategies())?;
        let strategy_metrics = match metrics {
            Some(m) if m.len() == matrix.n_strategies() => m,
            Some(m) => {
                return Err(CoreError::Shape(format!(
                    "{} strategy metrics for {} strategies",
                    m.len(),
                    matrix.n_strategies()
                )));
            }
            None => all_strategy_metrics(&matrix),
        };
        let problem = Problem::new(&matrix, FitnessSpec::from(options), options.max_size)?;
        Ok(Self {
            matrix,
            inversions,
            strategy_metrics,
            problem,
        })
    }
}

/// The first step of a job: checks the options against the matrix, then applies ULTA when the
/// options ask for it (returning the inversions made; none otherwise).
pub fn ulta(
    matrix: PnlMatrix,
    options: &JobOptions,
) -> Result<(PnlMatrix, Vec<Inversion>), CoreError> {
    options.validate(matrix.n_strategies())?;
    if options.ulta {
        crate::ulta::apply(&matrix)
    } else {
        Ok((matrix, Vec::new()))
    }
}

/// Runs every size and algorithm of the job with `eval` (whose problem must be `prepared.problem`),
/// then the walk-forward validation and the selection statistics ([`validate`]).
pub fn run_search(
    prepared: &Prepared,
    options: &JobOptions,
    eval: &dyn Evaluator,
    progress: &(dyn Fn(JobProgress) + Sync),
) -> RunResult {
    let mut result = search_only(prepared, options, eval, progress);
    validate(prepared, &mut result);
    result
}

/// The first part of [`run_search`], for callers that time the parts: the search alone, with an
/// empty walk-forward and selection statistics.
pub fn search_only(
    prepared: &Prepared,
    options: &JobOptions,
    eval: &dyn Evaluator,
    progress: &(dyn Fn(JobProgress) + Sync),
) -> RunResult {
    let problem = &prepared.problem;
    let sizes: Vec<SizeResult> = options
        .sizes()
        .map(|k| {
            let algorithms: Vec<AlgorithmResult> = options
                .algorithms
                .par_iter()
                .map(|&algorithm| {
                    let started = std::time::Instant::now();
                    let report = |p: Progress| {
                        progress(JobProgress {
                            portfolio_size: k,
                            algorithm,
                            progress: p,
                        })
                    };
                    let budget = options.budget_for(algorithm);
                    let outcome = search::run(algorithm, eval, k, budget, options.seed, &report);
                    let daily = daily_series(problem, &outcome.portfolio);
                    AlgorithmResult {
                        algorithm,
                        portfolio_size: k,
                        metrics: portfolio_metrics(&daily),
                        portfolio: outcome.portfolio,
                        fitness: outcome.fitness,
                        evaluations: outcome.evaluations,
                        seconds: started.elapsed().as_secs_f64(),
                    }
                })
                .collect();
            let best = best_index(algorithms.iter().map(|a| a.fitness));
            let best_daily = daily_series(problem, &algorithms[best].portfolio);
            SizeResult {
                portfolio_size: k,
                algorithms,
                best,
                best_daily,
            }
        })
        .collect();
    let best_size = best_index(sizes.iter().map(|s| s.best().fitness));
    RunResult {
        options: options.clone(),
        strategy_names: prepared.matrix.names().to_vec(),
        dates: prepared.matrix.dates().to_vec(),
        strategy_metrics: prepared.strategy_metrics.clone(),
        sizes,
        best_size,
        inversions: prepared.inversions.clone(),
        evaluator: eval.name().to_string(),
        walk_forward: Default::default(),
        selection: Default::default(),
    }
}

/// The second part of [`run_search`]: the walk-forward validation and the selection statistics of
/// a searched `result`, on the CPU (the same bits on every engine).
pub fn validate(prepared: &Prepared, result: &mut RunResult) {
    let trials = result
        .sizes
        .iter()
        .flat_map(|s| &s.algorithms)
        .map(|a| a.evaluations)
        .sum();
    let best = result.best_size();
    let (walk_forward, selection) = walk_forward::validate(
        &prepared.matrix,
        &prepared.problem,
        &result.options,
        best.portfolio_size,
        &best.best_daily,
        trials,
    );
    result.walk_forward = walk_forward;
    result.selection = selection;
}

/// Index of the largest value; the first wins a tie.
fn best_index(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if i == 0 || v > best.1 {
            best = (i, v);
        }
    }
    best.0
}
