//! The real `hop-bridge` binary against the in-test router: the legacy fixture job end to end
//! (completed file, run folder, numbers equal to an in-process run), a file written in two
//! chunks, CRLF + BOM, drive-letter and UNC paths, metrics and health.

mod common;

use std::fs;
use std::io::Write as _;
use std::time::Duration;

use common::fake_router::FakeRouter;
use common::{BUDGET, TestShare, in_process, job_json, read_json, wait_until};
use hop_core::{Algorithm, JobOptions};
use hop_proto::v1::job_spec::Input;
use serde_json::Value;

const FIXTURE_JOB: &str = "opt_python_multi_20250730_154500";

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

#[test]
fn the_legacy_fixture_job_end_to_end() {
    let share = TestShare::new();
    fs::copy(
        share.path("input/data.csv"),
        share.path("input/Python_Multi_Consolidated_20250726_161921.csv"),
    )
    .unwrap();
    let router = FakeRouter::start();
    let bridge = share.bridge(&router.uri(), &[]);
    let original = hop_core::fixtures::bytes("job_example.json");
    share.queue(&format!("{FIXTURE_JOB}.json"), &original);

    let done = share.wait_for("completed", &format!("{FIXTURE_JOB}.json"));
    // The job file's fields, unchanged and in their order, then ours.
    let original: serde_json::Map<String, Value> = serde_json::from_slice(&original).unwrap();
    let keys: Vec<&String> = done.keys().collect();
    assert_eq!(
        keys[..original.len()],
        original.keys().collect::<Vec<_>>()[..]
    );
    for (key, value) in &original {
        assert_eq!(&done[key], value, "{key}");
    }
    assert_eq!(done["timestamp"], "2025-07-30 15:45:00");
    assert_eq!(
        keys[original.len()..],
        [
            "execution_time",
            "completion_timestamp",
            "return_code",
            "stdout",
            "stderr",
            "output_dir",
            "output_path",
            "engine",
            "side",
            "validation"
        ]
    );
    assert!(done["execution_time"].as_f64().unwrap() >= 0.0);
    let completed_at = done["completion_timestamp"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(completed_at, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
        "{completed_at}"
    );
    assert_eq!(done["return_code"], 0);
    assert_eq!(done["stderr"], "");
    assert_eq!(
        (&done["engine"], &done["side"]),
        (&"cpu".into(), &"green".into())
    );
    assert_eq!(done["validation"], "matched");
    let output_dir = done["output_dir"].as_str().unwrap();
    let folder_name = output_dir.strip_prefix("output\\").expect(output_dir);
    assert!(folder_name.starts_with("run_") && folder_name.len() == "run_20250730_154501".len());
    assert_eq!(share.run_folders(), [folder_name]);
    let folder = share.path("output").join(folder_name);
    assert_eq!(
        fs::canonicalize(done["output_path"].as_str().unwrap()).unwrap(),
        fs::canonicalize(&folder).unwrap()
    );
    let stdout = done["stdout"].as_str().unwrap();
    assert!(
        stdout.starts_with("Best portfolio: size 35, algorithm "),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("Run folder: {output_dir}")),
        "{stdout}"
    );

    // The run folder: every legacy file, and the numbers of the same job run here.
    let ts = &folder_name["run_".len()..];
    for file in [
        format!("optimization_summary_{ts}.txt"),
        format!("optimization_summary_{ts}.xlsx"),
        "strategy_metrics.csv".into(),
        format!("Best_Portfolio_Size35_{ts}.txt"),
        format!("equity_curves_Best_Portfolio_Size35_{ts}.png"),
        format!("drawdowns_Best_Portfolio_Size35_{ts}.png"),
        "error_log.txt".into(),
        "results.json".into(),
    ] {
        assert!(folder.join(&file).is_file(), "{file} in the run folder");
    }
    let doc =
        hop_report::read_results_json(&fs::read(folder.join("results.json")).unwrap()).unwrap();
    assert_eq!(doc.job_id.as_deref(), Some(FIXTURE_JOB));
    assert_eq!(
        doc.input_file,
        "Python_Multi_Consolidated_20250726_161921.csv"
    );
    assert_eq!(doc.side.as_deref(), Some("green"));
    let expected = in_process(&JobOptions::with_size(35));
    let best = expected.best();
    assert_eq!(doc.best.fitness.to_bits(), best.fitness.to_bits());
    assert_eq!(doc.best.portfolio, best.portfolio);
    assert_eq!(doc.best.algorithm, best.algorithm);
    assert_eq!(doc.result.sizes.len(), 1);
    for (got, want) in doc.result.sizes[0]
        .algorithms
        .iter()
        .zip(&expected.sizes[0].algorithms)
    {
        assert_eq!(got.portfolio, want.portfolio, "{}", want.algorithm);
        assert_eq!(
            got.fitness.to_bits(),
            want.fitness.to_bits(),
            "{}",
            want.algorithm
        );
    }

    // What the router was asked: once, the share's CSV, the options and the labels.
    assert_eq!(router.state.runs(FIXTURE_JOB), 1);
    let spec = router.state.spec(FIXTURE_JOB).unwrap();
    let Some(Input::CsvPath(csv_path)) = &spec.input else {
        panic!("{spec:?}")
    };
    let expected_csv = share.path("input/Python_Multi_Consolidated_20250726_161921.csv");
    assert_eq!(
        fs::canonicalize(csv_path).unwrap(),
        fs::canonicalize(expected_csv).unwrap()
    );
    let options = hop_contract::options_from_proto(spec.options.as_ref()).unwrap();
    assert_eq!(options, JobOptions::with_size(35));
    assert_eq!(spec.labels["client_info.username"], "maruth");
    assert_eq!(spec.labels["execution_mode"], "server_side_heavydb");
    assert_eq!(spec.labels["timestamp"], "2025-07-30 15:45:00");

    // Nothing left behind.
    assert!(share.list("jobs/queue").is_empty());
    assert!(share.list("jobs/processing").is_empty());
    assert!(share.list("jobs/.bridge").is_empty());
    assert!(share.list("jobs/failed").is_empty());

    let metrics = block_on(hop_runtime::testing::scrape_metrics(bridge.metrics));
    for line in [
        "hop_bridge_jobs_total{outcome=\"completed\"} 1",
        "hop_bridge_jobs_total{outcome=\"refused\"} 0",
        "hop_bridge_queue_depth 0",
        "hop_bridge_job_seconds_count 1",
        "hop_bridge_claim_seconds_count 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    block_on(async { hop_runtime::testing::assert_serving(bridge.channel().await, &[""]).await });
}

#[test]
fn a_file_written_in_chunks_waits_until_it_is_complete() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    // A long settle: the half-written file must wait for its writer, not be refused.
    let _bridge = share.bridge(&router.uri(), &["--set", "settle=20s"]);
    let text = job_json("chunked", "data.csv", "");
    let (first, rest) = text.split_at(text.len() / 2);
    let path = share.path("jobs/queue/chunked.json");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(first.as_bytes()).unwrap();
    file.flush().unwrap();
    // Many polls (every 50 ms) see the partial file; none may act on it.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(path.is_file(), "the partial job file is still in the queue");
    assert!(share.list("jobs/processing").is_empty());
    assert!(share.list("jobs/failed").is_empty());
    assert_eq!(router.state.submits("chunked"), 0);
    file.write_all(rest.as_bytes()).unwrap();
    drop(file);
    let done = share.wait_for("completed", "chunked.json");
    assert_eq!(done["return_code"], 0);
    assert_eq!(router.state.runs("chunked"), 1);
}

