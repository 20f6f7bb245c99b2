//! A rolling restart under load (issue 13.5): two routers on one real PostgreSQL, two computes,
//! and one each of ingest, validator, legacy and the bridge, on loopback. While gRPC clients
//! submit and watch jobs back to back and jobs arrive on the share, every instance is restarted
//! one at a time, alternating SIGTERM (a rolling upgrade) and SIGKILL (a crash); the next restart
//! waits until jobs finish again. Then: no client call failed (calls are retried on UNAVAILABLE
//! and broken streams, as the bridge does: those retries are counted and printed), every job
//! succeeded exactly once (one `Finished` event, one run folder, the same result bits as every
//! other run of the same spec), none was lost; p50/p99 job latency during the restarts printed,
//! beside the latency of the jobs before them.
//!
//! Skipped (with a `skipped:` line) without PostgreSQL, unless `HOP_REQUIRE_EXTERNAL=1`.
//! The figures for the README: `cargo test --release -p hop-e2e --test rolling_restart --
//! --nocapture`.

#[path = "rolling_restart/load.rs"]
mod load;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hop_e2e::Cluster;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{GetRequest, JobState};
use hop_runtime::testing::or_skip;
use hop_runtime::testing::postgres::Postgres;
use load::{Load, percentiles};

/// Each instance in turn, with how it is stopped (true: SIGTERM, false: SIGKILL).
const ROLLING: [(&str, bool); 8] = [
    ("router-0", true),
    ("router-1", false),
    ("compute-0", true),
    ("compute-1", false),
    ("bridge", true),
    ("ingest", true),
    ("validator", false),
    ("legacy", true),
];
/// How long a SIGTERM'd instance may take to drain (Kubernetes' default grace period).
const GRACE: Duration = Duration::from_secs(30);
/// Jobs that finish before the restarts begin (the latency without restarts).
const JOBS_BEFORE: u64 = 20;
/// Jobs that must finish after a restart before the next one.
const JOBS_BETWEEN: u64 = 6;
/// How long the services may take to serve jobs again after a restart.
const RECOVERY: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread")]
async fn every_instance_restarts_one_at_a_time_under_load() {
    let Some(db) = or_skip(Postgres::start()) else {
        return;
    };
    let postgres = format!("postgres={}", db.url);
    let settings = [
        ("router", postgres.as_str()),
        ("router", "lease_ttl=2s"),
        ("router", "handover_after=5s"),
        ("router", "watch_poll=20ms"),
    ];
    let replicas = [("router", 2), ("compute", 2)];
    let cluster = Cluster::start_replicated(100, &settings, &replicas, "warn");
    cluster.put_fixture(load::FIXTURE);
    let load = Arc::new(Load::new(&cluster));
    let workers = load.clone().start();
    load.wait_finished(JOBS_BEFORE, RECOVERY, "the cluster's first jobs")
        .await;

    let rolling_started = Instant::now();
    load.mark_restarts_begin();
    let mut cluster = cluster;
    for (instance, graceful) in ROLLING {
        let before = load.finished.load(Ordering::SeqCst);
        let took = tokio::task::block_in_place(|| {
            let start = Instant::now();
            if graceful {
                assert!(
                    cluster.stack.stop(instance, GRACE),
                    "{instance} drains within {GRACE:?} of SIGTERM"
                );
            } else {
                cluster.stack.kill(instance);
            }
            cluster
                .stack
                .restart(instance)
                .unwrap_or_else(|e| panic!("{instance} starts again: {e}"));
            start.elapsed()
        });
        let how = if graceful { "SIGTERM" } else { "SIGKILL" };
        eprintln!("{instance}: {how} and ready again in {took:.2?}");
        load.wait_finished(
            before + JOBS_BETWEEN,
            RECOVERY,
            &format!("jobs after {instance}'s restart"),
        )
        .await;
    }
    load.mark_restarts_end();
    let rolling = rolling_started.elapsed();
    let report = load.stop(workers, &cluster).await;

    eprintln!(
        "rolling restart of {} instances in {rolling:.1?}: {} gRPC jobs and {} share jobs, \
         {} client calls ({} retried: {}), {} jobs started more than once",
        ROLLING.len(),
        report.grpc_jobs,
        report.share_jobs,
        report.calls,
        report.retried,
        report.retry_reasons,
        report.restarted_jobs,
    );
    for (what, latencies) in [
        ("gRPC", &report.grpc_latencies),
        ("share", &report.share_latencies),
    ] {
        let (p50, p99) = percentiles(&latencies.during);
        let (calm50, calm99) = percentiles(&latencies.before);
        eprintln!(
            "{what} job latency during the restarts ({} jobs): p50 {p50:.2?}, p99 {p99:.2?} \
             (before them, {} jobs: p50 {calm50:.2?}, p99 {calm99:.2?})",
            latencies.during.len(),
            latencies.before.len()
        );
    }
    // `hop submit/watch/result` reach the routers the way `hop up --replicas router=2` records
    // them: one comma-separated address.
    let channel = hop_cli::local::router_channel(Some(&cluster.stack.uri("router")), None)
        .await
        .expect("the hop CLI's channel over both routers");
    let request = GetRequest {
        job_id: "grpc-0-0".into(),
    };
    let first = JobsClient::new(channel).get(request).await.expect("Get");
    assert_eq!(first.into_inner().state(), JobState::Succeeded);
    assert!(
        report.failures.is_empty(),
        "{} failures:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
    assert!(
        !report.grpc_latencies.during.is_empty() && !report.share_latencies.during.is_empty(),
        "jobs of both kinds ran during the restarts"
    );
}
