//! [`Router`]: one job through the router's `hop.v1.Jobs` service — Submit, Watch, Get — riding
//! out router restarts.
//!
//! What the bridge relies on (router.proto): `Submit` is idempotent by `job_id` (a known id returns
//! the existing job with `duplicate` set and never runs it twice), so it is safe to repeat after
//! any doubt; `Watch(job_id, after_sequence)` replays the events after `after_sequence`, then
//! streams live ones and ends after `Finished` or `Failed`; `Get` returns the durable record, whose
//! `result.result_json` is the whole `hop_core::RunResult`.
//!
//! The loop: Submit; Watch from the last sequence seen, logging progress; once the stream ends
//! (or breaks), Get; a record in a final state is the answer, any other means watch again.
//! Connection failures and every status that may be temporary (UNAVAILABLE, UNKNOWN, INTERNAL,
//! CANCELLED, ...) are retried with a capped exponential backoff; `NOT_FOUND` from Watch or Get
//! (a router that lost the job) means Submit again. Only a status that says the request itself is
//! wrong (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) fails the job, with the router's message.
//! The caller bounds the whole loop with the job timeout.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{
    CancelRequest, GetRequest, JobRecord, JobSpec, JobState, SubmitRequest, WatchRequest,
};
use hop_runtime::client::ServiceChannel;
use tonic::{Code, Status};

use crate::BridgeError;

/// First and largest pause between retries.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));
/// At most one progress log line per job this often.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

/// A client of the router's `Jobs` service (cheap to clone; connects lazily and reconnects).
#[derive(Debug, Clone)]
pub struct Router {
    client: JobsClient<ServiceChannel>,
}

impl Router {
    /// A client for `uri` (balanced over every router replica its name resolves to, or over a
    /// comma-separated list); nothing is connected until the first call.
    pub fn new(uri: &str) -> Result<Self, BridgeError> {
        let channel = hop_runtime::client::balanced_channel(uri)
            .map_err(|e| BridgeError::Config(format!("router URI {uri:?} is not usable: {e}")))?;
        let client = JobsClient::new(channel)
            .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES);
        Ok(Self { client })
    }

    /// Runs `spec` on the router until its record is final (succeeded, failed or cancelled) and
    /// returns that record. Never returns because the router is briefly away: bound it with a
    /// timeout (see [`Router::cancel`]).
    pub async fn run(&self, spec: JobSpec) -> Result<JobRecord, BridgeError> {
        let job_id = spec.job_id.clone();
        let mut client = self.client.clone();
        let mut backoff = Backoff::default();
        let mut submitted = false;
        let mut after_sequence = 0;
        let mut progress_log = ProgressLog::default();
        loop {
            if !submitted {
                let request = SubmitRequest {
                    spec: Some(spec.clone()),
                };
                match client.submit(request).await {
                    Ok(reply) => {
                        let reply = reply.into_inner();
                        tracing::info!(
                            job_id,
                            side = reply.side().as_str_name(),
                            duplicate = reply.duplicate,
                            "job submitted to the router"
                        );
                        submitted = true;
                        backoff.reset();
                    }
                    Err(status) => {
                        backoff.retry_or_fail(&job_id, "Submit", status).await?;
                        continue;
                    }
                }
            }
            let request = WatchRequest {
                job_id: job_id.clone(),
                after_sequence,
            };
            match client.watch(request).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(event) => {
                                backoff.reset();
                                after_sequence = after_sequence.max(event.sequence);
                                let done = progress_log.event(&job_id, event.event.as_ref());
                                if done {
                                    break;
                                }
                            }
                            Err(status) => {
                                tracing::debug!(job_id, %status, "the watch stream broke");
                                break;
                            }
                        }
                    }
                }
                Err(status) if status.code() == Code::NotFound => {
                    tracing::warn!(job_id, "the router does not know the job; submitting again");
                    submitted = false;
                    continue;
                }
                Err(status) => {
                    backoff.retry_or_fail(&job_id, "Watch", status).await?;
                    continue;
                }
            }
            let request = GetRequest {
                job_id: job_id.clone(),
            };
            match client.get(request).await {
                Ok(record) => {
                    let record = record.into_inner();
                    if is_final(record.state()) {
                        return Ok(record);
                    }
                    // The stream ended before the job did (a router going down): watch again.
                    backoff.reset();
                    tokio::time::sleep(BACKOFF.0).await;
                }
                Err(status) if status.code() == Code::NotFound => submitted = false,
                Err(status) => backoff.retry_or_fail(&job_id, "Get", status).await?,
            }
        }
    }

    /// Asks the router to cancel `job_id` (after the job timeout), best effort and briefly.
    pub async fn cancel(&self, job_id: &str, reason: &str) {
        let request = CancelRequest {
            job_id: job_id.to_owned(),
            reason: reason.to_owned(),
        };
        let mut client = self.client.clone();
        match tokio::time::timeout(Duration::from_secs(5), client.cancel(request)).await {
            Ok(Ok(_)) => tracing::info!(job_id, "job cancelled on the router"),
            Ok(Err(status)) => tracing::warn!(job_id, %status, "the router did not cancel the job"),
            Err(_) => tracing::warn!(job_id, "the router did not answer the cancel request"),
        }
    }
}

fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded | JobState::Failed | JobState::Cancelled
    )
}

/// Whether `status` may go away by itself (the router restarting, a broken connection).
fn is_transient(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::AlreadyExists
    )
}

/// Capped exponential backoff between retries.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    last_logged: Option<Instant>,
}

impl Backoff {
    fn reset(&mut self) {
        self.failures = 0;
    }

    /// Waits before the next try when `status` is transient; otherwise the job's failure.
    async fn retry_or_fail(
        &mut self,
        job_id: &str,
        call: &str,
        status: Status,
    ) -> Result<(), BridgeError> {
        if !is_transient(&status) {
            return Err(BridgeError::Failed(format!(
                "The optimizer refused the job: {}",
                sentence(status.message())
            )));
        }
        if self
            .last_logged
            .is_none_or(|at| at.elapsed() >= PROGRESS_LOG_EVERY)
        {
            tracing::warn!(job_id, call, code = ?status.code(), message = status.message(),
                "the router is not reachable; retrying");
            self.last_logged = Some(Instant::now());
        }
        let pause = BACKOFF
            .0
            .saturating_mul(1 << self.failures.min(8))
            .min(BACKOFF.1);
        self.failures += 1;
        tokio::time::sleep(pause).await;
        Ok(())
    }
}

/// `text` ending with a full stop.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

/// Logs a job's events at info level, progress at most every [`PROGRESS_LOG_EVERY`].
#[derive(Debug, Default)]
struct ProgressLog {
    last: Option<Instant>,
}

impl ProgressLog {
    /// Logs `event`; true when it is the job's last (finished or failed).
    fn event(&mut self, job_id: &str, event: Option<&Event>) -> bool {
        match event {
            Some(Event::Queued(_)) => tracing::info!(job_id, "job queued on the router"),
            Some(Event::Started(s)) => {
                tracing::info!(
                    job_id,
                    side = s.side().as_str_name(),
                    engine = s.engine,
                    "job started"
                );
            }
            Some(Event::Progress(p))
                if self
                    .last
                    .is_none_or(|at| at.elapsed() >= PROGRESS_LOG_EVERY) =>
            {
                self.last = Some(Instant::now());
                tracing::info!(job_id, percent = format!("{:.0}", p.percent),
                    size = p.portfolio_size, algorithm = p.algorithm,
                    best_fitness = ?p.best_fitness, "job progress");
            }
            Some(Event::Finished(_)) => {
                tracing::info!(job_id, "job finished on the router");
                return true;
            }
            Some(Event::Failed(f)) => {
                tracing::info!(
                    job_id,
                    code = f.code,
                    message = f.message,
                    "job failed on the router"
                );
                return true;
            }
            Some(Event::Progress(_)) | None => {}
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_request_errors_are_permanent() {
        for code in [
            Code::Unavailable,
            Code::Unknown,
            Code::Internal,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Aborted,
        ] {
            assert!(is_transient(&Status::new(code, "x")), "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::Unimplemented,
        ] {
            assert!(!is_transient(&Status::new(code, "x")), "{code:?}");
        }
        assert_eq!(sentence(" no such file "), "no such file.");
        assert_eq!(sentence("done."), "done.");
    }
}
