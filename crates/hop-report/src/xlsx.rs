//! `optimization_summary_<ts>.xlsx`: four sheets, `Execution Summary`, `Algorithm Results`,
//! `Best Portfolio` and `Strategy Metrics` (SPEC 4), then `Walk-Forward` (one row per fold, the
//! columns of `walk_forward.csv`, then the selection statistics) unless the job turned it off.
//!
//! Speed: production has 25,544 strategies, so the `Strategy Metrics` sheet is the bulk of the
//! file. The sheets are written in rust_xlsxwriter's constant-memory mode (rows streamed to a
//! temporary file in the run's own temp folder, strings inline rather than in a shared-string
//! table), no autofit (widths are computed from the data), and a fast zip compression level.
//!
//! Determinism: the document's creation time is set from the run's timestamp and rust_xlsxwriter
//! writes fixed zip entry times, so the same inputs give the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use hop_core::{Aggregation, RunResult};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::RunInfo;
use crate::text::{Cell, aggregation_name, budget_text};

/// The sheet names, in workbook order.
pub const SHEETS: [&str; 4] = [
    "Execution Summary",
    "Algorithm Results",
    "Best Portfolio",
    "Strategy Metrics",
];

/// Zip deflate level: 1 is several times faster than the default 6 on the strategy sheet and
/// costs a few percent of size.
const ZIP_LEVEL: u8 = 1;

/// A float cell: the number itself, or the text `inf`/`-inf`/`nan` (Excel has no such number).
fn write_float(sheet: &mut Worksheet, row: u32, col: u16, value: f64) -> Result<(), XlsxError> {
    if value.is_finite() {
        sheet.write_number(row, col, value)?;
    } else {
        sheet.write_string(row, col, hop_core::format::float(value))?;
    }
    Ok(())
}

fn write_cell(sheet: &mut Worksheet, row: u32, col: u16, cell: Cell) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(t) => {
            sheet.write_string(row, col, t)?;
        }
        Cell::Number(v) => write_float(sheet, row, col, v)?,
        Cell::Whole(n) => {
            sheet.write_number(row, col, n as f64)?;
        }
    }
    Ok(())
}

fn write_header(sheet: &mut Worksheet, bold: &Format, headers: &[&str]) -> Result<(), XlsxError> {
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *header, bold)?;
    }
    Ok(())
}

/// A column width in Excel's character units, for text of `chars` characters.
fn width_for(chars: usize, min: usize, max: usize) -> f64 {
    (chars.clamp(min, max) + 2) as f64
}

fn excel_datetime(run: &RunInfo) -> Result<ExcelDateTime, XlsxError> {
    use chrono::{Datelike, Timelike};
    let ts = run.timestamp;
    // Excel dates start in 1900; clamp anything odd rather than fail the whole report on it.
    let year = ts.year().clamp(1900, 9999) as u16;
    ExcelDateTime::from_ymd(year, ts.month() as u8, ts.day() as u8)?.and_hms(
        ts.hour() as u16,
        ts.minute() as u8,
        ts.second(),
    )
}

/// The buffer between the zip writer and the file: without one, the ~3 MB workbook of 25,544
/// strategies goes out in about 1,300 small `write` calls.
pub const WRITE_BUFFER: usize = 256 * 1024;

/// Writes the workbook to `path`; `tempdir` holds the constant-memory sheets' temporary files.
pub fn write_xlsx(
    path: &Path,
    tempdir: &Path,
    run: &RunInfo,
    run_id: &str,
    result: &RunResult,
) -> Result<(), XlsxError> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, File::create(path)?);
    write_xlsx_to(&mut out, tempdir, run, run_id, result)?;
    out.flush()?;
    Ok(())
}

/// Writes the workbook to `writer` (the same bytes as [`write_xlsx`]); `tempdir` holds the
/// constant-memory sheets' temporary files.
pub fn write_xlsx_to<W: Write + Send>(
    writer: W,
    tempdir: &Path,
    run: &RunInfo,
    run_id: &str,
    result: &RunResult,
) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_tempdir(tempdir)?;
    workbook.set_zip_compression_level(ZIP_LEVEL);
    let created = excel_datetime(run)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("Portfolio Optimization Results {run_id}"))
            .set_author("Heavy Optimizer")
            .set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold();

    execution_summary(&mut workbook, &bold, run, run_id, result)?;
    algorithm_results(&mut workbook, &bold, result)?;
    best_portfolio(&mut workbook, &bold, result)?;
    strategy_metrics(&mut workbook, &bold, result)?;
    if crate::walk_forward::shown(result) {
        walk_forward(&mut workbook, &bold, result)?;
    }

    workbook.save_to_writer(writer)
}

fn new_sheet<'a>(workbook: &'a mut Workbook, name: &str) -> Result<&'a mut Worksheet, XlsxError> {
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name(name)?;
    Ok(sheet)
}

