//! What a finished job produced: the data model every report and every engine shares.

use serde::{Deserialize, Serialize};

use super::{Algorithm, JobOptions, SelectionStats, WalkForward};

/// Per-strategy metrics (SPEC 2.3), the columns of `strategy_metrics.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrategyMetrics {
    pub roi: f64,
    pub max_drawdown: f64,
    pub win_percentage: f64,
    /// `+inf` when the strategy never lost.
    #[serde(with = "float_text")]
    pub profit_factor: f64,
    pub expectancy: f64,
}

/// Metrics of a portfolio's daily series, the `Performance Metrics:` block of a Best_Portfolio file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PortfolioMetrics {
    pub total_roi: f64,
    pub max_drawdown: f64,
    pub win_percentage: f64,
    #[serde(with = "float_text")]
    pub profit_factor: f64,
    pub expectancy: f64,
    pub sharpe_ratio: f64,
    pub sortino_ratio: f64,
    pub annualized_return: f64,
    /// ROI / MDD (or the small-drawdown fallback of the `ratio` metric), before any penalty.
    #[serde(with = "float_text")]
    pub roi_drawdown_ratio: f64,
}

/// One algorithm's outcome for one portfolio size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmResult {
    pub algorithm: Algorithm,
    pub portfolio_size: usize,
    /// Strategy indices (0-based positions among the strategy columns), ascending.
    pub portfolio: Vec<u32>,
    #[serde(with = "float_text")]
    pub fitness: f64,
    pub evaluations: u64,
    /// Wall time of this algorithm, seconds (the only field allowed to differ between runs).
    pub seconds: f64,
    pub metrics: PortfolioMetrics,
}

/// All algorithms' outcomes for one portfolio size, with the best one's daily series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeResult {
    pub portfolio_size: usize,
    pub algorithms: Vec<AlgorithmResult>,
    /// Index into `algorithms` of the best fitness (first wins a tie).
    pub best: usize,
    /// The best portfolio's daily P&L series p[t] (for the equity and drawdown charts).
    pub best_daily: Vec<f64>,
}

impl SizeResult {
    pub fn best(&self) -> &AlgorithmResult {
        &self.algorithms[self.best]
    }
}

/// A strategy that ULTA inverted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inversion {
    pub index: u32,
    pub original_name: String,
    pub inverted_name: String,
    pub original_roi: f64,
    pub inverted_roi: f64,
}

/// Everything one optimization run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub options: JobOptions,
    /// Strategy names after ULTA renaming.
    pub strategy_names: Vec<String>,
    pub dates: Vec<String>,
    pub strategy_metrics: Vec<StrategyMetrics>,
    pub sizes: Vec<SizeResult>,
    /// Index into `sizes` of the best overall fitness (smallest size wins a tie).
    pub best_size: usize,
    pub inversions: Vec<Inversion>,
    /// The evaluator that computed the fitness values: `cpu`, `gpu`, ...
    pub evaluator: String,
    /// The walk-forward validation (absent from results written before it existed).
    #[serde(default)]
    pub walk_forward: WalkForward,
    /// PSR, DSR and the zero-drawdown flag of the best portfolio.
    #[serde(default)]
    pub selection: SelectionStats,
}

impl RunResult {
    pub fn best(&self) -> &AlgorithmResult {
        self.sizes[self.best_size].best()
    }

    pub fn best_size(&self) -> &SizeResult {
        &self.sizes[self.best_size]
    }
}

/// Serde for floats that may be infinite: JSON has no `inf`, so non-finite values are written as the
/// strings `"inf"`, `"-inf"` and `"nan"`, and finite ones as numbers.
pub mod float_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_str(&crate::format::float(*value))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(f64),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(v) => Ok(v),
            Either::Text(t) => match t.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                other => Err(serde::de::Error::custom(format!("not a number: {other:?}"))),
            },
        }
    }
}
