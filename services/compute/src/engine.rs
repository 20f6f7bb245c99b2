//! The green backend of the shared engine server (`hop_engine`): the matrix over Arrow Flight (or
//! a local parse, [`crate::source`]), metrics and quantization in Rust, and the evaluator — the
//! GPU one (`hop_gpu`) when a GPU is usable and configured, else the CPU reference.
//!
//! The engine is resolved once, when the service starts ([`resolve`]): `auto` and `gpu` probe the
//! GPU (load the driver, open device 0, compile the kernels with NVRTC). `auto` uses the GPU when
//! the probe succeeds and the CPU otherwise (logging why); `gpu` without a usable GPU fails every
//! job with `ENGINE_UNAVAILABLE` and `Describe` with `FAILED_PRECONDITION`, with the probe's reason.
//! Both evaluators return the same bits, so the choice changes only the speed.
//!
//! Metrics (GPU only): `hop_gpu_memory_used_bytes` (device memory in use, all processes,
//! `cuMemGetInfo`, sampled at start and at the end of each job's search) and
//! `hop_gpu_utilization_ratio` (the last job's kernel time over its search's wall time, from CUDA
//! events; NVML's utilization counter is not read), plus `hop_gpu_evaluations_total{path}`
//! (`gpu`: scored by the kernels; `cpu`: small batches the GPU evaluator left to the CPU).

use std::sync::Arc;
use std::time::Instant;

use hop_core::eval::{Chain, CpuEvaluator, Evaluator, Swap};
use hop_core::fitness::{FitnessSpec, Problem};
use hop_core::run::Prepared;
use hop_core::{JobOptions, PnlMatrix};
use hop_engine::{EngineBackend, JobError, Loaded};
use hop_gpu::{Gpu, GpuError, GpuEvaluator};
use hop_proto::FailureCode;
use hop_proto::v1::{JobSpec, Side};
use hop_runtime::InputFiles;

use crate::config::{ComputeConfig, EngineChoice};

/// The start of every message about a missing or failed GPU ("no usable GPU: <reason>").
pub const NO_GPU: &str = "no usable GPU";

/// Device memory in use, bytes.
pub const GPU_MEMORY_USED: &str = "hop_gpu_memory_used_bytes";
/// Kernel time over search wall time of the last job, 0..1.
pub const GPU_UTILIZATION: &str = "hop_gpu_utilization_ratio";
/// Portfolios and moves scored by the GPU evaluator, by path (`gpu`, `cpu`).
pub const GPU_EVALUATIONS: &str = "hop_gpu_evaluations_total";

/// The engine chosen at start.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// The CPU evaluator. `auto_reason` says why `auto` did not take the GPU.
    Cpu { auto_reason: Option<String> },
    /// The GPU evaluator on this device.
    Gpu(Arc<Gpu>),
    /// `engine = gpu` without a usable GPU: the reason (every job fails with it).
    Unavailable(String),
}

/// Resolves the configured engine, probing the GPU (device 0) for `auto` and `gpu`.
pub fn resolve(choice: EngineChoice) -> Resolved {
    resolve_with(choice, || Gpu::open(0))
}

/// [`resolve`] with any probe (tests).
pub fn resolve_with(
    choice: EngineChoice,
    probe: impl FnOnce() -> Result<Arc<Gpu>, GpuError>,
) -> Resolved {
    match choice {
        EngineChoice::Cpu => Resolved::Cpu { auto_reason: None },
        EngineChoice::Auto => match probe() {
            Ok(gpu) => Resolved::Gpu(gpu),
            Err(e) => Resolved::Cpu {
                auto_reason: Some(e.to_string()),
            },
        },
        EngineChoice::Gpu => match probe() {
            Ok(gpu) => Resolved::Gpu(gpu),
            Err(e) => Resolved::Unavailable(e.to_string()),
        },
    }
}

/// `no usable GPU: <reason>`.
pub fn no_gpu_message(reason: &str) -> String {
    format!("{NO_GPU}: {reason}")
}

fn engine_unavailable(reason: &str) -> JobError {
    JobError::new(FailureCode::EngineUnavailable, no_gpu_message(reason))
}

/// The configured engine and what it resolved to: everything a job needs to know about where it
/// runs. Shared by the service ([`ComputeBackend`]) and any in-process runner (`hop run`).
#[derive(Debug, Clone)]
pub struct Engine {
    choice: EngineChoice,
    resolved: Resolved,
}

