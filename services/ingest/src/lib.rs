//! The ingest service (`hop-ingest`): legacy CSV -> validated Arrow -> Parquet, in a
//! content-addressed cache, served over gRPC.
//!
//! One gRPC server hosts:
//! - `hop.v1.Ingest` ([`ingest_service`]): `Import` a CSV into the cache, `Stat` a dataset;
//! - `arrow.flight.protocol.FlightService` ([`flight_service`]): `DoGet` streams a dataset's
//!   strategy-major batches, `DoPut` accepts a dataset from an internal client,
//!   `GetFlightInfo`/`ListFlights` describe the cache;
//! - health, reflection (for `hop.v1`; arrow-flight ships no encoded descriptor set, so Flight is
//!   not described by reflection) and `/metrics`, from `hop-runtime`.
//!
//! Configuration: the common keys of `hop_runtime::ServiceConfig` plus [`IngestConfig`].

pub mod cache;
pub mod config;
pub mod error;
pub mod flight_service;
mod import;
pub mod ingest_service;

use std::process::ExitCode;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use hop_proto::v1::ingest_server::IngestServer;
use hop_runtime::config::CommonArgs;
use hop_runtime::{GrpcServices, InputFiles};

pub use cache::DatasetCache;
pub use config::IngestConfig;
pub use error::IngestError;

/// The service name (config section, env prefix, ready line).
pub const SERVICE: &str = "ingest";

/// Command-line flags: the common ones (service keys through `--set key=value`).
#[derive(Debug, clap::Parser)]
#[command(
    name = "hop-ingest",
    version,
    about = "Heavy Optimizer ingest service: CSV -> Arrow -> Parquet, Arrow Flight"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The service state shared by the Ingest and Flight handlers.
#[derive(Debug)]
pub struct Ingest {
    /// The Parquet cache.
    pub cache: DatasetCache,
    /// Where imported CSVs may be read from (`input_root`) and their size limit (`max_csv_bytes`).
    pub input: InputFiles,
    /// IPC buffer compression of `DoGet` streams.
    pub flight_compression: config::FlightCompression,
}

impl Ingest {
    /// Opens the cache and canonicalizes the input root.
    pub fn new(config: &IngestConfig, data_dir: &std::path::Path) -> Result<Self, String> {
        let cache_dir = config.cache_dir(data_dir);
        let cache = DatasetCache::open(&cache_dir).map_err(|e| {
            format!(
                "cannot create the cache directory {}: {e}",
                cache_dir.display()
            )
        })?;
        let input = InputFiles::new(config.input_root.as_deref(), config.max_csv_bytes)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            cache,
            input,
            flight_compression: config.flight_compression,
        })
    }

    /// The gRPC services of this state: `hop.v1.Ingest` and the Flight service.
    pub fn grpc_services(self: &Arc<Self>) -> GrpcServices {
        let flight = FlightServiceServer::new(flight_service::Flight::new(self.clone()))
            .max_decoding_message_size(hop_proto::limits::MAX_FLIGHT_MESSAGE_BYTES)
            .max_encoding_message_size(hop_proto::limits::MAX_FLIGHT_MESSAGE_BYTES);
        GrpcServices::new()
            .add_service(IngestServer::new(ingest_service::IngestHandler::new(
                self.clone(),
            )))
            .add_service(flight)
    }
}

/// Runs the service until SIGINT/SIGTERM and its drain; the exit code says how it went.
pub async fn run(args: Args) -> ExitCode {
    hop_runtime::service_main::<IngestConfig, _, _>(SERVICE, "hop-ingest", &args.common, |config, _| async move {
        let ingest = Arc::new(Ingest::new(&config.own, &config.common.data_dir)?);
        ingest.input.check_listen(config.common.listen).map_err(|e| e.to_string())?;
        tracing::info!(cache_dir = %ingest.cache.dir().display(),
            input_root = ?ingest.input.root(), max_csv_bytes = ingest.input.max_bytes(), "ingest configured");
        ingest_service::register_metrics();
        Ok(ingest.grpc_services().into())
    })
    .await
}
