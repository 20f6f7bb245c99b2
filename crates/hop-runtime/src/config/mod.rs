//! Layered configuration: built-in defaults < TOML file < environment < command-line flags.
//!
//! - **File** (`--config PATH`, else `HOP_CONFIG`): `[common]` applies to every service and
//!   `[<service>]` (e.g. `[ingest]`) to one, overriding `[common]`; other services' tables are
//!   ignored, so one file can configure all six services. Top-level plain values are rejected.
//! - **Environment**: `HOP_<SERVICE>_<KEY>` (service upper-cased, `-` -> `_`), e.g.
//!   `HOP_INGEST_LISTEN=127.0.0.1:50051`; `__` nests (`HOP_INGEST_FLIGHT__LISTEN` is
//!   `flight.listen`). A value is read as a TOML value when it is one (`4`, `true`, `["a"]`) and
//!   as text otherwise, or when the typed reading does not fit the field.
//! - **Flags**: [`CommonArgs`] (`--listen`, ... and `--set key=value` for any key).
//!
//! The keys of [`ServiceConfig`] are shared by every service; every other key belongs to the
//! service's own section type `T` (give it `#[serde(default, deny_unknown_fields)]` so typos are
//! caught). A bad value's error names the key and the layer that supplied it.

mod args;
pub mod duration;
mod layers;
mod source;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use args::CommonArgs;
pub use source::{ConfigSource, MapSource, OsSource};

use crate::RuntimeError;

/// Settings every service has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// gRPC listen address; loopback and any free port by default.
    pub listen: SocketAddr,
    /// Prometheus `/metrics` listen address; loopback and any free port by default.
    pub metrics_listen: SocketAddr,
    /// OpenTelemetry OTLP endpoint (reserved: trace export is not wired yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `tracing_subscriber::EnvFilter` directives.
    pub log_filter: String,
    /// Human-readable text or one JSON object per line.
    pub log_format: LogFormat,
    /// How long in-flight requests may run once shutdown starts.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// How long the server keeps one client connection (`0s`, the default: no limit): then it
    /// asks the client (HTTP/2 GOAWAY) to open a new one for its next calls, while calls in
    /// flight (a job's event stream) run to their end, so that clients balanced over several
    /// replicas spread onto replicas added later. A call sent just as the old connection closes
    /// fails with `CANCELLED` and is safe to send again (it never reached the server): set it
    /// only where the callers retry that (the engines: the router does).
    #[serde(with = "duration")]
    pub max_connection_age: Duration,
    /// Where the service keeps its files.
    pub data_dir: PathBuf,
    /// This service's TLS certificate chain (PEM). With `tls_key` and `tls_ca`: the server
    /// serves mutual TLS (client certificates signed by `tls_ca` required) and its clients use
    /// `https://`, verify servers against `tls_ca` and present this certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// The CA (PEM) that signs every service's and client's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// The folder of the caller tokens this server accepts: one file per kind (`bridge`,
    /// `client`, `service`, `admin`). Unset: callers are not identified (loopback only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_dir: Option<PathBuf>,
    /// The file of the token this service sends on its own calls (router -> engines, engines ->
    /// ingest: the `service` token; the bridge: the `bridge` token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Allows plaintext gRPC beyond loopback (debugging only; logged as a warning).
    pub insecure_plaintext: bool,
    /// A second, plaintext listener serving `grpc.health.v1` only (the same statuses), for
    /// probes that cannot do TLS (the kubelet's gRPC probes). Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_listen: Option<SocketAddr>,
}

impl ServiceConfig {
    /// The keys owned by this struct (all other keys go to the service's own section).
    pub const KEYS: &'static [&'static str] = &[
        "listen",
        "metrics_listen",
        "otlp_endpoint",
        "log_filter",
        "log_format",
        "shutdown_grace",
        "max_connection_age",
        "data_dir",
        "tls_cert",
        "tls_key",
        "tls_ca",
        "tokens_dir",
        "token_file",
        "insecure_plaintext",
        "health_listen",
    ];
}

impl Default for ServiceConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self {
            listen: loopback,
            metrics_listen: loopback,
            otlp_endpoint: None,
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            shutdown_grace: Duration::from_secs(10),
            max_connection_age: Duration::ZERO,
            data_dir: PathBuf::from("data"),
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            tokens_dir: None,
            token_file: None,
            insecure_plaintext: false,
            health_listen: None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A service's own configuration section when it has none: rejects every extra key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOwnConfig {}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// Built-in defaults.
    Default,
    /// The TOML file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// A command-line flag (as written).
    Flag(String),
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => write!(f, "built-in defaults"),
            Self::File(path) => write!(f, "config file {}", path.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Flag(flag) => write!(f, "command-line flag {flag}"),
        }
    }
}

/// The effective configuration of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig<T> {
    /// The shared settings.
    pub common: ServiceConfig,
    /// The service's own section.
    pub own: T,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// Loads `service`'s configuration with [`ServiceConfig::default`] as the built-in defaults.
pub fn load<T: DeserializeOwned + Default>(
    service: &str,
    args: &CommonArgs,
    source: &dyn ConfigSource,
) -> Result<LoadedConfig<T>, RuntimeError> {
    load_with_defaults(service, ServiceConfig::default(), args, source)
}

/// Loads `service`'s configuration over service-specific built-in defaults (e.g. a well-known
/// port).
pub fn load_with_defaults<T: DeserializeOwned + Default>(
    service: &str,
    defaults: ServiceConfig,
    args: &CommonArgs,
    source: &dyn ConfigSource,
) -> Result<LoadedConfig<T>, RuntimeError> {
    layers::load(service, defaults, args, source)
}
