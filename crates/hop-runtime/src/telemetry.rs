//! Structured logs: `tracing-subscriber` fmt (text or JSON) with an env-filter from the config.
//!
//! OpenTelemetry OTLP trace export is not wired yet (it would add `opentelemetry`,
//! `opentelemetry_sdk`, `opentelemetry-otlp` and `tracing-opentelemetry`): `otlp_endpoint` is
//! accepted and reported here, and a `tracing_opentelemetry` layer belongs in
//! [`init_tracing`]'s registry next to the fmt layer.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::RuntimeError;
use crate::config::{LogFormat, ServiceConfig};

/// Installs the global logger for `service` from `config.log_filter` and `config.log_format`.
///
/// Returns `Ok(false)` when a global subscriber was already installed (e.g. a second call in
/// tests); a bad filter is a [`RuntimeError::Telemetry`].
pub fn init_tracing(service: &str, config: &ServiceConfig) -> Result<bool, RuntimeError> {
    // The metrics recorder too, so that what a service registers before `launch` is kept.
    crate::metrics::install_recorder();
    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| RuntimeError::Telemetry(format!("log_filter `{}`: {e}", config.log_filter)))?;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match config.log_format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    }
    .is_ok();
    if installed {
        tracing::info!(
            service,
            version = env!("CARGO_PKG_VERSION"),
            otlp_endpoint = config.otlp_endpoint.as_deref().unwrap_or("none"),
            "logging initialised"
        );
        if config.otlp_endpoint.is_some() {
            tracing::warn!("otlp_endpoint is set but OTLP trace export is not implemented yet");
        }
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_call_is_harmless_and_bad_filter_fails() {
        let config = ServiceConfig::default();
        let _ = init_tracing("test", &config).unwrap();
        assert!(!init_tracing("test", &config).unwrap());
        let bad = ServiceConfig {
            log_filter: "info,[=".into(),
            ..ServiceConfig::default()
        };
        let err = init_tracing("test", &bad).unwrap_err();
        assert_eq!(err.code(), "TELEMETRY_INIT_FAILED");
    }
}
