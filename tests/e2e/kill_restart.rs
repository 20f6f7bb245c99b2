//! The bridge and the router killed with SIGKILL mid-job and started again: the job still
//! completes, exactly once — one completed file, no failed file, one run folder, no half-written
//! folder, and one finished record at the router.

use std::time::Duration;

use futures::StreamExt;
use hop_e2e::Cluster;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{GetRequest, JobState, WatchRequest};

const FIXTURE: &str = "sensex_2500x82.csv";

/// A job long enough to be killed in the middle (about a second of search per algorithm).
fn fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("input_file", "\"sensex_2500x82.csv\""),
        ("portfolio_size", "35"),
        ("job_type", "\"complete_optimization\""),
        ("timestamp", "\"2025-07-30 15:45:00\""),
        ("algorithms", "[\"SA\", \"HC\"]"),
        ("budget", "5000000"),
    ]
}

async fn jobs(cluster: &Cluster) -> JobsClient<tonic::transport::Channel> {
    JobsClient::connect(cluster.stack.uri("router"))
        .await
        .expect("router reachable")
        .max_decoding_message_size(256 * 1024 * 1024)
}

/// Waits until the router reports progress for the job (so it is mid-search).
async fn wait_mid_job(cluster: &Cluster, job_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut client = jobs(cluster).await;
        let request = WatchRequest {
            job_id: job_id.to_owned(),
            after_sequence: 0,
        };
        if let Ok(response) = client.watch(request).await {
            let mut stream = response.into_inner();
            while let Some(Ok(event)) = stream.next().await {
                match event.event {
                    Some(Event::Progress(_)) => return,
                    Some(Event::Finished(_) | Event::Failed(_)) => {
                        panic!("the job ended before it could be killed: {event:?}")
                    }
                    _ => {}
                }
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn kill_mid_job_and_restart(victim: &str) {
    let mut cluster = Cluster::start(100, &[]);
    cluster.put_fixture(FIXTURE);
    let job_id = format!("job_kill_{victim}_20250730_154500");
    cluster.drop_job(&job_id, &fields());
    wait_mid_job(&cluster, &job_id).await;
    cluster.stack.kill(victim);
    assert!(
        cluster
            .share()
            .join("jobs/processing")
            .join(format!("{job_id}.json"))
            .exists(),
        "killed while the job was in processing/"
    );
    cluster.stack.restart(victim).expect("restarts");

    let (outcome, completed) = cluster.wait_outcome(&job_id, Duration::from_secs(240));
    assert_eq!(outcome, "completed", "{completed:#}");
    assert_eq!(completed["return_code"], 0);
    assert!(
        !cluster
            .share()
            .join("jobs/failed")
            .join(format!("{job_id}.json"))
            .exists(),
        "also failed"
    );
    let folders = cluster.run_folders(&job_id);
    assert_eq!(folders.len(), 1, "run folders: {folders:?}");
    let partial: Vec<_> = cluster
        .output_entries()
        .into_iter()
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(partial.is_empty(), "half-written folders: {partial:?}");
    for dir in ["queue", "processing"] {
        let left: Vec<_> = std::fs::read_dir(cluster.share().join("jobs").join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left in {dir}: {left:?}");
    }
    let record = jobs(&cluster)
        .await
        .get(GetRequest {
            job_id: job_id.clone(),
        })
        .await
        .expect("the router knows the job")
        .into_inner();
    assert_eq!(record.state(), JobState::Succeeded);
    let result = record.result.expect("a result");
    let doc = std::fs::read(folders[0].join("results.json")).unwrap();
    let doc = hop_report::read_results_json(&doc).unwrap();
    assert_eq!(doc.best.fitness.to_bits(), result.best_fitness.to_bits());
}

#[tokio::test(flavor = "multi_thread")]
async fn bridge_killed_mid_job_completes_once() {
    kill_mid_job_and_restart("bridge").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn router_killed_mid_job_completes_once() {
    kill_mid_job_and_restart("router").await;
}
