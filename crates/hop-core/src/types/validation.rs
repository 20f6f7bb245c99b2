//! Out-of-sample validation of a job (issue 14): the walk-forward options and figures, and the
//! statistics that account for how many portfolios the search tried.

use serde::{Deserialize, Serialize};

use super::result::float_text;
use crate::error::CoreError;

/// How the training windows of the folds are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FoldMode {
    /// Every training window starts at the first day (it grows fold by fold).
    #[default]
    Anchored,
    /// Every training window has the same length and ends where its test window starts.
    Rolling,
}

impl FoldMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FoldMode::Anchored => "anchored",
            FoldMode::Rolling => "rolling",
        }
    }

    /// `anchored` or `rolling`, case-insensitive.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let wanted = text.trim().to_ascii_lowercase();
        super::find_by_name(
            "walk-forward mode",
            text,
            &wanted,
            &[FoldMode::Anchored, FoldMode::Rolling],
            FoldMode::as_str,
        )
    }
}

/// The walk-forward part of a job's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WalkForwardOptions {
    /// Run the walk-forward validation (when the data has enough days).
    pub enabled: bool,
    pub mode: FoldMode,
    /// Training days of each fold in `rolling` mode; `None` = every day before the first test
    /// window. Ignored in `anchored` mode (a training window starts at the first day).
    pub train_days: Option<usize>,
    /// Days of each test window.
    pub test_days: usize,
    /// Number of folds; their test windows follow each other and the last ends on the last day.
    pub folds: usize,
}

/// The fewest training days a fold may have: below it the walk-forward is skipped (and says so).
pub const MIN_TRAIN_DAYS: usize = 20;
/// Random portfolios of the chosen size drawn per fold (and for the Sharpe variance of the trials).
pub const RANDOM_PORTFOLIOS: usize = 1000;

impl Default for WalkForwardOptions {
    /// Anchored, 3 folds of 12 test days ending on the last day: on 82 days the folds train on
    /// days 1-46, 1-58 and 1-70 and test on 47-58, 59-70 and 71-82.
    fn default() -> Self {
        Self {
            enabled: true,
            mode: FoldMode::Anchored,
            train_days: None,
            test_days: 12,
            folds: 3,
        }
    }
}

impl WalkForwardOptions {
    /// Checks the numbers (those that need the day count are checked by the walk-forward, which
    /// skips with the reason instead of refusing the job).
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.test_days == 0 {
            return Err(CoreError::Options(
                "walk-forward test days must be at least 1".into(),
            ));
        }
        if self.folds == 0 {
            return Err(CoreError::Options(
                "walk-forward folds must be at least 1".into(),
            ));
        }
        if self.train_days.is_some_and(|d| d < MIN_TRAIN_DAYS) {
            return Err(CoreError::Options(format!(
                "walk-forward train days must be at least {MIN_TRAIN_DAYS}"
            )));
        }
        Ok(())
    }
}

/// A window of days: indices `start..end` into the job's dates, and its first and last date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub first_date: String,
    pub last_date: String,
}

impl Window {
    pub fn days(&self) -> usize {
        self.end - self.start
    }
}

/// A portfolio's figures over one window, from its daily series on those days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowFigures {
    pub roi: f64,
    pub max_drawdown: f64,
    /// ROI / MDD with the legacy `ratio` rule (100 x ROI when MDD <= 1e-6).
    pub ratio: f64,
    /// Share of the window's days with a profit.
    pub win_rate: f64,
}

/// One fold: the search on the training window, the chosen portfolio measured on the test window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    pub train: Window,
    pub test: Window,
    /// The fold's chosen portfolio: the best over the job's sizes and algorithms on `train`.
    pub algorithm: super::Algorithm,
    pub portfolio_size: usize,
    pub portfolio: Vec<u32>,
    /// Its fitness on the training window (the job's metric and penalty).
    #[serde(with = "float_text")]
    pub fitness: f64,
    /// True when that fitness comes from the zero-drawdown rule (100 x ROI).
    pub zero_drawdown: bool,
    pub evaluations: u64,
    pub in_sample: WindowFigures,
    pub out_of_sample: WindowFigures,
    /// Median test-window ROI of the random portfolios of the same size.
    pub random_median_roi: f64,
    /// Percentile (0-100) of the chosen portfolio's test ROI among the random portfolios' (ties
    /// count half).
    pub percentile_rank: f64,
    /// Test-window ROI of all strategies with equal weight (the job's aggregation).
    pub equal_weight_roi: f64,
    /// The chosen portfolio's daily series over the training window, then the test window (the
    /// in-sample vs out-of-sample equity chart).
    pub daily: Vec<f64>,
}

/// The walk-forward validation of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WalkForward {
    /// Why it did not run; empty when it ran.
    pub skipped: String,
    pub mode: FoldMode,
    pub test_days: usize,
    pub random_portfolios: usize,
    pub folds: Vec<Fold>,
}

/// The Sharpe ratio of a daily series and its probabilistic and deflated versions (Bailey and
/// Lopez de Prado): daily (not annualized) figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct SharpeStats {
    pub days: usize,
    /// mean / population standard deviation (0 when the deviation is 0).
    pub sharpe: f64,
    pub skewness: f64,
    /// Non-excess kurtosis (3 for a normal distribution).
    pub kurtosis: f64,
    /// P(true Sharpe > 0).
    pub psr: f64,
    /// The Sharpe ratio the best of `trials` unskilled trials would reach.
    pub sr0: f64,
    /// P(true Sharpe > sr0): the PSR deflated for the number of trials.
    pub dsr: f64,
}

/// How much the in-sample figures can be trusted, given how many portfolios were tried.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct SelectionStats {
    /// Portfolios evaluated by the job (every size and algorithm): the number of trials.
    pub trials: u64,
    /// Variance of the daily Sharpe ratio over random portfolios of the best size, in sample.
    pub sharpe_variance: f64,
    /// The best portfolio's daily series over the whole input.
    pub in_sample: SharpeStats,
    /// The folds' chosen portfolios on their test windows, one after another (absent when the
    /// walk-forward did not run).
    pub out_of_sample: Option<SharpeStats>,
    /// True when the best fitness comes from the zero-drawdown rule of the `ratio` metric
    /// (MDD <= 1e-6, fitness 100 x ROI).
    pub zero_drawdown: bool,
}
