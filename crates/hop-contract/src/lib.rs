//! The contract between the wire (`hop.v1`, crate `hop-proto`) and the domain (`hop-core`).
//!
//! - [`options_from_proto`] / [`options_to_proto`]: `hop.v1.JobOptions` <-> [`hop_core::JobOptions`],
//!   applying the defaults documented in `common.proto` (absent seed = 42, absent budget = each
//!   algorithm's own default, absent penalty weight = 10, empty metric = `ratio`, empty aggregation
//!   = `mean`, empty algorithm list = all eight, `max_size` 0 = `min_size`).
//!   The walk-forward options: absent = on, anchored, 3 folds of 12 test days; `off` turns it off.
//! - [`result_to_proto`]: a [`RunResult`] -> `hop.v1.JobResult`, with its walk-forward and
//!   selection statistics.
//! - [`progress_event`]: a [`JobProgress`] -> a `JobEvent` carrying `Progress`.
//!
//! Every engine (green `hop-compute`, blue `hop-legacy`) goes through these functions, so both read
//! a job the same way. Checks that need the matrix (a size larger than the strategy count) are left
//! to [`hop_core::JobOptions::validate`].

use hop_core::run::JobProgress;
use hop_core::types::{
    DEFAULT_PENALTY_WEIGHT, DEFAULT_SEED, Fold, FoldMode, SelectionStats, SharpeStats, WalkForward,
    WalkForwardOptions, Window, WindowFigures,
};
use hop_core::{Aggregation, Algorithm, JobOptions, Metric, RunResult};
use hop_proto::FailureCode;
use hop_proto::v1 as pb;
use thiserror::Error;

/// A wire message that does not make a valid domain value.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ContractError {
    /// A job option was refused; the message names the field and the value.
    #[error("invalid job option {field}: {message}")]
    InvalidOptions {
        /// The `hop.v1.JobOptions` field at fault, e.g. `algorithms`.
        field: &'static str,
        /// What is wrong with it, naming the offending value.
        message: String,
    },
}

impl ContractError {
    fn options(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidOptions {
            field,
            message: message.into(),
        }
    }

    /// The stable machine-readable code (the `JobEvent.Failed.code` vocabulary).
    pub fn code(&self) -> FailureCode {
        match self {
            Self::InvalidOptions { .. } => FailureCode::InvalidOptions,
        }
    }
}

impl From<ContractError> for tonic::Status {
    fn from(e: ContractError) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}

/// `hop.v1.JobOptions` -> [`JobOptions`], with the documented defaults.
///
/// Refused (as [`ContractError::InvalidOptions`], naming the field and the value): `min_size` 0, a
/// `max_size` below `min_size`, an unknown algorithm, metric or aggregation, a budget of 0, a
/// non-finite penalty weight. `None` (no options message at all) is refused too, since it carries
/// no portfolio size.
pub fn options_from_proto(options: Option<&pb::JobOptions>) -> Result<JobOptions, ContractError> {
    let o = options.ok_or_else(|| {
        ContractError::options("min_size", "the job has no options: set at least min_size")
    })?;
    if o.min_size == 0 {
        return Err(ContractError::options(
            "min_size",
            "0 is not a portfolio size; it must be at least 1",
        ));
    }
    let max_size = if o.max_size == 0 {
        o.min_size
    } else {
        o.max_size
    };
    if max_size < o.min_size {
        return Err(ContractError::options(
            "max_size",
            format!("{max_size} is smaller than min_size {}", o.min_size),
        ));
    }
    let algorithms = if o.algorithms.is_empty() {
        Algorithm::ALL.to_vec()
    } else {
        let mut out = Vec::new();
        for name in &o.algorithms {
            let algorithm = Algorithm::parse(name).map_err(|_| {
                ContractError::options(
                    "algorithms",
                    format!(
                        "unknown algorithm {name:?}; use one of: {}",
                        names(&Algorithm::ALL, |a| a.as_str())
                    ),
                )
            })?;
            if !out.contains(&algorithm) {
                out.push(algorithm);
            }
        }
        out
    };
    if o.budget == Some(0) {
        return Err(ContractError::options(
            "budget",
            "0 evaluations; the budget must be at least 1 (or absent for the defaults)",
        ));
    }
    let metric = if o.metric.trim().is_empty() {
        Metric::Ratio
    } else {
        Metric::parse(&o.metric).map_err(|_| {
            ContractError::options(
                "metric",
                format!(
                    "unknown metric {:?}; use one of: {}",
                    o.metric,
                    names(&Metric::ALL, |m| m.as_str())
                ),
            )
        })?
    };
    let penalty_weight = o.penalty_weight.unwrap_or(DEFAULT_PENALTY_WEIGHT);
    if !penalty_weight.is_finite() {
        return Err(ContractError::options(
            "penalty_weight",
            format!("{penalty_weight} is not a finite number"),
        ));
    }
    let aggregation = match o.aggregation.trim().to_ascii_lowercase().as_str() {
        "" | "mean" => Aggregation::Mean,
        "sum" => Aggregation::Sum,
        _ => {
            return Err(ContractError::options(
                "aggregation",
                format!(
                    "unknown aggregation {:?}; use one of: mean, sum",
                    o.aggregation
                ),
            ));
        }
    };
    let walk_forward = walk_forward_from_proto(o.walk_forward.as_ref())?;
    Ok(JobOptions {
        min_size: o.min_size as usize,
        max_size: max_size as usize,
        algorithms,
        seed: o.seed.unwrap_or(DEFAULT_SEED),
        budget: o.budget,
        metric,
        penalty_weight,
        aggregation,
        ulta: o.ulta,
        walk_forward,
    })
}

