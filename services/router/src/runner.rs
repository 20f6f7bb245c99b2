//! Drives one job on its engine: `Engine.Run`, forwarding the engine's events into the job's
//! history ([`JobManager::emit`]).
//!
//! - An engine that cannot be reached is retried with backoff for `engine_retry`, then the job
//!   fails with `UNAVAILABLE` (a side with no engine configured fails at once with
//!   `ENGINE_UNAVAILABLE`).
//! - An engine that goes away mid-job (the stream breaks before `Finished`/`Failed`) is asked
//!   again, up to `max_attempts` runs in all; the search is deterministic, so the result is the
//!   one the first run would have given. Then the job fails with `ENGINE_LOST`.
//! - The engine's own `Failed` ends the job with the engine's code and message.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::{Event, Finished, Started};
use hop_proto::v1::{JobRecord, JobSpec, JobState, RunRequest, Side};
use tonic::transport::{Channel, Endpoint};

use crate::manager::JobManager;

/// Largest message accepted from an engine (a production result is a few MiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Why an attempt did not end the job.
enum Lost {
    /// The engine could not be reached within `engine_retry`.
    Unreachable(String),
    /// The engine's stream broke mid-job.
    Broken(String),
}

/// Runs the job to a final state (unless it is cancelled, which aborts this task).
pub async fn drive(manager: Arc<JobManager>, spec: JobSpec, side: Side) {
    let job_id = spec.job_id.clone();
    let Ok(_slot) = manager.slots.acquire().await else {
        return;
    };
    let Some(address) = engine_address(&manager, side) else {
        let message = format!(
            "no {} engine is configured on the router (set `{}` in its [router] section)",
            side_name(side),
            side_name(side)
        );
        manager.fail(&job_id, JobState::Failed, "ENGINE_UNAVAILABLE", message);
        return;
    };
    let channel = match Endpoint::from_shared(address.clone()) {
        Ok(endpoint) => endpoint.connect_lazy(),
        Err(e) => {
            let message = format!(
                "the {} engine address {address:?} is not a URI: {e}",
                side_name(side)
            );
            manager.fail(&job_id, JobState::Failed, "ENGINE_UNAVAILABLE", message);
            return;
        }
    };
    let max_attempts = manager.config.max_attempts;
    for attempt in 1..=max_attempts {
        match run_once(&manager, &spec, side, &channel).await {
            Ok(()) => return,
            Err(Lost::Unreachable(why)) => {
                let message = format!(
                    "the {} engine at {address} could not be reached for {:?}: {why}",
                    side_name(side),
                    manager.config.engine_retry
                );
                manager.fail(&job_id, JobState::Failed, "UNAVAILABLE", message);
                return;
            }
            Err(Lost::Broken(why)) if attempt < max_attempts => {
                tracing::warn!(
                    job_id,
                    attempt,
                    error = why,
                    "the engine went away mid-job; running it again"
                );
            }
            Err(Lost::Broken(why)) => {
                let message = format!(
                    "the {} engine went away during the job {max_attempts} times (last: {why})",
                    side_name(side)
                );
                manager.fail(&job_id, JobState::Failed, "ENGINE_LOST", message);
            }
        }
    }
}

fn engine_address(manager: &JobManager, side: Side) -> Option<String> {
    match side {
        Side::Green => manager.config.green.clone(),
        Side::Blue | Side::Unspecified => manager.config.blue.clone(),
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Green => "green",
        Side::Blue | Side::Unspecified => "blue",
    }
}

/// One `Engine.Run`, forwarded to the job's history until its final event.
async fn run_once(
    manager: &JobManager,
    spec: &JobSpec,
    side: Side,
    channel: &Channel,
) -> Result<(), Lost> {
    let job_id = &spec.job_id;
    let mut client =
        EngineClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let deadline = Instant::now() + manager.config.engine_retry;
    let mut backoff = Duration::from_millis(50);
    let mut stream = loop {
        let request = RunRequest {
            spec: Some(spec.clone()),
        };
        match client.run(request).await {
            Ok(response) => break response.into_inner(),
            Err(status)
                if status.code() == tonic::Code::Unavailable && Instant::now() < deadline =>
            {
                tracing::debug!(job_id, error = %status.message(), "engine unreachable; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(status) if status.code() == tonic::Code::Unavailable => {
                return Err(Lost::Unreachable(status.message().to_owned()));
            }
            Err(status) => {
                let message = format!(
                    "the {} engine refused the job: {}",
                    side_name(side),
                    status.message()
                );
                manager.fail(job_id, JobState::Failed, "ENGINE_REFUSED", message);
                return Ok(());
            }
        }
    };
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(event) => event.event,
            Err(status) => return Err(Lost::Broken(status.message().to_owned())),
        };
        match event {
            Some(Event::Started(started)) => {
                let engine = started.engine.clone();
                let change = move |r: &mut JobRecord| {
                    r.state = JobState::Running as i32;
                    r.engine.clone_from(&engine);
                    r.started_at = Some(SystemTime::now().into());
                };
                let event = Event::Started(Started {
                    side: side as i32,
                    engine: started.engine,
                });
                if !manager.emit(job_id, event, &change) {
                    return Ok(());
                }
            }
            Some(Event::Progress(progress)) => manager.progress(job_id, Event::Progress(progress)),
            Some(Event::Finished(finished)) => {
                let result = finished.result;
                let change = |r: &mut JobRecord| {
                    r.state = JobState::Succeeded as i32;
                    r.finished_at = Some(SystemTime::now().into());
                    r.result.clone_from(&result);
                    if let Some(result) = &result {
                        r.engine.clone_from(&result.engine);
                    }
                };
                let event = Event::Finished(Finished {
                    result: result.clone(),
                });
                manager.emit(job_id, event, &change);
                return Ok(());
            }
            Some(Event::Failed(failed)) => {
                manager.fail(job_id, JobState::Failed, &failed.code, failed.message);
                return Ok(());
            }
            Some(Event::Queued(_)) | None => {}
        }
    }
    Err(Lost::Broken(
        "the engine's event stream ended before the job finished".into(),
    ))
}
