//! The plain-text files of the run folder: the summary, the Best_Portfolio files, the strategy
//! metrics CSV, the error log and the ULTA inversion report.
//!
//! Every float goes through [`hop_core::format::float`] or its allocation-free twin
//! [`hop_core::format::push_float`] (Python `repr`: shortest round-trip digits, `inf` for
//! infinity), as the legacy reports did.
//!
//! Line endings follow the legacy files: the `.txt` files that analysts open on Windows use CRLF
//! (`legacy_best_portfolio_size37.txt` and `legacy_optimization_summary.txt` do), while
//! `strategy_metrics.csv` uses LF (as `expected_strategy_metrics_2500.csv` does) and the Markdown
//! report uses LF.

use std::fmt::Write as _;

use hop_core::format::{float, push_float};
use hop_core::{Aggregation, JobOptions, RunResult, SizeResult};

use crate::RunInfo;

/// The line ending of the `.txt` reports (legacy: CRLF).
pub const TXT_EOL: &str = "\r\n";

/// Appends one CRLF-terminated line.
macro_rules! line {
    ($out:expr) => {
        $out.push_str(TXT_EOL)
    };
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str(TXT_EOL);
    }};
}

/// A cell of a table (a workbook sheet, a CSV row): text, a number or a whole number (a count,
/// written without a decimal point).
pub enum Cell {
    Text(String),
    Number(f64),
    Whole(u64),
}

/// Python's spelling of a bool, as the legacy summary wrote `Apply ULTA Logic: False`.
fn py_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// The aggregation's option spelling (`mean` / `sum`).
pub fn aggregation_name(aggregation: Aggregation) -> &'static str {
    match aggregation {
        Aggregation::Mean => "mean",
        Aggregation::Sum => "sum",
    }
}

/// The evaluation budget as shown to analysts: the job's number, or each selected algorithm's
/// default (`default per algorithm (GA 60000, SA 80000)`).
pub fn budget_text(options: &JobOptions) -> String {
    match options.budget {
        Some(budget) => budget.to_string(),
        None => {
            let each: Vec<String> = options
                .algorithms
                .iter()
                .map(|&a| format!("{} {}", a.as_str(), options.budget_for(a)))
                .collect();
            format!("default per algorithm ({})", each.join(", "))
        }
    }
}

/// `optimization_summary_<ts>.txt`, in the style of `legacy_optimization_summary.txt`.
///
/// The legacy lines (title, `Run ID`, `Date`, `Optimization Parameters:` with `- Metric`,
/// `- Min Portfolio Size`, `- Max Portfolio Size`, `- Apply ULTA Logic`, `- Penalty Factor`,
/// `Best Overall Portfolio:`, `Selected Strategies:`) keep their legacy spelling. Parameters the
/// legacy optimizer had and this one does not (population size, mutation rate, GA generations,
/// balanced mode) are left out; this project's own parameters (algorithms, seed, evaluation budget,
/// aggregation) and the `Algorithm Results:` section are added. The blue/green side is deliberately
/// not shown in this analyst-facing file (it is in `results.json`).
pub fn summary_text(run: &RunInfo, run_id: &str, result: &RunResult) -> String {
    let options = &result.options;
    let mut out = String::with_capacity(4096);
    line!(out, "Multi-Strategy Portfolio Optimization Results");
    line!(out, "===========================================");
    line!(out);
    line!(out, "Run ID: {run_id}");
    line!(out, "Date: {}", run.timestamp.format("%Y-%m-%d %H:%M:%S"));
    line!(out, "Input File: {}", run.input_file);
    if let Some(job_id) = &run.job_id {
        line!(out, "Job ID: {job_id}");
    }
    line!(out);
    line!(out, "Optimization Parameters:");
    line!(out, "- Metric: {}", options.metric.as_str());
    line!(out, "- Min Portfolio Size: {}", options.min_size);
    line!(out, "- Max Portfolio Size: {}", options.max_size);
    let algorithms: Vec<&str> = options.algorithms.iter().map(|a| a.as_str()).collect();
    line!(out, "- Algorithms: {}", algorithms.join(", "));
    line!(out, "- Seed: {}", options.seed);
    line!(out, "- Evaluation Budget: {}", budget_text(options));
    line!(out, "- Apply ULTA Logic: {}", py_bool(options.ulta));
    line!(out, "- Penalty Factor: {}", float(options.penalty_weight));
    line!(
        out,
        "- Aggregation: {}",
        aggregation_name(options.aggregation)
    );
    line!(out);

    let best_size = result.best_size();
    let best = best_size.best();
    line!(out, "Best Overall Portfolio:");
    line!(out, "- Size: {}", best_size.portfolio_size);
    line!(out, "- Method: {}", best.algorithm.as_str());
    line!(out, "- Fitness: {}", float(best.fitness));
    line!(out);

    line!(out, "Algorithm Results:");
    for size in &result.sizes {
        line!(out, "Size {}:", size.portfolio_size);
        for (i, alg) in size.algorithms.iter().enumerate() {
            line!(
                out,
                "- {}: Fitness: {}, Evaluations: {}, Time: {} s{}",
                alg.algorithm.as_str(),
                float(alg.fitness),
                alg.evaluations,
                float(alg.seconds),
                if i == size.best { " (best)" } else { "" }
            );
        }
    }
    line!(out);

    line!(out, "Selected Strategies:");
    push_selected(&mut out, result, &best.portfolio);
    out
}

