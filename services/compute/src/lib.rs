//! The green compute engine (`hop-compute`): `hop.v1.Engine` over the GPU or CPU evaluator.
//!
//! One gRPC server hosts `hop.v1.Engine` (the shared `hop_engine::EngineHandler` over
//! [`engine::ComputeBackend`]) plus health, reflection and `/metrics` from `hop-runtime`. A job's
//! matrix comes over Arrow Flight from `hop-ingest`, or — for a `csv_path` when no ingest service
//! is configured — from a local parse ([`source`]). The search runs with
//! `hop_core::run::run_search` and the GPU evaluator (`hop_gpu::GpuEvaluator`) or
//! `hop_core::eval::CpuEvaluator`; both give the same bits, so results are bit-identical to any
//! other in-process run of the same job.
//!
//! Configuration: the common keys of `hop_runtime::ServiceConfig` plus [`ComputeConfig`]
//! (`[compute]`: `ingest`, `engine = auto|cpu|gpu`). The GPU is probed once at start: `auto` uses
//! it when usable and otherwise runs on the CPU, logging "auto: no usable GPU (<reason>), using the
//! CPU"; `gpu` without a usable GPU fails every job with `ENGINE_UNAVAILABLE` and `Describe` with
//! `FAILED_PRECONDITION`, "no usable GPU: <reason>".
//!
//! Metrics: `hop_engine_jobs_total{side="green",engine,outcome}` and the
//! `hop_engine_job_seconds{side,engine}` histogram (from `hop_engine`); on a GPU,
//! `hop_gpu_memory_used_bytes`, `hop_gpu_utilization_ratio` and `hop_gpu_evaluations_total{path}`
//! ([`engine`]).

pub mod config;
pub mod engine;
pub mod source;

use std::process::ExitCode;

use hop_proto::v1::engine_server::EngineServer;
use hop_runtime::GrpcServices;
use hop_runtime::config::CommonArgs;

pub use config::{ComputeConfig, EngineChoice};
pub use engine::{ComputeBackend, Engine};
use hop_engine::{EngineBackend, EngineHandler};
use hop_proto::v1::Side;

/// The service name (config section, env prefix, ready line).
pub const SERVICE: &str = "compute";

/// Command-line flags: the common ones (service keys through `--set key=value`).
#[derive(Debug, clap::Parser)]
#[command(
    name = "hop-compute",
    version,
    about = "Heavy Optimizer green compute engine: Flight matrix in, portfolio search out"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The gRPC services of the engine (resolving the engine: see [`ComputeBackend::new`]).
pub fn grpc_services(config: ComputeConfig) -> Result<GrpcServices, String> {
    Ok(services_for(ComputeBackend::new(config)?))
}

/// The gRPC services over a backend already made.
pub fn services_for(backend: ComputeBackend) -> GrpcServices {
    GrpcServices::new().add_service(EngineServer::new(EngineHandler::new(backend)))
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<ComputeConfig, _, _>(
        SERVICE,
        "hop-compute",
        &args.common,
        |config, _| async move {
            let own = config.own;
            let listen = config.common.listen;
            // Probing the GPU compiles the kernels (about a second): off the runtime's threads.
            let backend = tokio::task::spawn_blocking(move || ComputeBackend::new(own))
                .await
                .map_err(|e| format!("resolving the engine stopped: {e}"))??;
            if backend.reads_files() {
                backend
                    .input()
                    .check_listen(listen)
                    .map_err(|e| e.to_string())?;
            }
            // Without an engine (`gpu` and no usable GPU) `ComputeBackend::new` has logged why.
            if let Ok(engine) = backend.engine() {
                tracing::info!(engine, device = %backend.device(), "compute configured");
                hop_engine::register_metrics(Side::Green, engine);
            }
            Ok(services_for(backend).into())
        },
    )
    .await
}
