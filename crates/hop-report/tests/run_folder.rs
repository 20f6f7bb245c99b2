//! The run folder end to end, on a small hand-made run.

use std::fs;
use std::io::Read as _;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use hop_core::types::WalkForwardOptions;
use hop_core::{
    Algorithm, AlgorithmResult, Inversion, JobOptions, PortfolioMetrics, RunResult, SizeResult,
    StrategyMetrics,
};
use hop_report::{ReportError, RunInfo, file_names, read_results_json, write_run_folder};

fn ts(h: u32, m: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 7, 26)
        .unwrap()
        .and_hms_opt(h, m, s)
        .unwrap()
}

fn metrics(roi: f64, mdd: f64, pf: f64) -> PortfolioMetrics {
    PortfolioMetrics {
        total_roi: roi,
        max_drawdown: mdd,
        win_percentage: 0.6,
        profit_factor: pf,
        expectancy: roi / 10.0,
        sharpe_ratio: 1.25,
        sortino_ratio: 2.5,
        annualized_return: roi * 25.2,
        roi_drawdown_ratio: roi / mdd,
    }
}

fn alg(algorithm: Algorithm, k: usize, portfolio: Vec<u32>, fitness: f64) -> AlgorithmResult {
    AlgorithmResult {
        algorithm,
        portfolio_size: k,
        portfolio,
        fitness,
        evaluations: 60_000,
        seconds: 0.125,
        metrics: metrics(1234.5, 100.0, 3.276700272201562),
    }
}

fn sample() -> RunResult {
    let options = JobOptions {
        min_size: 2,
        max_size: 3,
        algorithms: vec![Algorithm::Sa, Algorithm::Ga],
        ulta: true,
        budget: Some(60_000),
        // The legacy run folder, byte for byte (tests/walk_forward.rs has the walk-forward).
        walk_forward: WalkForwardOptions {
            enabled: false,
            ..Default::default()
        },
        ..JobOptions::default()
    };
    let dates: Vec<String> = (1..=10).map(|d| format!("2024-01-{d:02}")).collect();
    RunResult {
        options,
        strategy_names: vec![
            "SENSEX 1426-1456 SL73%TP32%".into(),
            "SENSEX 1240-1340 SL23%".into(),
            "Alpha, \"quoted\"".into(),
            "SENSEX 940-1040 SL21%_inv".into(),
        ],
        dates,
        strategy_metrics: vec![
            StrategyMetrics {
                roi: 8474.852890000091,
                max_drawdown: 5140.12109999999,
                win_percentage: 0.6219512195121951,
                profit_factor: 1.3953703980044516,
                expectancy: 103.35186451219636,
            },
            StrategyMetrics {
                roi: 100.0,
                max_drawdown: 0.0,
                win_percentage: 1.0,
                profit_factor: f64::INFINITY,
                expectancy: 10.0,
            },
            StrategyMetrics {
                roi: -5.5,
                max_drawdown: 20.25,
                win_percentage: 0.5,
                profit_factor: 0.5,
                expectancy: -0.55,
            },
            StrategyMetrics {
                roi: 10390.4896299999,
                max_drawdown: 13029.782879999915,
                win_percentage: 0.43902439024390244,
                profit_factor: 1.611,
                expectancy: 126.7132881707305,
            },
        ],
        sizes: vec![
            SizeResult {
                portfolio_size: 2,
                algorithms: vec![
                    alg(Algorithm::Sa, 2, vec![0, 3], 30.45764862187442),
                    alg(Algorithm::Ga, 2, vec![0, 1], 12.5),
                ],
                best: 0,
                best_daily: vec![
                    120.0, -40.5, 60.25, -200.0, 35.0, 80.0, -10.0, 150.0, -75.0, 90.0,
                ],
            },
            SizeResult {
                portfolio_size: 3,
                algorithms: vec![
                    alg(Algorithm::Sa, 3, vec![0, 1, 3], 20.0),
                    alg(Algorithm::Ga, 3, vec![0, 2, 3], 25.0),
                ],
                best: 1,
                best_daily: vec![10.0, 20.0, -5.0, -30.0, 40.0, 5.0, 5.0, -50.0, 60.0, 1.0],
            },
        ],
        best_size: 0,
        inversions: vec![Inversion {
            index: 3,
            original_name: "SENSEX 940-1040 SL21%".into(),
            inverted_name: "SENSEX 940-1040 SL21%_inv".into(),
            original_roi: -10390.4896299999,
            inverted_roi: 10390.4896299999,
        }],
        evaluator: "cpu".into(),
        walk_forward: Default::default(),
        selection: Default::default(),
    }
}

