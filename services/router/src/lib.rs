//! The router (`hop-router`): the public entry point for jobs, `hop.v1.Jobs`.
//!
//! - **Durable**: every accepted job and every event is in an embedded SQLite store
//!   ([`store`]) before anyone hears of it; after a restart, jobs that were queued or running are
//!   started again on the side they were routed to ([`JobManager::resume`]).
//! - **Routed by stage and weight** ([`cutover`]): a job goes to green when the sticky hash of
//!   its id falls below the effective green weight = min(desired, safety latch), else to blue
//!   ([`routing`]); resubmissions and retries stay on one side, jobs in flight finish on the side
//!   they started. The desired stage and weight come from a watched file (`cutover.file`, a
//!   ConfigMap under Helm) or `green_percent`; the latch from automatic or manual rollback is
//!   persisted (`<data_dir>/router/cutover.json`) until an operator resumes.
//! - **Dual runs** ([`runner`], [`shadow`]): in the dual and weighted stages the other side runs
//!   the job as a silent shadow with its own deadline; the validator compares the two results and
//!   the outcome lands on the job record and in the cut-over window. The client always gets the
//!   primary's answer; when green fails as primary, the job is re-run on blue.
//! - **Idempotent**: submitting a known id returns the existing job (`duplicate`), never a
//!   second run.
//! - **Watchable**: `Watch` replays a job's history after a sequence number, then streams live
//!   events until the final one ([`manager`]).
//! - Engines are called through `hop.v1.Engine` ([`runner`]), with retries while an engine is
//!   unreachable or goes away mid-job.
//!
//! - **Admin** ([`admin_service`], token-protected): cut-over status, set weight, emergency
//!   rollback, resume.
//!
//! Metrics: `hop_router_jobs_total{side,outcome}`, `hop_router_job_seconds{side}`,
//! `hop_router_jobs_in_flight`, `hop_router_submits_total{duplicate}`,
//! `hop_router_fallbacks_total`, and the cut-over's ([`cutover::telemetry`]).

pub mod admin_service;
pub mod config;
pub mod cutover;
pub mod error;
pub mod jobs_service;
pub mod manager;
pub mod routing;
pub mod runner;
pub mod shadow;
pub mod store;

use std::process::ExitCode;

use hop_proto::v1::jobs_server::JobsServer;
use hop_runtime::GrpcServices;
use hop_runtime::config::CommonArgs;

pub use config::RouterConfig;
pub use error::RouterError;
pub use jobs_service::JobsService;
pub use manager::JobManager;
pub use store::JobStore;

/// The service name (config section, env prefix, ready line).
pub const SERVICE: &str = "router";

/// Command-line flags: the common ones (service keys through `--set key=value`).
#[derive(Debug, clap::Parser)]
#[command(
    name = "hop-router",
    version,
    about = "Heavy Optimizer router: durable jobs, routed to blue or green"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<RouterConfig, _, _>(
        SERVICE,
        "hop-router",
        &args.common,
        |config, shutdown| async move {
            config.own.validate()?;
            let store_path = config
                .own
                .store
                .clone()
                .unwrap_or_else(|| config.common.data_dir.join("router").join("jobs.sqlite"));
            let store = JobStore::open(&store_path).map_err(|e| e.to_string())?;
            let state_path = config.common.data_dir.join("router").join("cutover.json");
            let cutover =
                cutover::Cutover::open(&config.own.cutover, &state_path, config.own.green_percent)
                    .map_err(|e| e.to_string())?;
            let admin_token = config.own.cutover.admin_token()?;
            if admin_token.is_none() {
                tracing::warn!("no cutover.admin_token_file: every hop.v1.Admin call is refused");
            }
            if config.own.validator.is_none() {
                tracing::warn!(
                    "no validator configured: no shadow runs, dual and weighted stages only route"
                );
            }
            cutover.watch(shutdown);
            let manager = JobManager::new(config.own.clone(), store, cutover.clone())
                .map_err(|e| e.to_string())?;
            let resumed = manager.resume().map_err(|e| e.to_string())?;
            tracing::info!(store = %store_path.display(), resumed, blue = ?config.own.blue,
            green = ?config.own.green, validator = ?config.own.validator, "router configured");
            Ok(GrpcServices::new()
                .add_service(admin_service::admin_server(cutover, admin_token))
                .add_service(
                    JobsServer::new(JobsService::new(manager))
                        .max_encoding_message_size(runner::MAX_MESSAGE_BYTES),
                )
                .into())
        },
    )
    .await
}
