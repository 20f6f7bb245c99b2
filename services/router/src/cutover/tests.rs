//! Tests of [`Cutover`]: stages, weights, the latch and its persistence, the window's automatic
//! rollback, and the desired-state file watcher.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hop_proto::v1::{CompareReply, Side};
use hop_runtime::Shutdown;

use super::watcher::FileRead;
use super::*;

mod replicas;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn state_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("router").join("cutover.json")
}

/// A cut-over with its state in the file `path`.
async fn open_at(
    config: &CutoverConfig,
    path: &Path,
    green_percent: u32,
) -> Result<Arc<Cutover>, RouterError> {
    Cutover::open(
        config,
        Arc::new(FileStore::new(path.to_path_buf())),
        green_percent,
    )
    .await
}

async fn open(dir: &tempfile::TempDir, green_percent: u32) -> Arc<Cutover> {
    open_at(&CutoverConfig::default(), &state_path(dir), green_percent)
        .await
        .unwrap()
}

fn with_file(file: &Path) -> CutoverConfig {
    CutoverConfig {
        file: Some(file.to_path_buf()),
        poll: Duration::from_millis(20),
        ..CutoverConfig::default()
    }
}

pub(super) fn ok() -> GreenSample {
    GreenSample {
        seconds: 0.5,
        failed: false,
        comparison: None,
    }
}

pub(super) fn failed() -> GreenSample {
    GreenSample {
        failed: true,
        ..ok()
    }
}

fn mismatch(job_id: &str, difference: f64) -> GreenSample {
    GreenSample {
        comparison: Some(CompareReply {
            job_id: job_id.into(),
            matched: false,
            max_relative_difference: difference,
            ..CompareReply::default()
        }),
        ..ok()
    }
}

fn green_share(cutover: &Cutover) -> usize {
    (0..1000)
        .filter(|i| cutover.route(&format!("job_{i}")).primary == Side::Green)
        .count()
}

/// Polls `condition` until it holds, failing after a generous deadline.
pub(super) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn configured_weight_sets_stage_and_routing() {
    let dir = dir();
    let legacy = open(&dir, 0).await.status();
    assert_eq!(
        (legacy.stage.as_str(), legacy.effective_green_percent),
        ("legacy", 0)
    );
    let cutover = open(&dir, 10).await;
    let status = cutover.status();
    assert_eq!(status.stage, "weighted");
    assert_eq!(
        (status.desired_green_percent, status.effective_green_percent),
        (10, 10)
    );
    assert!(!status.latched && status.latch_reason.is_empty() && status.latched_at.is_none());
    let green = green_share(&cutover);
    assert!((50..150).contains(&green), "{green} of 1000 green at 10 %");
    let route = cutover.route("job_1");
    assert_eq!(route.primary, crate::routing::side_for("job_1", 10));
    assert!(route.shadow.is_some_and(|s| s != route.primary));
    assert_eq!(open(&dir, 100).await.status().stage, "green");
    let refused = open_at(&CutoverConfig::default(), &state_path(&dir), 101)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "INVALID_REQUEST");
}

#[tokio::test]
async fn set_weight_is_persisted_until_the_configured_weight_changes() {
    let dir = dir();
    let cutover = open(&dir, 0).await;
    let status = cutover.set_weight(50, "step 2").await.unwrap();
    assert_eq!(
        (status.stage.as_str(), status.effective_green_percent),
        ("weighted", 50)
    );
    let green = green_share(&cutover);
    assert!((430..570).contains(&green), "{green} of 1000 green at 50 %");
    let refused = cutover.set_weight(101, "typo").await.unwrap_err();
    assert_eq!(refused.code(), "INVALID_REQUEST");
    assert_eq!(cutover.set_weight(0, "back").await.unwrap().stage, "dual");
    cutover.set_weight(90, "step 3").await.unwrap();
    drop(cutover);
    assert_eq!(
        open(&dir, 0).await.status().desired_green_percent,
        90,
        "override kept"
    );
    assert_eq!(
        open(&dir, 10).await.status().desired_green_percent,
        10,
        "new config wins"
    );
}

