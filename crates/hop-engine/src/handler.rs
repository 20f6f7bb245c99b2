//! [`EngineHandler`]: `hop.v1.Engine` over an [`EngineBackend`].

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::Stream;
use hop_contract::{ResultSource, options_from_proto, progress_event, result_to_proto};
use hop_core::JobOptions;
use hop_core::eval::{CpuEvaluator, Evaluator};
use hop_core::run::{JobProgress, Prepared, search_only, validate};
use hop_proto::FailureCode;
use hop_proto::v1::engine_server::Engine;
use hop_proto::v1::job_event::{Event, Failed, Finished, Started};
use hop_proto::v1::{DescribeRequest, EngineInfo, JobEvent, JobResult, JobSpec, RunRequest, Side};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::JobError;
use crate::cancellable::Cancellable;
use crate::emitter::Emitter;
use crate::throttle::Throttle;

/// Jobs by side, engine and outcome (`finished`, `failed`, `cancelled`).
pub const JOBS_TOTAL: &str = "hop_engine_jobs_total";
/// Wall time of a job on the engine, from the request to its last event, by side and engine.
pub const JOB_SECONDS: &str = "hop_engine_job_seconds";

/// Events buffered per job; progress events beyond it are dropped (a slow client loses progress,
/// never the final event).
const EVENT_BUFFER: usize = 1024;

/// The data a job searches over, ready for the search.
pub type Loaded = Prepared;

/// What makes an engine an engine: its side, its evaluator and how it loads a job's data.
#[tonic::async_trait]
pub trait EngineBackend: Send + Sync + 'static {
    /// Blue or green.
    fn side(&self) -> Side;
    /// The engine that runs jobs now (`cpu`, `gpu`, `embedded-sql`, `heavydb`), or why none can
    /// (every job then fails with that error, and `Describe` with `FAILED_PRECONDITION`).
    fn engine(&self) -> Result<&'static str, JobError>;
    /// The device in words, for `Describe` (e.g. `cpu: 2 threads`).
    fn device(&self) -> String;
    /// Loads the job's matrix and prepares it (ULTA, per-strategy metrics, quantization). May
    /// block: it is awaited on the runtime, so CPU-heavy or blocking work belongs in
    /// `spawn_blocking`.
    async fn load(&self, spec: &JobSpec, options: &JobOptions) -> Result<Loaded, JobError>;
    /// The evaluator that scores the job's portfolios, called on the blocking thread that runs
    /// the search. Every evaluator returns the CPU reference's bits; the default is that
    /// reference, `CpuEvaluator`.
    fn evaluator<'a>(
        &self,
        prepared: &'a Loaded,
        options: &JobOptions,
    ) -> Result<Box<dyn Evaluator + 'a>, JobError> {
        let _ = options;
        Ok(Box::new(CpuEvaluator::new(&prepared.problem)))
    }
}

/// Describes the metrics so that `/metrics` lists them from the start.
pub fn register_metrics(side: Side, engine: &str) {
    metrics::describe_counter!(JOBS_TOTAL, "Engine jobs by side, engine and outcome");
    metrics::describe_histogram!(JOB_SECONDS, metrics::Unit::Seconds, "Engine job wall time");
    for outcome in ["finished", "failed", "cancelled"] {
        metrics::counter!(JOBS_TOTAL, "side" => side.label(), "engine" => engine.to_owned(),
            "outcome" => outcome)
        .increment(0);
    }
}

/// The `hop.v1.Engine` handler over a backend.
#[derive(Debug)]
pub struct EngineHandler<B> {
    backend: Arc<B>,
}

impl<B> Clone for EngineHandler<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
        }
    }
}

