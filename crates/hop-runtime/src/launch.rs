//! [`launch`]: everything a service's `main.rs` needs after loading its config and logging —
//! the `/metrics` endpoint, the gRPC server, and the ready line.
//!
//! ```no_run
//! # async fn example() -> Result<(), hop_runtime::RuntimeError> {
//! use hop_runtime::config::{self, CommonArgs, NoOwnConfig, OsSource};
//! use hop_runtime::{GrpcServices, Shutdown};
//!
//! let args = CommonArgs::default(); // in a real main: `#[command(flatten)]` in the clap parser
//! let config = config::load::<NoOwnConfig>("ingest", &args, &OsSource)?;
//! hop_runtime::telemetry::init_tracing("ingest", &config.common)?;
//! let shutdown = Shutdown::new();
//! shutdown.trigger_on_signals();
//! let services = GrpcServices::new(); // .add_service(IngestServer::new(...))
//! hop_runtime::launch("ingest", &config.common, services, shutdown).await?.wait().await
//! # }
//! ```

use std::net::SocketAddr;

use tokio::task::JoinHandle;

use crate::server::{BoundServer, GrpcServices, serve_grpc};
use crate::{RuntimeError, ServiceConfig, Shutdown, metrics, ready};

/// A launched service.
#[derive(Debug)]
pub struct Launched {
    /// The gRPC server (its address and health reporter).
    pub grpc: BoundServer,
    /// Where `/metrics` listens.
    pub metrics_addr: SocketAddr,
    metrics_task: JoinHandle<()>,
}

impl Launched {
    /// Waits until shutdown has fired and the gRPC server has drained.
    pub async fn wait(self) -> Result<(), RuntimeError> {
        let result = self.grpc.wait().await;
        let _ = self.metrics_task.await;
        result
    }
}

/// Starts `/metrics` on `config.metrics_listen` and `services` on `config.listen`, then prints
/// `HOP_READY service=<service> grpc=<addr> metrics=<addr>` on stdout.
pub async fn launch(
    service: &str,
    config: &ServiceConfig,
    services: GrpcServices,
    shutdown: Shutdown,
) -> Result<Launched, RuntimeError> {
    let (metrics_addr, metrics_task) =
        metrics::serve_metrics(config.metrics_listen, shutdown.clone()).await?;
    ::metrics::gauge!("hop_service_info", "service" => service.to_owned(),
        "version" => env!("CARGO_PKG_VERSION"))
    .set(1.0);
    let grpc = serve_grpc(services, config, shutdown).await?;
    let mut addresses = vec![("grpc", grpc.local_addr), ("metrics", metrics_addr)];
    addresses.extend(grpc.health_addr.map(|addr| ("health", addr)));
    ready::print_ready(service, &addresses);
    Ok(Launched {
        grpc,
        metrics_addr,
        metrics_task,
    })
}

/// Work a service runs beside its gRPC server once it listens (e.g. the bridge's share watcher),
/// given the server's health reporter; the service ends when both the server and this are done.
pub type Background = Box<
    dyn FnOnce(
            tonic_health::server::HealthReporter,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send,
>;

/// What a service runs: its gRPC services and, optionally, [`Background`] work.
pub struct ServicePlan {
    pub services: GrpcServices,
    pub background: Option<Background>,
}

impl std::fmt::Debug for ServicePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicePlan")
            .field("services", &self.services)
            .field("background", &self.background.is_some())
            .finish()
    }
}

impl From<GrpcServices> for ServicePlan {
    fn from(services: GrpcServices) -> Self {
        Self {
            services,
            background: None,
        }
    }
}

/// The whole life of a service binary, so that each service only says what it serves: loads
/// `service`'s configuration (own section `T`) from the OS layers, starts logging and the metrics
/// recorder, installs the outgoing calls' TLS and token ([`crate::client::ClientSecurity`]),
/// calls `build` with the configuration and the [`Shutdown`] handle (wired to SIGINT/SIGTERM) to
/// get its [`ServicePlan`], launches the gRPC services, runs the background work beside them,
/// and waits for both. Any error is printed as `<binary>: <error>` and gives a
/// failure exit code.
pub async fn service_main<T, F, Fut>(
    service: &str,
    binary: &str,
    args: &crate::config::CommonArgs,
    build: F,
) -> std::process::ExitCode
where
    T: serde::de::DeserializeOwned + Default,
    F: FnOnce(crate::LoadedConfig<T>, Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<ServicePlan, String>>,
{
    let outcome = async {
        let config = crate::config::load::<T>(service, args, &crate::config::OsSource)
            .map_err(|e| e.to_string())?;
        crate::telemetry::init_tracing(service, &config.common).map_err(|e| e.to_string())?;
        crate::client::ClientSecurity::from_config(&config.common)
            .map_err(|e| e.to_string())?
            .install();
        let common = config.common.clone();
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signals();
        let plan = build(config, shutdown.clone()).await?;
        let launched = launch(service, &common, plan.services, shutdown)
            .await
            .map_err(|e| e.to_string())?;
        let background = plan
            .background
            .map(|work| tokio::spawn(work(launched.grpc.health.clone())));
        launched.wait().await.map_err(|e| e.to_string())?;
        match background {
            Some(task) => task
                .await
                .map_err(|e| format!("the background work stopped: {e}"))?,
            None => Ok(()),
        }
    }
    .await;
    crate::telemetry::shutdown_tracing();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{binary}: {e}");
            tracing::error!(error = %e, "{binary} failed");
            std::process::ExitCode::FAILURE
        }
    }
}