#[test]
fn crlf_bom_drive_letters_and_unc_paths_are_accepted() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    let _bridge = share.bridge(
        &router.uri(),
        &[
            "--set",
            r#"unc_prefixes=["\\\\server\\optimizer_share", "\\\\fs01\\opt"]"#,
        ],
    );
    let crlf = |text: String| text.replace('\n', "\r\n");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(crlf(job_json("bom_crlf", "data.csv", "")).into_bytes());
    let jobs: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bom_crlf", bom, "data.csv"),
        // JSON-escaped backslashes.
        (
            "drive",
            job_json("drive", r"Z:\\input\\data.csv", "").into_bytes(),
            r"Z:\input\data.csv",
        ),
        // Raw backslashes, as a batch file's echo writes them.
        (
            "drive_raw",
            crlf(job_json("drive_raw", r"l:\INPUT\data.csv", "")).into_bytes(),
            r"l:\INPUT\data.csv",
        ),
        (
            "unc",
            job_json("unc", r"\\\\SERVER\\Optimizer_Share\\input\\data.csv", "").into_bytes(),
            r"\\SERVER\Optimizer_Share\input\data.csv",
        ),
        (
            "unc_raw",
            job_json("unc_raw", r"\\fs01\opt\input\data.csv", "").into_bytes(),
            r"\\fs01\opt\input\data.csv",
        ),
    ];
    for (id, bytes, _) in &jobs {
        share.queue(&format!("{id}.json"), bytes);
    }
    let options = JobOptions {
        budget: Some(BUDGET),
        ..JobOptions::with_size(10)
    };
    let expected = in_process(&options);
    for (id, _, input_file) in &jobs {
        let (folder, done) = share.wait_finished(&format!("{id}.json"));
        assert_eq!(folder, "completed", "{id}: {done:?}");
        assert_eq!(done["input_file"], *input_file, "{id}");
        assert_eq!(done["client_info"]["username"], "analyst");
        let run = share.path(&done["output_dir"].as_str().unwrap().replace('\\', "/"));
        let doc =
            hop_report::read_results_json(&fs::read(run.join("results.json")).unwrap()).unwrap();
        assert_eq!(doc.input_file, "data.csv");
        assert_eq!(
            doc.best.fitness.to_bits(),
            expected.best().fitness.to_bits(),
            "{id}"
        );
        assert_eq!(router.state.runs(id), 1);
    }
    assert_eq!(
        share.run_folders().len(),
        jobs.len(),
        "one run folder per job"
    );
}

