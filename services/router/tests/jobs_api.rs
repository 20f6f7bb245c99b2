//! The router's `hop.v1.Jobs` through the real binaries (`hop-router` with a real `hop-compute`
//! as green): submit, watch (history and live), idempotent resubmission, get, list, cancel, and
//! the failures a client must be told about.

mod common;

use std::time::Duration;

use common::jobs::{client, compute, kind, record, router, spec, watch};
use futures::StreamExt;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::{
    CancelRequest, GetRequest, JobSpec, JobState, ListRequest, Side, SubmitRequest, WatchRequest,
};
use hop_runtime::testing::{ServiceProcess, assert_serving};

#[tokio::test(flavor = "multi_thread")]
async fn submit_watch_resubmit_get_list() {
    let green = compute();
    let set_green = format!("green={}", green.uri());
    let router = router(&["--set", &set_green, "--set", "green_percent=100"]);
    assert_serving(router.channel().await, &["", "hop.v1.Jobs"]).await;
    let mut client = client(&router).await;

    let reply = client
        .submit(SubmitRequest {
            spec: Some(spec("job-a", "sensex_500x82.csv", 1000, &[])),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.side(), Side::Green);
    assert!(!reply.duplicate);

    let events = watch(&mut client, "job-a", 0).await;
    let kinds: Vec<_> = events.iter().map(kind).collect();
    assert_eq!(kinds[..2], ["queued", "started"], "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
    assert!(kinds.contains(&"progress"));
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.sequence, i as u64 + 1, "contiguous sequences");
        assert_eq!(event.job_id, "job-a");
    }
    let Some(Event::Finished(finished)) = &events.last().unwrap().event else {
        unreachable!()
    };
    let result = finished
        .result
        .clone()
        .expect("the result rides on Finished");
    assert_eq!(result.algorithms.len(), 8);

    // Resuming after the last-but-one event gives only the final one.
    let last = events.len() as u64;
    let tail = watch(&mut client, "job-a", last - 1).await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].sequence, last);

    // Resubmitting the id never runs it again.
    let again = client
        .submit(SubmitRequest {
            spec: Some(spec("job-a", "sensex_500x82.csv", 1000, &[])),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(watch(&mut client, "job-a", 0).await.len(), events.len());

    let record = record(&mut client, "job-a").await;
    assert_eq!(record.state(), JobState::Succeeded);
    assert_eq!(record.engine, "cpu");
    assert_eq!(
        record.result.unwrap().best_fitness.to_bits(),
        result.best_fitness.to_bits()
    );
    assert!(
        record.created_at.is_some() && record.started_at.is_some() && record.finished_at.is_some()
    );

    client
        .submit(SubmitRequest {
            spec: Some(spec("job-b", "sensex_500x82.csv", 500, &["RS"])),
        })
        .await
        .unwrap();
    watch(&mut client, "job-b", 0).await;
    let listed = client
        .list(ListRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = listed.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["job-b", "job-a"], "newest first");

    let missing = client
        .get(GetRequest {
            job_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let no_input = client
        .submit(SubmitRequest {
            spec: Some(JobSpec {
                job_id: "job-c".into(),
                ..JobSpec::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(no_input.code(), tonic::Code::InvalidArgument);
    assert!(
        no_input.message().contains("csv_path"),
        "{}",
        no_input.message()
    );

    let metrics = hop_runtime::testing::scrape_metrics(router.metrics).await;
    assert!(
        metrics.contains("hop_router_jobs_total{side=\"green\",outcome=\"succeeded\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_reach_the_client() {
    // No blue engine configured: weight 0 sends every job to blue.
    let router = router(&[
        "--set",
        "green=http://127.0.0.1:1",
        "--set",
        "engine_retry=300ms",
    ]);
    let mut client = client(&router).await;
    client
        .submit(SubmitRequest {
            spec: Some(spec("to-blue", "sensex_500x82.csv", 500, &[])),
        })
        .await
        .unwrap();
    let events = watch(&mut client, "to-blue", 0).await;
    let Some(Event::Failed(failed)) = &events.last().unwrap().event else {
        panic!("{events:?}")
    };
    assert_eq!(failed.code, "ENGINE_UNAVAILABLE");
    assert!(failed.message.contains("blue"), "{}", failed.message);

    // A blue engine that does not answer: retried for engine_retry, then UNAVAILABLE (green
    // failures fall back to blue; blue's are final).
    let router = router_with_blue_unreachable();
    let mut green_client = self::client(&router).await;
    green_client
        .submit(SubmitRequest {
            spec: Some(spec("to-green", "sensex_500x82.csv", 500, &[])),
        })
        .await
        .unwrap();
    let events = watch(&mut green_client, "to-green", 0).await;
    let Some(Event::Failed(failed)) = &events.last().unwrap().event else {
        panic!("{events:?}")
    };
    assert_eq!(failed.code, "UNAVAILABLE");
    assert!(failed.message.contains("127.0.0.1:1"), "{}", failed.message);
}

fn router_with_blue_unreachable() -> ServiceProcess {
    router(&[
        "--set",
        "blue=http://127.0.0.1:1",
        "--set",
        "engine_retry=300ms",
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_ends_a_running_job() {
    let green = compute();
    let set_green = format!("green={}", green.uri());
    let router = router(&["--set", &set_green, "--set", "green_percent=100"]);
    let mut client = client(&router).await;
    client
        .submit(SubmitRequest {
            spec: Some(spec("long", "sensex_2500x82.csv", 50_000_000, &["SA"])),
        })
        .await
        .unwrap();
    // Wait for it to run, then cancel.
    let request = WatchRequest {
        job_id: "long".into(),
        after_sequence: 0,
    };
    let mut stream = client.watch(request).await.unwrap().into_inner();
    while let Some(event) = stream.next().await {
        if matches!(event.unwrap().event, Some(Event::Started(_))) {
            break;
        }
    }
    let record = client
        .cancel(CancelRequest {
            job_id: "long".into(),
            reason: "test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.state(), JobState::Cancelled);
    assert!(record.error_message.contains("test"));
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("the watch ends after the cancellation");
    let last = rest.last().unwrap().as_ref().unwrap();
    assert!(matches!(&last.event, Some(Event::Failed(f)) if f.code == "CANCELLED"));
}
