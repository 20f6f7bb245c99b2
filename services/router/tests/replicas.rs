//! Router replicas on one real PostgreSQL job store (skipped with a `skipped:` line where
//! PostgreSQL is not installed, unless `HOP_REQUIRE_EXTERNAL=1`): a job submitted to one replica
//! is seen, watched, resubmitted and cancelled through another; a killed replica's job is taken
//! over when its lease expires; a replica stopped with SIGTERM hands its job over at once and
//! tells its watchers where to watch again.

mod common;

use std::time::{Duration, Instant};

use common::jobs::{client, compute, kind, record, router, spec, watch};
use futures::StreamExt;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{CancelRequest, JobEvent, JobState, SubmitRequest, WatchRequest};
use hop_runtime::testing::postgres::Postgres;
use hop_runtime::testing::{ServiceProcess, or_skip, scrape_metrics};
use tonic::transport::Channel;

/// A job that runs until it is cancelled (SA with a budget far beyond the test's life).
fn endless(job_id: &str) -> SubmitRequest {
    SubmitRequest {
        spec: Some(spec(job_id, "sensex_2500x82.csv", 2_000_000_000, &["SA"])),
    }
}

/// A router replica named `name` on `db`, green = `green`, with short leases.
fn replica(db: &Postgres, green: &ServiceProcess, name: &str) -> ServiceProcess {
    let settings = [
        format!("green={}", green.uri()),
        "green_percent=100".to_owned(),
        format!("postgres={}", db.url),
        format!("replica={name}"),
        "lease_ttl=1s".to_owned(),
        "handover_after=300ms".to_owned(),
        "watch_poll=20ms".to_owned(),
    ];
    let args: Vec<String> = settings
        .iter()
        .flat_map(|s| ["--set".to_owned(), s.clone()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    router(&args)
}

/// A watch of `job_id` from `after`, as a stream.
async fn follow(
    client: &mut JobsClient<Channel>,
    job_id: &str,
    after: u64,
) -> tonic::Streaming<JobEvent> {
    let request = WatchRequest {
        job_id: job_id.into(),
        after_sequence: after,
    };
    client.watch(request).await.expect("watch").into_inner()
}

/// Reads `stream` until the `n`th `Started` event from here; returns its sequence.
async fn until_started(stream: &mut tonic::Streaming<JobEvent>, n: usize) -> u64 {
    let deadline = Duration::from_secs(30);
    let mut seen = 0;
    tokio::time::timeout(deadline, async {
        loop {
            let event = stream
                .next()
                .await
                .expect("the stream goes on")
                .expect("event");
            if matches!(event.event, Some(Event::Started(_))) {
                seen += 1;
                if seen == n {
                    return event.sequence;
                }
            }
        }
    })
    .await
    .expect("started in time")
}

/// Whether `router` ended a run because another replica holds its job now.
async fn leases_lost(router: &ServiceProcess) -> bool {
    scrape_metrics(router.metrics)
        .await
        .lines()
        .filter_map(|line| line.strip_prefix("hop_router_leases_lost_total "))
        .any(|count| count.trim() != "0")
}

async fn cancel(client: &mut JobsClient<Channel>, job_id: &str) -> JobState {
    let request = CancelRequest {
        job_id: job_id.into(),
        reason: "test".into(),
    };
    client.cancel(request).await.unwrap().into_inner().state()
}

/// Two routers on one PostgreSQL store (one after the other, as in a rolling upgrade): the
/// second sees the first's job, answers a resubmission with it, and refuses the id for another
/// spec with a sentence for the analyst.
#[tokio::test(flavor = "multi_thread")]
async fn routers_share_jobs_through_postgres() {
    let Some(db) = or_skip(Postgres::start()) else {
        return;
    };
    let green = compute();
    let first = replica(&db, &green, "a");
    let mut client_a = client(&first).await;
    client_a
        .submit(SubmitRequest {
            spec: Some(spec("shared", "sensex_500x82.csv", 500, &["HC"])),
        })
        .await
        .unwrap();
    let events = watch(&mut client_a, "shared", 0).await;
    assert_eq!(events.last().map(kind), Some("finished"), "{events:?}");
    drop(client_a);
    drop(first);

    let second = replica(&db, &green, "b");
    let mut client_b = client(&second).await;
    let record = record(&mut client_b, "shared").await;
    assert_eq!(record.state(), JobState::Succeeded);
    assert_eq!(record.result.unwrap().algorithms.len(), 1);
    let again = client_b
        .submit(SubmitRequest {
            spec: Some(spec("shared", "sensex_500x82.csv", 500, &["HC"])),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate, "the same job, never run twice");
    assert_eq!(watch(&mut client_b, "shared", 0).await.len(), events.len());
    let refused = client_b
        .submit(SubmitRequest {
            spec: Some(spec("shared", "sensex_500x82.csv", 600, &["HC"])),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::AlreadyExists);
    assert!(
        refused.message().contains("give this job a new job_id"),
        "{}",
        refused.message()
    );
}

/// A job run by replica `a` is watched and cancelled through replica `b`; both watches end with
/// the cancellation, and `a`'s run cannot write over it.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_watched_and_cancelled_through_another_replica() {
    let Some(db) = or_skip(Postgres::start()) else {
        return;
    };
    let green = compute();
    let (a, b) = (replica(&db, &green, "a"), replica(&db, &green, "b"));
    let (mut client_a, mut client_b) = (client(&a).await, client(&b).await);
    client_a.submit(endless("far")).await.unwrap();
    let mut on_a = follow(&mut client_a, "far", 0).await;
    let mut on_b = follow(&mut client_b, "far", 0).await;
    until_started(&mut on_b, 1).await;
    assert_eq!(cancel(&mut client_b, "far").await, JobState::Cancelled);
    for (name, stream) in [("a", &mut on_a), ("b", &mut on_b)] {
        let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.collect())
            .await
            .unwrap_or_else(|_| panic!("the watch on {name} ends"));
        let last = rest.last().expect("events").as_ref().expect("no error");
        assert!(
            matches!(&last.event, Some(Event::Failed(f)) if f.code == "CANCELLED"),
            "{name}: {last:?}"
        );
    }
    // Replica a's run was fenced off (its next renewal finds the job taken and ends the run),
    // and the record stays cancelled.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leases_lost(&a).await {
        assert!(
            Instant::now() < deadline,
            "replica a never saw its lease go"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let record = record(&mut client_a, "far").await;
    assert_eq!(record.state(), JobState::Cancelled);
    assert!(record.error_message.contains("test"), "{record:?}");
}

/// A killed replica's job is taken over once its lease expires; a replica stopped with SIGTERM
/// hands its job over at once, its watcher is told to watch again from where it was, and the
/// job goes on elsewhere.
#[tokio::test(flavor = "multi_thread")]
async fn jobs_move_to_a_live_replica_when_theirs_stops() {
    let Some(db) = or_skip(Postgres::start()) else {
        return;
    };
    let green = compute();
    let (a, mut b) = (replica(&db, &green, "a"), replica(&db, &green, "b"));
    let mut client_a = client(&a).await;
    let mut client_b = client(&b).await;
    client_a.submit(endless("moving")).await.unwrap();
    let mut on_b = follow(&mut client_b, "moving", 0).await;
    until_started(&mut on_b, 1).await;

    // SIGKILL: b runs the job again within the lease ttl (1 s) and a third.
    let killed = Instant::now();
    drop(client_a);
    drop(a);
    until_started(&mut on_b, 1).await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(10), "taken over after {took:?}");
    eprintln!("the killed replica's job started again on the other after {took:?}");

    // SIGTERM on b: a new replica c takes the job at once; b's watcher learns where it was.
    let c = replica(&db, &green, "c");
    let mut client_c = client(&c).await;
    let mut on_c = follow(&mut client_c, "moving", 0).await;
    until_started(&mut on_c, 2).await;
    let stopping = Instant::now();
    let status = b.terminate(Duration::from_secs(20));
    assert!(status.success(), "b exits cleanly: {status:?}");
    let error = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match on_b.next().await {
                Some(Ok(_)) => continue,
                Some(Err(status)) => return Some(status),
                None => return None,
            }
        }
    })
    .await
    .expect("b's watch ends");
    if let Some(status) = error {
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(
            status
                .message()
                .contains("watch job \"moving\" again from sequence"),
            "{status:?}"
        );
    }
    until_started(&mut on_c, 1).await;
    let moved = stopping.elapsed();
    eprintln!("the stopped replica's job started again on another after {moved:?}");
    assert!(
        moved < Duration::from_secs(8),
        "handed over, not left to expire: {moved:?}"
    );
    assert_eq!(cancel(&mut client_c, "moving").await, JobState::Cancelled);
}