#[test]
fn job_options_from_extra_fields_reach_the_router() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    let _bridge = share.bridge(&router.uri(), &[]);
    share.queue(
        "sweep.json",
        job_json(
            "sweep",
            "data.csv",
            r#", "min_size": "10", "max_size": 11, "algorithms": "HC, SA", "seed": 7,
             "metric": "roi", "penalty_weight": 0, "aggregation": "sum", "ulta": "yes""#,
        ),
    );
    let done = share.wait_for("completed", "sweep.json");
    let options = JobOptions {
        min_size: 10,
        max_size: 11,
        algorithms: vec![Algorithm::Hc, Algorithm::Sa],
        seed: 7,
        budget: Some(BUDGET),
        metric: hop_core::Metric::Roi,
        penalty_weight: 0.0,
        aggregation: hop_core::Aggregation::Sum,
        ulta: true,
        walk_forward: Default::default(),
    };
    let spec = router.state.spec("sweep").unwrap();
    assert_eq!(
        hop_contract::options_from_proto(spec.options.as_ref()).unwrap(),
        options
    );
    let run = share.path(&done["output_dir"].as_str().unwrap().replace('\\', "/"));
    let doc = read_json(&run.join("results.json"));
    assert_eq!(doc["result"]["sizes"].as_array().unwrap().len(), 2);
    assert!(
        run.join("inversion_report.md").is_file(),
        "ULTA inverted some strategies"
    );
    wait_until("the bridge to clean up", || {
        share.list("jobs/.bridge").is_empty()
    });
}
