//! Drives one job: its primary side's `Engine.Run`, forwarded into the job's history
//! ([`JobManager::emit`]), and — in the dual and weighted stages — the other side as a silent
//! shadow, compared by the validator ([`crate::shadow`]).
//!
//! - An engine that cannot be reached is retried with backoff for `engine_retry`, then the run
//!   fails with `UNAVAILABLE` (a side with no engine configured fails at once with
//!   `ENGINE_UNAVAILABLE`).
//! - An engine that goes away mid-job (the stream breaks before `Finished`/`Failed`) is asked
//!   again, up to `max_attempts` runs in all; the search is deterministic, so the result is the
//!   one the first run would have given. Then the run fails with `ENGINE_LOST`.
//! - **Green fails as primary** (anything but a refusal of the job itself, see
//!   [`is_green_fault`]): the job is run again on blue and the client gets blue's answer; green's
//!   failure counts in the cut-over window. Refusals of the job's own input or options end the
//!   job on either side.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::{Event, Finished, Started};
use hop_proto::v1::{JobRecord, JobResult, JobSpec, JobState, RunRequest, Side};
use hop_runtime::trace::TracedChannel;
use tracing::Instrument;

use crate::cutover::GreenSample;
use crate::manager::JobManager;

/// Largest message accepted from an engine (a production result is a few MiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// How one run on one engine ended.
#[derive(Debug)]
pub enum Outcome {
    /// The engine's result.
    Finished(JobResult),
    /// The engine failed the job, or could not be used.
    Failed { code: String, message: String },
    /// The job stopped being live (cancelled) while its events were forwarded.
    Gone,
}

impl Outcome {
    fn failed(code: &str, message: String) -> Self {
        Self::Failed {
            code: code.to_owned(),
            message,
        }
    }
}

/// Failure codes that are the job's own fault (its input or options), the same on either side:
/// they never count against green and never trigger a re-run on blue.
pub fn is_green_fault(code: &str) -> bool {
    !matches!(
        code,
        "INVALID_INPUT" | "INVALID_OPTIONS" | "DATASET_NOT_FOUND"
    )
}

/// `blue` or `green`.
pub fn side_name(side: Side) -> &'static str {
    match side {
        Side::Green => "green",
        Side::Blue | Side::Unspecified => "blue",
    }
}

/// Runs the job to a final state (unless it is cancelled, which aborts this task), then its
/// shadow's comparison.
pub async fn drive(manager: Arc<JobManager>, spec: JobSpec, primary: Side, shadow: Option<Side>) {
    let job_id = spec.job_id.clone();
    let Ok(slot) = manager.slots.acquire().await else {
        return;
    };
    let shadow = shadow.map(|side| {
        let (manager, spec) = (manager.clone(), spec.clone());
        tokio::spawn(
            async move {
                let started = Instant::now();
                let outcome = tokio::time::timeout(
                    manager.config.shadow_timeout,
                    run_side(&manager, &spec, side, false),
                )
                .await
                .unwrap_or_else(|_| {
                    Outcome::failed(
                        "SHADOW_TIMEOUT",
                        format!(
                            "the {} shadow run took longer than {:?}",
                            side_name(side),
                            manager.config.shadow_timeout
                        ),
                    )
                });
                (side, outcome, started.elapsed())
            }
            .in_current_span(),
        )
    });

    let started = Instant::now();
    let mut outcome = run_side(&manager, &spec, primary, true).await;
    let mut answered_by = primary;
    if primary == Side::Green
        && let Outcome::Failed { code, message } = &outcome
        && is_green_fault(code)
    {
        tracing::warn!(
            job_id,
            code,
            error = message,
            "green failed as primary; running the job on blue"
        );
        manager.cutover.record_green(GreenSample {
            seconds: started.elapsed().as_secs_f64(),
            failed: true,
            comparison: None,
        });
        manager.count_fallback();
        let fallback = |r: &mut JobRecord| {
            r.side = Side::Blue as i32;
            r.shadow_side = Side::Unspecified as i32;
        };
        manager.annotate_live(&job_id, &fallback);
        if let Some(task) = &shadow {
            task.abort();
        }
        outcome = run_side(&manager, &spec, Side::Blue, true).await;
        answered_by = Side::Blue;
    }
    let green_seconds = (primary == Side::Green && answered_by == Side::Green)
        .then(|| started.elapsed().as_secs_f64());
    let primary_result = match outcome {
        Outcome::Finished(result) => {
            finish(&manager, &job_id, result.clone());
            Some(result)
        }
        Outcome::Failed { code, message } => {
            manager.fail(&job_id, JobState::Failed, &code, message);
            None
        }
        Outcome::Gone => None,
    };
    drop(slot);

    match (shadow, answered_by == primary) {
        (Some(task), true) => {
            let Ok((side, shadow_outcome, elapsed)) = task.await else {
                return;
            };
            crate::shadow::settle(
                &manager,
                &job_id,
                primary_result.as_ref(),
                green_seconds,
                side,
                shadow_outcome,
                elapsed,
            )
            .await;
        }
        _ => {
            // Green answered as primary (a green failure fell back to blue and was counted
            // there; a refusal of the job's own input is not green's fault).
            if let (Some(seconds), Some(_)) = (green_seconds, &primary_result) {
                manager.cutover.record_green(GreenSample {
                    seconds,
                    failed: false,
                    comparison: None,
                });
            }
        }
    }
}

