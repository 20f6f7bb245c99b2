//! The router's `hop.v1.Jobs` through the real binaries (`hop-router` with a real `hop-compute`
//! as green): submit, watch (history and live), idempotent resubmission, get, list, cancel, and
//! the failures a client must be told about.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{
    CancelRequest, GetRequest, JobEvent, JobOptions, JobSpec, JobState, ListRequest, Side,
    SubmitRequest, WatchRequest,
};
use hop_runtime::testing::{ServiceProcess, assert_serving, sibling_binary};
use tonic::transport::Channel;

fn router(extra: &[&str]) -> ServiceProcess {
    ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_hop-router")), "router", extra)
}

fn compute() -> ServiceProcess {
    let binary = sibling_binary(
        Path::new(env!("CARGO_BIN_EXE_hop-router")),
        "hop-compute",
        "hop-compute",
    );
    ServiceProcess::start(&binary, "compute", &[])
}

fn spec(job_id: &str, fixture: &str, budget: u64, algorithms: &[&str]) -> JobSpec {
    JobSpec {
        job_id: job_id.into(),
        input: Some(Input::CsvPath(
            hop_core::fixtures::path(fixture).display().to_string(),
        )),
        options: Some(JobOptions {
            min_size: 10,
            budget: Some(budget),
            algorithms: algorithms.iter().map(|a| (*a).to_owned()).collect(),
            ..JobOptions::default()
        }),
        labels: Default::default(),
    }
}

async fn client(router: &ServiceProcess) -> JobsClient<Channel> {
    JobsClient::new(router.channel().await)
        .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
}

async fn watch(client: &mut JobsClient<Channel>, job_id: &str, after: u64) -> Vec<JobEvent> {
    let request = WatchRequest {
        job_id: job_id.into(),
        after_sequence: after,
    };
    let mut stream = client.watch(request).await.expect("watch").into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("no stream error"));
    }
    events
}

fn kind(event: &JobEvent) -> &'static str {
    match event.event.as_ref().expect("an event") {
        Event::Queued(_) => "queued",
        Event::Started(_) => "started",
        Event::Progress(_) => "progress",
        Event::Finished(_) => "finished",
        Event::Failed(_) => "failed",
    }
}

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

    let record = client
        .get(GetRequest {
            job_id: "job-a".into(),
        })
        .await
        .unwrap()
        .into_inner();
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

/// Two routers on one PostgreSQL store (one after the other, as in a rolling upgrade): the
/// second sees the first's job, answers a resubmission with it, and refuses the id for another
/// spec with a sentence for the analyst.
#[tokio::test(flavor = "multi_thread")]
async fn routers_share_jobs_through_postgres() {
    let Some(db) = hop_runtime::testing::or_skip(hop_runtime::testing::postgres::Postgres::start())
    else {
        return;
    };
    let green = compute();
    let settings = [
        "--set".to_owned(),
        format!("green={}", green.uri()),
        "--set".to_owned(),
        "green_percent=100".to_owned(),
        "--set".to_owned(),
        format!("postgres={}", db.url),
    ];
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let first = router(&settings);
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

    let second = router(&settings);
    let mut client_b = client(&second).await;
    let record = client_b
        .get(GetRequest {
            job_id: "shared".into(),
        })
        .await
        .unwrap()
        .into_inner();
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
