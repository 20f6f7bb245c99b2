//! Per-strategy and portfolio metrics of a daily P&L series (SPEC 2.3), in plain `f64`.
//!
//! Every sum runs day by day in file order, as the legacy optimizer's cumulative sums did.

use rayon::prelude::*;

use crate::matrix::PnlMatrix;
use crate::types::{PortfolioMetrics, StrategyMetrics};

/// Trading days per year used to annualize.
pub const TRADING_DAYS: f64 = 252.0;
/// Below this drawdown the `ratio` metric and the portfolio's ROI/MDD use their fallbacks.
pub const MDD_EPSILON: f64 = 1e-6;

/// One pass over a daily series: everything the metrics and the fitness need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesStats {
    pub days: usize,
    /// Final equity E[T].
    pub roi: f64,
    /// max over t of (running peak - equity), the peak starting at day 1's equity.
    pub max_drawdown: f64,
    pub win_days: usize,
    pub loss_days: usize,
    /// Sum of the positive days.
    pub gains: f64,
    /// |sum of the negative days|.
    pub losses: f64,
}

impl SeriesStats {
    pub fn of(series: &[f64]) -> Self {
        let mut equity = 0.0;
        let mut peak = f64::NEG_INFINITY;
        let mut max_drawdown: f64 = 0.0;
        let (mut win_days, mut loss_days) = (0, 0);
        let (mut gains, mut negative_sum) = (0.0, 0.0);
        for &p in series {
            equity += p;
            peak = peak.max(equity);
            max_drawdown = max_drawdown.max(peak - equity);
            if p > 0.0 {
                win_days += 1;
                gains += p;
            } else if p < 0.0 {
                loss_days += 1;
                negative_sum += p;
            }
        }
        Self {
            days: series.len(),
            roi: equity,
            max_drawdown,
            win_days,
            loss_days,
            gains,
            losses: negative_sum.abs(),
        }
    }

    pub fn win_percentage(&self) -> f64 {
        self.win_days as f64 / self.days as f64
    }

    /// G / L, `+inf` when nothing was lost (the per-strategy and report definition).
    pub fn profit_factor(&self) -> f64 {
        if self.losses == 0.0 {
            f64::INFINITY
        } else {
            self.gains / self.losses
        }
    }

    /// The `profit factor` fitness metric: G/L if L > 1e-6, else 1 if G > 0, else 0.
    pub fn profit_factor_fitness(&self) -> f64 {
        if self.losses > MDD_EPSILON {
            self.gains / self.losses
        } else if self.gains > 0.0 {
            1.0
        } else {
            0.0
        }
    }

    /// w * avgWin - (1 - w) * avgLoss.
    pub fn expectancy(&self) -> f64 {
        let w = self.win_percentage();
        let avg_win = if self.win_days > 0 {
            self.gains / self.win_days as f64
        } else {
            0.0
        };
        let avg_loss = if self.loss_days > 0 {
            self.losses / self.loss_days as f64
        } else {
            0.0
        };
        w * avg_win - (1.0 - w) * avg_loss
    }

    /// The `ratio` metric: ROI/MDD when MDD > 1e-6, else 100*ROI (gain), 10*ROI (loss) or 0.
    pub fn roi_drawdown_ratio(&self) -> f64 {
        ratio(self.roi, self.max_drawdown)
    }
}

/// The `ratio` metric of SPEC 2.3 from ROI and MDD.
pub fn ratio(roi: f64, max_drawdown: f64) -> f64 {
    if max_drawdown > MDD_EPSILON {
        roi / max_drawdown
    } else if roi > 0.0 {
        100.0 * roi
    } else if roi < 0.0 {
        10.0 * roi
    } else {
        0.0
    }
}

/// The share of the days whose drawdowns CDaR averages: the worst 5 %.
pub const CDAR_TAIL: f64 = 0.05;

/// How many daily drawdowns CDaR averages over `days` days: ceil(5 % of the days), at least one.
pub fn cdar_days(days: usize) -> usize {
    ((days as f64 * CDAR_TAIL).ceil() as usize).clamp(1, days.max(1))
}

/// The robust metrics' ratio: ROI over the risk measure (MDD or CDaR), the risk never taken to be
/// below `floor` (the mean absolute daily P&L, one average day's move); 0 when both are at most
/// 1e-6 (a series of zeros).
pub fn floored_ratio(roi: f64, risk: f64, floor: f64) -> f64 {
    let risk = if floor > risk { floor } else { risk };
    if risk > MDD_EPSILON { roi / risk } else { 0.0 }
}

/// The worst `m` values offered, largest first: CDaR's tail, kept without sorting the whole
/// series (`m` is a few values; an insertion costs at most `m` moves).
#[derive(Debug, Clone)]
pub struct WorstValues {
    worst: Vec<f64>,
    m: usize,
}

impl WorstValues {
    pub fn new(m: usize) -> Self {
        Self {
            worst: Vec::with_capacity(m + 1),
            m,
        }
    }

    pub fn offer(&mut self, value: f64) {
        if self.worst.len() == self.m && self.worst.last().is_none_or(|&w| value <= w) {
            return;
        }
        let at = self.worst.partition_point(|&w| w >= value);
        self.worst.insert(at, value);
        self.worst.truncate(self.m);
    }

