//! Starts the real `hop-ingest` binary on loopback port 0 (`hop_runtime::testing`).

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::Path;

use arrow::array::RecordBatch;
use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::{StreamExt, TryStreamExt};
use hop_core::PnlMatrix;
use hop_proto::v1::FlightTicket;
use hop_proto::v1::ingest_client::IngestClient;
use hop_runtime::testing::ServiceProcess;
use prost::Message;
use tonic::transport::Channel;

pub const FIXTURE: &str = "sensex_2500x82.csv";

/// A running `hop-ingest` (killed when dropped), with clients for its services.
pub struct Server(ServiceProcess);

impl std::ops::Deref for Server {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ServiceProcess {
        &mut self.0
    }
}

impl Server {
    /// Starts the binary with a temporary `--data-dir` and the extra arguments.
    pub fn start(extra: &[&str]) -> Self {
        Self(ServiceProcess::start(
            Path::new(env!("CARGO_BIN_EXE_hop-ingest")),
            "ingest",
            extra,
        ))
    }

    pub async fn ingest(&self) -> IngestClient<Channel> {
        IngestClient::new(self.channel().await)
    }

    pub async fn flight(&self) -> FlightServiceClient<Channel> {
        FlightServiceClient::new(self.channel().await)
    }
}

/// DoGet of `ticket`, reassembled into a matrix.
pub async fn do_get(
    client: &mut FlightServiceClient<Channel>,
    ticket: FlightTicket,
) -> Result<(PnlMatrix, Vec<RecordBatch>), tonic::Status> {
    let response = client
        .do_get(Ticket::new(ticket.encode_to_vec()))
        .await?
        .into_inner();
    let mut stream =
        FlightRecordBatchStream::new_from_flight_data(response.map_err(FlightError::from));
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        batches.push(batch.map_err(tonic::Status::from)?);
    }
    let schema = stream.schema().cloned().expect("the stream has a schema");
    let matrix = hop_columnar::from_batches(&schema, &batches).expect("a valid matrix");
    Ok((matrix, batches))
}

pub fn ticket(id: &str, first: Option<u32>, count: Option<u32>) -> FlightTicket {
    FlightTicket {
        dataset_id: id.to_owned(),
        first_strategy: first,
        strategy_count: count,
    }
}
