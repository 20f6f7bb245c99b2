//! The share bridge (`hop-bridge`): the legacy job protocol on the Samba share (SPEC 3) in front of
//! the router's `hop.v1.Jobs` service.
//!
//! Analysts' Windows launchers drop job files in `<share>/jobs/queue/`. The bridge polls the
//! queue ([`watcher`], [`poller`]), waits until a file is complete ([`sightings`], [`decode`]),
//! claims it atomically into `jobs/processing/` under an exclusive lock ([`claim`], [`lock`]),
//! validates it ([`job_file`], [`job_options`], [`input_path`]), runs it on the router
//! ([`router`]: Submit, Watch, Get, riding out router restarts), writes the run folder
//! ([`run_folder`], through `hop_report`) and finally `jobs/completed/<job>.json` or
//! `jobs/failed/<job>.json` ([`finish`]). A job is never lost and never run twice: a bridge that
//! dies leaves its job in `processing/` with a free lock, and the next poll of any bridge resumes
//! it (Submit is idempotent on the router).
//!
//! The service hosts no gRPC API of its own: health (NOT_SERVING while the share cannot be read),
//! reflection and `/metrics` ([`metrics`]) from `hop-runtime`. Configuration: the common keys of
//! `hop_runtime::ServiceConfig` plus [`BridgeConfig`] (`[bridge]`).

pub mod claim;
pub mod config;
pub mod decode;
pub mod error;
pub mod finish;
pub mod input_path;
pub mod job;
pub mod job_file;
pub mod job_options;
pub mod lock;
pub mod metrics;
pub mod poller;
pub mod router;
pub mod run_folder;
pub mod share;
pub mod sightings;
pub mod watcher;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hop_runtime::config::CommonArgs;
use hop_runtime::{Background, GrpcServices, ServicePlan, Shutdown};

pub use config::BridgeConfig;
pub use error::BridgeError;

/// The service name (config section, env prefix, ready line).
pub const SERVICE: &str = "bridge";

/// Unfinished run folders (`output/.run_*.partial-*`) older than this, left by a bridge killed
/// while writing, are removed at start.
const STALE_PARTIAL_AGE: Duration = Duration::from_secs(3600);

/// Command-line flags: the common ones (service keys through `--set key=value`).
#[derive(Debug, clap::Parser)]
#[command(
    name = "hop-bridge",
    version,
    about = "Heavy Optimizer share bridge: job files on the share in, run folders out"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<BridgeConfig, _, _>(SERVICE, "hop-bridge", &args.common, plan).await
}

/// Opens the share and the router client; the share watcher runs beside the (health-only) gRPC
/// server and reports through its health.
async fn plan(
    config: hop_runtime::LoadedConfig<BridgeConfig>,
    shutdown: Shutdown,
) -> Result<ServicePlan, String> {
    let (share_root, router_uri) = config.own.required().map_err(|e| e.to_string())?;
    let share = share::Share::open(&share_root).map_err(|e| e.to_string())?;
    let router = router::Router::new(&router_uri).map_err(|e| e.to_string())?;
    let csv_root = config
        .own
        .csv_root
        .clone()
        .unwrap_or_else(|| share.input.display().to_string());
    match hop_report::remove_stale_partials(&share.output, STALE_PARTIAL_AGE) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            removed = n,
            "removed unfinished run folders of earlier runs"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot look for unfinished run folders"),
    }
    tracing::info!(share = %share.root.display(), router = router_uri, csv_root,
        poll_interval = ?config.own.poll_interval, settle = ?config.own.settle,
        max_parallel_jobs = config.own.max_parallel_jobs, "bridge configured");
    metrics::register();
    let grace = config.common.shutdown_grace;
    let ctx = Arc::new(job::Context {
        share,
        router,
        config: config.own,
        csv_root,
    });
    let background: Background = Box::new(move |health| {
        Box::pin(async move {
            watcher::Watcher::new(ctx, health, shutdown, grace)
                .run()
                .await;
            Ok(())
        })
    });
    Ok(ServicePlan {
        services: GrpcServices::new(),
        background: Some(background),
    })
}
