//! Load: 100 small jobs (the 500-strategy fixture, portfolio size 10, budget 300) from four
//! concurrent clients — two dropping job files on the share, two submitting over gRPC to the
//! router — all complete exactly once; prints the throughput (jobs/s) and the p95 latency (drop or
//! submit -> completed).
//!
//! Only with `HOP_LOAD=1` (the default suite stays fast):
//! `HOP_LOAD=1 cargo test --release -p hop-e2e --test load -- --nocapture`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hop_e2e::Cluster;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{GetRequest, JobSpec, JobState, SubmitRequest};

const FIXTURE: &str = "sensex_500x82.csv";
const JOBS: usize = 100;
const SHARE_CLIENTS: usize = 2;
const GRPC_CLIENTS: usize = 2;
const TIMEOUT: Duration = Duration::from_secs(600);

/// Per job: (client kind, latency).
type Latencies = Vec<(&'static str, String, Duration)>;

fn share_client(cluster: &Cluster, client: usize, jobs: usize) -> Latencies {
    let fields = [
        ("input_file", format!("{FIXTURE:?}")),
        ("portfolio_size", "10".to_owned()),
        ("job_type", "\"complete_optimization\"".to_owned()),
        ("timestamp", "\"Wed 07/30/2025 15:45:00.12\"".to_owned()),
        ("budget", "300".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut dropped = HashMap::new();
    for i in 0..jobs {
        let id = format!("load_share{client}_{i:03}");
        cluster.drop_job(&id, &fields);
        dropped.insert(id, Instant::now());
    }
    let mut done = Vec::new();
    let start = Instant::now();
    while !dropped.is_empty() {
        assert!(start.elapsed() < TIMEOUT, "share jobs left: {dropped:?}");
        dropped.retain(|id, at| {
            let failed = cluster.share().join(format!("jobs/failed/{id}.json"));
            assert!(
                !failed.exists(),
                "{id} failed: {}",
                std::fs::read_to_string(&failed).unwrap_or_default()
            );
            if cluster
                .share()
                .join(format!("jobs/completed/{id}.json"))
                .exists()
            {
                done.push(("share", id.clone(), at.elapsed()));
                return false;
            }
            true
        });
        std::thread::sleep(Duration::from_millis(10));
    }
    done
}

fn grpc_client(cluster: &Cluster, client: usize, jobs: usize) -> Latencies {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut router = cluster.jobs().await;
        let csv = cluster.share().join("input").join(FIXTURE);
        let mut submitted = HashMap::new();
        for i in 0..jobs {
            let id = format!("load_grpc{client}_{i:03}");
            let spec = JobSpec {
                job_id: id.clone(),
                input: Some(Input::CsvPath(csv.display().to_string())),
                options: Some(hop_proto::v1::JobOptions {
                    min_size: 10,
                    budget: Some(300),
                    ..Default::default()
                }),
                labels: Default::default(),
            };
            let at = Instant::now();
            router
                .submit(SubmitRequest { spec: Some(spec) })
                .await
                .unwrap_or_else(|e| panic!("{id} submitted: {e}"));
            submitted.insert(id, at);
        }
        let mut done = Vec::new();
        let start = Instant::now();
        while !submitted.is_empty() {
            assert!(start.elapsed() < TIMEOUT, "gRPC jobs left: {submitted:?}");
            let ids: Vec<String> = submitted.keys().cloned().collect();
            for id in ids {
                let record = router
                    .get(GetRequest { job_id: id.clone() })
                    .await
                    .expect("get")
                    .into_inner();
                match record.state() {
                    JobState::Succeeded => {
                        let at = submitted.remove(&id).expect("pending");
                        done.push(("grpc", id, at.elapsed()));
                    }
                    JobState::Failed | JobState::Cancelled => {
                        panic!("{id}: {:?} {}", record.state(), record.error_message)
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        done
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[test]
fn hundred_jobs_from_four_clients_complete_exactly_once() {
    if std::env::var("HOP_LOAD").as_deref() != Ok("1") {
        println!(
            "skipped: set HOP_LOAD=1 to run the load test \
             (HOP_LOAD=1 cargo test --release -p hop-e2e --test load -- --nocapture)"
        );
        return;
    }
    let cluster = Cluster::start(100, &[]);
    cluster.put_fixture(FIXTURE);
    let per_client = JOBS / (SHARE_CLIENTS + GRPC_CLIENTS);
    let start = Instant::now();
    let results: Vec<Latencies> = std::thread::scope(|scope| {
        let cluster = &cluster;
        let mut handles = Vec::new();
        for c in 0..SHARE_CLIENTS {
            handles.push(scope.spawn(move || share_client(cluster, c, per_client)));
        }
        for c in 0..GRPC_CLIENTS {
            handles.push(scope.spawn(move || grpc_client(cluster, c, per_client)));
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a client"))
            .collect()
    });
    let elapsed = start.elapsed();
    let all: Latencies = results.into_iter().flatten().collect();
    assert_eq!(all.len(), JOBS);

    // Exactly once: one completed file and one run folder per share job, nothing failed or left
    // behind, every job succeeded on the router.
    let listing = |dir: &str| -> Vec<String> {
        std::fs::read_dir(cluster.share().join("jobs").join(dir))
            .expect("jobs folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        listing("completed").len(),
        SHARE_CLIENTS * per_client,
        "{:?}",
        listing("completed")
    );
    for dir in ["failed", "queue", "processing"] {
        assert!(listing(dir).is_empty(), "{dir}: {:?}", listing(dir));
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let mut router = cluster.jobs().await;
        for (kind, id, _) in &all {
            if *kind == "share" {
                assert_eq!(cluster.run_folders(id).len(), 1, "{id}");
            }
            let record = router
                .get(GetRequest { job_id: id.clone() })
                .await
                .expect("get")
                .into_inner();
            assert_eq!(record.state(), JobState::Succeeded, "{id}");
        }
    });

    let report = |label: &str, mut latencies: Vec<Duration>| {
        latencies.sort();
        println!(
            "{label:>5}: {} jobs, p50 {:.2} s, p95 {:.2} s, max {:.2} s",
            latencies.len(),
            percentile(&latencies, 50.0).as_secs_f64(),
            percentile(&latencies, 95.0).as_secs_f64(),
            latencies.last().expect("jobs").as_secs_f64(),
        );
    };
    println!(
        "load: {JOBS} jobs from {} clients ({SHARE_CLIENTS} share, {GRPC_CLIENTS} gRPC) in {:.2} s: \
         {:.2} jobs/s",
        SHARE_CLIENTS + GRPC_CLIENTS,
        elapsed.as_secs_f64(),
        JOBS as f64 / elapsed.as_secs_f64()
    );
    report("all", all.iter().map(|(_, _, d)| *d).collect());
    for kind in ["share", "grpc"] {
        report(
            kind,
            all.iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, _, d)| *d)
                .collect(),
        );
    }
    let killed = cluster.stack.shutdown(Duration::from_secs(20));
    assert!(killed.is_empty(), "not stopped gracefully: {killed:?}");
}
