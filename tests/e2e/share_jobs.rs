//! A legacy job file dropped on the share comes back as a completed file and a run folder whose
//! numbers are `hop run`'s for the same job and seed — on the legacy side (green weight 0, the
//! SQL engine) and on the green side (weight 100), walk-forward validation included.

use std::time::Duration;

use hop_core::{JobOptions, RunResult};
use hop_e2e::{Cluster, file_with_prefix, hop_run};
use serde_json::Value;

const FIXTURE: &str = "sensex_500x82.csv";
const SIZE: usize = 10;
const BUDGET: u64 = 3000;

fn options() -> JobOptions {
    JobOptions {
        budget: Some(BUDGET),
        ..JobOptions::with_size(SIZE)
    }
}

fn fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("input_file", "\"sensex_500x82.csv\""),
        ("portfolio_size", "10"),
        ("job_type", "\"complete_optimization\""),
        ("timestamp", "\"Wed 07/30/2025 15:45:00.12\""),
        (
            "client_info",
            r#"{"computer_name": "DESKTOP-1", "username": "analyst", "drive_letter": "L:"}"#,
        ),
        ("execution_mode", "\"server_side_heavydb\""),
        ("budget", "3000"),
    ]
}

/// Per-strategy metrics of `strategy_metrics.csv`: name and the five values.
fn strategy_metrics(csv: &str) -> Vec<(String, Vec<f64>)> {
    csv.lines()
        .skip(1)
        .map(|line| {
            let mut cells = line.split(',');
            let name = cells.next().expect("a name").to_owned();
            let values = cells.map(|c| c.parse::<f64>().expect("a number")).collect();
            (name, values)
        })
        .collect()
}

fn assert_close(got: f64, want: f64, relative: f64, what: &str) {
    if got == want {
        return;
    }
    let difference = (got - want).abs() / got.abs().max(want.abs());
    assert!(
        difference <= relative,
        "{what}: {got} vs {want} ({difference:e})"
    );
}

/// Runs the fixture job through the share and compares with `hop run`.
fn share_job_equals_hop_run(green_percent: u32, side: &str, engine: &str, metrics_tolerance: f64) {
    let cluster = Cluster::start(green_percent, &[]);
    let csv = cluster.put_fixture(FIXTURE);
    let job_id = format!("job_e2e_{side}_20250730_154500");
    cluster.drop_job(&job_id, &fields());
    let (outcome, completed) = cluster.wait_outcome(&job_id, Duration::from_secs(180));
    assert_eq!(outcome, "completed", "{completed:#}");

    // The completed file: the original fields unchanged, the legacy additions and ours.
    assert_eq!(completed["job_id"], Value::from(job_id.as_str()));
    assert_eq!(completed["timestamp"], "Wed 07/30/2025 15:45:00.12");
    assert_eq!(completed["client_info"]["username"], "analyst");
    assert_eq!(completed["return_code"], 0);
    assert_eq!(completed["side"], side, "{completed:#}");
    assert_eq!(completed["engine"], engine, "{completed:#}");
    assert!(
        completed["execution_time"]
            .as_f64()
            .is_some_and(|t| t > 0.0)
    );
    assert!(completed["completion_timestamp"].is_string());
    for dir in ["queue", "processing", "failed"] {
        let left = cluster
            .share()
            .join("jobs")
            .join(dir)
            .join(format!("{job_id}.json"));
        assert!(!left.exists(), "{} left behind", left.display());
    }

    // Exactly one run folder, and its numbers are hop run's.
    let folders = cluster.run_folders(&job_id);
    assert_eq!(folders.len(), 1, "{folders:?}");
    let folder = &folders[0];
    let out = tempfile::tempdir().unwrap();
    let expected = hop_run(&csv, &options(), out.path());

    let doc = std::fs::read(folder.join("results.json")).unwrap();
    let doc = hop_report::read_results_json(&doc).unwrap();
    assert_eq!(doc.side.as_deref(), Some(side));
    assert_eq!(doc.engine, engine);
    assert_eq!(doc.seed, 42);
    let got: &RunResult = &doc.result;
    let want = &expected.result;
    hop_e2e::assert_same_portfolios(got, want);
    // The walk-forward ran (82 days) and is hop run's to the bit on either side, so blue's
    // equals green's; and so are its CSV and the selection statistics.
    assert_eq!(
        got.walk_forward.folds.len(),
        3,
        "{:?}",
        got.walk_forward.skipped
    );
    let bits = |r: &RunResult| serde_json::to_string(&(&r.walk_forward, &r.selection)).unwrap();
    assert_eq!(bits(got), bits(want));
    assert_eq!(
        std::fs::read_to_string(folder.join("walk_forward.csv")).unwrap(),
        std::fs::read_to_string(expected.folder.join("walk_forward.csv")).unwrap()
    );
    // The best-portfolio report is the same text (its name carries the run's timestamp).
    let prefix = format!("Best_Portfolio_Size{SIZE}_");
    assert_eq!(
        std::fs::read_to_string(file_with_prefix(folder, &prefix)).unwrap(),
        std::fs::read_to_string(file_with_prefix(&expected.folder, &prefix)).unwrap()
    );
    // Per-strategy metrics: green's are hop run's bits; blue's come from SQL (1e-12 relative).
    let got =
        strategy_metrics(&std::fs::read_to_string(folder.join("strategy_metrics.csv")).unwrap());
    let want = strategy_metrics(
        &std::fs::read_to_string(expected.folder.join("strategy_metrics.csv")).unwrap(),
    );
    assert_eq!(got.len(), 500);
    assert_eq!(got.len(), want.len());
    for ((gn, gv), (wn, wv)) in got.iter().zip(&want) {
        assert_eq!(gn, wn);
        for (g, w) in gv.iter().zip(wv) {
            assert_close(*g, *w, metrics_tolerance, gn);
        }
    }
    let killed = cluster.stack.shutdown(Duration::from_secs(20));
    assert!(killed.is_empty(), "not stopped gracefully: {killed:?}");
}

#[test]
fn weight_100_runs_on_green_and_equals_hop_run() {
    share_job_equals_hop_run(100, "green", "cpu", 0.0);
}

#[test]
fn weight_0_runs_on_blue_and_equals_hop_run() {
    share_job_equals_hop_run(0, "blue", "embedded-sql", 1e-12);
}
