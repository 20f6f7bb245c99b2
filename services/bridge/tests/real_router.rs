//! The bridge in front of the real stack: `hop-router` routing every job to `hop-compute`
//! (green). Both binaries are found next to `hop-bridge` (built when missing).

mod common;

use std::path::Path;

use common::{BUDGET, TestShare, in_process, job_json};
use hop_core::JobOptions;
use hop_runtime::testing::{ServiceProcess, sibling_binary};

#[test]
fn a_job_through_the_real_router_and_compute() {
    let anchor = Path::new(env!("CARGO_BIN_EXE_hop-bridge"));
    let compute = ServiceProcess::start(
        &sibling_binary(anchor, "hop-compute", "hop-compute"),
        "compute",
        &[],
    );
    let green = format!("green={}", compute.uri());
    let router = ServiceProcess::start(
        &sibling_binary(anchor, "hop-router", "hop-router"),
        "router",
        &["--set", &green, "--set", "green_percent=100"],
    );
    let share = TestShare::new();
    let _bridge = share.bridge(&router.uri(), &[]);
    share.queue("real.json", job_json("real", "data.csv", r#", "seed": 11"#));

    let (folder, done) = share.wait_finished("real.json");
    assert_eq!(folder, "completed", "{done:?}");
    assert_eq!(done["engine"], "cpu");
    assert_eq!(done["side"], "green");
    let run = share.path(&done["output_dir"].as_str().unwrap().replace('\\', "/"));
    let doc =
        hop_report::read_results_json(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    let expected = in_process(&JobOptions {
        seed: 11,
        budget: Some(BUDGET),
        ..JobOptions::with_size(10)
    });
    assert_eq!(
        doc.best.fitness.to_bits(),
        expected.best().fitness.to_bits()
    );
    assert_eq!(doc.best.portfolio, expected.best().portfolio);
}