/// Ends the job with its result.
fn finish(manager: &JobManager, job_id: &str, result: JobResult) {
    let result = Some(result);
    let change = |r: &mut JobRecord| {
        r.state = JobState::Succeeded as i32;
        r.finished_at = Some(SystemTime::now().into());
        r.result.clone_from(&result);
        if let Some(result) = &result {
            r.engine.clone_from(&result.engine);
        }
    };
    manager.emit(
        job_id,
        Event::Finished(Finished {
            result: result.clone(),
        }),
        &change,
    );
}

fn engine_address(manager: &JobManager, side: Side) -> Option<String> {
    match side {
        Side::Green => manager.config.green.clone(),
        Side::Blue | Side::Unspecified => manager.config.blue.clone(),
    }
}

/// Runs the job on `side` (retrying as described in the module docs); with `forward`, its
/// `Started` and `Progress` events go into the job's history.
#[tracing::instrument(name = "router.engine_run", skip_all, fields(side = side_name(side), primary = forward))]
pub async fn run_side(manager: &JobManager, spec: &JobSpec, side: Side, forward: bool) -> Outcome {
    let name = side_name(side);
    let Some(address) = engine_address(manager, side) else {
        return Outcome::failed(
            "ENGINE_UNAVAILABLE",
            format!(
                "no {name} engine is configured on the router (set `{name}` in its [router] section)"
            ),
        );
    };
    let channel = match hop_runtime::client::lazy_channel(&address) {
        Ok(channel) => channel,
        Err(e) => {
            return Outcome::failed(
                "ENGINE_UNAVAILABLE",
                format!("the {name} engine address {address:?} is not a URI: {e}"),
            );
        }
    };
    let max_attempts = manager.config.max_attempts;
    let mut last = String::new();
    for attempt in 1..=max_attempts {
        match run_once(manager, spec, side, &channel, forward).await {
            Attempt::Done(outcome) => return outcome,
            Attempt::Unreachable(why) => {
                return Outcome::failed(
                    "UNAVAILABLE",
                    format!(
                        "the {name} engine at {address} could not be reached for {:?}: {why}",
                        manager.config.engine_retry
                    ),
                );
            }
            Attempt::Broken(why) => {
                tracing::warn!(
                    job_id = spec.job_id,
                    side = name,
                    attempt,
                    error = why,
                    "the engine went away mid-job; running it again"
                );
                last = why;
            }
        }
    }
    Outcome::failed(
        "ENGINE_LOST",
        format!("the {name} engine went away during the job {max_attempts} times (last: {last})"),
    )
}

/// How one `Engine.Run` call ended.
enum Attempt {
    Done(Outcome),
    /// The engine could not be reached within `engine_retry`.
    Unreachable(String),
    /// The engine's stream broke mid-job.
    Broken(String),
}

/// Whether a failed `Engine.Run` call means the engine is away rather than refusing the job:
/// `UNAVAILABLE`, `CANCELLED` (the connection to an engine that just died closed before the call
/// went out), or any status the client's transport made itself, which carries the transport error
/// as its source ("transport error"). An engine's own refusals come from its trailers, sourceless.
fn engine_away(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Cancelled
    ) || std::error::Error::source(status).is_some()
}

async fn run_once(
    manager: &JobManager,
    spec: &JobSpec,
    side: Side,
    channel: &TracedChannel,
    forward: bool,
) -> Attempt {
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
            Err(status) if engine_away(&status) && Instant::now() < deadline => {
                tracing::debug!(job_id, error = %status.message(), "engine unreachable; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(status) if engine_away(&status) => {
                return Attempt::Unreachable(status.message().to_owned());
            }
            Err(status) => {
                return Attempt::Done(Outcome::failed(
                    "ENGINE_REFUSED",
                    format!(
                        "the {} engine refused the job: {}",
                        side_name(side),
                        status.message()
                    ),
                ));
            }
        }
    };
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(event) => event.event,
            Err(status) => return Attempt::Broken(status.message().to_owned()),
        };
        match event {
            Some(Event::Started(started)) if forward => {
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
                    return Attempt::Done(Outcome::Gone);
                }
            }
            Some(Event::Progress(progress)) if forward => {
                manager.progress(job_id, Event::Progress(progress));
            }
            Some(Event::Finished(finished)) => {
                return Attempt::Done(match finished.result {
                    Some(result) => Outcome::Finished(result),
                    None => Outcome::failed(
                        "INTERNAL",
                        format!("the {} engine finished without a result", side_name(side)),
                    ),
                });
            }
            Some(Event::Failed(failed)) => {
                return Attempt::Done(Outcome::Failed {
                    code: failed.code,
                    message: failed.message,
                });
            }
            _ => {}
        }
    }
    Attempt::Broken("the engine's event stream ended before the job finished".into())
}

#[cfg(test)]
mod tests {
    use tonic::Status;

    use super::engine_away;

    #[test]
    fn a_dead_engines_connection_is_not_a_refusal() {
        assert!(engine_away(&Status::unavailable("connection refused")));
        assert!(engine_away(&Status::cancelled("operation was canceled")));
        assert!(engine_away(&Status::from_error("transport error".into())));
        assert!(!engine_away(&Status::invalid_argument(
            "the request has no spec"
        )));
        assert!(!engine_away(&Status::unknown(
            "an engine's own unknown error"
        )));
    }
}
