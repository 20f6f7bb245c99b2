//! Job options (SPEC 2.3 and 2.4): what to optimise and how hard to search.

use serde::{Deserialize, Serialize};

use super::{Algorithm, WalkForwardOptions};
use crate::error::CoreError;

/// How the portfolio's daily series is formed from its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// p[t] = (1/k) * sum of the members' P&L (the reference optimizer).
    #[default]
    Mean,
    /// p[t] = sum of the members' P&L (the later legacy workflow).
    Sum,
}

/// The fitness metric (SPEC 2.3), before the correlation penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Metric {
    /// ROI / max drawdown (the default).
    #[default]
    #[serde(rename = "ratio")]
    Ratio,
    #[serde(rename = "roi")]
    Roi,
    /// -MDD.
    #[serde(rename = "less max dd")]
    LessMaxDd,
    #[serde(rename = "win percentage")]
    WinPercentage,
    #[serde(rename = "profit factor")]
    ProfitFactor,
    #[serde(rename = "expectancy")]
    Expectancy,
    /// ROI / max(MDD, mean |p[t]|): the ratio with a drawdown floor of one average day's move, so
    /// a portfolio that never drew down is not scored 100 x ROI (robust; not a legacy metric).
    #[serde(rename = "ratio floor")]
    RatioFloor,
    /// ROI / max(CDaR, mean |p[t]|): CDaR (conditional drawdown at risk) is the mean of the worst
    /// 5 % of the daily drawdowns, so one lucky or unlucky day does not decide the score (robust;
    /// not a legacy metric).
    #[serde(rename = "cdar")]
    Cdar,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Ratio,
        Metric::Roi,
        Metric::LessMaxDd,
        Metric::WinPercentage,
        Metric::ProfitFactor,
        Metric::Expectancy,
        Metric::RatioFloor,
        Metric::Cdar,
    ];

    /// The legacy spelling, as written in job files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Ratio => "ratio",
            Metric::Roi => "roi",
            Metric::LessMaxDd => "less max dd",
            Metric::WinPercentage => "win percentage",
            Metric::ProfitFactor => "profit factor",
            Metric::Expectancy => "expectancy",
            Metric::RatioFloor => "ratio floor",
            Metric::Cdar => "cdar",
        }
    }

    /// Parses a metric name, case-insensitive, `_` and `-` read as spaces (`less_max_dd`).
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let wanted = text.trim().to_ascii_lowercase().replace(['_', '-'], " ");
        find_by_name("metric", text, &wanted, &Metric::ALL, Metric::as_str)
    }
}

/// The entry of `all` whose `name` is `wanted`, or an error listing the valid names.
pub(crate) fn find_by_name<T: Copy>(
    kind: &str,
    text: &str,
    wanted: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, CoreError> {
    all.iter()
        .copied()
        .find(|&v| name(v) == wanted)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&v| name(v)).collect();
            CoreError::Options(format!(
                "unknown {kind} {text:?}; use one of: {}",
                names.join(", ")
            ))
        })
}

/// Everything a job can choose. `Default` is what an analyst gets without options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOptions {
    /// Smallest portfolio size searched.
    pub min_size: usize,
    /// Largest portfolio size searched (equal to `min_size` for a single size).
    pub max_size: usize,
    /// Algorithms to run, in report order.
    pub algorithms: Vec<Algorithm>,
    /// Seed of the one RNG each algorithm derives its stream from.
    pub seed: u64,
    /// Fitness evaluations allowed per algorithm and portfolio size; `None` gives each algorithm
    /// its default ([`Algorithm::default_budget`]).
    pub budget: Option<u64>,
    pub metric: Metric,
    /// Weight of the mean pairwise correlation subtracted from the fitness (0 disables it).
    pub penalty_weight: f64,
    pub aggregation: Aggregation,
    /// Invert strategies whose ROI is negative (ULTA).
    pub ulta: bool,
    /// The out-of-sample validation run after the search.
    #[serde(default)]
    pub walk_forward: WalkForwardOptions,
}

/// The correlation penalty weight of the reference optimizer.
pub const DEFAULT_PENALTY_WEIGHT: f64 = 10.0;
pub const DEFAULT_SEED: u64 = 42;

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            min_size: 35,
            max_size: 35,
            algorithms: Algorithm::ALL.to_vec(),
            seed: DEFAULT_SEED,
            budget: None,
            metric: Metric::Ratio,
            penalty_weight: DEFAULT_PENALTY_WEIGHT,
            aggregation: Aggregation::Mean,
            ulta: false,
            walk_forward: WalkForwardOptions::default(),
        }
    }
}

impl JobOptions {
    /// Options for one portfolio size.
    pub fn with_size(size: usize) -> Self {
        Self {
            min_size: size,
            max_size: size,
            ..Self::default()
        }
    }

    /// Checks the options against a matrix of `n_strategies` strategies.
    pub fn validate(&self, n_strategies: usize) -> Result<(), CoreError> {
        if self.min_size == 0 {
            return Err(CoreError::Options(
                "the portfolio size must be at least 1".into(),
            ));
        }
        if self.min_size > self.max_size {
            return Err(CoreError::Options(format!(
                "min size {} is larger than max size {}",
                self.min_size, self.max_size
            )));
        }
        if self.max_size > n_strategies {
            return Err(CoreError::Options(format!(
                "portfolio size {} is larger than the {} strategies in the input",
                self.max_size, n_strategies
            )));
        }
        if self.algorithms.is_empty() {
            return Err(CoreError::Options("no algorithm selected".into()));
        }
        if self.budget == Some(0) {
            return Err(CoreError::Options(
                "the evaluation budget must be at least 1".into(),
            ));
        }
        if !self.penalty_weight.is_finite() {
            return Err(CoreError::Options(format!(
                "penalty weight {} is not a finite number",
                self.penalty_weight
            )));
        }
        self.walk_forward.validate()
    }

    /// The evaluation budget of one algorithm for one size.
    pub fn budget_for(&self, algorithm: Algorithm) -> u64 {
        self.budget.unwrap_or_else(|| algorithm.default_budget())
    }

    pub fn sizes(&self) -> std::ops::RangeInclusive<usize> {
        self.min_size..=self.max_size
    }
}