impl<B: EngineBackend> EngineHandler<B> {
    pub fn new(backend: B) -> Self {
        Self {
            backend: Arc::new(backend),
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl<B: EngineBackend> Engine for EngineHandler<B> {
    type RunStream = EventStream;

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<EventStream>, Status> {
        let spec = request
            .into_inner()
            .spec
            .ok_or_else(|| Status::invalid_argument("RunRequest.spec is missing: send a job"))?;
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let emitter = Arc::new(Emitter::new(spec.job_id.clone(), tx));
        // Child of the request's span, so the job joins the router's trace.
        let span = tracing::info_span!(
            "engine.job",
            job_id = %spec.job_id,
            side = self.backend.side().label(),
        );
        tokio::spawn(run_job(self.backend.clone(), spec, emitter).instrument(span));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn describe(
        &self,
        _request: Request<DescribeRequest>,
    ) -> Result<Response<EngineInfo>, Status> {
        let engine = self
            .backend
            .engine()
            .map_err(|e| Status::failed_precondition(e.message))?;
        Ok(Response::new(EngineInfo {
            side: self.backend.side() as i32,
            engine: engine.to_owned(),
            device: self.backend.device(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }))
    }
}

async fn run_job<B: EngineBackend>(backend: Arc<B>, spec: JobSpec, emitter: Arc<Emitter>) {
    let started = Instant::now();
    let job_id = spec.job_id.clone();
    let side = backend.side();
    let engine = backend.engine().unwrap_or("none");
    let outcome = match job(&backend, spec, &emitter, started).await {
        Ok(result) => {
            let event = emitter.event(Event::Finished(Finished {
                result: Some(result),
            }));
            if emitter.send(event).await {
                "finished"
            } else {
                "cancelled"
            }
        }
        Err(e) => {
            tracing::warn!(job_id, code = e.code.as_str(), error = %e.message, "job failed");
            let event = emitter.event(Event::Failed(Failed {
                code: e.code.as_str().to_owned(),
                message: e.message,
            }));
            if emitter.send(event).await {
                "failed"
            } else {
                "cancelled"
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(job_id, outcome, seconds, engine, "job done");
    metrics::counter!(JOBS_TOTAL, "side" => side.label(), "engine" => engine,
        "outcome" => outcome)
    .increment(1);
    metrics::histogram!(JOB_SECONDS, "side" => side.label(), "engine" => engine).record(seconds);
}

fn cancelled() -> JobError {
    JobError::new(FailureCode::Cancelled, "the client went away")
}

async fn job<B: EngineBackend>(
    backend: &Arc<B>,
    spec: JobSpec,
    emitter: &Arc<Emitter>,
    started: Instant,
) -> Result<JobResult, JobError> {
    let side = backend.side();
    let started_event = |engine: &str| {
        emitter.event(Event::Started(Started {
            side: side as i32,
            engine: engine.to_owned(),
        }))
    };
    let engine = match backend.engine() {
        Ok(engine) => engine,
        Err(e) => {
            emitter.send(started_event("none")).await;
            return Err(e);
        }
    };
    if !emitter.send(started_event(engine)).await {
        return Err(cancelled());
    }
    let options = options_from_proto(spec.options.as_ref())?;
    let prepared = backend
        .load(&spec, &options)
        .instrument(tracing::info_span!("engine.load"))
        .await?;
    if emitter.closed() {
        return Err(cancelled());
    }
    tracing::info!(
        job_id = spec.job_id,
        strategies = prepared.matrix.n_strategies(),
        days = prepared.matrix.n_days(),
        "data prepared; searching"
    );
    let search_emitter = emitter.clone();
    let search_backend = backend.clone();
    let span = tracing::info_span!("engine.search");
    let run = tokio::task::spawn_blocking(move || {
        span.in_scope(|| search(&*search_backend, &prepared, &options, &search_emitter))
    })
    .await
    .map_err(|e| JobError::internal(format!("the search stopped unexpectedly: {e}")))??;
    Ok(result_to_proto(
        &run,
        &ResultSource {
            job_id: &spec.job_id,
            side,
            engine,
            seconds: started.elapsed().as_secs_f64(),
            run_folder: "",
        },
    ))
}

/// Runs the search on the backend's evaluator (a blocking call), sending throttled progress.
fn search<B: EngineBackend>(
    backend: &B,
    prepared: &Prepared,
    options: &JobOptions,
    emitter: &Emitter,
) -> Result<hop_core::RunResult, JobError> {
    let eval = Cancellable::new(backend.evaluator(prepared, options)?, emitter);
    let throttle = Throttle::new(options);
    let progress = |p: JobProgress| {
        if emitter.closed() {
            return;
        }
        throttle.update(&p, |percent| {
            emitter.try_send(progress_event(emitter.job_id(), &p, percent));
        });
    };
    let mut run = search_only(prepared, options, &eval, &progress);
    // The walk-forward re-runs the search on each fold: not for a client that left.
    if emitter.closed() {
        return Err(cancelled());
    }
    validate(prepared, &mut run);
    Ok(run)
}
