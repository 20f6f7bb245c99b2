//! [`DualRun`]: drives one job to its final state — its primary side, the other side as a silent
//! shadow in the dual and weighted stages, the comparison, and the green sample for the cut-over
//! window — over two seams: an [`EngineRunner`] (runs a job on a side) and a [`Comparator`]
//! (compares blue's and green's results). Their gRPC implementations live beside
//! this module (`engine_client::GrpcEngines`, `validator_client::GrpcValidator`), which depend on
//! it and not the other way round; the rules themselves are the pure functions of [`rules`].
//!
//! - The client always gets the primary's answer. **Green failing as primary** (anything but a
//!   refusal of the job itself) re-runs the job on blue; green's failure counts in the window.
//! - The shadow runs concurrently with its own deadline (`shadow_timeout`); its failure or
//!   slowness never reaches the client. Once the primary has answered, the shadow's result is
//!   compared and the outcome lands on the job record (`validation`, `shadow_engine`).
//! - A comparison the router did not get to (it stopped after the primary's answer) is picked up
//!   again on the next start ([`DualRun::revalidate`]).

pub mod rules;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hop_proto::FailureCode;
use hop_proto::v1::job_event::{Event, Finished, Started};
use hop_proto::v1::{CompareReply, JobResult, JobSpec, JobState, Side, ValidationOutcome};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::cutover::Cutover;
use crate::log::JobLog;
use crate::record::{Failure, Job, Validation};
use rules::{Ended, Run};

/// Jobs re-run on blue after green failed as primary.
pub const FALLBACKS_TOTAL: &str = "hop_router_fallbacks_total";

/// How one run on one engine ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The engine's result.
    Finished(JobResult),
    /// The engine failed the job, or could not be used.
    Failed(Failure),
    /// The job stopped being live (cancelled) while its events were forwarded.
    Gone,
}

impl Outcome {
    /// A failure with `code` and `message`.
    pub fn failed(code: FailureCode, message: impl Into<String>) -> Self {
        Self::Failed(Failure {
            code,
            message: message.into(),
        })
    }

    fn ended(&self) -> Ended {
        match self {
            Self::Finished(_) => Ended::Finished,
            Self::Failed(failure) => Ended::Failed(failure.code),
            Self::Gone => Ended::Gone,
        }
    }
}

/// Where a primary run's `Started` and `Progress` events go (the job's history).
#[async_trait::async_trait]
pub trait RunEvents: Send + Sync {
    /// The engine started the job; false when the job is no longer live (stop forwarding).
    async fn started(&self, side: Side, engine: &str) -> bool;
    /// A progress event of the engine.
    async fn progress(&self, event: Event);
}

/// Runs a job on one side's engine to a final outcome.
#[async_trait::async_trait]
pub trait EngineRunner: Send + Sync {
    /// Runs `spec` on `side`; a primary run forwards its events to `events`.
    async fn run(&self, spec: &JobSpec, side: Side, events: Option<&dyn RunEvents>) -> Outcome;
}

/// Compares blue's and green's results of one job.
#[async_trait::async_trait]
pub trait Comparator: Send + Sync {
    /// The comparison; `None` (logged) when it could not be made.
    async fn compare(
        &self,
        job_id: &str,
        blue: &JobResult,
        green: &JobResult,
    ) -> Option<CompareReply>;
}

/// The job driver; share it as `Arc<DualRun>`.
pub struct DualRun {
    pub log: Arc<JobLog>,
    pub cutover: Arc<Cutover>,
    pub engines: Arc<dyn EngineRunner>,
    /// Without one, no shadow runs (there is nothing to compare with).
    pub comparator: Option<Arc<dyn Comparator>>,
    /// Jobs run at once; further jobs wait in state `QUEUED`.
    pub slots: Semaphore,
    pub shadow_timeout: Duration,
}

