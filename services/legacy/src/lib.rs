//! The blue engine (`hop-legacy`): `hop.v1.Engine` over the legacy SQL workflow.
//!
//! One gRPC server hosts `hop.v1.Engine` (the shared `hop_engine::EngineHandler` over
//! [`backend::LegacyBackend`]) plus health, reflection and `/metrics` from `hop-runtime`. The
//! search is the one both sides share (`hop_core::run::run_search`), so blue and green give the
//! same portfolios and fitness bits for a job and seed; the per-strategy metrics come from SQL and
//! agree with green's to 1e-12 relative (tested in `hop-sql` on the real fixtures).
//!
//! Configuration: the common keys of `hop_runtime::ServiceConfig` plus [`LegacyConfig`]
//! (`[legacy]`: `backend`, `database`, `password_file`, `heavydb_password`). `backend` is
//! `embedded-sql` (SQLite, the default) or `heavydb://user@host:6274/database` (the HeavyDB
//! Thrift client of `hop-heavydb`, password from `password_file` or
//! `HOP_LEGACY_HEAVYDB_PASSWORD`, never logged); both run the same SQL text.
//!
//! Metrics: `hop_engine_jobs_total{side="blue",engine="embedded-sql"|"heavydb",outcome}` and the
//! `hop_engine_job_seconds{side,engine}` histogram (from `hop_engine`).

pub mod backend;
pub mod config;

use std::process::ExitCode;

use hop_engine::EngineHandler;
use hop_proto::v1::Side;
use hop_proto::v1::engine_server::EngineServer;
use hop_runtime::GrpcServices;
use hop_runtime::config::CommonArgs;

pub use backend::LegacyBackend;
pub use config::LegacyConfig;

/// The service name (config section, env prefix, ready line).
pub const SERVICE: &str = "legacy";

/// Command-line flags: the common ones (service keys through `--set key=value`).
#[derive(Debug, clap::Parser)]
#[command(
    name = "hop-legacy",
    version,
    about = "Heavy Optimizer blue engine: the legacy workflow over SQL"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The gRPC services of the engine.
pub fn grpc_services(backend: LegacyBackend) -> GrpcServices {
    GrpcServices::new().add_service(EngineServer::new(EngineHandler::new(backend)))
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<LegacyConfig, _, _>(SERVICE, "hop-legacy", &args.common, |config, _| async move {
        let backend = LegacyBackend::new(&config.own)?;
        backend.input().check_listen(config.common.listen).map_err(|e| e.to_string())?;
        tracing::info!(device = %hop_engine::EngineBackend::device(&backend), "legacy configured");
        hop_engine::register_metrics(Side::Blue, backend.engine_name());
        Ok(grpc_services(backend).into())
    })
    .await
}
