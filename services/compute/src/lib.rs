//! The green compute engine (`hop-compute`): `hop.v1.Engine` over the CPU evaluator.
//!
//! One gRPC server hosts `hop.v1.Engine` (the shared `hop_engine::EngineHandler` over
//! [`engine::ComputeBackend`]) plus health, reflection and `/metrics` from `hop-runtime`. A job's matrix comes over Arrow Flight from `hop-ingest`, or — for a `csv_path`
//! when no ingest service is configured — from a local parse ([`source`]). The search runs with
//! `hop_core::run::run_search` and `hop_core::eval::CpuEvaluator`, so its results are bit-identical
//! to any other in-process run of the same job.
//!
//! Configuration: the common keys of `hop_runtime::ServiceConfig` plus [`ComputeConfig`]
//! (`[compute]`: `ingest`, `engine = auto|cpu|gpu`). GPU kernels are not built yet: `auto` runs on
//! the CPU and says so; `gpu` fails every job with `ENGINE_UNAVAILABLE` and `Describe` with
//! `FAILED_PRECONDITION`, "no usable GPU: GPU kernels are not built yet".
//!
//! Metrics: `hop_engine_jobs_total{side="green",engine,outcome}` and the
//! `hop_engine_job_seconds{side,engine}` histogram (from `hop_engine`).

pub mod config;
pub mod engine;
pub mod source;

use std::process::ExitCode;

use hop_proto::v1::engine_server::EngineServer;
use hop_runtime::GrpcServices;
use hop_runtime::config::CommonArgs;

pub use config::{ComputeConfig, EngineChoice};
pub use engine::ComputeBackend;
use hop_engine::EngineHandler;
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

/// The gRPC services of the engine.
pub fn grpc_services(config: ComputeConfig) -> GrpcServices {
    GrpcServices::new().add_service(EngineServer::new(EngineHandler::new(ComputeBackend::new(
        config,
    ))))
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<ComputeConfig, _, _>(
        SERVICE,
        "hop-compute",
        &args.common,
        |config, _| async move {
            match engine::resolve(config.own.engine) {
                Ok(engine) => {
                    tracing::info!(configured = ?config.own.engine, engine,
                    ingest = ?config.own.ingest, "compute configured");
                    hop_engine::register_metrics(Side::Green, engine);
                }
                Err(e) => tracing::warn!(configured = ?config.own.engine, error = %e.message,
                "every job will fail"),
            }
            Ok(grpc_services(config.own).into())
        },
    )
    .await
}
