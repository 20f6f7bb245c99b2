//! Distributed traces: OTLP export when `otlp_endpoint` is configured, and W3C trace context
//! (`traceparent`) carried through every gRPC call and Flight stream, so that one job is one
//! trace from the share bridge through the router to the engines, ingest and the validator.
//!
//! - [`export`]: the OTLP/gRPC span exporter behind a batch processor, and its flush on exit.
//! - [`propagate`]: the server side ([`server_span`], used by [`crate::serve_grpc`] for every
//!   request) and the client side ([`InjectContext`], which every channel of [`crate::client`]
//!   runs, so that each call carries the caller's span context).

mod export;
mod propagate;

pub(crate) use export::{install, shutdown};
pub use propagate::{InjectContext, server_span};
