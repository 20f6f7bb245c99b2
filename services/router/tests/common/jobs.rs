//! The Jobs API harness: a `hop-router` or `hop-compute` binary on loopback port 0, job specs on
//! the fixtures, and a client's submit/watch helpers.

use std::path::Path;

use futures::StreamExt;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{GetRequest, JobEvent, JobOptions, JobRecord, JobSpec, WatchRequest};
use hop_runtime::testing::{ServiceProcess, sibling_binary};
use tonic::transport::Channel;

/// A `hop-router` with extra command-line arguments.
pub fn router(extra: &[&str]) -> ServiceProcess {
    ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_hop-router")), "router", extra)
}

/// A `hop-compute` (green) with its defaults.
pub fn compute() -> ServiceProcess {
    let binary = sibling_binary(
        Path::new(env!("CARGO_BIN_EXE_hop-router")),
        "hop-compute",
        "hop-compute",
    );
    ServiceProcess::start(&binary, "compute", &[])
}

/// A job on a fixture: minimum size 10, `budget`, `algorithms`.
pub fn spec(job_id: &str, fixture: &str, budget: u64, algorithms: &[&str]) -> JobSpec {
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

/// A Jobs client of `router`.
pub async fn client(router: &ServiceProcess) -> JobsClient<Channel> {
    JobsClient::new(router.channel().await)
        .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
}

/// A job's record (`Get`, which must succeed).
pub async fn record(client: &mut JobsClient<Channel>, job_id: &str) -> JobRecord {
    let request = GetRequest {
        job_id: job_id.into(),
    };
    client.get(request).await.expect("Get").into_inner()
}

/// Every event of a job's `Watch` after `after`, until the stream ends.
pub async fn watch(client: &mut JobsClient<Channel>, job_id: &str, after: u64) -> Vec<JobEvent> {
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

/// An event's kind, for assertions.
pub fn kind(event: &JobEvent) -> &'static str {
    match event.event.as_ref().expect("an event") {
        Event::Queued(_) => "queued",
        Event::Started(_) => "started",
        Event::Progress(_) => "progress",
        Event::Finished(_) => "finished",
        Event::Failed(_) => "failed",
    }
}
