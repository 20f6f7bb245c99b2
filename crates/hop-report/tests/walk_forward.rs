//! The walk-forward in the run folder, from a real run of the 500-strategy fixture: the CSV, the
//! summary section, the `Walk-Forward` sheet, the chart, results.json; and a job that turns it off
//! gets the legacy files only.

use std::fs;
use std::io::Read as _;

use chrono::NaiveDate;
use hop_core::eval::CpuEvaluator;
use hop_core::run::{Prepared, run_search};
use hop_core::types::WalkForwardOptions;
use hop_core::{JobOptions, RunResult};
use hop_report::{RunInfo, read_results_json, write_run_folder};

fn run(walk_forward: bool) -> RunResult {
    let options = JobOptions {
        budget: Some(300),
        walk_forward: WalkForwardOptions {
            enabled: walk_forward,
            ..Default::default()
        },
        ..JobOptions::with_size(10)
    };
    let matrix = hop_core::fixtures::matrix("sensex_500x82.csv");
    let prepared = Prepared::new(matrix, &options, None).unwrap();
    let eval = CpuEvaluator::new(&prepared.problem);
    run_search(&prepared, &options, &eval, &|_| {})
}

fn info() -> RunInfo {
    RunInfo {
        input_file: "sensex_500x82.csv".into(),
        timestamp: NaiveDate::from_ymd_opt(2025, 7, 26)
            .unwrap()
            .and_hms_opt(16, 32, 51)
            .unwrap(),
        engine: "cpu".into(),
        ..RunInfo::default()
    }
}

fn sheet_names(path: &std::path::Path) -> String {
    let mut zip = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    let mut workbook = String::new();
    zip.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut workbook)
        .unwrap();
    workbook
}

#[test]
fn the_run_folder_has_the_walk_forward() {
    let result = run(true);
    let root = tempfile::tempdir().unwrap();
    let dir = write_run_folder(root.path(), &info(), &result).unwrap();

    let csv = fs::read_to_string(dir.join("walk_forward.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("fold,train_start,train_end,train_days,test_start"));
    let fold = &result.walk_forward.folds[2];
    let cells: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(cells.len(), hop_report::walk_forward::COLUMNS.len());
    assert_eq!(cells[0], "3");
    assert_eq!(cells[4], fold.test.first_date);
    assert_eq!(cells[5], result.dates[81]);
    assert_eq!(cells[13].parse::<f64>().unwrap(), fold.out_of_sample.roi);
    assert_eq!(cells[18].parse::<f64>().unwrap(), fold.percentile_rank);

    let summary = fs::read_to_string(dir.join("optimization_summary_20250726_163251.txt")).unwrap();
    let legacy = hop_report::text::summary_text(&info(), "20250726_163251", &result);
    assert!(
        summary.starts_with(&legacy),
        "the legacy lines come first, unchanged"
    );
    let section = &summary[legacy.len()..];
    for expected in [
        "\r\nWalk-forward validation:\r\n",
        "- 3 anchored folds of 12 test days",
        "- Fold 3: train ",
        "  Out-of-sample: ROI ",
        "Selection statistics (daily Sharpe ratios):\r\n",
        "- In-sample (best portfolio, all days): Sharpe ",
        "- Out-of-sample (the folds' test days): Sharpe ",
    ] {
        assert!(
            section.contains(expected),
            "{expected:?} missing from:\n{section}"
        );
    }
    assert_eq!(
        section.contains("Warning: the best fitness comes from the zero-drawdown rule"),
        result.selection.zero_drawdown
    );

    let workbook = sheet_names(&dir.join("optimization_summary_20250726_163251.xlsx"));
    assert!(workbook.contains("name=\"Walk-Forward\""), "{workbook}");
    let png = fs::read(dir.join("walk_forward_equity_20250726_163251.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let doc = read_results_json(&fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(doc.result.walk_forward, result.walk_forward);
    assert_eq!(doc.result.selection, result.selection);
    assert!(doc.files.iter().any(|f| f == "walk_forward.csv"));
}

#[test]
fn a_job_without_walk_forward_gets_the_legacy_files_only() {
    let result = run(false);
    assert!(result.walk_forward.folds.is_empty());
    assert!(result.walk_forward.skipped.contains("turned off"));
    let root = tempfile::tempdir().unwrap();
    let dir = write_run_folder(root.path(), &info(), &result).unwrap();
    assert!(!dir.join("walk_forward.csv").exists());
    assert!(!dir.join("walk_forward_equity_20250726_163251.png").exists());
    let summary = fs::read_to_string(dir.join("optimization_summary_20250726_163251.txt")).unwrap();
    assert_eq!(
        summary,
        hop_report::text::summary_text(&info(), "20250726_163251", &result)
    );
    let workbook = sheet_names(&dir.join("optimization_summary_20250726_163251.xlsx"));
    assert!(!workbook.contains("Walk-Forward"));
}
