//! Walk-forward validation and the selection statistics (issue 14): how the job's search does on
//! days it did not see, and how much its in-sample figures owe to the number of portfolios tried.
//!
//! Per fold: the job's own seeded search (same sizes, algorithms, seed, metric, penalty and
//! aggregation; each algorithm's budget divided among the folds, [`fold_budget`]) on a `Problem`
//! of the training window with the CPU evaluator, the best
//! portfolio picked as the job picks it (first best over sizes ascending and algorithms in job
//! order), then measured on the test window against [`RANDOM_PORTFOLIOS`] seeded random portfolios
//! of its size and against all strategies with equal weight. Every series comes from the exact
//! accumulators ([`daily_series`]), so the figures are the same bits on every engine and machine.

use std::ops::Range;

use rayon::prelude::*;

use crate::eval::{CpuEvaluator, daily_series};
use crate::fitness::{FitnessSpec, Problem};
use crate::matrix::PnlMatrix;
use crate::metrics::{MDD_EPSILON, SeriesStats};
use crate::rng::Rng;
use crate::search::{self, Outcome, fill_random};
use crate::stats::{expected_max_sharpe, moments, sharpe_stats, variance};
use crate::types::{
    Aggregation, Algorithm, Fold, FoldMode, JobOptions, MIN_TRAIN_DAYS, Metric, RANDOM_PORTFOLIOS,
    SelectionStats, WalkForward, WalkForwardOptions, Window, WindowFigures,
};

/// The RNG stream tag of the random portfolios (fold `i` draws stream `TAG << 32 | i`; the
/// in-sample Sharpe variance draws `TAG << 32 | u32::MAX`). Distinct from the algorithms' streams
/// (1..=8 << 32 | k).
const RANDOM_STREAM: u64 = 0x5746;

/// A fold's training and test windows, as day index ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldPlan {
    pub train: Range<usize>,
    pub test: Range<usize>,
}

/// The folds for `days` days: `folds` test windows of `test_days`, one after another, the last
/// ending on the last day; each training window ends where its test window starts and starts at
/// day 0 (`anchored`) or `train_days` before (`rolling`; default: as long as the first fold's
/// anchored window). `Err` says why there are none.
pub fn plan(options: &WalkForwardOptions, days: usize) -> Result<Vec<FoldPlan>, String> {
    if !options.enabled {
        return Err("turned off by the job's options".into());
    }
    let tested = options.folds.saturating_mul(options.test_days);
    let first_test = days.saturating_sub(tested);
    let train_days = match (options.mode, options.train_days) {
        (FoldMode::Rolling, Some(train)) => train,
        _ => first_test,
    };
    if train_days < MIN_TRAIN_DAYS || train_days > first_test {
        return Err(format!(
            "the input has {days} days: {} folds of {} test days need {} training days before \
             them (at least {MIN_TRAIN_DAYS}), so {} days in all",
            options.folds,
            options.test_days,
            train_days.max(MIN_TRAIN_DAYS),
            tested.saturating_add(train_days.max(MIN_TRAIN_DAYS)),
        ));
    }
    Ok((0..options.folds)
        .map(|i| {
            let start = first_test + i * options.test_days;
            let train_start = match options.mode {
                FoldMode::Anchored => 0,
                FoldMode::Rolling => start - train_days,
            };
            FoldPlan {
                train: train_start..start,
                test: start..start + options.test_days,
            }
        })
        .collect())
}

