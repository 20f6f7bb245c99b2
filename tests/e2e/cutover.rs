//! The cut-over as operators run it, against the six real binaries: an emergency rollback sends
//! the very next job to blue (timed), the latch survives a router restart until an acknowledged
//! resume, a change of the watched cut-over file applies without a restart, and a scripted
//! rehearsal walks dual -> 10 -> 50 -> 90 -> 100 % over a stream of jobs, printing per stage the
//! jobs per side, mismatches, p95 runtime and error rate
//! (`cargo test -p hop-e2e --test cutover rehearsal -- --nocapture`; `HOP_REHEARSAL_JOBS` jobs per
//! stage, default 6).

use std::time::{Duration, Instant};

use hop_e2e::Cluster;
use hop_proto::v1::{JobState, ResumeRequest, RollbackRequest, Side, ValidationOutcome};

/// Waits until the router's status satisfies `done` (the watched file is polled every 20 ms).
async fn wait_status(
    cluster: &Cluster,
    what: &str,
    done: impl Fn(&hop_proto::v1::CutoverStatus) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let status = cluster.cutover().await;
        if done(&status) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn emergency_rollback_is_immediate_and_survives_a_restart() {
    let mut cluster = Cluster::start_with_stage(0, Some("stage = \"green\"\n"), &[]);
    assert_eq!(cluster.submit_small("before").await, Side::Green);

    let command = Instant::now();
    let status = cluster
        .admin()
        .await
        .rollback(RollbackRequest {
            reason: "e2e drill".into(),
        })
        .await
        .expect("rollback")
        .into_inner();
    assert!(
        status.latched && status.effective_green_percent == 0,
        "{status:?}"
    );
    let side = cluster.submit_small("after").await;
    let elapsed = command.elapsed();
    assert_eq!(side, Side::Blue);
    println!(
        "emergency rollback: next job on blue {:.1} ms after the command",
        elapsed.as_secs_f64() * 1e3
    );
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");

    cluster.stack.restart("router").expect("router restarts");
    let status = cluster.cutover().await;
    assert!(status.latched, "the latch survives a restart: {status:?}");
    assert!(
        status.latch_reason.contains("e2e drill"),
        "{}",
        status.latch_reason
    );
    assert_eq!(cluster.submit_small("after-restart").await, Side::Blue);

    let refused = cluster
        .admin()
        .await
        .resume(ResumeRequest { acknowledge: false })
        .await
        .expect_err("resume needs --ack");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let status = cluster
        .admin()
        .await
        .resume(ResumeRequest { acknowledge: true })
        .await
        .expect("resume")
        .into_inner();
    assert!(
        !status.latched && status.effective_green_percent == 100,
        "{status:?}"
    );
    assert_eq!(cluster.submit_small("resumed").await, Side::Green);
    for job in ["before", "after", "after-restart", "resumed"] {
        assert_eq!(
            cluster.settled(job).await.state(),
            JobState::Succeeded,
            "{job}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_of_the_watched_file_applies_without_a_restart() {
    let cluster = Cluster::start_with_stage(0, Some("stage = \"legacy\"\n"), &[]);
    assert_eq!(cluster.submit_small("legacy-1").await, Side::Blue);
    cluster.write_stage("stage = \"green\"\n");
    let took = wait_status(&cluster, "the file change applies", |s| {
        s.stage == "green" && s.effective_green_percent == 100
    })
    .await;
    println!(
        "cut-over file change applied after {:.0} ms",
        took.as_secs_f64() * 1e3
    );
    assert_eq!(cluster.submit_small("green-1").await, Side::Green);
    // An invalid file keeps the last good state.
    cluster.write_stage("stage = \"sideways\"\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(cluster.cutover().await.stage, "green");
    for job in ["legacy-1", "green-1"] {
        assert_eq!(
            cluster.settled(job).await.state(),
            JobState::Succeeded,
            "{job}"
        );
    }
}

/// One stage's figures.
#[derive(Debug, Default)]
struct StageReport {
    stage: String,
    jobs: usize,
    blue: usize,
    green: usize,
    shadows: usize,
    mismatches: usize,
    failed: usize,
    p95_seconds: f64,
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearsal_dual_10_50_90_100() {
    let per_stage: usize = std::env::var("HOP_REHEARSAL_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let cluster = Cluster::start_with_stage(0, Some("stage = \"legacy\"\n"), &[]);
    let stages = [
        ("dual", "stage = \"dual\"\n", 0),
        (
            "weighted 10 %",
            "stage = \"weighted\"\ngreen_percent = 10\n",
            10,
        ),
        (
            "weighted 50 %",
            "stage = \"weighted\"\ngreen_percent = 50\n",
            50,
        ),
        (
            "weighted 90 %",
            "stage = \"weighted\"\ngreen_percent = 90\n",
            90,
        ),
        ("green 100 %", "stage = \"green\"\n", 100),
    ];
    let mut reports = Vec::new();
    for (n, (name, toml, percent)) in stages.iter().enumerate() {
        cluster.write_stage(toml);
        // The stage too: `legacy` (the start) and `dual` both have an effective weight of 0.
        let stage = name.split(' ').next().unwrap_or_default();
        wait_status(&cluster, name, |s| {
            s.stage == stage && s.effective_green_percent == *percent && !s.latched
        })
        .await;
        let ids: Vec<String> = (0..per_stage)
            .map(|i| format!("rehearsal-{n}-{i}"))
            .collect();
        for id in &ids {
            cluster.submit_small(id).await;
        }
        let mut report = StageReport {
            stage: (*name).to_owned(),
            ..StageReport::default()
        };
        let mut runtimes = Vec::new();
        for id in &ids {
            let record = cluster.settled(id).await;
            report.jobs += 1;
            match record.side() {
                Side::Green => report.green += 1,
                _ => report.blue += 1,
            }
            report.shadows += usize::from(record.shadow_side() != Side::Unspecified);
            report.mismatches += usize::from(record.validation() == ValidationOutcome::Mismatched);
            report.failed += usize::from(record.state() != JobState::Succeeded);
            let (c, f) = (record.created_at.unwrap(), record.finished_at.unwrap());
            runtimes.push((f.seconds - c.seconds) as f64 + f64::from(f.nanos - c.nanos) * 1e-9);
        }
        runtimes.sort_by(f64::total_cmp);
        report.p95_seconds = runtimes[(runtimes.len() * 95).div_ceil(100).max(1) - 1];
        reports.push(report);
    }
    println!(
        "{:<15} {:>5} {:>5} {:>6} {:>8} {:>11} {:>9} {:>11}",
        "stage", "jobs", "blue", "green", "shadows", "mismatches", "p95 (s)", "error rate"
    );
    for r in &reports {
        println!(
            "{:<15} {:>5} {:>5} {:>6} {:>8} {:>11} {:>9.3} {:>11.3}",
            r.stage,
            r.jobs,
            r.blue,
            r.green,
            r.shadows,
            r.mismatches,
            r.p95_seconds,
            r.failed as f64 / r.jobs as f64
        );
    }
    let status = cluster.cutover().await;
    assert!(!status.latched, "{status:?}");
    for r in &reports {
        assert_eq!(r.failed, 0, "{r:?}");
        assert_eq!(r.mismatches, 0, "{r:?}");
    }
    let (dual, green) = (&reports[0], &reports[4]);
    assert_eq!(
        (dual.blue, dual.shadows),
        (per_stage, per_stage),
        "dual: blue primary, green shadow"
    );
    assert_eq!(
        (green.green, green.shadows),
        (per_stage, 0),
        "green: no shadow"
    );
    assert!(
        reports[1..4].iter().all(|r| r.shadows == r.jobs),
        "weighted: always a shadow"
    );
}
