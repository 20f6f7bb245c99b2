//! Where a job's strategy matrix comes from.
//!
//! - `dataset_id`: Arrow Flight `DoGet` from the ingest service (ticket = the prost encoding of
//!   `hop.v1.FlightTicket`), reassembled with `hop_columnar::from_batches`.
//! - `csv_path` with `ingest` configured: `Ingest.Import` first (so the dataset lands in the
//!   Parquet cache and the CSV is validated once, by ingest), then `DoGet` of the returned id.
//! - `csv_path` without `ingest` configured (**local fallback**): the file is read and parsed by
//!   this service with `hop_engine::read_csv` (`hop_core::csv::parse_csv`, the parser ingest uses), so the matrix is
//!   bit-identical either way. This keeps a single-machine setup (and tests) working without
//!   ingest; paths are then as this service sees them, confined to its `input_root` and
//!   `max_csv_bytes` ([`hop_runtime::InputFiles`]).

use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::{StreamExt, TryStreamExt};
use hop_core::PnlMatrix;
use hop_proto::v1::ingest_client::IngestClient;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{FlightTicket, ImportRequest};
use hop_runtime::InputFiles;
use hop_runtime::client::ServiceChannel;
use prost::Message;

use hop_engine::JobError;

/// Loads the matrix a job names.
pub async fn load_matrix(
    input: Option<&Input>,
    ingest: Option<&str>,
    files: &InputFiles,
) -> Result<PnlMatrix, JobError> {
    match (input, ingest) {
        (None, _) => Err(JobError::invalid_input(
            "the job names no input: set csv_path or dataset_id",
        )),
        (Some(Input::DatasetId(id)), Some(uri)) => fetch(&connect(uri).await?, id).await,
        (Some(Input::DatasetId(id)), None) => Err(JobError::unavailable(format!(
            "dataset {id} can only be fetched from the ingest service, and this compute service \
             has none configured (set `ingest` in its [compute] section)"
        ))),
        (Some(Input::CsvPath(path)), Some(uri)) => {
            let channel = connect(uri).await?;
            let reply = IngestClient::new(channel.clone())
                .import(ImportRequest {
                    csv_path: path.clone(),
                })
                .await
                .map_err(|s| JobError::from_upstream(&format!("cannot import {path}"), &s))?
                .into_inner();
            fetch(&channel, &reply.dataset_id).await
        }
        (Some(Input::CsvPath(path)), None) => hop_engine::read_csv_blocking(path, files).await,
    }
}

async fn connect(uri: &str) -> Result<ServiceChannel, JobError> {
    hop_runtime::client::connect(uri).await.map_err(|e| {
        JobError::unavailable(format!("cannot reach the ingest service at {uri}: {e}"))
    })
}

/// `DoGet` of a whole dataset, reassembled into a matrix.
async fn fetch(channel: &ServiceChannel, dataset_id: &str) -> Result<PnlMatrix, JobError> {
    let what = format!("cannot fetch dataset {dataset_id}");
    let mut client = FlightServiceClient::new(channel.clone())
        .max_decoding_message_size(hop_proto::limits::MAX_FLIGHT_MESSAGE_BYTES);
    let ticket = FlightTicket {
        dataset_id: dataset_id.to_owned(),
        first_strategy: None,
        strategy_count: None,
    };
    let response = client
        .do_get(Ticket::new(ticket.encode_to_vec()))
        .await
        .map_err(|s| JobError::from_upstream(&what, &s))?
        .into_inner();
    let mut stream =
        FlightRecordBatchStream::new_from_flight_data(response.map_err(FlightError::from));
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| match e {
            FlightError::Tonic(status) => JobError::from_upstream(&what, &status),
            other => JobError::internal(format!("{what}: {other}")),
        })?;
        batches.push(batch);
    }
    let schema = stream
        .schema()
        .cloned()
        .ok_or_else(|| JobError::internal(format!("{what}: the Flight stream had no schema")))?;
    hop_columnar::from_batches(&schema, &batches)
        .map_err(|e| JobError::internal(format!("{what}: {e}")))
}
