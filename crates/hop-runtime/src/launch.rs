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
    ready::print_ready(
        service,
        &[("grpc", grpc.local_addr), ("metrics", metrics_addr)],
    );
    Ok(Launched {
        grpc,
        metrics_addr,
        metrics_task,
    })
}
