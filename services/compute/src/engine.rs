//! The `hop.v1.Engine` handler: `Run` streams a job's events, `Describe` says what runs them.
//!
//! A job: `Started`, then the matrix is loaded ([`crate::source`]), then the search runs on a
//! blocking thread (`spawn_blocking`; inside, rayon runs the algorithms in parallel) while
//! `Progress` events stream (at most one per size and algorithm per 5 % of its budget), and the
//! stream ends with exactly one `Finished{JobResult}` or `Failed{code, message}`. The RPC itself
//! only fails for a request without a spec.
//!
//! Cancellation: when the client drops the stream, nothing more is sent. The search itself has no
//! cancellation point in `hop_core::run::run_search`, so a search already running finishes in the
//! background (its result is dropped and the job is counted with outcome `cancelled`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::Stream;
use hop_contract::{ResultSource, options_from_proto, progress_event, result_to_proto};
use hop_core::eval::CpuEvaluator;
use hop_core::run::{JobProgress, Prepared, run_search};
use hop_core::{Algorithm, JobOptions};
use hop_proto::v1::engine_server::Engine;
use hop_proto::v1::job_event::{Event, Failed, Finished, Started};
use hop_proto::v1::{DescribeRequest, EngineInfo, JobEvent, JobSpec, RunRequest, Side};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::config::{ComputeConfig, EngineChoice};
use crate::error::JobError;

/// Jobs by outcome: `finished`, `failed`, `cancelled`.
pub const JOBS_TOTAL: &str = "hop_compute_jobs_total";
/// Wall time of a job, from the request to its last event.
pub const JOB_SECONDS: &str = "hop_compute_job_seconds";

/// The message of every job and `Describe` while `engine = gpu`.
pub const NO_GPU: &str = "no usable GPU: GPU kernels are not built yet";

/// Events buffered per job; progress events beyond it are dropped (a slow client loses progress,
/// never the final event).
const EVENT_BUFFER: usize = 1024;

/// Describes the metrics so that `/metrics` lists them from the start.
pub fn register_metrics() {
    metrics::describe_counter!(JOBS_TOTAL, "Jobs by outcome (finished, failed, cancelled)");
    metrics::describe_histogram!(JOB_SECONDS, metrics::Unit::Seconds, "Job wall time");
    for outcome in ["finished", "failed", "cancelled"] {
        metrics::counter!(JOBS_TOTAL, "outcome" => outcome).increment(0);
    }
}

/// The engine actually used for a configured choice: `Ok("cpu")`, or the failure for `gpu`.
pub fn resolve(choice: EngineChoice) -> Result<&'static str, JobError> {
    match choice {
        // No GPU kernels exist yet: `auto` always chooses the CPU.
        EngineChoice::Auto | EngineChoice::Cpu => Ok("cpu"),
        EngineChoice::Gpu => Err(JobError::new("ENGINE_UNAVAILABLE", NO_GPU)),
    }
}

/// The `hop.v1.Engine` handler.
#[derive(Debug, Clone)]
pub struct EngineHandler {
    config: Arc<ComputeConfig>,
}

