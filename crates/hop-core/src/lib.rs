//! Heavy Optimizer domain library.
//!
//! Pure computation over bytes and numbers: the legacy CSV format ([`csv`]), the strategy-major
//! matrix ([`matrix`]), per-strategy and portfolio metrics ([`metrics`]), the exact fitness
//! ([`exact`]), the evaluator contract ([`eval`]) and the eight seeded search algorithms
//! ([`search`]), tied together by [`run`]. No network, no files, no async: engines and tools wrap it.

pub mod csv;
pub mod error;
pub mod eval;
pub mod exact;
pub mod fixtures;
pub mod format;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod matrix;
pub mod metrics;
pub mod options;
pub mod result;
pub mod rng;
pub mod run;
pub mod search;
pub mod synth;
pub mod ulta;

pub use error::CoreError;
pub use matrix::PnlMatrix;
pub use options::{Aggregation, JobOptions, Metric};
pub use result::{
    AlgorithmResult, Inversion, PortfolioMetrics, RunResult, SizeResult, StrategyMetrics,
};
pub use search::Algorithm;