impl Engine {
    /// Resolves `choice` (probing the GPU for `auto` and `gpu`: this blocks while the kernels
    /// compile, about a second) and logs the outcome.
    pub fn resolve(choice: EngineChoice) -> Self {
        Self::with_resolved(choice, resolve(choice))
    }

    /// An engine already resolved; logs the outcome.
    pub fn with_resolved(choice: EngineChoice, resolved: Resolved) -> Self {
        let engine = Self { choice, resolved };
        engine.log_choice();
        engine
    }

    pub fn choice(&self) -> EngineChoice {
        self.choice
    }

    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    fn log_choice(&self) {
        let configured = self.choice;
        match &self.resolved {
            Resolved::Gpu(gpu) => {
                tracing::info!(?configured, device = %gpu.info().describe(), "using the GPU");
                describe_gpu_metrics();
                record_memory(gpu);
            }
            Resolved::Cpu {
                auto_reason: Some(reason),
            } => tracing::info!("auto: {NO_GPU} ({reason}), using the CPU"),
            Resolved::Cpu { auto_reason: None } => {
                tracing::info!(?configured, "using the CPU")
            }
            Resolved::Unavailable(reason) => {
                tracing::error!(
                    ?configured,
                    "{}; every job will fail",
                    no_gpu_message(reason)
                )
            }
        }
    }

    /// The GPU when it is the engine and has not failed; for `gpu`, an error otherwise.
    pub fn usable_gpu(&self) -> Result<Option<&Arc<Gpu>>, JobError> {
        match &self.resolved {
            Resolved::Gpu(gpu) => match gpu.failure() {
                None => Ok(Some(gpu)),
                Some(e) if self.choice == EngineChoice::Gpu => Err(engine_unavailable(
                    &GpuError::Broken(e.to_string()).to_string(),
                )),
                Some(_) => Ok(None),
            },
            Resolved::Unavailable(reason) => Err(engine_unavailable(reason)),
            Resolved::Cpu { .. } => Ok(None),
        }
    }

    /// `gpu` or `cpu`, or why no job can run (`ENGINE_UNAVAILABLE`).
    pub fn name(&self) -> Result<&'static str, JobError> {
        Ok(match self.usable_gpu()? {
            Some(_) => "gpu",
            None => "cpu",
        })
    }

    /// The device in words, for `Describe`.
    pub fn device(&self) -> String {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        match (&self.resolved, self.usable_gpu()) {
            (Resolved::Gpu(gpu), Ok(Some(_))) => format!("gpu: {}", gpu.info().describe()),
            (Resolved::Gpu(gpu), _) => format!(
                "cpu: {threads} threads (engine = auto: the GPU {} failed: {})",
                gpu.info().name,
                gpu.failure().map(|e| e.to_string()).unwrap_or_default()
            ),
            (
                Resolved::Cpu {
                    auto_reason: Some(reason),
                },
                _,
            ) => format!("cpu: {threads} threads (engine = auto: {NO_GPU}: {reason})"),
            _ => format!("cpu: {threads} threads"),
        }
    }

    /// ULTA, per-strategy metrics (on the GPU when it is the engine: the same bits) and
    /// quantization. Blocking.
    pub fn prepare(&self, matrix: PnlMatrix, options: &JobOptions) -> Result<Prepared, JobError> {
        let prepared = match self.usable_gpu()? {
            Some(gpu) => {
                let (matrix, inversions) = hop_core::run::ulta(matrix, options)?;
                let metrics = match gpu.strategy_metrics(&matrix) {
                    Ok(metrics) => Some(metrics),
                    Err(e) => {
                        tracing::warn!(error = %e, "GPU strategy metrics failed; computing them on the CPU");
                        None
                    }
                };
                Prepared::assemble(matrix, inversions, metrics, options)
            }
            None => Prepared::new(matrix, options, None),
        };
        Ok(prepared?)
    }

    /// The evaluator for a prepared problem: the GPU one when the GPU is the engine (for `auto`,
    /// the CPU one if the GPU evaluator cannot start), else the CPU reference.
    pub fn evaluator<'a>(
        &self,
        problem: &'a Problem,
        options: &JobOptions,
    ) -> Result<Box<dyn Evaluator + 'a>, JobError> {
        let Some(gpu) = self.usable_gpu()? else {
            return Ok(Box::new(CpuEvaluator::new(problem)));
        };
        match GpuEvaluator::new(gpu.clone(), problem, FitnessSpec::from(options)) {
            Ok(eval) => Ok(Box::new(Metered::new(eval))),
            Err(e) if self.choice == EngineChoice::Gpu => Err(engine_unavailable(&e.to_string())),
            Err(e) => {
                tracing::warn!(error = %e, "auto: the GPU evaluator could not start; this job runs on the CPU");
                Ok(Box::new(CpuEvaluator::new(problem)))
            }
        }
    }
}

