//! Shared plumbing for the Heavy Optimizer services, so that each service's `main.rs` only
//! launches:
//!
//! - [`atomic_file`]: files that readers see whole or not at all (temporary file, sync, rename).
//! - [`client`]: outgoing channels with keepalives and trace context.
//! - [`config`]: layered configuration (defaults < TOML file < `HOP_<SERVICE>_<KEY>` env < flags).
//! - [`input_file`]: client-named input files confined to a root and a size limit.
//! - [`telemetry`]: structured logs (text or JSON) with an env-filter.
//! - [`metrics`]: a Prometheus `GET /metrics` endpoint and process metrics.
//! - [`security`]: mutual TLS, caller tokens and the policy of who may call what.
//! - [`server`]: a tonic server with `grpc.health.v1`, reflection and graceful shutdown.
//! - [`shutdown`]: a [`Shutdown`] handle triggered by SIGINT/SIGTERM or programmatically.
//! - [`ready`]: the `HOP_READY ...` line that tells launchers and tests where a service listens.
//! - [`launch`]: metrics + gRPC + ready line in one call, for `main.rs`.
//! - [`process`]: start a service binary and read its ready line (launchers, tests).
//! - [`trace`]: OTLP trace export and W3C trace context across every gRPC call, so one job is one
//!   trace across the services.

pub mod atomic_file;
pub mod client;
pub mod config;
mod error;
pub mod input_file;
mod launch;
pub mod metrics;
pub mod process;
pub mod ready;
pub mod security;
pub mod server;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;

pub use config::{CommonArgs, ConfigSource, LoadedConfig, ServiceConfig};
pub use error::RuntimeError;
pub use input_file::InputFiles;
pub use launch::{Background, Launched, ServicePlan, launch, service_main};
pub use server::{BoundServer, GrpcServices, serve_grpc};
pub use shutdown::Shutdown;
