//! The shared vocabulary of the domain library, at the bottom of its import graph: what a job asks
//! for ([`JobOptions`] with its [`Algorithm`], [`Metric`] and [`Aggregation`]) and what it produced
//! ([`RunResult`] down to [`StrategyMetrics`], with its out-of-sample [`WalkForward`]). It imports only [`crate::error`] and
//! [`crate::format`], so every other module (the CSV reader, the metrics, the fitness, the search,
//! the run) can use it without importing another in a circle.

mod algorithm;
mod options;
mod result;
mod validation;

pub use algorithm::{Algorithm, Share};
pub(crate) use options::find_by_name;
pub use options::{Aggregation, DEFAULT_PENALTY_WEIGHT, DEFAULT_SEED, JobOptions, Metric};
pub use result::{
    AlgorithmResult, Inversion, PortfolioMetrics, RunResult, SizeResult, StrategyMetrics,
    float_text,
};
pub use validation::{
    Fold, FoldMode, MIN_TRAIN_DAYS, RANDOM_PORTFOLIOS, SelectionStats, SharpeStats, WalkForward,
    WalkForwardOptions, Window, WindowFigures,
};