fn info() -> RunInfo {
    RunInfo {
        job_id: Some("job_12345_20250726_163251".into()),
        input_file: "Python_Multi_Consolidated_20250726_161921.csv".into(),
        timestamp: ts(16, 32, 51),
        side: Some("green".into()),
        engine: "cpu".into(),
        errors: vec![],
        timings: vec![
            ("parse".into(), 0.05),
            ("search".into(), 0.5),
            ("report".into(), 0.01),
        ],
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

const BEST_SIZE2: &str = "Best Portfolio (Size 2) - Method: SA\r\n\
Fitness: 30.45764862187442\r\n\
\r\n\
Performance Metrics:\r\n\
total_roi: 1234.5\r\n\
max_drawdown: 100.0\r\n\
win_percentage: 0.6\r\n\
profit_factor: 3.276700272201562\r\n\
expectancy: 123.45\r\n\
sharpe_ratio: 1.25\r\n\
sortino_ratio: 2.5\r\n\
annualized_return: 31109.399999999998\r\n\
\r\n\
Selected Strategies:\r\n\
1. SENSEX 1426-1456 SL73%TP32%\r\n\
2. SENSEX 940-1040 SL21%_inv\r\n";

#[test]
fn writes_the_whole_run_folder() {
    let root = tempfile::tempdir().unwrap();
    let result = sample();
    let dir = write_run_folder(root.path(), &info(), &result).unwrap();
    assert_eq!(dir, root.path().join("run_20250726_163251"));
    // Only the final folder is visible: no temporary folder is left.
    assert_eq!(
        listing(root.path()),
        vec!["run_20250726_163251".to_string()]
    );

    let ts = "20250726_163251";
    let expected = file_names(&result, ts);
    assert_eq!(listing(&dir), expected);
    for name in [
        "optimization_summary_20250726_163251.txt",
        "optimization_summary_20250726_163251.xlsx",
        "strategy_metrics.csv",
        "Best_Portfolio_Size2_20250726_163251.txt",
        "Best_Portfolio_Size3_20250726_163251.txt",
        "equity_curves_Best_Portfolio_Size2_20250726_163251.png",
        "drawdowns_Best_Portfolio_Size2_20250726_163251.png",
        "equity_curves_Best_Portfolio_Size3_20250726_163251.png",
        "drawdowns_Best_Portfolio_Size3_20250726_163251.png",
        "results.json",
        "inversion_report.md",
    ] {
        assert!(expected.contains(&name.to_string()), "{name} listed");
        let len = fs::metadata(dir.join(name)).unwrap().len();
        assert!(len > 0, "{name} is empty");
    }
    assert_eq!(fs::metadata(dir.join("error_log.txt")).unwrap().len(), 0);

    // Best_Portfolio files, exactly.
    let best2 = fs::read_to_string(dir.join("Best_Portfolio_Size2_20250726_163251.txt")).unwrap();
    assert_eq!(best2, BEST_SIZE2);
    let best3 = fs::read_to_string(dir.join("Best_Portfolio_Size3_20250726_163251.txt")).unwrap();
    assert!(best3.starts_with("Best Portfolio (Size 3) - Method: GA\r\nFitness: 25.0\r\n"));
    assert!(best3.ends_with(
        "Selected Strategies:\r\n1. SENSEX 1426-1456 SL73%TP32%\r\n2. Alpha, \"quoted\"\r\n\
         3. SENSEX 940-1040 SL21%_inv\r\n"
    ));

    // strategy_metrics.csv.
    let csv = fs::read_to_string(dir.join("strategy_metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        ",ROI,Max Drawdown,Win Percentage,Profit Factor,Expectancy"
    );
    assert_eq!(
        lines[1],
        "SENSEX 1426-1456 SL73%TP32%,8474.852890000091,5140.12109999999,0.6219512195121951,\
         1.3953703980044516,103.35186451219636"
    );
    assert_eq!(lines[2], "SENSEX 1240-1340 SL23%,100.0,0.0,1.0,inf,10.0");
    assert_eq!(
        lines[3],
        "\"Alpha, \"\"quoted\"\"\",-5.5,20.25,0.5,0.5,-0.55"
    );
    assert_eq!(lines.len(), 5);
    assert!(csv.ends_with('\n') && !csv.contains('\r'));

    // Summary.
    let summary = fs::read_to_string(dir.join("optimization_summary_20250726_163251.txt")).unwrap();
    for line in [
        "Multi-Strategy Portfolio Optimization Results",
        "===========================================",
        "Run ID: 20250726_163251",
        "Date: 2025-07-26 16:32:51",
        "Input File: Python_Multi_Consolidated_20250726_161921.csv",
        "- Metric: ratio",
        "- Min Portfolio Size: 2",
        "- Max Portfolio Size: 3",
        "- Algorithms: SA, GA",
        "- Seed: 42",
        "- Evaluation Budget: 60000",
        "- Apply ULTA Logic: True",
        "- Penalty Factor: 10.0",
        "- Aggregation: mean",
        "Best Overall Portfolio:",
        "- Size: 2",
        "- Method: SA",
        "- Fitness: 30.45764862187442",
        "- SA: Fitness: 30.45764862187442, Evaluations: 60000, Time: 0.125 s (best)",
        "- GA: Fitness: 25.0, Evaluations: 60000, Time: 0.125 s (best)",
        "Selected Strategies:",
        "1. SENSEX 1426-1456 SL73%TP32%",
        "2. SENSEX 940-1040 SL21%_inv",
    ] {
        assert!(
            summary.contains(&format!("{line}\r\n")),
            "summary lacks {line:?}:\n{summary}"
        );
    }
    assert!(
        !summary.contains("green"),
        "the side stays out of the analyst's summary"
    );

    // Inversion report.
    let md = fs::read_to_string(dir.join("inversion_report.md")).unwrap();
    assert!(md.contains(
        "| 3 | SENSEX 940-1040 SL21% | SENSEX 940-1040 SL21%_inv | -10390.4896299999 | \
         10390.4896299999 |\n"
    ));

    // The workbook's sheets.
    let xlsx = fs::File::open(dir.join("optimization_summary_20250726_163251.xlsx")).unwrap();
    let mut zip = zip::ZipArchive::new(xlsx).unwrap();
    let mut workbook = String::new();
    zip.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut workbook)
        .unwrap();
    let mut positions = Vec::new();
    for sheet in hop_report::xlsx::SHEETS {
        let pos = workbook
            .find(&format!("name=\"{sheet}\""))
            .unwrap_or_else(|| {
                panic!("sheet {sheet} missing from workbook.xml: {workbook}");
            });
        positions.push(pos);
    }
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "sheets in order");
    let mut metrics_sheet = String::new();
    zip.by_name("xl/worksheets/sheet4.xml")
        .unwrap()
        .read_to_string(&mut metrics_sheet)
        .unwrap();
    assert!(metrics_sheet.contains("SENSEX 1240-1340 SL23%"));
    assert!(
        metrics_sheet.contains(">inf<"),
        "infinite profit factor written as text inf"
    );
    let mut core = String::new();
    zip.by_name("docProps/core.xml")
        .unwrap()
        .read_to_string(&mut core)
        .unwrap();
    assert!(
        core.contains("2025-07-26T16:32:51Z"),
        "creation time from the run: {core}"
    );

    // PNGs: signature and size.
    for name in [
        "equity_curves_Best_Portfolio_Size2_20250726_163251.png",
        "drawdowns_Best_Portfolio_Size3_20250726_163251.png",
    ] {
        let png = fs::read(dir.join(name)).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        assert_eq!(&png[12..16], b"IHDR");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), hop_report::charts::CHART_SIZE, "{name}");
    }

    // results.json round-trips the RunResult.
    let json = fs::read(dir.join("results.json")).unwrap();
    let doc = read_results_json(&json).unwrap();
    assert_eq!(doc.format_version, 1);
    assert_eq!(doc.run_id, "20250726_163251");
    assert_eq!(doc.job_id.as_deref(), Some("job_12345_20250726_163251"));
    assert_eq!(doc.timestamp, "2025-07-26T16:32:51");
    assert_eq!(doc.side.as_deref(), Some("green"));
    assert_eq!(doc.engine, "cpu");
    assert_eq!(doc.seed, 42);
    assert_eq!(doc.files, expected);
    assert_eq!(doc.best.portfolio, vec![0, 3]);
    assert_eq!(doc.timings.as_ref(), info().timings.as_slice());
    assert_eq!(*doc.options, result.options);
    assert_eq!(*doc.result, result);
    // Writing the parsed document again gives the same bytes (stable key order).
    let again = serde_json::to_vec_pretty(&doc).unwrap();
    assert_eq!(&json[..json.len() - 1], &again[..]);
    let text = String::from_utf8(json).unwrap();
    assert!(text.contains("\"profit_factor\": \"inf\""));
    assert!(text.contains("\"portfolio\": [\n"));
    let keys: Vec<usize> = [
        "\"format_version\"",
        "\"job_id\"",
        "\"run_id\"",
        "\"result\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_second_run_in_the_same_second_gets_the_next_second() {
    let root = tempfile::tempdir().unwrap();
    let result = sample();
    let first = write_run_folder(root.path(), &info(), &result).unwrap();
    let second = write_run_folder(root.path(), &info(), &result).unwrap();
    assert_eq!(first, root.path().join("run_20250726_163251"));
    assert_eq!(second, root.path().join("run_20250726_163252"));
    assert_eq!(listing(&second), file_names(&result, "20250726_163252"));
    // A third skips both.
    let third = write_run_folder(root.path(), &info(), &result).unwrap();
    assert_eq!(third, root.path().join("run_20250726_163253"));

    // The content is the same but for the run id.
    for (a, b) in [
        ("strategy_metrics.csv", "strategy_metrics.csv"),
        ("error_log.txt", "error_log.txt"),
        ("inversion_report.md", "inversion_report.md"),
        (
            "Best_Portfolio_Size2_20250726_163251.txt",
            "Best_Portfolio_Size2_20250726_163252.txt",
        ),
        (
            "Best_Portfolio_Size3_20250726_163251.txt",
            "Best_Portfolio_Size3_20250726_163252.txt",
        ),
    ] {
        assert_eq!(
            fs::read(first.join(a)).unwrap(),
            fs::read(second.join(b)).unwrap(),
            "{a}"
        );
    }
    let s1 = fs::read_to_string(first.join("optimization_summary_20250726_163251.txt")).unwrap();
    let s2 = fs::read_to_string(second.join("optimization_summary_20250726_163252.txt")).unwrap();
    assert_eq!(
        s1.replace("Run ID: 20250726_163251", "Run ID: 20250726_163252"),
        s2
    );
    let j1 = fs::read_to_string(first.join("results.json")).unwrap();
    let j2 = fs::read_to_string(second.join("results.json")).unwrap();
    let j1 = j1
        .replace(
            "\"run_id\": \"20250726_163251\"",
            "\"run_id\": \"20250726_163252\"",
        )
        .replace("_20250726_163251.", "_20250726_163252.");
    assert_eq!(j1, j2);
}