/// The green engine.
#[derive(Debug, Clone)]
pub struct ComputeBackend {
    config: ComputeConfig,
    engine: Engine,
    /// Where a locally read `csv_path` may lie, and its size limit.
    input: InputFiles,
}

impl ComputeBackend {
    /// Resolves the configured engine ([`Engine::resolve`]); fails only on an `input_root` that
    /// cannot be used.
    pub fn new(config: ComputeConfig) -> Result<Self, String> {
        let engine = Engine::resolve(config.engine);
        Self::with_engine(config, engine)
    }

    /// A backend over an engine already resolved.
    pub fn with_engine(config: ComputeConfig, engine: Engine) -> Result<Self, String> {
        let input = InputFiles::new(config.input_root.as_deref(), config.max_csv_bytes)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            config,
            engine,
            input,
        })
    }

    /// Where a locally read `csv_path` may lie.
    pub fn input(&self) -> &InputFiles {
        &self.input
    }

    /// Whether a `csv_path` is read by this service (no `ingest` configured).
    pub fn reads_files(&self) -> bool {
        self.config.ingest.is_none()
    }

    pub fn engine_state(&self) -> &Engine {
        &self.engine
    }
}

#[tonic::async_trait]
impl EngineBackend for ComputeBackend {
    fn side(&self) -> Side {
        Side::Green
    }

    fn engine(&self) -> Result<&'static str, JobError> {
        self.engine.name()
    }

    fn device(&self) -> String {
        self.engine.device()
    }

    async fn load(&self, spec: &JobSpec, options: &JobOptions) -> Result<Loaded, JobError> {
        let matrix = crate::source::load_matrix(
            spec.input.as_ref(),
            self.config.ingest.as_deref(),
            &self.input,
        )
        .await?;
        let options = options.clone();
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.prepare(matrix, &options))
            .await
            .map_err(|e| JobError::internal(format!("preparing the data stopped: {e}")))?
    }

    fn evaluator<'a>(
        &self,
        prepared: &'a Loaded,
        options: &JobOptions,
    ) -> Result<Box<dyn Evaluator + 'a>, JobError> {
        self.engine.evaluator(&prepared.problem, options)
    }
}

/// Describes the GPU metrics so that `/metrics` lists them from the start.
fn describe_gpu_metrics() {
    metrics::describe_gauge!(
        GPU_MEMORY_USED,
        metrics::Unit::Bytes,
        "GPU device memory in use (all processes), sampled at start and after each job"
    );
    metrics::describe_gauge!(
        GPU_UTILIZATION,
        "The last job's GPU kernel time over its search wall time (CUDA events)"
    );
    metrics::describe_counter!(
        GPU_EVALUATIONS,
        "Portfolios and moves scored by the GPU evaluator, by path (gpu kernels or cpu for small batches)"
    );
    for path in ["gpu", "cpu"] {
        metrics::counter!(GPU_EVALUATIONS, "path" => path).increment(0);
    }
    metrics::gauge!(GPU_UTILIZATION).set(0.0);
}

fn record_memory(gpu: &Gpu) {
    match gpu.memory() {
        Ok((used, _)) => metrics::gauge!(GPU_MEMORY_USED).set(used as f64),
        Err(e) => tracing::debug!(error = %e, "GPU memory not readable"),
    }
}

/// The GPU evaluator of one job, recording the GPU metrics when the search ends (when it is
/// dropped, its device buffers still allocated).
#[derive(Debug)]
struct Metered<'a> {
    inner: GpuEvaluator<'a>,
    started: Instant,
}

impl<'a> Metered<'a> {
    fn new(inner: GpuEvaluator<'a>) -> Self {
        Self {
            inner,
            started: Instant::now(),
        }
    }
}

