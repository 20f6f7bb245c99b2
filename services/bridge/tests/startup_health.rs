//! Start-up: clear errors for a missing share or router, the share's folders created when absent;
//! health NOT_SERVING while the share cannot be read, SERVING again once it can.

mod common;

use std::fs;
use std::process::Command;

use common::fake_router::FakeRouter;
use common::{job_json, wait_until};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Runs the binary to its exit; (success, stderr).
fn start_failing(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hop-bridge"))
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("HOP_CONFIG")
        .env_remove("HOP_BRIDGE_SHARE")
        .env_remove("HOP_BRIDGE_ROUTER")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn configuration_errors_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    let share = |p: &std::path::Path| format!("share={}", p.display());
    let (missing, not_dir, ok) = (
        share(&dir.path().join("missing")),
        share(&file),
        share(dir.path()),
    );
    let router = "router=http://127.0.0.1:1";
    let cases = [
        (vec!["--set", router], "no share configured".to_owned()),
        (
            vec!["--set", &missing, "--set", router],
            "cannot be used".to_owned(),
        ),
        (
            vec!["--set", &not_dir, "--set", router],
            format!("share {} is not a directory", file.display()),
        ),
        (vec!["--set", &ok], "no router configured".to_owned()),
        (
            vec!["--set", &ok, "--set", "router=not a uri"],
            "router URI \"not a uri\" is not usable".to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let (success, stderr) = start_failing(&args);
        assert!(!success, "{args:?}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
}

#[test]
fn folders_are_created_and_health_follows_the_share() {
    let dir = tempfile::tempdir().unwrap();
    let router = FakeRouter::start();
    let bridge = hop_runtime::testing::ServiceProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_hop-bridge")),
        "bridge",
        &[
            "--set",
            &format!("share={}", dir.path().display()),
            "--set",
            &format!("router={}", router.uri()),
            "--set",
            "poll_interval=50ms",
        ],
    );
    for sub in [
        "input",
        "output",
        "jobs/queue",
        "jobs/processing",
        "jobs/completed",
        "jobs/failed",
    ] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut health = HealthClient::new(runtime.block_on(bridge.channel()));
    let mut status = || {
        let request = HealthCheckRequest {
            service: String::new(),
        };
        runtime
            .block_on(health.check(request))
            .unwrap()
            .into_inner()
            .status()
    };
    assert_eq!(status(), ServingStatus::Serving);
    let queue = dir.path().join("jobs/queue");
    fs::rename(&queue, dir.path().join("jobs/queue_away")).unwrap();
    wait_until("NOT_SERVING", || status() == ServingStatus::NotServing);
    fs::rename(dir.path().join("jobs/queue_away"), &queue).unwrap();
    wait_until("SERVING again", || status() == ServingStatus::Serving);

    // And jobs run again.
    fs::copy(
        hop_core::fixtures::path(common::FIXTURE),
        dir.path().join("input/data.csv"),
    )
    .unwrap();
    fs::write(queue.join("after.json"), job_json("after", "data.csv", "")).unwrap();
    let done = dir.path().join("jobs/completed/after.json");
    wait_until("the job after the outage", || done.is_file());
}