/// `hop.v1.WalkForwardOptions` -> [`WalkForwardOptions`]: absent message or 0/empty fields take
/// the defaults; an unknown mode or fewer than the minimum training days are refused.
fn walk_forward_from_proto(
    o: Option<&pb::WalkForwardOptions>,
) -> Result<WalkForwardOptions, ContractError> {
    let defaults = WalkForwardOptions::default();
    let Some(o) = o else { return Ok(defaults) };
    let mode = if o.mode.trim().is_empty() {
        defaults.mode
    } else {
        FoldMode::parse(&o.mode).map_err(|_| {
            ContractError::options(
                "walk_forward.mode",
                format!("unknown mode {:?}; use one of: anchored, rolling", o.mode),
            )
        })?
    };
    let or_default = |v: u32, default: usize| if v == 0 { default } else { v as usize };
    let options = WalkForwardOptions {
        enabled: !o.off,
        mode,
        train_days: (o.train_days != 0).then_some(o.train_days as usize),
        test_days: or_default(o.test_days, defaults.test_days),
        folds: or_default(o.folds, defaults.folds),
    };
    options
        .validate()
        .map_err(|e| ContractError::options("walk_forward", e.to_string()))?;
    Ok(options)
}

/// [`WalkForwardOptions`] -> `hop.v1.WalkForwardOptions`, every field explicit.
fn walk_forward_to_proto(o: &WalkForwardOptions) -> pb::WalkForwardOptions {
    pb::WalkForwardOptions {
        off: !o.enabled,
        mode: o.mode.as_str().to_owned(),
        train_days: o.train_days.map_or(0, size_u32),
        test_days: size_u32(o.test_days),
        folds: size_u32(o.folds),
    }
}

/// [`JobOptions`] -> `hop.v1.JobOptions`, every field explicit (seed and penalty weight set,
/// `max_size` never 0), so that [`options_from_proto`] gives the same options back.
pub fn options_to_proto(options: &JobOptions) -> pb::JobOptions {
    pb::JobOptions {
        min_size: size_u32(options.min_size),
        max_size: size_u32(options.max_size),
        algorithms: options
            .algorithms
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        seed: Some(options.seed),
        budget: options.budget,
        metric: options.metric.as_str().to_owned(),
        penalty_weight: Some(options.penalty_weight),
        aggregation: aggregation_name(options.aggregation).to_owned(),
        ulta: options.ulta,
        walk_forward: Some(walk_forward_to_proto(&options.walk_forward)),
    }
}

/// The wire spelling of an aggregation.
pub fn aggregation_name(aggregation: Aggregation) -> &'static str {
    match aggregation {
        Aggregation::Mean => "mean",
        Aggregation::Sum => "sum",
    }
}

/// Who computed a result, for [`result_to_proto`].
#[derive(Debug, Clone)]
pub struct ResultSource<'a> {
    /// The job id.
    pub job_id: &'a str,
    /// The side of the migration.
    pub side: pb::Side,
    /// The engine: "cpu", "gpu", "heavydb" or "embedded-sql".
    pub engine: &'a str,
    /// Wall time of the whole job, seconds.
    pub seconds: f64,
    /// The run folder written, empty when none.
    pub run_folder: &'a str,
}

