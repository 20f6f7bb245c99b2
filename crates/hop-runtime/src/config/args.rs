//! [`CommonArgs`]: the command-line flags every service accepts (`#[command(flatten)]` it into
//! the service's own clap parser). Values stay text here so that a bad one is reported like any
//! other layer's, naming the flag.

use std::path::PathBuf;

use super::Layer;

/// Flags shared by every service; the highest configuration layer.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file (else `HOP_CONFIG`); reads `[common]` and `[<service>]`.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// gRPC listen address, e.g. 127.0.0.1:50051 (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Prometheus /metrics listen address.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Log filter, `tracing_subscriber::EnvFilter` syntax (e.g. `info,hop_router=debug`).
    #[arg(long, value_name = "FILTER")]
    pub log_filter: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// OpenTelemetry OTLP endpoint (reserved; see the crate docs).
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// How long in-flight requests may run after shutdown starts (e.g. 10s, 500ms).
    #[arg(long, value_name = "DURATION")]
    pub shutdown_grace: Option<String>,
    /// Data directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Any other key, service-specific ones included: `--set key=value` (nested: `a.b=value`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl CommonArgs {
    /// The flag layer as (key, text value, layer) in order of application.
    pub(crate) fn entries(&self) -> Vec<(String, String, Layer)> {
        let named = [
            ("listen", &self.listen),
            ("metrics_listen", &self.metrics_listen),
            ("log_filter", &self.log_filter),
            ("log_format", &self.log_format),
            ("otlp_endpoint", &self.otlp_endpoint),
            ("shutdown_grace", &self.shutdown_grace),
            ("data_dir", &self.data_dir),
        ];
        let mut out: Vec<_> = named
            .into_iter()
            .filter_map(|(key, value)| {
                let flag = format!("--{}", key.replace('_', "-"));
                Some((key.to_owned(), value.clone()?, Layer::Flag(flag)))
            })
            .collect();
        for pair in &self.set {
            let layer = Layer::Flag(format!("--set {pair}"));
            match pair.split_once('=') {
                Some((key, value)) => out.push((key.trim().to_owned(), value.to_owned(), layer)),
                None => out.push((pair.clone(), String::new(), Layer::Flag("--set".into()))),
            }
        }
        out
    }
}
