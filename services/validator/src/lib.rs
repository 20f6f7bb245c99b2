//! The validator service (`hop-validator`): compares a blue and a green result of the same job
//! metric by metric and records every comparison and mismatch durably.
//!
//! One gRPC server hosts `hop.v1.Validator` ([`handler`]) plus health, reflection and `/metrics`
//! from `hop-runtime`:
//! - `Compare` checks the request ([`ValidatorError`]), compares the two results
//!   ([`compare::compare`], under the rules of [`difference`]), records the comparison in the
//!   SQLite [`store`] and only then replies;
//! - `ListComparisons` reads the history back, newest first.
//!
//! Configuration: the common keys of `hop_runtime::ServiceConfig` plus [`ValidatorConfig`]
//! (`[validator]`: `tolerance`, `store`). A bad default tolerance or an unusable store path stops
//! the service at start with a message naming it.
//!
//! Metrics: `hop_validator_comparisons_total{outcome="matched"|"mismatched"}`,
//! `hop_validator_mismatched_fields_total`, the `hop_validator_max_relative_difference` gauge and
//! the `hop_validator_relative_difference` distribution ([`handler::register_metrics`]).

pub mod compare;
pub mod config;
pub mod difference;
pub mod error;
pub mod handler;
pub mod store;

use std::process::ExitCode;
use std::sync::Arc;

use hop_proto::v1::validator_server::ValidatorServer;
use hop_runtime::GrpcServices;
use hop_runtime::config::CommonArgs;

pub use compare::Comparison;
pub use config::ValidatorConfig;
pub use difference::Tolerance;
pub use error::ValidatorError;
pub use handler::ValidatorHandler;
pub use store::ComparisonStore;

/// The service name (config section, env prefix, ready line).
pub const SERVICE: &str = "validator";

/// Command-line flags: the common ones (service keys through `--set key=value`).
#[derive(Debug, clap::Parser)]
#[command(
    name = "hop-validator",
    version,
    about = "Heavy Optimizer validator: compares blue and green results and records every mismatch"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The gRPC services of the validator.
pub fn grpc_services(handler: ValidatorHandler) -> GrpcServices {
    GrpcServices::new().add_service(
        ValidatorServer::new(handler)
            .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES),
    )
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<ValidatorConfig, _, _>(
        SERVICE,
        "hop-validator",
        &args.common,
        |config, _| async move {
            let tolerance = config
                .own
                .default_tolerance()
                .map_err(|e| format!("[validator] {e}"))?;
            let path = config.own.store_path(&config.common.data_dir);
            let store = tokio::task::spawn_blocking(move || ComparisonStore::open(&path))
                .await
                .map_err(|e| format!("opening the comparison store stopped: {e}"))?
                .map_err(|e| e.to_string())?;
            tracing::info!(store = %store.path().display(), tolerance = tolerance.relative(),
            "validator configured");
            handler::register_metrics();
            let handler = ValidatorHandler::new(Arc::new(store), tolerance);
            Ok(grpc_services(handler).into())
        },
    )
    .await
}
