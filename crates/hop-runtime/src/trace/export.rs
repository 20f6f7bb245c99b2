//! The OTLP span exporter.
//!
//! OpenTelemetry's batch processor exports from its own OS thread, but the tonic exporter needs a
//! Tokio reactor: [`OnOwnRuntime`] gives the exporter a one-thread runtime of its own, so export
//! never depends on the service's runtime (and never panics with "no reactor running").

use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData,
};

use crate::RuntimeError;

/// How often finished spans are exported (jobs are few and long: a short delay keeps traces
/// visible within a second without costing anything).
const EXPORT_DELAY: Duration = Duration::from_millis(500);
/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider in force, flushed by [`shutdown`].
static PROVIDER: Mutex<Option<SdkTracerProvider>> = Mutex::new(None);

/// Builds the exporter to `endpoint` (e.g. `http://otel-collector:4317`) and returns the tracer
/// that the `tracing-opentelemetry` layer records into.
pub(crate) fn install(
    service: &str,
    endpoint: &str,
) -> Result<opentelemetry_sdk::trace::SdkTracer, RuntimeError> {
    use opentelemetry::trace::TracerProvider as _;
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        RuntimeError::Telemetry(format!("otlp_endpoint `{endpoint}`: {what}: {e}"))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("hop-otlp-export")
        .enable_all()
        .build()
        .map_err(|e| failed("cannot start the export runtime", &e))?;
    let exporter = {
        // The tonic channel is created lazily but registers with the reactor it is built in.
        let _entered = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| failed("cannot build the exporter", &e))?
    };
    let processor = BatchSpanProcessor::builder(OnOwnRuntime {
        inner: exporter,
        runtime: Some(runtime),
    })
    .with_batch_config(
        BatchConfigBuilder::default()
            .with_scheduled_delay(EXPORT_DELAY)
            .build(),
    )
    .build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(format!("hop-{service}"))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer(format!("hop-{service}"));
    if let Ok(mut slot) = PROVIDER.lock() {
        *slot = Some(provider);
    }
    Ok(tracer)
}

/// Exports what is still buffered and stops the exporter; a no-op without OTLP. Called when a
/// service stops, so the spans of its last requests are not lost.
pub(crate) fn shutdown() {
    let provider = PROVIDER.lock().ok().and_then(|mut slot| slot.take());
    if let Some(provider) = provider
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!(error = %e, "OTLP trace export did not flush cleanly");
    }
}

/// A span exporter run to completion on its own runtime.
#[derive(Debug)]
struct OnOwnRuntime {
    inner: opentelemetry_otlp::SpanExporter,
    runtime: Option<tokio::runtime::Runtime>,
}

impl opentelemetry_sdk::trace::SpanExporter for OnOwnRuntime {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let result = match &self.runtime {
            Some(runtime) => runtime.block_on(self.inner.export(batch)),
            None => Ok(()),
        };
        std::future::ready(result)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl Drop for OnOwnRuntime {
    fn drop(&mut self) {
        // Dropping a runtime inside an async context panics; this never blocks.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
