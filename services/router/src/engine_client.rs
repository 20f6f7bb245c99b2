//! [`GrpcEngines`]: the [`EngineRunner`] over `hop.v1.Engine` — blue (`hop-legacy`) and green
//! (`hop-compute`) at their configured addresses.
//!
//! - An address whose host is a name is balanced request by request over every address the name
//!   resolves to (`hop_runtime::client::balance`: a headless Service's replicas); each run, and
//!   each re-run below, goes to one replica.
//! - An engine that cannot be reached is retried with backoff for `engine_retry`, then the run
//!   fails with `UNAVAILABLE` (a side with no engine configured fails at once with
//!   `ENGINE_UNAVAILABLE`).
//! - An engine that goes away mid-job (the stream breaks before `Finished`/`Failed`) is asked
//!   again, up to `max_attempts` runs in all; the search is deterministic, so the result is the
//!   one the first run would have given. Then the run fails with `ENGINE_LOST`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use hop_proto::FailureCode;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::{JobSpec, RunRequest, Side};
use hop_runtime::client::ServiceChannel;

use crate::config::RouterConfig;
use crate::dual_run::{EngineRunner, Outcome, RunEvents};
use crate::error::RouterError;

/// The engines of both sides.
#[derive(Debug, Clone)]
pub struct GrpcEngines {
    blue: Option<(String, ServiceChannel)>,
    green: Option<(String, ServiceChannel)>,
    engine_retry: Duration,
    max_attempts: u32,
}

impl GrpcEngines {
    /// Channels (connected on first use, balanced over the replicas behind a host name) to the
    /// configured engines; a malformed address is refused here.
    pub fn new(config: &RouterConfig) -> Result<Self, RouterError> {
        let channel = |key: &str, address: &Option<String>| {
            address
                .as_ref()
                .map(|uri| {
                    hop_runtime::client::balanced_channel(uri)
                        .map(|channel| (uri.clone(), channel))
                        .map_err(|e| {
                            RouterError::InvalidRequest(format!(
                                "the router's `{key}` engine address {uri:?} is not a URI: {e}"
                            ))
                        })
                })
                .transpose()
        };
        Ok(Self {
            blue: channel("blue", &config.blue)?,
            green: channel("green", &config.green)?,
            engine_retry: config.engine_retry,
            max_attempts: config.max_attempts,
        })
    }
}

#[async_trait::async_trait]
impl EngineRunner for GrpcEngines {
    #[tracing::instrument(name = "router.engine_run", skip_all,
        fields(side = side.label(), primary = events.is_some()))]
    async fn run(&self, spec: &JobSpec, side: Side, events: Option<&dyn RunEvents>) -> Outcome {
        let name = side.label();
        let engine = match side {
            Side::Green => &self.green,
            Side::Blue | Side::Unspecified => &self.blue,
        };
        let Some((address, channel)) = engine else {
            return Outcome::failed(
                FailureCode::EngineUnavailable,
                format!(
                    "no {name} engine is configured on the router (set `{name}` in its [router] \
                     section)"
                ),
            );
        };
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            match self.run_once(spec, side, channel, events).await {
                Attempt::Done(outcome) => return outcome,
                Attempt::Unreachable(why) => {
                    return Outcome::failed(
                        FailureCode::Unavailable,
                        format!(
                            "the {name} engine at {address} could not be reached for {:?}: {why}",
                            self.engine_retry
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
            FailureCode::EngineLost,
            format!(
                "the {name} engine went away during the job {} times (last: {last})",
                self.max_attempts
            ),
        )
    }
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

impl GrpcEngines {
    async fn run_once(
        &self,
        spec: &JobSpec,
        side: Side,
        channel: &ServiceChannel,
        events: Option<&dyn RunEvents>,
    ) -> Attempt {
        let job_id = &spec.job_id;
        let mut client = EngineClient::new(channel.clone())
            .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES);
        let deadline = Instant::now() + self.engine_retry;
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
                        FailureCode::EngineRefused,
                        format!(
                            "the {} engine refused the job: {}",
                            side.label(),
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
            match (event, events) {
                (Some(Event::Started(started)), Some(events)) => {
                    let still_live = events.started(side, &started.engine).await;
                    if !still_live {
                        return Attempt::Done(Outcome::Gone);
                    }
                }
                (Some(progress @ Event::Progress(_)), Some(events)) => {
                    events.progress(progress).await;
                }
                (Some(Event::Finished(finished)), _) => {
                    return Attempt::Done(match finished.result {
                        Some(result) => Outcome::Finished(result),
                        None => Outcome::failed(
                            FailureCode::Internal,
                            format!("the {} engine finished without a result", side.label()),
                        ),
                    });
                }
                (Some(Event::Failed(failed)), _) => {
                    return Attempt::Done(Outcome::failed(
                        FailureCode::from_wire(&failed.code),
                        failed.message,
                    ));
                }
                _ => {}
            }
        }
        Attempt::Broken("the engine's event stream ended before the job finished".into())
    }
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