#[test]
fn the_same_run_gives_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let result = sample();
    let mut run = info();
    run.errors = vec![
        "shadow side failed:\nengine timeout".into(),
        "second".into(),
    ];
    let da = write_run_folder(a.path(), &run, &result).unwrap();
    let db = write_run_folder(b.path(), &run, &result).unwrap();
    let names = listing(&da);
    assert_eq!(names, listing(&db));
    for name in &names {
        assert_eq!(
            fs::read(da.join(name)).unwrap(),
            fs::read(db.join(name)).unwrap(),
            "{name}"
        );
    }
    let log = fs::read_to_string(da.join("error_log.txt")).unwrap();
    assert_eq!(log, "shadow side failed: engine timeout\r\nsecond\r\n");
}

#[test]
fn an_output_root_that_is_a_file_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("output");
    fs::write(&file, b"not a folder").unwrap();
    let err = write_run_folder(&file, &info(), &sample()).unwrap_err();
    assert!(matches!(err, ReportError::Folder { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("cannot create the run folder in"),
        "{message}"
    );
    assert!(message.contains("output"), "{message}");
    assert_eq!(listing(root.path()), vec!["output".to_string()]);
}

#[test]
fn a_failure_mid_write_leaves_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let mut result = sample();
    // Excel refuses strings over 32,767 characters: the workbook fails after other files exist.
    result.strategy_names[1] = "x".repeat(40_000);
    let err = write_run_folder(root.path(), &info(), &result).unwrap_err();
    assert!(matches!(err, ReportError::Xlsx { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("optimization_summary_20250726_163251.xlsx"),
        "{err}"
    );
    assert_eq!(
        err.file().as_deref(),
        Some("optimization_summary_20250726_163251.xlsx")
    );
    assert!(
        listing(root.path()).is_empty(),
        "left behind: {:?}",
        listing(root.path())
    );
}

#[test]
fn an_inconsistent_result_is_refused_before_writing() {
    let root = tempfile::tempdir().unwrap();
    let mut result = sample();
    result.sizes[1].algorithms[0].portfolio = vec![0, 1, 9];
    let err = write_run_folder(root.path(), &info(), &result).unwrap_err();
    assert!(matches!(err, ReportError::InvalidResult(_)), "{err:?}");
    assert!(err.to_string().contains("strategy index 9"), "{err}");
    assert!(listing(root.path()).is_empty());
}

#[test]
fn a_default_budget_is_spelled_out_per_algorithm() {
    let mut result = sample();
    result.options.budget = None;
    let text = hop_report::text::budget_text(&result.options);
    let sa = Algorithm::Sa.default_budget();
    let ga = Algorithm::Ga.default_budget();
    assert_eq!(text, format!("default per algorithm (SA {sa}, GA {ga})"));
    let summary = hop_report::text::summary_text(&info(), "20250726_163251", &result);
    assert!(summary.contains(&format!("- Evaluation Budget: {text}\r\n")));
}

#[test]
fn stale_partial_folders_are_removed() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join(".run_20250726_163251.partial-1-0")).unwrap();
    fs::create_dir(root.path().join("run_20250726_163251")).unwrap();
    let removed =
        hop_report::remove_stale_partials(root.path(), std::time::Duration::ZERO).unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        listing(root.path()),
        vec!["run_20250726_163251".to_string()]
    );
}