/// A [`RunResult`] -> `hop.v1.JobResult`: one summary per (size, algorithm), sizes ascending and
/// algorithms in the job's order; the per-strategy metrics; the best portfolio's fields; and the
/// whole result as JSON in `result_json`.
pub fn result_to_proto(run: &RunResult, source: &ResultSource<'_>) -> pb::JobResult {
    let algorithms = run
        .sizes
        .iter()
        .flat_map(|size| size.algorithms.iter())
        .map(|a| pb::AlgorithmSummary {
            algorithm: a.algorithm.as_str().to_owned(),
            portfolio_size: size_u32(a.portfolio_size),
            portfolio: a.portfolio.clone(),
            fitness: a.fitness,
            evaluations: a.evaluations,
            seconds: a.seconds,
            roi: a.metrics.total_roi,
            max_drawdown: a.metrics.max_drawdown,
            win_percentage: a.metrics.win_percentage,
            profit_factor: a.metrics.profit_factor,
            roi_drawdown_ratio: a.metrics.roi_drawdown_ratio,
        })
        .collect();
    let strategy_metrics = run
        .strategy_metrics
        .iter()
        .map(|m| pb::StrategyMetrics {
            roi: m.roi,
            max_drawdown: m.max_drawdown,
            win_percentage: m.win_percentage,
            profit_factor: m.profit_factor,
            expectancy: m.expectancy,
        })
        .collect();
    let best = run.best();
    pb::JobResult {
        job_id: source.job_id.to_owned(),
        side: source.side as i32,
        engine: source.engine.to_owned(),
        seed: run.options.seed,
        best_fitness: best.fitness,
        best_algorithm: best.algorithm.as_str().to_owned(),
        best_size: size_u32(best.portfolio_size),
        algorithms,
        strategy_metrics,
        // A RunResult is plain data (non-finite floats are written as text): serializing it cannot
        // fail.
        result_json: serde_json::to_string(run).expect("a RunResult serializes to JSON"),
        run_folder: source.run_folder.to_owned(),
        seconds: source.seconds,
        walk_forward: Some(Box::new(walk_forward_result(&run.walk_forward))),
        selection: Some(Box::new(selection_to_proto(&run.selection))),
    }
}

fn walk_forward_result(wf: &WalkForward) -> pb::WalkForward {
    pb::WalkForward {
        skipped: wf.skipped.clone(),
        mode: wf.mode.as_str().to_owned(),
        test_days: size_u32(wf.test_days),
        random_portfolios: size_u32(wf.random_portfolios),
        folds: wf.folds.iter().map(fold_to_proto).collect(),
    }
}

fn fold_to_proto(f: &Fold) -> pb::WalkForwardFold {
    let window = |w: &Window| pb::DayWindow {
        start: size_u32(w.start),
        end: size_u32(w.end),
        first_date: w.first_date.clone(),
        last_date: w.last_date.clone(),
    };
    let figures = |w: &WindowFigures| pb::WindowFigures {
        roi: w.roi,
        max_drawdown: w.max_drawdown,
        ratio: w.ratio,
        win_rate: w.win_rate,
    };
    pb::WalkForwardFold {
        train: Some(window(&f.train)),
        test: Some(window(&f.test)),
        algorithm: f.algorithm.as_str().to_owned(),
        portfolio_size: size_u32(f.portfolio_size),
        portfolio: f.portfolio.clone(),
        fitness: f.fitness,
        zero_drawdown: f.zero_drawdown,
        evaluations: f.evaluations,
        in_sample: Some(figures(&f.in_sample)),
        out_of_sample: Some(figures(&f.out_of_sample)),
        random_median_roi: f.random_median_roi,
        percentile_rank: f.percentile_rank,
        equal_weight_roi: f.equal_weight_roi,
    }
}

fn sharpe_to_proto(s: &SharpeStats) -> pb::SharpeStats {
    pb::SharpeStats {
        days: size_u32(s.days),
        sharpe: s.sharpe,
        skewness: s.skewness,
        kurtosis: s.kurtosis,
        psr: s.psr,
        sr0: s.sr0,
        dsr: s.dsr,
    }
}

fn selection_to_proto(s: &SelectionStats) -> pb::SelectionStats {
    pb::SelectionStats {
        trials: s.trials,
        sharpe_variance: s.sharpe_variance,
        in_sample: Some(sharpe_to_proto(&s.in_sample)),
        out_of_sample: s.out_of_sample.as_ref().map(sharpe_to_proto),
        zero_drawdown: s.zero_drawdown,
    }
}

/// A `JobEvent` carrying `Progress` for `progress`; `percent` is the share of the whole job done
/// (0 to 100), which only the caller knows. `best_fitness` is absent before the first evaluation.
/// The event's `sequence` is left at 0 for the sender to number.
pub fn progress_event(job_id: &str, progress: &JobProgress, percent: f64) -> pb::JobEvent {
    let p = &progress.progress;
    let best_fitness =
        (p.evaluations > 0 && !p.best.is_nan() && p.best != f64::NEG_INFINITY).then_some(p.best);
    pb::JobEvent::now(
        job_id,
        pb::job_event::Event::Progress(pb::job_event::Progress {
            portfolio_size: size_u32(progress.portfolio_size),
            algorithm: progress.algorithm.as_str().to_owned(),
            percent: percent.clamp(0.0, 100.0),
            best_fitness,
            evaluations: p.evaluations,
        }),
    )
}

fn size_u32(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|&v| name(v)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