    /// The mean of the kept values, summed largest first (0 when none were offered).
    pub fn mean(&self) -> f64 {
        if self.worst.is_empty() {
            return 0.0;
        }
        self.worst.iter().fold(0.0, |acc, &v| acc + v) / self.worst.len() as f64
    }
}

/// The five per-strategy metrics of one series.
pub fn strategy_metrics(series: &[f64]) -> StrategyMetrics {
    let s = SeriesStats::of(series);
    StrategyMetrics {
        roi: s.roi,
        max_drawdown: s.max_drawdown,
        win_percentage: s.win_percentage(),
        profit_factor: s.profit_factor(),
        expectancy: s.expectancy(),
    }
}

/// Per-strategy metrics of every strategy of the matrix, in strategy order.
pub fn all_strategy_metrics(matrix: &PnlMatrix) -> Vec<StrategyMetrics> {
    let days = matrix.n_days();
    matrix
        .values()
        .par_chunks(days)
        .with_min_len(256)
        .map(strategy_metrics)
        .collect()
}

/// Population standard deviation, two-pass.
fn population_std(values: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let var = values.fold(0.0, |acc, v| acc + (v - mean) * (v - mean)) / n as f64;
    Some(var.sqrt())
}

/// Everything the Best_Portfolio report shows about a portfolio's daily series.
pub fn portfolio_metrics(series: &[f64]) -> PortfolioMetrics {
    let s = SeriesStats::of(series);
    let annualized_return = s.roi * TRADING_DAYS / s.days as f64;
    let annualize = |sigma: Option<f64>| match sigma {
        Some(sigma) if sigma > 0.0 => annualized_return / (sigma * TRADING_DAYS.sqrt()),
        _ => 0.0,
    };
    let sharpe_ratio = annualize(population_std(series.iter().copied()));
    let sortino_ratio = annualize(population_std(series.iter().copied().filter(|&p| p < 0.0)));
    PortfolioMetrics {
        total_roi: s.roi,
        max_drawdown: s.max_drawdown,
        win_percentage: s.win_percentage(),
        profit_factor: s.profit_factor(),
        expectancy: s.expectancy(),
        sharpe_ratio,
        sortino_ratio,
        annualized_return,
        roi_drawdown_ratio: s.roi_drawdown_ratio(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_peak_starts_at_day_one() {
        // Equity -5, -8, -2: the peak starts at -5 (not 0), so MDD = 3.
        let s = SeriesStats::of(&[-5.0, -3.0, 6.0]);
        assert_eq!(s.roi, -2.0);
        assert_eq!(s.max_drawdown, 3.0);
        assert_eq!(s.win_days, 1);
        assert_eq!(s.loss_days, 2);
    }

    #[test]
    fn edge_cases() {
        let flat = strategy_metrics(&[0.0, 0.0, 0.0]);
        assert_eq!(flat.max_drawdown, 0.0);
        assert_eq!(flat.win_percentage, 0.0);
        assert_eq!(flat.profit_factor, f64::INFINITY);
        assert_eq!(flat.expectancy, 0.0);
        let up = SeriesStats::of(&[1.0, 2.0]);
        assert_eq!(up.max_drawdown, 0.0);
        assert_eq!(up.roi_drawdown_ratio(), 300.0);
        assert_eq!(ratio(-3.0, 0.0), -30.0);
        assert_eq!(ratio(0.0, 0.0), 0.0);
        let losses = SeriesStats::of(&[-1.0, -2.0]);
        assert_eq!(losses.profit_factor(), 0.0);
        assert_eq!(losses.profit_factor_fitness(), 0.0);
        assert_eq!(losses.expectancy(), -1.5);
        let m = portfolio_metrics(&[1.0, 1.0]);
        assert_eq!(
            m.sharpe_ratio, 0.0,
            "zero volatility gives Sharpe 0, not inf"
        );
        assert_eq!(m.sortino_ratio, 0.0, "no losing day gives Sortino 0");
        assert_eq!(m.annualized_return, 252.0);
    }

    #[test]
    fn robust_ratio_floors_and_tails() {
        assert_eq!(cdar_days(82), 5);
        assert_eq!(cdar_days(20), 1);
        assert_eq!(cdar_days(21), 2);
        assert_eq!(cdar_days(0), 1);
        // No drawdown: the floor (one average day's move) stands in for it, not 100 x ROI.
        assert_eq!(floored_ratio(10.0, 0.0, 2.5), 4.0);
        assert_eq!(floored_ratio(10.0, 5.0, 2.5), 2.0);
        assert_eq!(floored_ratio(3.0, 0.0, 0.0), 0.0);
        let mut worst = WorstValues::new(3);
        for v in [1.0, 7.0, 0.0, 3.0, 7.0, 2.0, 5.0] {
            worst.offer(v);
        }
        assert_eq!(worst.mean(), (7.0 + 7.0 + 5.0) / 3.0);
        assert_eq!(WorstValues::new(2).mean(), 0.0);
    }
}