impl std::fmt::Debug for DualRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DualRun")
            .field("shadow_timeout", &self.shadow_timeout)
            .finish_non_exhaustive()
    }
}

/// Forwards a primary run's events into the job's history.
struct Forward<'a> {
    log: &'a JobLog,
    job_id: &'a str,
}

#[async_trait::async_trait]
impl RunEvents for Forward<'_> {
    async fn started(&self, side: Side, engine: &str) -> bool {
        let engine = engine.to_owned();
        let on_record = engine.clone();
        let change = move |job: &mut Job| {
            job.state = JobState::Running;
            job.engine.clone_from(&on_record);
            job.started_at = Some(SystemTime::now());
        };
        let event = Event::Started(Started {
            side: side as i32,
            engine,
        });
        self.log.emit(self.job_id, event, &change).await
    }

    async fn progress(&self, event: Event) {
        self.log.progress(self.job_id, event).await;
    }
}

impl DualRun {
    /// Metric descriptions.
    pub fn describe_metrics() {
        metrics::describe_counter!(FALLBACKS_TOTAL, "Jobs re-run on blue after green failed");
        metrics::counter!(FALLBACKS_TOTAL).increment(0);
    }

    /// Whether shadows can run (a comparator is configured).
    pub fn compares(&self) -> bool {
        self.comparator.is_some()
    }

    /// Runs the job to a final state (unless it is cancelled, which aborts this task), then its
    /// shadow's comparison.
    pub async fn drive(self: Arc<Self>, spec: JobSpec, primary: Side, shadow: Option<Side>) {
        let job_id = spec.job_id.clone();
        let Ok(slot) = self.slots.acquire().await else {
            return;
        };
        let shadow = shadow.map(|side| {
            let (this, spec) = (self.clone(), spec.clone());
            tokio::spawn(async move { this.shadow_run(&spec, side).await }.in_current_span())
        });
        let forward = Forward {
            log: &self.log,
            job_id: &job_id,
        };
        let started = Instant::now();
        let mut outcome = self.engines.run(&spec, primary, Some(&forward)).await;
        let first = Run {
            side: primary,
            ended: outcome.ended(),
            took: started.elapsed(),
        };
        let fell_back = rules::falls_back(&first);
        if fell_back {
            if let Outcome::Failed(failure) = &outcome {
                tracing::warn!(
                    job_id,
                    code = failure.code.as_str(),
                    error = failure.message,
                    "green failed as primary; running the job on blue"
                );
            }
            self.record(rules::green_sample(&first, None, None)).await;
            metrics::counter!(FALLBACKS_TOTAL).increment(1);
            let to_blue = |job: &mut Job| {
                job.side = Side::Blue;
                job.shadow = None;
                job.validation = Validation::NONE;
            };
            self.log.annotate(&job_id, &to_blue).await;
            if let Some(task) = &shadow {
                task.abort();
            }
            outcome = self.engines.run(&spec, Side::Blue, Some(&forward)).await;
        }
        let primary_result = self.finish(&job_id, outcome).await;
        drop(slot);
        if fell_back {
            return;
        }
        match shadow {
            Some(task) => {
                let Ok(shadow_run) = task.await else {
                    return;
                };
                self.settle(&job_id, &first, primary_result.as_ref(), shadow_run)
                    .await;
            }
            None => self.record(rules::green_sample(&first, None, None)).await,
        }
    }

    /// Compares a succeeded job whose shadow comparison never happened (the router stopped in
    /// between): runs the shadow again and settles it against the stored result.
    pub async fn revalidate(self: Arc<Self>, job: Job) {
        let (Some(side), Some(result)) = (job.shadow, job.result.clone()) else {
            return;
        };
        tracing::info!(
            job_id = job.id,
            "comparing a job whose shadow run was interrupted"
        );
        let primary = Run {
            side: job.side,
            ended: Ended::Finished,
            took: match (job.started_at, job.finished_at) {
                (Some(start), Some(end)) => end.duration_since(start).unwrap_or_default(),
                _ => Duration::ZERO,
            },
        };
        let shadow_run = self.shadow_run(&job.spec, side).await;
        self.settle(&job.id, &primary, Some(&result), shadow_run)
            .await;
    }

