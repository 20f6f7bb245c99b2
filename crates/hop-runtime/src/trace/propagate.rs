//! W3C trace context across gRPC: extracted from each incoming request's headers into the
//! request's span, injected from the caller's span into each outgoing request's metadata.

use opentelemetry::propagation::{Extractor, Injector};
use tonic::codegen::http;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of one incoming gRPC request (`otel.name` is the RPC path), a child of the caller's
/// span when the request carries a `traceparent`. Health checks and reflection get none: probes
/// every few seconds would bury the jobs' traces.
pub fn server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "grpc.request",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    // Fails only when no OpenTelemetry layer is installed (no OTLP): nothing to link then.
    let _ = span.set_parent(parent);
    span
}

/// Adds the current span's `traceparent` (and `tracestate`) to each request.
#[derive(Debug, Clone, Copy, Default)]
pub struct InjectContext;

impl Interceptor for InjectContext {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
        });
        Ok(request)
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing_subscriber::layer::SubscriberExt;

    /// A span's context injected by a client is the parent the server extracts.
    #[test]
    fn context_survives_inject_and_extract() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let caller = tracing::info_span!("caller");
            let sent = caller.in_scope(|| {
                InjectContext
                    .call(tonic::Request::new(()))
                    .expect("inject never fails")
            });
            let traceparent = sent
                .metadata()
                .get("traceparent")
                .expect("a traceparent header")
                .to_str()
                .expect("ascii")
                .to_owned();
            let caller_trace = caller.context().span().span_context().trace_id();
            assert!(
                traceparent.contains(&caller_trace.to_string()),
                "{traceparent}"
            );

            let request = http::Request::builder()
                .uri("/hop.v1.Jobs/Submit")
                .header("traceparent", &traceparent)
                .body(())
                .expect("a request");
            let server = server_span(&request);
            assert_eq!(
                server.context().span().span_context().trace_id(),
                caller_trace,
                "the server span joins the caller's trace"
            );
        });
    }
}
