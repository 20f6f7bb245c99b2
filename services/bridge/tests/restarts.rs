//! A job is never lost or run twice: two bridges on one share; a bridge SIGKILLed mid-job and
//! started again; a bridge stopped with SIGTERM while a job runs; the router restarted mid-job.

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::fake_router::FakeRouter;
use common::{TestShare, job_json, wait_until};

#[test]
fn two_bridges_on_one_share_complete_each_job_once() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    let _first = share.bridge(&router.uri(), &["--set", "max_parallel_jobs=2"]);
    let _second = share.bridge(&router.uri(), &["--set", "max_parallel_jobs=2"]);
    let ids: Vec<String> = (0..8).map(|i| format!("job_{i}")).collect();
    for id in &ids {
        share.queue(&format!("{id}.json"), job_json(id, "data.csv", ""));
    }
    for id in &ids {
        let done = share.wait_for("completed", &format!("{id}.json"));
        assert_eq!(done["return_code"], 0, "{id}");
    }
    for id in &ids {
        assert_eq!(router.state.runs(id), 1, "{id} ran once");
        assert_eq!(
            router.state.submits(id),
            1,
            "{id} was submitted by one bridge only"
        );
    }
    assert_eq!(share.run_folders().len(), ids.len());
    assert!(share.list("jobs/failed").is_empty());
    wait_until("an empty processing folder", || {
        share.list("jobs/processing").is_empty()
    });
}

#[test]
fn a_bridge_killed_mid_job_is_resumed_by_the_next_one() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    router.state.hold("killed");
    let first = share.bridge(&router.uri(), &[]);
    share.queue("killed.json", job_json("killed", "data.csv", ""));
    wait_until("the first bridge to submit", || {
        router.state.submits("killed") == 1
    });
    assert!(share.path("jobs/processing/killed.json").is_file());
    drop(first); // SIGKILL: no clean-up, the lock dies with the process.

    let _second = share.bridge(&router.uri(), &[]);
    wait_until("the second bridge to resume", || {
        router.state.submits("killed") == 2
    });
    router.state.release("killed");
    let done = share.wait_for("completed", "killed.json");
    assert_eq!(done["return_code"], 0);
    assert_eq!(
        router.state.runs("killed"),
        1,
        "resubmitting did not run the job again"
    );
    assert_eq!(share.run_folders().len(), 1);
    wait_until("the clean-up", || {
        share.list("jobs/processing").is_empty() && share.list("jobs/.bridge").is_empty()
    });
    assert!(share.list("jobs/failed").is_empty());
}

#[test]
fn sigterm_leaves_a_running_job_to_the_next_bridge() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    router.state.hold("slow");
    let mut first = share.bridge(&router.uri(), &["--shutdown-grace", "500ms"]);
    share.queue("slow.json", job_json("slow", "data.csv", ""));
    wait_until("the submit", || router.state.submits("slow") == 1);
    let status = first.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert!(
        share.path("jobs/processing/slow.json").is_file(),
        "left for the next bridge"
    );
    assert!(share.list("jobs/completed").is_empty());

    router.state.release("slow");
    let _second = share.bridge(&router.uri(), &[]);
    let done = share.wait_for("completed", "slow.json");
    assert_eq!(done["return_code"], 0);
    assert_eq!(router.state.runs("slow"), 1);
    assert_eq!(share.run_folders().len(), 1);
}

#[test]
fn a_router_restart_mid_job_does_not_lose_the_job() {
    let share = TestShare::new();
    let router = FakeRouter::start();
    router.state.hold("outage");
    let _bridge = share.bridge(&router.uri(), &[]);
    share.queue("outage.json", job_json("outage", "data.csv", ""));
    wait_until("the submit", || router.state.submits("outage") == 1);
    let (state, addr) = router.stop();
    // The router is away for a while: the bridge keeps the job and keeps trying.
    std::thread::sleep(Duration::from_millis(700));
    assert!(share.path("jobs/processing/outage.json").is_file());
    assert!(share.list("jobs/failed").is_empty());
    let router = FakeRouter::start_on(state, addr);
    router.state.release("outage");
    let done = share.wait_for("completed", "outage.json");
    assert_eq!(done["return_code"], 0);
    assert_eq!(router.state.runs("outage"), 1);
    assert_eq!(share.run_folders().len(), 1);
}

#[test]
fn a_crash_between_the_finishing_steps_is_repaired() {
    let share = TestShare::new();
    for dir in [
        "jobs/processing",
        "jobs/completed",
        "output/run_20200101_000000",
    ] {
        fs::create_dir_all(share.path(dir)).unwrap();
    }
    // Died after the completed file: only the clean-up is left.
    let text = job_json("cleanup", "data.csv", "");
    fs::write(share.path("jobs/processing/cleanup.json"), &text).unwrap();
    fs::write(
        share.path("jobs/completed/cleanup.json"),
        "{\"done\": true}",
    )
    .unwrap();
    // Died after renaming the run folder into place: the folder is reused.
    fs::write(
        share.path("jobs/processing/reuse.json"),
        job_json("reuse", "data.csv", ""),
    )
    .unwrap();
    fs::write(
        share.path("output/run_20200101_000000/results.json"),
        "{\"format_version\": 1, \"job_id\": \"reuse\"}",
    )
    .unwrap();
    // A processing file whose name has an *older* completed file: a reused id, refused.
    fs::write(
        share.path("jobs/processing/old.json"),
        job_json("old", "data.csv", ""),
    )
    .unwrap();
    let old_done = share.path("jobs/completed/old.json");
    fs::write(&old_done, "{\"earlier\": true}").unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&old_done)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let processing_old = fs::File::options()
        .write(true)
        .open(share.path("jobs/processing/old.json"))
        .unwrap();
    processing_old.set_modified(SystemTime::now()).unwrap();

    let router = FakeRouter::start();
    let _bridge = share.bridge(&router.uri(), &[]);
    let reused = share.wait_for("completed", "reuse.json");
    assert_eq!(reused["output_dir"], "output\\run_20200101_000000");
    assert_eq!(
        share.run_folders(),
        ["run_20200101_000000"],
        "no second run folder"
    );
    let refused = share.wait_for("failed", "old.duplicate-1.json");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("was already used")
    );
    wait_until("the clean-up", || share.list("jobs/processing").is_empty());
    assert_eq!(
        fs::read_to_string(share.path("jobs/completed/cleanup.json")).unwrap(),
        "{\"done\": true}"
    );
    assert_eq!(router.state.submits("cleanup"), 0);
    assert_eq!(router.state.submits("old"), 0);
    assert_eq!(router.state.runs("reuse"), 1);
    wait_until("no lock files", || share.list("jobs/.bridge").is_empty());
}