fn execution_summary(
    workbook: &mut Workbook,
    bold: &Format,
    run: &RunInfo,
    run_id: &str,
    result: &RunResult,
) -> Result<(), XlsxError> {
    let options = &result.options;
    let best_size = result.best_size();
    let best = best_size.best();
    let text = |s: &str| Cell::Text(s.to_string());
    let mut rows: Vec<(String, Cell)> = vec![
        ("Run ID".into(), text(run_id)),
        (
            "Date".into(),
            Cell::Text(run.timestamp.format("%Y-%m-%d %H:%M:%S").to_string()),
        ),
        ("Input File".into(), text(&run.input_file)),
    ];
    if let Some(job_id) = &run.job_id {
        rows.push(("Job ID".into(), text(job_id)));
    }
    let algorithms: Vec<&str> = options.algorithms.iter().map(|a| a.as_str()).collect();
    rows.extend([
        (
            "Strategies".into(),
            Cell::Number(result.strategy_names.len() as f64),
        ),
        (
            "Trading Days".into(),
            Cell::Number(result.dates.len() as f64),
        ),
        ("Metric".into(), text(options.metric.as_str())),
        (
            "Min Portfolio Size".into(),
            Cell::Number(options.min_size as f64),
        ),
        (
            "Max Portfolio Size".into(),
            Cell::Number(options.max_size as f64),
        ),
        ("Algorithms".into(), Cell::Text(algorithms.join(", "))),
        ("Seed".into(), Cell::Text(options.seed.to_string())),
        (
            "Evaluation Budget".into(),
            match options.budget {
                Some(budget) => Cell::Number(budget as f64),
                None => Cell::Text(budget_text(options)),
            },
        ),
        (
            "Penalty Factor".into(),
            Cell::Number(options.penalty_weight),
        ),
        (
            "Aggregation".into(),
            text(aggregation_name(options.aggregation)),
        ),
        (
            "Apply ULTA Logic".into(),
            text(if options.ulta { "True" } else { "False" }),
        ),
        (
            "Inverted Strategies".into(),
            Cell::Number(result.inversions.len() as f64),
        ),
        ("Best Fitness".into(), Cell::Number(best.fitness)),
        ("Best Method".into(), text(best.algorithm.as_str())),
        (
            "Best Portfolio Size".into(),
            Cell::Number(best_size.portfolio_size as f64),
        ),
        ("Engine".into(), text(&run.engine)),
        ("Evaluator".into(), text(&result.evaluator)),
        ("Errors".into(), Cell::Number(run.errors.len() as f64)),
    ]);
    for (step, seconds) in &run.timings {
        rows.push((format!("Time: {step} (s)"), Cell::Number(*seconds)));
    }

    let key_width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|(_, v)| match v {
            Cell::Text(t) => t.chars().count(),
            Cell::Number(_) | Cell::Whole(_) => 12,
        })
        .max()
        .unwrap_or(0);
    let sheet = new_sheet(workbook, SHEETS[0])?;
    sheet.set_column_width(0, width_for(key_width, 10, 40))?;
    sheet.set_column_width(1, width_for(value_width, 10, 80))?;
    write_header(sheet, bold, &["Metric", "Value"])?;
    for (i, (key, value)) in rows.into_iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, key)?;
        write_cell(sheet, row, 1, value)?;
    }
    Ok(())
}