impl Drop for Metered<'_> {
    fn drop(&mut self) {
        let stats = self.inner.stats();
        let wall = self.started.elapsed().as_secs_f64();
        metrics::gauge!(GPU_UTILIZATION).set(stats.busy_fraction(wall));
        metrics::counter!(GPU_EVALUATIONS, "path" => "gpu").increment(stats.gpu_evaluations);
        metrics::counter!(GPU_EVALUATIONS, "path" => "cpu").increment(stats.cpu_evaluations);
        record_memory(self.inner.gpu());
        tracing::info!(
            gpu_evaluations = stats.gpu_evaluations,
            cpu_evaluations = stats.cpu_evaluations,
            launches = stats.launches,
            kernel_seconds = stats.kernel_seconds,
            search_seconds = wall,
            "GPU evaluator done"
        );
    }
}

impl Evaluator for Metered<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn problem(&self) -> &Problem {
        self.inner.problem()
    }

    fn evaluate(&self, k: usize, members: &[u32], out: &mut [f64]) {
        self.inner.evaluate(k, members, out)
    }

    fn evaluate_swaps(&self, chains: &[Chain], moves: &[Swap], out: &mut [f64]) {
        self.inner.evaluate_swaps(chains, moves, out)
    }

    fn evaluate_near(
        &self,
        k: usize,
        members: &[u32],
        chains: &[Chain],
        parents: &[u32],
        out: &mut [f64],
    ) {
        self.inner.evaluate_near(k, members, chains, parents, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_gpu() -> Result<Arc<Gpu>, GpuError> {
        Err(GpuError::NoDriver)
    }

    #[test]
    fn cpu_never_probes() {
        let resolved = resolve_with(EngineChoice::Cpu, || panic!("probed"));
        assert!(matches!(resolved, Resolved::Cpu { auto_reason: None }));
    }

    #[test]
    fn auto_without_a_gpu_is_the_cpu_with_the_reason() {
        let backend = ComputeBackend::with_engine(
            ComputeConfig::default(),
            Engine::with_resolved(EngineChoice::Auto, resolve_with(EngineChoice::Auto, no_gpu)),
        )
        .unwrap();
        assert_eq!(backend.engine().unwrap(), "cpu");
        let device = backend.device();
        assert!(device.starts_with("cpu: "), "{device}");
        assert!(
            device.ends_with(
                "(engine = auto: no usable GPU: the CUDA driver library (libcuda) is not \
                 installed or not on the library path)"
            ),
            "{device}"
        );
    }

    #[test]
    fn gpu_without_a_gpu_fails_with_the_probes_reason() {
        let config = ComputeConfig {
            engine: EngineChoice::Gpu,
            ..ComputeConfig::default()
        };
        let resolved = resolve_with(EngineChoice::Gpu, || {
            Err(GpuError::NoDevice("the driver reports 0 devices".into()))
        });
        let backend =
            ComputeBackend::with_engine(config, Engine::with_resolved(EngineChoice::Gpu, resolved))
                .unwrap();
        let err = backend.engine().unwrap_err();
        assert_eq!(err.code, FailureCode::EngineUnavailable);
        assert_eq!(
            err.message,
            "no usable GPU: no CUDA device: the driver reports 0 devices"
        );
        assert!(backend.engine_state().usable_gpu().is_err());
        let matrix = hop_core::fixtures::matrix("sensex_500x82.csv");
        let options = JobOptions::with_size(10);
        let err = backend
            .engine_state()
            .prepare(matrix, &options)
            .unwrap_err();
        assert_eq!(err.code, FailureCode::EngineUnavailable);
    }

    #[test]
    fn the_default_evaluator_is_the_cpu_one() {
        let backend = ComputeBackend::with_engine(
            ComputeConfig::default(),
            Engine::with_resolved(EngineChoice::Auto, resolve_with(EngineChoice::Auto, no_gpu)),
        )
        .unwrap();
        let options = JobOptions::with_size(10);
        let matrix = hop_core::fixtures::matrix("sensex_500x82.csv");
        let prepared = backend
            .engine_state()
            .prepare(matrix.clone(), &options)
            .unwrap();
        let reference = Prepared::new(matrix, &options, None).unwrap();
        assert_eq!(prepared.strategy_metrics, reference.strategy_metrics);
        let eval = backend.evaluator(&prepared, &options).unwrap();
        assert_eq!(eval.name(), "cpu");
    }
}
