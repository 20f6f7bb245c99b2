//! The router (`hop-router`): the public entry point for jobs, `hop.v1.Jobs`.
//!
//! Dependencies run one way, from the gRPC edge down to the store:
//!
//! - [`jobs_service`], [`admin_service`]: the gRPC edge (decoding, `tonic::Status`).
//! - [`admission`]: submit (idempotent by id and spec hash) and resume after a restart (bounded
//!   starts, interrupted comparisons picked up again).
//! - [`dual_run`]: drives a job — primary, shadow, comparison, fallback to blue, the green sample
//!   for the cut-over window — over two seams, [`dual_run::EngineRunner`] and
//!   [`dual_run::Comparator`], whose gRPC implementations are [`engine_client`] and
//!   [`validator_client`]; its rules are pure functions ([`dual_run::rules`]).
//! - [`log`]: every job's record and numbered events: the store, the live jobs, the broadcast
//!   to watchers.
//! - [`store`]: the [`store::JobStore`] trait, its embedded SQLite implementation and the
//!   PostgreSQL one that several replicas share (job leases with generation numbers); the stored
//!   record is the router's own [`record::Job`], not the wire type.
//! - [`leases`]: beside the server, renews this replica's leases, takes over the jobs of
//!   replicas that stopped, and hands this replica's jobs over when it stops.
//! - [`cutover`]: stages, weights, the safety latch and the health window; [`routing`]: the
//!   sticky hash.
//!
//! Metrics: `hop_router_jobs_total{side,outcome}`, `hop_router_job_seconds{side}`,
//! `hop_router_jobs_in_flight`, `hop_router_submits_total{duplicate}`,
//! `hop_router_fallbacks_total`, `hop_router_store_write_failures_total{what}`,
//! `hop_router_leases_lost_total`, `hop_router_jobs_claimed_total`,
//! `hop_router_jobs_released_total`, and the cut-over's ([`cutover::telemetry`]).

pub mod admin_service;
pub mod admission;
pub mod config;
pub mod cutover;
pub mod dual_run;
pub mod engine_client;
pub mod error;
pub mod jobs_service;
pub mod leases;
pub mod log;
pub mod record;
pub mod retention;
pub mod routing;
pub mod store;
pub mod validator_client;

use std::process::ExitCode;
use std::sync::Arc;

use hop_proto::v1::jobs_server::JobsServer;
use hop_runtime::config::CommonArgs;
use hop_runtime::security::CallerKind;
use hop_runtime::{Background, GrpcServices, ServicePlan, Shutdown};

use admission::Admission;
use cutover::{CutoverStore, FileStore};
use dual_run::{Comparator, DualRun};
use engine_client::GrpcEngines;
use log::{JobLog, Replica};
use store::Owner;
use validator_client::GrpcValidator;

pub use config::RouterConfig;
pub use error::RouterError;
pub use jobs_service::JobsService;
pub use store::{JobStore, PgStore, SqliteStore};

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
            let (store, cutover_store, store_name) = open_store(&config).await?;
            let cutover = cutover::Cutover::open(
                &config.own.cutover,
                cutover_store,
                config.own.green_percent,
            )
            .await
            .map_err(|e| e.to_string())?;
            let mut services = GrpcServices::new();
            match config.own.cutover.admin_token()? {
                Some(token) => services = services.accept_token(CallerKind::Admin, token),
                None if config.common.tokens_dir.is_none() => tracing::warn!(
                    "no admin token (tokens_dir or cutover.admin_token_file): every hop.v1.Admin \
                     call is refused"
                ),
                None => {}
            }
            let comparator = match &config.own.validator {
                Some(uri) => Some(
                    Arc::new(GrpcValidator::new(uri).map_err(|e| e.to_string())?)
                        as Arc<dyn Comparator>,
                ),
                None => {
                    tracing::warn!(
                        "no validator configured: no shadow runs, dual and weighted stages only \
                         route"
                    );
                    None
                }
            };
            let engines = GrpcEngines::new(&config.own).map_err(|e| e.to_string())?;
            retention::start(
                store.clone(),
                config.own.retention,
                config.own.retention_sweep,
                shutdown.clone(),
            );
            cutover.watch(shutdown.clone());
            cutover.follow(shutdown.clone());
            DualRun::describe_metrics();
            let replica = replica(&config.own, shutdown);
            let log = JobLog::new(store, replica.clone());
            let dual = Arc::new(DualRun {
                log: log.clone(),
                cutover: cutover.clone(),
                engines: Arc::new(engines),
                comparator,
                slots: tokio::sync::Semaphore::new(config.own.max_parallel_jobs),
                shadow_timeout: config.own.shadow_timeout,
            });
            let admission = Admission::new(dual, config.own.max_starts);
            let resumed = admission.claim(true).await.map_err(|e| e.to_string())?;
            tracing::info!(store = store_name, replica = replica.owner.replica,
                incarnation = replica.owner.incarnation, resumed, blue = ?config.own.blue,
                green = ?config.own.green, validator = ?config.own.validator,
                "router configured");
            let services = services
                .add_service(admin_service::admin_server(cutover))
                .add_service(
                    JobsServer::new(JobsService::new(admission.clone(), log.clone()))
                        .max_encoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES),
                );
            let handover_after = config.own.handover_after;
            let leases: Background =
                Box::new(move |_health| Box::pin(leases::keep(admission, log, handover_after)));
            Ok(ServicePlan {
                services,
                background: Some(leases),
            })
        },
    )
    .await
}

/// This replica as the job log sees it: its lease owner (a fresh incarnation per process) and
/// how its watchers follow other replicas' jobs.
fn replica(own: &RouterConfig, stopping: Shutdown) -> Replica {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Replica {
        owner: Owner {
            replica: own.replica_name(),
            incarnation: format!("{}-{:x}", std::process::id(), started.as_nanos()),
            ttl: own.lease_ttl,
        },
        watch_poll: own.watch_poll,
        stopping,
    }
}

/// The stores the configuration names: with `postgres`, that database for the jobs and the
/// cut-over state the replicas share; else SQLite for the jobs and `<data_dir>/router/cutover.json`
/// for the cut-over; and how to name the job store in logs (never with a password).
async fn open_store(
    config: &hop_runtime::LoadedConfig<RouterConfig>,
) -> Result<(Arc<dyn JobStore>, Arc<dyn CutoverStore>, String), String> {
    let own = &config.own;
    if let Some(url) = &own.postgres {
        let password = match &own.postgres_password_file {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        format!("cannot read postgres_password_file {}: {e}", file.display())
                    })?
                    .trim_end()
                    .to_owned(),
            ),
            None => None,
        };
        let store = PgStore::connect(url, password.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let name = store.target().to_owned();
        let store = Arc::new(store);
        return Ok((store.clone(), store, name));
    }
    let path = own
        .store
        .clone()
        .unwrap_or_else(|| config.common.data_dir.join("router").join("jobs.sqlite"));
    let store = SqliteStore::open(&path).map_err(|e| e.to_string())?;
    let state_path = config.common.data_dir.join("router").join("cutover.json");
    Ok((
        Arc::new(store),
        Arc::new(FileStore::new(state_path)),
        path.display().to_string(),
    ))
}