impl EngineHandler {
    pub fn new(config: ComputeConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Engine for EngineHandler {
    type RunStream = EventStream;

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<EventStream>, Status> {
        let spec = request
            .into_inner()
            .spec
            .ok_or_else(|| Status::invalid_argument("RunRequest.spec is missing: send a job"))?;
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let emitter = Arc::new(Emitter::new(spec.job_id.clone(), tx));
        tokio::spawn(run_job(self.config.clone(), spec, emitter));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn describe(
        &self,
        _request: Request<DescribeRequest>,
    ) -> Result<Response<EngineInfo>, Status> {
        let engine =
            resolve(self.config.engine).map_err(|e| Status::failed_precondition(e.message))?;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut device = format!("cpu: {threads} threads");
        if self.config.engine == EngineChoice::Auto {
            device.push_str(" (engine = auto: GPU kernels are not built yet, so the CPU)");
        }
        Ok(Response::new(EngineInfo {
            side: Side::Green as i32,
            engine: engine.to_owned(),
            device,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }))
    }
}

/// Numbers and sends one job's events.
struct Emitter {
    job_id: String,
    tx: mpsc::Sender<Result<JobEvent, Status>>,
    sequence: Mutex<u64>,
}

impl Emitter {
    fn new(job_id: String, tx: mpsc::Sender<Result<JobEvent, Status>>) -> Self {
        Self {
            job_id,
            tx,
            sequence: Mutex::new(0),
        }
    }

    fn event(&self, event: Event) -> JobEvent {
        JobEvent::now(self.job_id.clone(), event)
    }

    /// Sends without waiting (from the search thread); a full buffer drops the event. The
    /// sequence only advances for events actually queued, so it has no gaps.
    fn try_send(&self, mut event: JobEvent) {
        let mut sequence = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
        event.sequence = *sequence + 1;
        if self.tx.try_send(Ok(event)).is_ok() {
            *sequence += 1;
        }
    }

    /// Sends, waiting for room; false when the client is gone. Only called while no `try_send`
    /// can run (before and after the search).
    async fn send(&self, mut event: JobEvent) -> bool {
        event.sequence = {
            let mut sequence = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
            *sequence += 1;
            *sequence
        };
        self.tx.send(Ok(event)).await.is_ok()
    }

    fn closed(&self) -> bool {
        self.tx.is_closed()
    }
}

async fn run_job(config: Arc<ComputeConfig>, spec: JobSpec, emitter: Arc<Emitter>) {
    let started = Instant::now();
    let job_id = spec.job_id.clone();
    let outcome = match job(&config, spec, &emitter, started).await {
        Ok(result) => {
            let sent = emitter
                .send(emitter.event(Event::Finished(Finished {
                    result: Some(result),
                })))
                .await;
            if sent { "finished" } else { "cancelled" }
        }
        Err(e) => {
            tracing::warn!(job_id, code = e.code, error = %e.message, "job failed");
            let sent = emitter
                .send(emitter.event(Event::Failed(Failed {
                    code: e.code.to_owned(),
                    message: e.message,
                })))
                .await;
            if sent { "failed" } else { "cancelled" }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(job_id, outcome, seconds, "job done");
    metrics::counter!(JOBS_TOTAL, "outcome" => outcome).increment(1);
    metrics::histogram!(JOB_SECONDS).record(seconds);
}

async fn job(
    config: &ComputeConfig,
    spec: JobSpec,
    emitter: &Arc<Emitter>,
    started: Instant,
) -> Result<hop_proto::v1::JobResult, JobError> {
    let engine = match resolve(config.engine) {
        Ok(engine) => engine,
        Err(e) => {
            emitter.send(started_event(emitter, "gpu")).await;
            return Err(e);
        }
    };
    if !emitter.send(started_event(emitter, engine)).await {
        return Err(JobError::new("CANCELLED", "the client went away"));
    }
    let options = options_from_proto(spec.options.as_ref())?;
    let matrix = crate::source::load_matrix(spec.input.as_ref(), config.ingest.as_deref()).await?;
    if emitter.closed() {
        return Err(JobError::new("CANCELLED", "the client went away"));
    }
    tracing::info!(
        job_id = spec.job_id,
        strategies = matrix.n_strategies(),
        days = matrix.n_days(),
        "matrix loaded; searching"
    );
    let search_emitter = emitter.clone();
    let run = tokio::task::spawn_blocking(move || search(matrix, &options, &search_emitter))
        .await
        .map_err(|e| JobError::internal(format!("the search stopped unexpectedly: {e}")))??;
    Ok(result_to_proto(
        &run,
        &ResultSource {
            job_id: &spec.job_id,
            side: Side::Green,
            engine,
            seconds: started.elapsed().as_secs_f64(),
            run_folder: "",
        },
    ))
}

fn started_event(emitter: &Emitter, engine: &str) -> JobEvent {
    emitter.event(Event::Started(Started {
        side: Side::Green as i32,
        engine: engine.to_owned(),
    }))
}

/// Prepares the matrix and runs the search on the CPU evaluator (a blocking call).
fn search(
    matrix: hop_core::PnlMatrix,
    options: &JobOptions,
    emitter: &Emitter,
) -> Result<hop_core::RunResult, JobError> {
    let prepared = Prepared::new(matrix, options, None)?;
    let eval = CpuEvaluator::new(&prepared.problem);
    let throttle = Throttle::new(options);
    let progress = |p: JobProgress| {
        if emitter.closed() {
            return;
        }
        throttle.update(&p, |percent| {
            emitter.try_send(progress_event(&emitter.job_id, &p, percent));
        });
    };
    Ok(run_search(&prepared, options, &eval, &progress))
}

/// Tracks every (size, algorithm)'s evaluations for the job's percentage, and lets through at most
/// one progress event per (size, algorithm) per 5 % of its budget (plus its final one).
struct Throttle {
    total: f64,
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    done: HashMap<(usize, Algorithm), u64>,
    done_total: u64,
    last_step: HashMap<(usize, Algorithm), u64>,
}

impl Throttle {
    fn new(options: &JobOptions) -> Self {
        let per_size: u64 = options
            .algorithms
            .iter()
            .map(|&a| options.budget_for(a))
            .sum();
        let sizes = options.sizes().count() as u64;
        Self {
            total: (per_size * sizes).max(1) as f64,
            state: Mutex::new(ThrottleState::default()),
        }
    }

    /// Records `p` and, when it should be sent, calls `send` with the job's percentage — under
    /// the lock, so that events from parallel algorithms are queued in percentage order.
    fn update(&self, p: &JobProgress, send: impl FnOnce(f64)) {
        let key = (p.portfolio_size, p.algorithm);
        let budget = p.progress.budget.max(1);
        let evaluations = p.progress.evaluations.min(budget);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let previous = state.done.insert(key, evaluations).unwrap_or(0);
        state.done_total = state.done_total + evaluations - previous.min(evaluations);
        let step = evaluations * 20 / budget;
        let last = state.last_step.get(&key).copied();
        if last.is_some_and(|last| step <= last) {
            return;
        }
        state.last_step.insert(key, step);
        send(100.0 * state.done_total as f64 / self.total);
    }
}