    /// The shadow side's run with its deadline.
    async fn shadow_run(&self, spec: &JobSpec, side: Side) -> (Side, Outcome, Duration) {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.shadow_timeout, self.engines.run(spec, side, None))
            .await
            .unwrap_or_else(|_| {
                Outcome::failed(
                    FailureCode::ShadowTimeout,
                    format!(
                        "the {} shadow run took longer than {:?}",
                        side.label(),
                        self.shadow_timeout
                    ),
                )
            });
        (side, outcome, started.elapsed())
    }

    /// Ends the job with the primary's outcome; its result when it succeeded.
    async fn finish(&self, job_id: &str, outcome: Outcome) -> Option<JobResult> {
        match outcome {
            Outcome::Finished(result) => {
                let on_record = result.clone();
                let change = move |job: &mut Job| {
                    job.state = JobState::Succeeded;
                    job.finished_at = Some(SystemTime::now());
                    job.engine.clone_from(&on_record.engine);
                    job.result = Some(on_record.clone());
                };
                let event = Event::Finished(Finished {
                    result: Some(result.clone()),
                });
                self.log.emit(job_id, event, &change).await;
                Some(result)
            }
            Outcome::Failed(failure) => {
                self.log
                    .fail(job_id, JobState::Failed, failure.code, failure.message)
                    .await;
                None
            }
            Outcome::Gone => None,
        }
    }

    /// Records the shadow's outcome and its comparison (after the primary's answer).
    async fn settle(
        &self,
        job_id: &str,
        primary: &Run,
        primary_result: Option<&JobResult>,
        (side, outcome, took): (Side, Outcome, Duration),
    ) {
        let shadow = Run {
            side,
            ended: outcome.ended(),
            took,
        };
        let comparison = match (&outcome, primary_result, &self.comparator) {
            (Outcome::Finished(result), Some(primary_result), Some(comparator)) => {
                let (blue, green) = if side == Side::Green {
                    (primary_result, result)
                } else {
                    (result, primary_result)
                };
                comparator.compare(job_id, blue, green).await
            }
            _ => None,
        };
        // The window first, so that whoever sees the job settled sees its sample counted.
        self.record(rules::green_sample(
            primary,
            Some(&shadow),
            comparison.as_ref(),
        ))
        .await;
        let validation = match (&outcome, &comparison) {
            (Outcome::Finished(_), Some(reply)) => Validation {
                outcome: if reply.matched {
                    ValidationOutcome::Matched
                } else {
                    ValidationOutcome::Mismatched
                },
                max_relative_difference: reply.max_relative_difference,
                mismatches: reply.mismatches.len() as u32,
            },
            // Nothing to compare with (the primary failed) or the validator failed.
            (Outcome::Finished(_), None) => Validation::NONE,
            (Outcome::Failed(failure), _) => {
                tracing::warn!(
                    job_id,
                    side = side.label(),
                    code = failure.code.as_str(),
                    error = failure.message,
                    "the shadow run failed (the client was not affected)"
                );
                Validation::of(ValidationOutcome::ShadowFailed)
            }
            (Outcome::Gone, _) => return,
        };
        let engine = match &outcome {
            Outcome::Finished(result) => Some(result.engine.clone()),
            _ => None,
        };
        let change = move |job: &mut Job| {
            if let Some(engine) = &engine {
                job.shadow_engine.clone_from(engine);
            }
            job.validation = validation;
        };
        self.log.annotate(job_id, &change).await;
    }

    async fn record(&self, sample: Option<crate::cutover::GreenSample>) {
        if let Some(sample) = sample {
            self.cutover.record_green(sample).await;
        }
    }
}