#[tokio::test]
async fn manual_rollback_latches_persists_and_needs_an_acknowledged_resume() {
    let dir = dir();
    let cutover = open(&dir, 50).await;
    let status = cutover.rollback("  ").await;
    assert!(status.latched && status.latched_at.is_some());
    assert_eq!(status.latch_reason, "manual rollback: no reason given");
    assert_eq!(
        (status.desired_green_percent, status.effective_green_percent),
        (50, 0)
    );
    let written = state::load(&state_path(&dir)).unwrap().unwrap();
    assert!(written.latch.is_some(), "persisted before returning");
    for i in 0..200 {
        let route = cutover.route(&format!("job_{i}"));
        assert_eq!(
            (route.primary, route.shadow),
            (Side::Blue, Some(Side::Green))
        );
    }
    let again = cutover.rollback("second").await;
    assert_eq!(
        again.latch_reason, "manual rollback: no reason given",
        "first latch kept"
    );
    let refused = cutover.set_weight(10, "too soon").await.unwrap_err();
    assert_eq!(refused.code(), "FAILED_PRECONDITION");
    assert!(refused.to_string().contains("resume --ack"), "{refused}");
    drop(cutover);

    let cutover = open(&dir, 50).await;
    assert!(cutover.status().latched, "the latch survives a restart");
    assert_eq!(cutover.status().latched_at, status.latched_at);
    assert_eq!(
        cutover.resume(false).await.unwrap_err().code(),
        "FAILED_PRECONDITION"
    );
    assert!(cutover.status().latched);
    let resumed = cutover.resume(true).await.unwrap();
    assert!(!resumed.latched && resumed.latch_reason.is_empty());
    assert_eq!(resumed.effective_green_percent, 50);
    let (resumed_at, latched_at) = (resumed.updated_at.unwrap(), status.latched_at.unwrap());
    assert!((resumed_at.seconds, resumed_at.nanos) >= (latched_at.seconds, latched_at.nanos));
    drop(cutover);
    assert!(
        !open(&dir, 50).await.status().latched,
        "the release is persisted"
    );
    assert!(
        open(&dir, 50).await.resume(true).await.is_ok(),
        "resuming when not latched is a no-op"
    );
}

#[tokio::test]
async fn the_window_rolls_back_automatically_only_with_enough_samples() {
    let dir = dir();
    let cutover = open(&dir, 90).await;
    for _ in 0..4 {
        cutover.record_green(failed()).await;
    }
    let status = cutover.status();
    assert!(!status.latched, "4 samples < min_samples: hold");
    assert_eq!((status.window_samples, status.window_error_rate), (4, 1.0));
    cutover.record_green(ok()).await;
    let status = cutover.status();
    assert!(status.latched, "the fifth sample decides");
    assert_eq!(
        status.latch_reason,
        "automatic rollback: green error rate 0.8 over the last 5 jobs exceeds 0.05"
    );
    assert_eq!(status.effective_green_percent, 0);
    assert_eq!(green_share(&cutover), 0);
    assert!(
        state::load(&state_path(&dir))
            .unwrap()
            .unwrap()
            .latch
            .is_some()
    );
    let resumed = cutover.resume(true).await.unwrap();
    assert_eq!(
        (resumed.window_samples, resumed.effective_green_percent),
        (0, 90)
    );
    for _ in 0..5 {
        cutover.record_green(ok()).await;
    }
    assert!(!cutover.status().latched, "a healthy window holds");
}

#[tokio::test]
async fn slow_or_inaccurate_green_rolls_back() {
    let dir = dir();
    let cutover = open(&dir, 10).await;
    for _ in 0..5 {
        cutover
            .record_green(GreenSample {
                seconds: 7.0,
                ..ok()
            })
            .await;
    }
    assert!(
        cutover
            .status()
            .latch_reason
            .contains("p95 runtime 7 s over the last 5 jobs")
    );
    let dir2 = self::dir();
    let cutover = open(&dir2, 10).await;
    for i in 0..4 {
        cutover
            .record_green(mismatch(&format!("job_{i}"), 0.001))
            .await;
    }
    cutover.record_green(mismatch("job_4", 0.02)).await;
    let status = cutover.status();
    assert!(
        status
            .latch_reason
            .contains("relative difference from blue 0.02"),
        "{status:?}"
    );
    assert_eq!(status.window_mismatches, 5);
}

