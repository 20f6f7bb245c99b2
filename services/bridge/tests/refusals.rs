//! Job files the bridge refuses, each landing in `jobs/failed/` under its own name with a sentence
//! naming the field and the value; a job the router fails; a job that outlives `job_timeout`; a
//! reused job id; names that are not job files are left alone.

mod common;

use std::fs;

use common::fake_router::FakeRouter;
use common::{TestShare, job_json, wait_until};

#[test]
fn refused_job_files_land_in_failed_with_a_sentence() {
    let share = TestShare::new();
    let outside = share.path("outside.csv");
    fs::copy(share.path("input/data.csv"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, share.path("input/link.csv")).unwrap();
    let router = FakeRouter::start();
    let bridge = share.bridge(&router.uri(), &[]);

    let no_job_type = job_json("no_job_type", "data.csv", "")
        .replace("  \"job_type\": \"complete_optimization\",\n", "");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad_size",
            job_json("bad_size", "data.csv", "")
                .replace("\"portfolio_size\": 10", "\"portfolio_size\": 7"),
            "portfolio_size must be a whole number from 10 to 100; the job file has 7.",
        ),
        (
            "no_job_type",
            no_job_type,
            "The job file has no job_type field: add \"job_type\"",
        ),
        (
            "missing_csv",
            job_json("missing_csv", "nope.csv", ""),
            "input_file \"nope.csv\" was not found in the share's input folder",
        ),
        (
            "dot_dot",
            job_json("dot_dot", "../outside.csv", ""),
            "input_file \"../outside.csv\" leaves the share's input folder",
        ),
        (
            "other_host",
            job_json("other_host", r"\\\\evil\\share\\input\\data.csv", ""),
            r#"is on another share (\\evil\share)"#,
        ),
        (
            "symlink",
            job_json("symlink", "link.csv", ""),
            "input_file \"link.csv\" is a link that leads outside the share's input folder",
        ),
        (
            "wrong_name",
            job_json("job_other", "data.csv", ""),
            "job_id \"job_other\" does not match the job file's name wrong_name.json",
        ),
        (
            "bad_option",
            job_json("bad_option", "data.csv", r#", "algorithms": "GA, XYZ""#),
            "algorithms in the job file: unknown algorithm \"XYZ\"",
        ),
    ];
    for (name, text, _) in &cases {
        share.queue(&format!("{name}.json"), text);
    }
    share.queue("garbage.json", "this is not json\r\n");
    let huge = format!(
        "{{\"job_id\": \"huge\", \"pad\": \"{}\"}}",
        "x".repeat(70_000)
    );
    share.queue("huge.json", &huge);
    share.queue("notes.txt", "left alone");
    share.queue("late.json.tmp", "{");

    for (name, text, expected) in &cases {
        let failed = share.wait_for("failed", &format!("{name}.json"));
        let error = failed["error"].as_str().unwrap();
        assert!(error.contains(expected), "{name}: {error}");
        assert_eq!(failed["stderr"], failed["error"]);
        assert_eq!(failed["return_code"], 1);
        assert_eq!(failed["stdout"], "");
        assert_eq!(failed["output_dir"], "");
        // The original fields come first, unchanged.
        let original: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).unwrap();
        for (key, value) in &original {
            assert_eq!(&failed[key], value, "{name}: {key}");
        }
        assert_eq!(failed.keys().next(), original.keys().next());
    }
    let garbage = share.wait_for("failed", "garbage.json");
    assert_eq!(garbage["job_id"], "garbage");
    assert_eq!(garbage["return_code"], 1);
    assert_eq!(garbage["original_text"], "this is not json\r\n");
    let error = garbage["error"].as_str().unwrap();
    assert!(
        error.starts_with("The job file could not be read as a job: it is not valid JSON (line 1"),
        "{error}"
    );
    assert!(error.contains("It stayed like this for 300 ms"), "{error}");

    let failed = share.wait_for("failed", "huge.json");
    let error = failed["error"].as_str().unwrap();
    let expected = format!(
        "it is {} bytes, more than the 65536 bytes a job file may have",
        huge.len()
    );
    assert!(error.contains(&expected), "{error}");
    assert_eq!(failed["original_bytes"], huge.len());

    // The router never saw a refused job; names that are not job files stay where they are.
    for (name, _, _) in &cases {
        assert_eq!(router.state.submits(name), 0, "{name}");
    }
    assert_eq!(share.list("jobs/queue"), ["late.json.tmp", "notes.txt"]);
    assert!(share.list("jobs/processing").is_empty());
    assert!(share.list("jobs/completed").is_empty());
    assert!(share.run_folders().is_empty());

    let metrics = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(hop_runtime::testing::scrape_metrics(bridge.metrics));
    let refused = format!(
        "hop_bridge_jobs_total{{outcome=\"refused\"}} {}",
        cases.len() + 2
    );
    assert!(
        metrics.lines().any(|l| l == refused),
        "{refused} in\n{metrics}"
    );
}

#[test]
fn router_failures_timeouts_and_reused_ids_land_in_failed() {
    let share = TestShare::new();
    fs::write(
        share.path("input/bad.csv"),
        "Date,Day,A\n2025-01-02,Thu,abc\n",
    )
    .unwrap();
    let router = FakeRouter::start();
    router.state.hold("stuck");
    let _bridge = share.bridge(&router.uri(), &["--set", "job_timeout=2s"]);

    // The engine cannot read the CSV: the router's sentence reaches the analyst.
    share.queue("bad_csv.json", job_json("bad_csv", "bad.csv", ""));
    let failed = share.wait_for("failed", "bad_csv.json");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("The CSV file could not be read: "),
        "{error}"
    );
    assert!(error.contains("abc"), "{error}");
    assert_eq!(
        (&failed["engine"], &failed["side"]),
        (&"cpu".into(), &"green".into())
    );
    assert_eq!(router.state.runs("bad_csv"), 1);

    // A job that never finishes fails after job_timeout, and is cancelled on the router.
    share.queue("stuck.json", job_json("stuck", "data.csv", ""));
    let failed = share.wait_for("failed", "stuck.json");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "The optimizer did not finish the job within 2 seconds, so it was stopped"
        ),
        "{error}"
    );
    router.state.release("stuck");

    // A job id that already has a completed file: refused without touching the earlier result.
    fs::write(
        share.path("jobs/completed/again.json"),
        "{\"earlier\": true}",
    )
    .unwrap();
    share.queue("again.json", job_json("again", "data.csv", ""));
    let failed = share.wait_for("failed", "again.duplicate-1.json");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("job_id \"again\" was already used"),
        "{failed:?}"
    );
    assert_eq!(
        fs::read_to_string(share.path("jobs/completed/again.json")).unwrap(),
        "{\"earlier\": true}"
    );
    assert_eq!(router.state.submits("again"), 0);
    wait_until("an empty processing folder", || {
        share.list("jobs/processing").is_empty()
    });
}