#[test]
fn the_inversion_report_is_a_markdown_table() {
    let md = hop_report::inversion_report(&sample());
    assert!(md.starts_with("# ULTA Inversion Report\n"));
    assert!(
        md.contains("| Strategy Index | Original Name | New Name | Original ROI | Inverted ROI |")
    );
    assert!(md.contains("Inverted: 1 of 4 strategies."));
    let mut none = sample();
    none.inversions.clear();
    assert!(hop_report::inversion_report(&none).contains("No strategy was inverted."));
    let root = tempfile::tempdir().unwrap();
    let dir = write_run_folder(root.path(), &info(), &none).unwrap();
    assert!(!dir.join("inversion_report.md").exists());
}

/// A production-shape run folder: 25,544 strategies x 82 days, one size (k = 35), eight
/// algorithms. `cargo test --release -p hop-report -- --ignored --nocapture`.
#[test]
#[ignore]
fn production_shape_run_folder_timing() {
    let n = 25_544;
    let days = 82;
    let k = 35;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let names: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "SENSEX {}-{} SL{}%TP{}%",
                900 + i % 600,
                1000 + i % 500,
                i % 150,
                (i / 150) % 100
            )
        })
        .collect();
    let strategy_metrics: Vec<StrategyMetrics> = (0..n)
        .map(|i| StrategyMetrics {
            roi: (rnd() - 0.4) * 20_000.0,
            max_drawdown: rnd() * 25_000.0,
            win_percentage: (rnd() * 82.0).floor() / 82.0,
            profit_factor: if i % 997 == 0 {
                f64::INFINITY
            } else {
                rnd() * 3.0
            },
            expectancy: (rnd() - 0.4) * 300.0,
        })
        .collect();
    let dates: Vec<String> = (0..days)
        .map(|d| {
            let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Days::new(d);
            date.format("%Y-%m-%d").to_string()
        })
        .collect();
    let algorithms: Vec<AlgorithmResult> = Algorithm::ALL
        .iter()
        .enumerate()
        .map(|(a, &algorithm)| {
            let portfolio: Vec<u32> = (0..k as u32).map(|j| j * 700 + a as u32).collect();
            alg(algorithm, k, portfolio, 20.0 + a as f64 + rnd())
        })
        .collect();
    let result = RunResult {
        options: JobOptions::with_size(k),
        strategy_names: names,
        dates,
        strategy_metrics,
        sizes: vec![SizeResult {
            portfolio_size: k,
            algorithms,
            best: 7,
            best_daily: (0..days).map(|_| (rnd() - 0.35) * 400.0).collect(),
        }],
        best_size: 0,
        inversions: vec![],
        evaluator: "cpu".into(),
        walk_forward: Default::default(),
        selection: Default::default(),
    };
    let root = tempfile::tempdir().unwrap();
    // Warm up (font registration, page cache), then measure.
    write_run_folder(root.path(), &info(), &result).unwrap();
    let mut times = Vec::new();
    for _ in 0..9 {
        let start = std::time::Instant::now();
        let dir = write_run_folder(root.path(), &info(), &result).unwrap();
        times.push(start.elapsed().as_secs_f64() * 1e3);
        assert!(dir.join("strategy_metrics.csv").exists());
    }
    times.sort_by(f64::total_cmp);
    let (median, min, max) = (times[4], times[0], times[8]);
    let dir = root.path().join("run_20250726_163252");
    let size = |name: &str| fs::metadata(dir.join(name)).unwrap().len();
    println!(
        "run folder for {n} strategies: median {:.1} ms (min {:.1}, max {:.1}); xlsx {} KiB, \
         csv {} KiB, results.json {} KiB",
        median,
        min,
        max,
        size("optimization_summary_20250726_163252.xlsx") / 1024,
        size("strategy_metrics.csv") / 1024,
        size("results.json") / 1024,
    );
}