/// The numbered `Selected Strategies:` lines.
fn push_selected(out: &mut String, result: &RunResult, portfolio: &[u32]) {
    for (rank, &index) in portfolio.iter().enumerate() {
        line!(
            out,
            "{}. {}",
            rank + 1,
            result.strategy_names[index as usize]
        );
    }
}

/// `Best_Portfolio_Size<k>_<ts>.txt` for one size, exactly in the legacy layout of
/// `legacy_best_portfolio_size37.txt` (CRLF line endings, ending with a line break).
///
/// Choice: the legacy optimizer prefixed every strategy name with the input file's stem and `_`
/// (`Python_Multi_Consolidated_20250726_161921_SENSEX 1426-1456 SL73%TP32%`); this one prints the
/// bare strategy name as it appears in the input CSV header (after ULTA renaming), so the name can
/// be looked up in the input directly.
pub fn best_portfolio_text(result: &RunResult, size: &SizeResult) -> String {
    let best = size.best();
    let m = &best.metrics;
    let mut out = String::with_capacity(1024 + 64 * best.portfolio.len());
    line!(
        out,
        "Best Portfolio (Size {}) - Method: {}",
        size.portfolio_size,
        best.algorithm.as_str()
    );
    line!(out, "Fitness: {}", float(best.fitness));
    line!(out);
    line!(out, "Performance Metrics:");
    line!(out, "total_roi: {}", float(m.total_roi));
    line!(out, "max_drawdown: {}", float(m.max_drawdown));
    line!(out, "win_percentage: {}", float(m.win_percentage));
    line!(out, "profit_factor: {}", float(m.profit_factor));
    line!(out, "expectancy: {}", float(m.expectancy));
    line!(out, "sharpe_ratio: {}", float(m.sharpe_ratio));
    line!(out, "sortino_ratio: {}", float(m.sortino_ratio));
    line!(out, "annualized_return: {}", float(m.annualized_return));
    line!(out);
    line!(out, "Selected Strategies:");
    push_selected(&mut out, result, &best.portfolio);
    out
}

/// Appends a CSV field, quoted (with doubled quotes) only when it contains a comma, a quote or a
/// line break — Python's `csv.QUOTE_MINIMAL`, which pandas used for the legacy file.
pub fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// The header of `strategy_metrics.csv` (the first cell is pandas' empty index header).
pub const STRATEGY_METRICS_HEADER: &str =
    ",ROI,Max Drawdown,Win Percentage,Profit Factor,Expectancy";

/// `strategy_metrics.csv`: the legacy layout of `expected_strategy_metrics_2500.csv` (LF line
/// endings, one row per strategy in index order, `inf` for an infinite profit factor).
pub fn strategy_metrics_csv(result: &RunResult) -> String {
    let mut out = String::with_capacity(64 + 120 * result.strategy_metrics.len());
    out.push_str(STRATEGY_METRICS_HEADER);
    out.push('\n');
    for (name, m) in result.strategy_names.iter().zip(&result.strategy_metrics) {
        push_csv_field(&mut out, name);
        for value in [
            m.roi,
            m.max_drawdown,
            m.win_percentage,
            m.profit_factor,
            m.expectancy,
        ] {
            out.push(',');
            push_float(&mut out, value);
        }
        out.push('\n');
    }
    out
}

/// `error_log.txt`: one CRLF-terminated line per error; empty when nothing went wrong.
pub fn error_log_text(errors: &[String]) -> String {
    let mut out = String::new();
    for error in errors {
        // One logical error per line: fold embedded line breaks.
        let single = error.replace("\r\n", " ").replace(['\r', '\n'], " ");
        line!(out, "{single}");
    }
    out
}

/// Escapes a table cell for Markdown (`|` and `\` would break the table, backticks, `*`, `<` and
/// brackets would be read as markup; an intraword `_` is left alone, CommonMark keeps it literal).
fn md_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '[' | ']' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// `inversion_report.md`: the ULTA inversions (SPEC 2.3) as a Markdown table, one row per inverted
/// strategy in index order: its index, original name, new name (`<name>_inv`), original ROI and
/// inverted ROI. Written into the run folder only when some strategy was inverted.
pub fn inversion_report(result: &RunResult) -> String {
    let mut out = String::with_capacity(512 + 160 * result.inversions.len());
    out.push_str("# ULTA Inversion Report\n\n");
    let _ = writeln!(
        out,
        "ULTA logic replaced every strategy whose ROI was negative by its negation (each daily \
         P&L multiplied by -1) and renamed it `<name>_inv`. Inverted: {} of {} strategies.",
        result.inversions.len(),
        result.strategy_names.len()
    );
    out.push('\n');
    if result.inversions.is_empty() {
        out.push_str("No strategy was inverted.\n");
        return out;
    }
    out.push_str("| Strategy Index | Original Name | New Name | Original ROI | Inverted ROI |\n");
    out.push_str("|---:|---|---|---:|---:|\n");
    let mut inversions: Vec<_> = result.inversions.iter().collect();
    inversions.sort_by_key(|inv| inv.index);
    for inv in inversions {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            inv.index,
            md_cell(&inv.original_name),
            md_cell(&inv.inverted_name),
            float(inv.original_roi),
            float(inv.inverted_roi)
        );
    }
    out
}