#[tokio::test]
async fn decommissioned_never_rolls_back_automatically() {
    let dir = dir();
    let file = dir.path().join("cutover.toml");
    std::fs::write(&file, "stage = \"decommissioned\"").unwrap();
    let cutover = open_at(&with_file(&file), &state_path(&dir), 0)
        .await
        .unwrap();
    for _ in 0..10 {
        cutover.record_green(failed()).await;
    }
    assert!(!cutover.status().latched);
    assert!(
        cutover.rollback("blue scaled up again").await.latched,
        "a manual one still works"
    );
}

#[tokio::test]
async fn recent_mismatches_are_the_last_ten_newest_first() {
    let dir = dir();
    let cutover = open(&dir, 0).await;
    for i in 0..12 {
        cutover
            .record_green(mismatch(&format!("job_{i}"), 0.0))
            .await;
        cutover
            .record_green(GreenSample {
                comparison: Some(CompareReply {
                    matched: true,
                    ..CompareReply::default()
                }),
                ..ok()
            })
            .await;
    }
    let ids: Vec<String> = cutover
        .status()
        .recent_mismatches
        .into_iter()
        .map(|c| c.job_id)
        .collect();
    let expected: Vec<String> = (2..12).rev().map(|i| format!("job_{i}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn an_unreadable_state_file_starts_latched() {
    let dir = dir();
    std::fs::create_dir_all(state_path(&dir).parent().unwrap()).unwrap();
    std::fs::write(state_path(&dir), "not json").unwrap();
    let cutover = open(&dir, 50).await;
    let status = cutover.status();
    assert!(
        status.latched && status.latch_reason.contains("could not be read"),
        "{status:?}"
    );
    assert!(cutover.resume(true).await.is_ok());
    assert!(
        !open(&dir, 50).await.status().latched,
        "the rewritten state is readable"
    );
}

#[tokio::test]
async fn the_state_must_be_writable_at_start() {
    let dir = dir();
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let refused = open_at(&CutoverConfig::default(), &blocker.join("c.json"), 0).await;
    assert_eq!(refused.unwrap_err().code(), "CUTOVER_STATE_FAILED");
}

#[tokio::test]
async fn the_file_sets_the_desired_state_and_a_bad_file_keeps_the_last_good_one() {
    let dir = dir();
    let file = dir.path().join("cutover.toml");
    std::fs::write(&file, "stage = \"weighted\"\ngreen_percent = 10\n").unwrap();
    let cutover = open_at(&with_file(&file), &state_path(&dir), 100)
        .await
        .unwrap();
    assert_eq!(
        (
            cutover.status().stage.as_str(),
            cutover.status().desired_green_percent
        ),
        ("weighted", 10)
    );
    drop(cutover);
    std::fs::write(&file, "stage = \"weighted\"\ngreen_percent = 1000\n").unwrap();
    let cutover = open_at(&with_file(&file), &state_path(&dir), 100)
        .await
        .unwrap();
    assert_eq!(
        cutover.status().desired_green_percent,
        10,
        "persisted last good state"
    );
    drop(cutover);
    let fresh = self::dir();
    let cutover = open_at(&with_file(&file), &state_path(&fresh), 0)
        .await
        .unwrap();
    assert_eq!(
        cutover.status().stage,
        "legacy",
        "first start with a bad file: config"
    );
    let missing = fresh.path().join("missing.toml");
    let cutover = open_at(&with_file(&missing), &state_path(&fresh), 0)
        .await
        .unwrap();
    assert_eq!(cutover.status().stage, "legacy");
}

/// What the watcher's last read of a file with `content` looks like.
fn key_of(content: &str) -> String {
    FileRead::from_bytes(Ok(content.as_bytes().to_vec())).key()
}

/// Writes `content` and waits until the watcher has read it.
async fn write_seen(cutover: &Cutover, file: &Path, content: &str) {
    std::fs::write(file, content).unwrap();
    let key = key_of(content);
    eventually(content, || cutover.lock().last_seen.as_ref() == Some(&key)).await;
}

#[tokio::test]
async fn the_watcher_applies_changes_and_survives_bad_files() {
    let dir = dir();
    let file = dir.path().join("cutover.toml");
    std::fs::write(&file, "stage = \"dual\"\n").unwrap();
    let cutover = open_at(&with_file(&file), &state_path(&dir), 0)
        .await
        .unwrap();
    assert_eq!(cutover.status().stage, "dual");
    let shutdown = Shutdown::new();
    let watcher = cutover.watch(shutdown.clone());

    let fifty = "stage = \"weighted\"\ngreen_percent = 50\n";
    write_seen(&cutover, &file, fifty).await;
    let status = cutover.status();
    assert_eq!(
        (status.stage.as_str(), status.effective_green_percent),
        ("weighted", 50)
    );

    // An operator's override holds through bad and unchanged contents, until a new one.
    cutover.set_weight(10, "slow down").await.unwrap();
    write_seen(&cutover, &file, "stage = \"dual\"\ngreen_percent = 7\n").await;
    assert_eq!(cutover.status().desired_green_percent, 10, "invalid: kept");
    std::fs::remove_file(&file).unwrap();
    eventually("unreadable", || {
        cutover
            .lock()
            .last_seen
            .as_ref()
            .is_some_and(|k| k.starts_with("unreadable:"))
    })
    .await;
    assert_eq!(
        cutover.status().desired_green_percent,
        10,
        "unreadable: kept"
    );
    write_seen(&cutover, &file, fifty).await;
    assert_eq!(
        cutover.status().desired_green_percent,
        10,
        "unchanged content: kept"
    );
    write_seen(
        &cutover,
        &file,
        "stage = \"weighted\" \n green_percent = 90\n",
    )
    .await;
    assert_eq!(
        cutover.status().desired_green_percent,
        90,
        "new content: applied"
    );

    // A ConfigMap-style swap: a new target behind the same path, same mtime on the link.
    let data = dir.path().join("..data_1");
    std::fs::write(&data, "stage = \"green\"\n").unwrap();
    let link = dir.path().join("cutover.tmp-link");
    std::os::unix::fs::symlink(&data, &link).unwrap();
    std::fs::rename(&link, &file).unwrap();
    eventually("green", || cutover.status().stage == "green").await;
    assert_eq!(cutover.status().effective_green_percent, 100);

    // Latched: the file still moves the desired state, never the effective one.
    cutover.rollback("drill").await;
    std::fs::write(&data, "stage = \"weighted\"\ngreen_percent = 30\n").unwrap();
    eventually("desired 30", || {
        cutover.status().desired_green_percent == 30
    })
    .await;
    assert_eq!(cutover.status().effective_green_percent, 0);
    assert_eq!(green_share(&cutover), 0);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .expect("the watcher stops at shutdown")
        .unwrap();
}

#[tokio::test]
async fn the_file_override_survives_a_restart_until_the_file_changes() {
    let dir = dir();
    let file = dir.path().join("cutover.toml");
    std::fs::write(&file, "stage = \"weighted\"\ngreen_percent = 50\n").unwrap();
    let cutover = open_at(&with_file(&file), &state_path(&dir), 0)
        .await
        .unwrap();
    cutover.set_weight(20, "hold at 20").await.unwrap();
    drop(cutover);
    let cutover = open_at(&with_file(&file), &state_path(&dir), 0)
        .await
        .unwrap();
    assert_eq!(cutover.status().desired_green_percent, 20);
    drop(cutover);
    std::fs::write(&file, "stage = \"weighted\"\ngreen_percent = 60\n").unwrap();
    let cutover = open_at(&with_file(&file), &state_path(&dir), 0)
        .await
        .unwrap();
    assert_eq!(cutover.status().desired_green_percent, 60);
}

#[tokio::test]
async fn without_a_file_the_watcher_ends_at_once() {
    let dir = dir();
    let watcher = open(&dir, 0).await.watch(Shutdown::new());
    tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_file_store_is_not_followed() {
    let dir = dir();
    let follower = open(&dir, 0).await.follow(Shutdown::new());
    tokio::time::timeout(Duration::from_secs(5), follower)
        .await
        .unwrap()
        .unwrap();
}