fn algorithm_results(
    workbook: &mut Workbook,
    bold: &Format,
    result: &RunResult,
) -> Result<(), XlsxError> {
    let sheet = new_sheet(workbook, SHEETS[1])?;
    let headers = [
        "Algorithm",
        "Status",
        "Execution Time (s)",
        "Best Fitness",
        "Portfolio Size",
        "Error",
    ];
    for (col, header) in headers.iter().enumerate() {
        sheet.set_column_width(col as u16, width_for(header.len(), 10, 40))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    write_header(sheet, bold, &headers)?;
    let mut row = 1;
    for size in &result.sizes {
        for alg in &size.algorithms {
            sheet.write_string(row, 0, alg.algorithm.as_str())?;
            sheet.write_string(row, 1, "Success")?;
            write_float(sheet, row, 2, alg.seconds)?;
            write_float(sheet, row, 3, alg.fitness)?;
            sheet.write_number(row, 4, alg.portfolio_size as f64)?;
            sheet.write_string(row, 5, "")?;
            row += 1;
        }
    }
    Ok(())
}

fn best_portfolio(
    workbook: &mut Workbook,
    bold: &Format,
    result: &RunResult,
) -> Result<(), XlsxError> {
    let best = result.best();
    let k = best.portfolio.len().max(1);
    let weight = match result.options.aggregation {
        Aggregation::Mean => 1.0 / k as f64,
        Aggregation::Sum => 1.0,
    };
    let name_width = best
        .portfolio
        .iter()
        .map(|&i| result.strategy_names[i as usize].chars().count())
        .max();
    let sheet = new_sheet(workbook, SHEETS[2])?;
    sheet.set_column_width(0, 8)?;
    sheet.set_column_width(1, 16)?;
    sheet.set_column_width(2, width_for(name_width.unwrap_or(0), 14, 80))?;
    sheet.set_column_width(3, 22)?;
    sheet.set_freeze_panes(1, 0)?;
    write_header(
        sheet,
        bold,
        &["Rank", "Strategy Index", "Strategy Name", "Weight"],
    )?;
    for (rank, &index) in best.portfolio.iter().enumerate() {
        let row = rank as u32 + 1;
        sheet.write_number(row, 0, (rank + 1) as f64)?;
        sheet.write_number(row, 1, f64::from(index))?;
        sheet.write_string(row, 2, result.strategy_names[index as usize].as_str())?;
        sheet.write_number(row, 3, weight)?;
    }
    Ok(())
}

fn strategy_metrics(
    workbook: &mut Workbook,
    bold: &Format,
    result: &RunResult,
) -> Result<(), XlsxError> {
    let name_width = result
        .strategy_names
        .iter()
        .map(|n| n.chars().count())
        .max();
    let sheet = new_sheet(workbook, SHEETS[3])?;
    write_header(
        sheet,
        bold,
        &[
            "Strategy",
            "ROI",
            "Max Drawdown",
            "Win Percentage",
            "Profit Factor",
            "Expectancy",
        ],
    )?;
    for (i, (name, m)) in result
        .strategy_names
        .iter()
        .zip(&result.strategy_metrics)
        .enumerate()
    {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, name.as_str())?;
        let values = [
            m.roi,
            m.max_drawdown,
            m.win_percentage,
            m.profit_factor,
            m.expectancy,
        ];
        for (col, value) in values.into_iter().enumerate() {
            write_float(sheet, row, col as u16 + 1, value)?;
        }
    }
    // Set after the cells on purpose (same bytes: both go into the sheet's head, which is
    // assembled when the workbook is saved): while any column has options, rust_xlsxwriter looks
    // each cell's column up in a hash map twice, about 5 % of the workbook's time here.
    sheet.set_column_width(0, width_for(name_width.unwrap_or(0), 10, 60))?;
    for col in 1..=5 {
        sheet.set_column_width(col, 20)?;
    }
    sheet.set_freeze_panes(1, 1)?;
    Ok(())
}

/// The `Walk-Forward` sheet: the fold table, then the skip reason (if any) and the selection
/// statistics as label / value rows.
fn walk_forward(
    workbook: &mut Workbook,
    bold: &Format,
    result: &RunResult,
) -> Result<(), XlsxError> {
    use crate::walk_forward::{COLUMNS, SHEET, fold_cells};
    let sheet = new_sheet(workbook, SHEET)?;
    for (col, header) in COLUMNS.iter().enumerate() {
        sheet.set_column_width(col as u16, width_for(header.len(), 10, 40))?;
    }
    write_header(sheet, bold, &COLUMNS)?;
    let mut row = 1;
    for (i, fold) in result.walk_forward.folds.iter().enumerate() {
        for (col, cell) in fold_cells(i, fold).into_iter().enumerate() {
            write_cell(sheet, row, col as u16, cell)?;
        }
        row += 1;
    }
    let s = &result.selection;
    let mut rows: Vec<(String, Cell)> = Vec::new();
    if !result.walk_forward.skipped.is_empty() {
        rows.push((
            "Walk-forward skipped".into(),
            Cell::Text(result.walk_forward.skipped.clone()),
        ));
    }
    rows.push(("Trials (evaluations)".into(), Cell::Whole(s.trials)));
    rows.push((
        "Sharpe variance (random portfolios)".into(),
        Cell::Number(s.sharpe_variance),
    ));
    rows.push((
        "SR0 (expected best Sharpe)".into(),
        Cell::Number(s.in_sample.sr0),
    ));
    rows.push((
        "Zero-drawdown fitness".into(),
        Cell::Text(s.zero_drawdown.to_string()),
    ));
    let sides = [
        ("In-sample", Some(&s.in_sample)),
        ("Out-of-sample", s.out_of_sample.as_ref()),
    ];
    for (side, stats) in sides {
        let Some(stats) = stats else { continue };
        for (name, value) in [
            ("daily Sharpe", stats.sharpe),
            ("skewness", stats.skewness),
            ("kurtosis", stats.kurtosis),
            ("PSR", stats.psr),
            ("DSR", stats.dsr),
        ] {
            rows.push((format!("{side} {name}"), Cell::Number(value)));
        }
    }
    for (label, value) in rows {
        row += 1;
        sheet.write_string_with_format(row, 0, label, bold)?;
        write_cell(sheet, row, 1, value)?;
    }
    Ok(())
}
