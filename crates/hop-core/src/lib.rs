//! Heavy Optimizer domain library.
//!
//! Pure computation over bytes and numbers: the legacy CSV format ([`csv`]), the strategy-major
//! matrix ([`matrix`]), per-strategy and portfolio metrics ([`metrics`]), the exact fitness
//! ([`fitness`]), the evaluator contract ([`eval`]) and the eight seeded search algorithms
//! ([`search`]), tied together by [`run`] with the out-of-sample checks of [`walk_forward`] and
//! [`stats`], over the shared vocabulary of [`types`]. No network, no
//! files, no async: engines and tools wrap it.

pub mod csv;
pub mod error;
pub mod eval;
pub mod fitness;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod format;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod matrix;
pub mod metrics;
pub mod rng;
pub mod run;
pub mod search;
pub mod stats;
pub mod synth;
pub mod types;
pub mod ulta;
pub mod walk_forward;

pub use error::CoreError;
pub use matrix::PnlMatrix;
pub use types::{
    Aggregation, Algorithm, AlgorithmResult, Inversion, JobOptions, Metric, PortfolioMetrics,
    RunResult, SizeResult, StrategyMetrics,
};
