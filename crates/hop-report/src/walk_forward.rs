//! The walk-forward part of the run folder (issue 14): `walk_forward.csv` (one row per fold), the
//! `Walk-forward validation` section of the summary, the `Walk-Forward` sheet's rows and the
//! chart's name. Shown when the job asked for the walk-forward (the default); a job that turned
//! it off gets the legacy files byte for byte. When it was skipped (too few days), the section
//! says why and still gives the selection statistics; the CSV and chart need folds.

use std::fmt::Write as _;

use hop_core::RunResult;
use hop_core::format::float;
use hop_core::types::{Fold, RANDOM_PORTFOLIOS, SharpeStats};

use crate::text::{Cell, TXT_EOL};

pub const CSV_NAME: &str = "walk_forward.csv";
/// The sheet of the workbook.
pub const SHEET: &str = "Walk-Forward";

/// The chart of the folds' in-sample and out-of-sample equity.
pub fn chart_name(run_id: &str) -> String {
    format!("walk_forward_equity_{run_id}.png")
}

/// Whether the run folder shows the walk-forward (the job did not turn it off).
pub fn shown(result: &RunResult) -> bool {
    result.options.walk_forward.enabled
}

/// Whether the run folder has the fold files (the CSV and the chart).
pub fn has_folds(result: &RunResult) -> bool {
    shown(result) && !result.walk_forward.folds.is_empty()
}

/// The columns of `walk_forward.csv` and of the sheet.
pub const COLUMNS: [&str; 20] = [
    "fold",
    "train_start",
    "train_end",
    "train_days",
    "test_start",
    "test_end",
    "test_days",
    "algorithm",
    "portfolio_size",
    "in_sample_fitness",
    "in_sample_zero_drawdown",
    "in_sample_roi",
    "in_sample_max_drawdown",
    "oos_roi",
    "oos_max_drawdown",
    "oos_ratio",
    "oos_win_rate",
    "random_median_roi",
    "percentile_rank",
    "equal_weight_roi",
];

/// The cells of fold `index` (0-based), in [`COLUMNS`] order.
pub fn fold_cells(index: usize, fold: &Fold) -> Vec<Cell> {
    use Cell::{Number, Text, Whole};
    vec![
        Whole(index as u64 + 1),
        Text(fold.train.first_date.clone()),
        Text(fold.train.last_date.clone()),
        Whole(fold.train.days() as u64),
        Text(fold.test.first_date.clone()),
        Text(fold.test.last_date.clone()),
        Whole(fold.test.days() as u64),
        Text(fold.algorithm.as_str().to_owned()),
        Whole(fold.portfolio_size as u64),
        Number(fold.fitness),
        Text(fold.zero_drawdown.to_string()),
        Number(fold.in_sample.roi),
        Number(fold.in_sample.max_drawdown),
        Number(fold.out_of_sample.roi),
        Number(fold.out_of_sample.max_drawdown),
        Number(fold.out_of_sample.ratio),
        Number(fold.out_of_sample.win_rate),
        Number(fold.random_median_roi),
        Number(fold.percentile_rank),
        Number(fold.equal_weight_roi),
    ]
}

/// `walk_forward.csv`: a header and one row per fold, LF line ends, numbers as Python's `repr`.
pub fn csv_text(result: &RunResult) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for (i, fold) in result.walk_forward.folds.iter().enumerate() {
        let cells: Vec<String> = fold_cells(i, fold)
            .into_iter()
            .map(|c| match c {
                Cell::Text(t) => t,
                Cell::Number(v) => float(v),
                Cell::Whole(n) => n.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str(TXT_EOL);
    }};
}

/// The `Walk-forward validation` section of the summary (CRLF lines, after the legacy ones).
pub fn summary_section(result: &RunResult) -> String {
    let wf = &result.walk_forward;
    let mut out = String::new();
    line!(out, "");
    line!(out, "Walk-forward validation:");
    if wf.skipped.is_empty() {
        line!(
            out,
            "- {} {} folds of {} test days, the job's search on each training window",
            wf.folds.len(),
            wf.mode.as_str(),
            wf.test_days
        );
    } else {
        line!(out, "- Skipped: {}", wf.skipped);
    }
    let n = result.strategy_names.len();
    for (i, fold) in wf.folds.iter().enumerate() {
        line!(
            out,
            "- Fold {}: train {} to {} ({} days), test {} to {} ({} days), best {} size {}",
            i + 1,
            fold.train.first_date,
            fold.train.last_date,
            fold.train.days(),
            fold.test.first_date,
            fold.test.last_date,
            fold.test.days(),
            fold.algorithm.as_str(),
            fold.portfolio_size
        );
        line!(
            out,
            "  In-sample: Fitness {}{}, ROI {}, Max Drawdown {}",
            float(fold.fitness),
            if fold.zero_drawdown {
                " (zero-drawdown rule: 100 x ROI)"
            } else {
                ""
            },
            float(fold.in_sample.roi),
            float(fold.in_sample.max_drawdown)
        );
        line!(
            out,
            "  Out-of-sample: ROI {}, Max Drawdown {}, Ratio {}, Win Rate {}",
            float(fold.out_of_sample.roi),
            float(fold.out_of_sample.max_drawdown),
            float(fold.out_of_sample.ratio),
            float(fold.out_of_sample.win_rate)
        );
        line!(
            out,
            "  Against {RANDOM_PORTFOLIOS} random portfolios of size {}: median ROI {}, \
             percentile rank {}; equal weight of all {n} strategies: ROI {}",
            fold.portfolio_size,
            float(fold.random_median_roi),
            float(fold.percentile_rank),
            float(fold.equal_weight_roi)
        );
    }
    let s = &result.selection;
    line!(out, "");
    line!(out, "Selection statistics (daily Sharpe ratios):");
    line!(
        out,
        "- Trials: {} evaluations; Sharpe variance of {RANDOM_PORTFOLIOS} random portfolios: {}; \
         expected best Sharpe of the trials (SR0): {}",
        s.trials,
        float(s.sharpe_variance),
        float(s.in_sample.sr0)
    );
    push_sharpe(
        &mut out,
        "In-sample (best portfolio, all days)",
        &s.in_sample,
    );
    if let Some(oos) = &s.out_of_sample {
        push_sharpe(&mut out, "Out-of-sample (the folds' test days)", oos);
    }
    if s.zero_drawdown {
        line!(
            out,
            "- Warning: the best fitness comes from the zero-drawdown rule: the best portfolio \
             had no drawdown in sample (MDD <= 1e-6), so its fitness is 100 x ROI; compare the \
             out-of-sample figures above."
        );
    }
    out
}

fn push_sharpe(out: &mut String, label: &str, s: &SharpeStats) {
    line!(
        out,
        "- {label}: Sharpe {}, Skewness {}, Kurtosis {}, PSR {}, DSR {} ({} days)",
        float(s.sharpe),
        float(s.skewness),
        float(s.kurtosis),
        float(s.psr),
        float(s.dsr),
        s.days
    );
}