/// The walk-forward of a job and its selection statistics. `best_daily` is the job's best
/// portfolio's series over all days, `trials` the job's evaluations.
pub fn validate(
    matrix: &PnlMatrix,
    problem: &Problem,
    options: &JobOptions,
    best_size: usize,
    best_daily: &[f64],
    trials: u64,
) -> (WalkForward, SelectionStats) {
    let plans = plan(&options.walk_forward, matrix.n_days());
    let folds: Vec<Fold> = match &plans {
        Ok(plans) => {
            let equal_weight = equal_weight_series(matrix, options.aggregation);
            // The folds are independent: they run side by side (each one's algorithms too), so
            // both cores stay busy until the last fold's slowest algorithm ends.
            plans
                .par_iter()
                .enumerate()
                .map(|(i, p)| fold(matrix, problem, options, p, i as u64, &equal_weight))
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let walk_forward = WalkForward {
        skipped: plans.err().unwrap_or_default(),
        mode: options.walk_forward.mode,
        test_days: options.walk_forward.test_days,
        random_portfolios: RANDOM_PORTFOLIOS,
        folds,
    };
    let sharpes: Vec<f64> = random_series(problem, best_size, options.seed, u32::MAX.into())
        .iter()
        .map(|series| moments(series).0)
        .collect();
    let sharpe_variance = variance(&sharpes);
    let sr0 = expected_max_sharpe(trials, sharpe_variance);
    let out_of_sample = (!walk_forward.folds.is_empty()).then(|| {
        let series: Vec<f64> = walk_forward
            .folds
            .iter()
            .flat_map(|f| f.daily[f.train.days()..].iter().copied())
            .collect();
        sharpe_stats(&series, sr0)
    });
    let selection = SelectionStats {
        trials,
        sharpe_variance,
        in_sample: sharpe_stats(best_daily, sr0),
        out_of_sample,
        zero_drawdown: zero_drawdown(options.metric, best_daily),
    };
    (walk_forward, selection)
}

/// Whether a portfolio with this in-sample series gets its fitness from the zero-drawdown rule.
fn zero_drawdown(metric: Metric, series: &[f64]) -> bool {
    metric == Metric::Ratio && SeriesStats::of(series).max_drawdown <= MDD_EPSILON
}

/// One fold: the search on the training window, its best portfolio on the test window.
fn fold(
    matrix: &PnlMatrix,
    problem: &Problem,
    options: &JobOptions,
    plan: &FoldPlan,
    index: u64,
    equal_weight: &[f64],
) -> Fold {
    let window = matrix
        .days(plan.train.clone())
        .expect("a fold's window lies inside the matrix");
    let train_problem = Problem::new(&window, FitnessSpec::from(options), options.max_size)
        .expect("a window of a valid problem is valid");
    let (algorithm, chosen, evaluations) = job_search(&train_problem, options);
    let k = chosen.portfolio.len();
    let in_sample = daily_series(&train_problem, &chosen.portfolio);
    let full = daily_series(problem, &chosen.portfolio);
    let out_of_sample = &full[plan.test.clone()];
    let oos = figures(out_of_sample);
    let mut random: Vec<f64> = random_series(problem, k, options.seed, index)
        .iter()
        .map(|series| SeriesStats::of(&series[plan.test.clone()]).roi)
        .collect();
    random.sort_by(f64::total_cmp);
    let daily = in_sample.iter().chain(out_of_sample).copied().collect();
    Fold {
        train: window_of(matrix, &plan.train),
        test: window_of(matrix, &plan.test),
        algorithm,
        portfolio_size: k,
        fitness: chosen.fitness,
        zero_drawdown: zero_drawdown(options.metric, &in_sample),
        evaluations,
        in_sample: figures(&in_sample),
        random_median_roi: median(&random),
        percentile_rank: percentile_rank(&random, oos.roi),
        equal_weight_roi: SeriesStats::of(&equal_weight[plan.test.clone()]).roi,
        out_of_sample: oos,
        portfolio: chosen.portfolio,
        daily,
    }
}

/// The job's search on `problem` with the CPU evaluator: every size and algorithm, the first best
/// fitness kept (sizes ascending, algorithms in job order), and the evaluations of them all. The
/// folds share the job's budget: each algorithm gets [`fold_budget`] evaluations per fold.
fn job_search(problem: &Problem, options: &JobOptions) -> (Algorithm, Outcome, u64) {
    let eval = CpuEvaluator::new(problem);
    let folds = options.walk_forward.folds as u64;
    let mut best: Option<(Algorithm, Outcome)> = None;
    let mut evaluations = 0;
    for k in options.sizes() {
        let outcomes: Vec<Outcome> = options
            .algorithms
            .par_iter()
            .map(|&a| {
                let budget = fold_budget(options.budget_for(a), folds);
                search::run(a, &eval, k, budget, options.seed, &|_| {})
            })
            .collect();
        for (&algorithm, outcome) in options.algorithms.iter().zip(outcomes) {
            evaluations += outcome.evaluations;
            if best
                .as_ref()
                .is_none_or(|(_, b)| outcome.fitness > b.fitness)
            {
                best = Some((algorithm, outcome));
            }
        }
    }
    let (algorithm, outcome) = best.expect("a validated job has a size and an algorithm");
    (algorithm, outcome, evaluations)
}

/// An algorithm's evaluations per fold: its job budget divided among the folds (at least 1), so
/// that the whole walk-forward costs about one search of the job (on fewer days) and the
/// production-shape job stays under a second on two cores.
pub fn fold_budget(job_budget: u64, folds: u64) -> u64 {
    (job_budget / folds.max(1)).max(1)
}

/// ROI, max drawdown, ratio and win rate of a window's series.
pub fn figures(series: &[f64]) -> WindowFigures {
    let s = SeriesStats::of(series);
    WindowFigures {
        roi: s.roi,
        max_drawdown: s.max_drawdown,
        ratio: s.roi_drawdown_ratio(),
        win_rate: s.win_percentage(),
    }
}

fn window_of(matrix: &PnlMatrix, days: &Range<usize>) -> Window {
    Window {
        start: days.start,
        end: days.end,
        first_date: matrix.dates()[days.start].clone(),
        last_date: matrix.dates()[days.end - 1].clone(),
    }
}

/// The daily series (all days) of [`RANDOM_PORTFOLIOS`] uniformly random portfolios of `k`
/// strategies, drawn from stream `RANDOM_STREAM << 32 | stream` of the job's seed.
fn random_series(problem: &Problem, k: usize, seed: u64, stream: u64) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(seed, RANDOM_STREAM << 32 | stream);
    let mut members = Vec::with_capacity(RANDOM_PORTFOLIOS * k);
    for _ in 0..RANDOM_PORTFOLIOS {
        fill_random(&mut rng, problem.n_strategies(), k, &mut members);
    }
    members
        .par_chunks(k)
        .with_min_len(32)
        .map(|portfolio| daily_series(problem, portfolio))
        .collect()
}

/// All strategies with equal weight, per day: the mean (or the sum, with `sum` aggregation) of
/// every strategy's P&L, added in strategy order.
pub fn equal_weight_series(matrix: &PnlMatrix, aggregation: Aggregation) -> Vec<f64> {
    let mut sums = vec![0.0; matrix.n_days()];
    for j in 0..matrix.n_strategies() {
        for (sum, &v) in sums.iter_mut().zip(matrix.column(j)) {
            *sum += v;
        }
    }
    if aggregation == Aggregation::Mean {
        let n = matrix.n_strategies() as f64;
        sums.iter_mut().for_each(|s| *s /= n);
    }
    sums
}

/// The median of sorted values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Percentile (0-100) of `value` among `values`: the share below it, ties counting half.
fn percentile_rank(values: &[f64], value: f64) -> f64 {
    let below = values.iter().filter(|&&v| v < value).count() as f64;
    let equal = values.iter().filter(|&&v| v == value).count() as f64;
    100.0 * (below + 0.5 * equal) / values.len() as f64
}
