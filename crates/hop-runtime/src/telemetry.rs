//! Structured logs (`tracing-subscriber` fmt, text or JSON, with an env-filter from the config)
//! and, when `otlp_endpoint` is set, the same spans exported as OpenTelemetry traces over OTLP
//! (see [`crate::trace`]).

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::RuntimeError;
use crate::config::{LogFormat, ServiceConfig};

/// Installs the global logger for `service` from `config.log_filter` and `config.log_format`,
/// the W3C trace-context propagator, and the OTLP trace exporter when `config.otlp_endpoint` is
/// set.
///
/// Returns `Ok(false)` when a global subscriber was already installed (e.g. a second call in
/// tests); a bad filter or endpoint is a [`RuntimeError::Telemetry`].
pub fn init_tracing(service: &str, config: &ServiceConfig) -> Result<bool, RuntimeError> {
    // The metrics recorder too, so that what a service registers before `launch` is kept.
    crate::metrics::install_recorder();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| RuntimeError::Telemetry(format!("log_filter `{}`: {e}", config.log_filter)))?;
    // Per-layer filters: `log_filter` governs the logs only, so that quiet logs (`warn`) still
    // export the request and job spans, which are at INFO.
    let otlp = match config.otlp_endpoint.as_deref() {
        Some(endpoint) => Some(
            tracing_opentelemetry::layer()
                .with_tracer(crate::trace::install(service, endpoint)?)
                .with_filter(LevelFilter::INFO),
        ),
        None => None,
    };
    let registry = tracing_subscriber::registry().with(otlp);
    let installed = match config.log_format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
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
    }
    Ok(installed)
}

/// Flushes and stops trace export (a no-op without OTLP); the last thing a service does.
pub fn shutdown_tracing() {
    crate::trace::shutdown();
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
        let bad_endpoint = ServiceConfig {
            otlp_endpoint: Some("not a uri".into()),
            ..ServiceConfig::default()
        };
        let err = init_tracing("test", &bad_endpoint).unwrap_err();
        assert_eq!(err.code(), "TELEMETRY_INIT_FAILED");
        assert!(err.to_string().contains("not a uri"), "{err}");
    }
}
