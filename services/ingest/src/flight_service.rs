//! The Arrow Flight service, on the same gRPC server as `hop.v1.Ingest`.
//!
//! - `DoGet(ticket)`: the ticket is a protobuf `hop.v1.FlightTicket` (dataset id and an optional
//!   strategy range); streams the batches of the P&L layout, [`ROWS_PER_BATCH`] strategies each
//!   (the encoder splits a batch further to keep each message under its 2 MiB default, so
//!   clients with tonic's default 4 MiB limit can read it). IPC buffers are compressed as
//!   configured (`flight_compression`: none by default, lz4 or zstd).
//! - `DoPut`: an internal client streams a dataset in the P&L layout (dates in the schema
//!   metadata). It is validated (`from_batches`, then the strict CSV rules: its canonical CSV
//!   rendering `write_csv(m, weekdays = true)` must parse back), stored under the id
//!   `dataset_id(canonical CSV bytes)` (so a DoPut and an Import of that CSV share an id, and the
//!   id does not depend on how the client split its batches), and answered with one `PutResult`
//!   whose `app_metadata` is the id (UTF-8).
//! - `GetSchema(path [id])`: the dataset's schema (dates in its metadata).
//! - `GetFlightInfo(path [id])`, `ListFlights` (every cached dataset; criteria are ignored):
//!   schema, `total_records` = strategies, one endpoint whose ticket streams it all.
//! - Everything else: `UNIMPLEMENTED`.

use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use hop_proto::v1::FlightTicket;
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use crate::cache::{Provenance, check_id};
use crate::error::invalid_data;
use crate::ingest_service::blocking;
use crate::{Ingest, IngestError};

/// Strategies per streamed record batch.
pub const ROWS_PER_BATCH: usize = hop_columnar::DEFAULT_BATCH_ROWS;

/// The provenance recorded for datasets received by DoPut.
pub const DO_PUT_SOURCE: &str = "flight:do_put";

type Stream<T> = BoxStream<'static, Result<T, Status>>;

/// The Flight handler.
#[derive(Debug, Clone)]
pub struct Flight {
    ingest: Arc<Ingest>,
}

impl Flight {
    pub fn new(ingest: Arc<Ingest>) -> Self {
        Self { ingest }
    }

    /// The FlightInfo of a cached dataset (from its footer; the data is not read).
    fn info(&self, id: &str) -> Result<FlightInfo, IngestError> {
        let shape = self.ingest.cache.shape(id)?;
        let schema = hop_columnar::schema(shape.dates.len(), &shape.dates);
        let ticket = FlightTicket {
            dataset_id: id.to_owned(),
            first_strategy: None,
            strategy_count: None,
        };
        FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| IngestError::internal("schema", e))
            .map(|info| {
                info.with_descriptor(FlightDescriptor::new_path(vec![id.to_owned()]))
                    .with_endpoint(
                        FlightEndpoint::new().with_ticket(Ticket::new(ticket.encode_to_vec())),
                    )
                    .with_total_records(i64::from(shape.strategies))
                    .with_total_bytes(i64::try_from(shape.parquet_bytes).unwrap_or(i64::MAX))
                    .with_ordered(true)
            })
    }

    /// Validates a received dataset and stores it; returns its id.
    fn store_put(
        &self,
        schema: &Schema,
        batches: &[arrow::array::RecordBatch],
    ) -> Result<String, IngestError> {
        let matrix =
            hop_columnar::from_batches(&Arc::new(schema.clone()), batches).map_err(invalid_data)?;
        let canonical = hop_core::csv::write_csv(&matrix, true);
        let matrix = hop_core::csv::parse_csv(&canonical).map_err(|e| {
            IngestError::Invalid(format!("the dataset is not a valid P&L matrix: {e}"))
        })?;
        let id = hop_columnar::dataset_id(&canonical);
        if !self.ingest.cache.contains(&id) {
            let provenance = Provenance::now(DO_PUT_SOURCE, canonical.len() as u64);
            self.ingest.cache.store(&id, &matrix, &provenance)?;
            tracing::info!(dataset_id = %id, strategies = matrix.n_strategies(),
                days = matrix.n_days(), "dataset received by DoPut");
        }
        Ok(id)
    }
}

fn decode_ticket(ticket: &Ticket) -> Result<FlightTicket, IngestError> {
    FlightTicket::decode(ticket.ticket.clone())
        .map_err(|e| IngestError::Invalid(format!("the ticket is not a hop.v1.FlightTicket: {e}")))
}

/// The id named by a descriptor: a path of exactly one element.
fn descriptor_id(descriptor: &FlightDescriptor) -> Result<String, IngestError> {
    match (descriptor.r#type(), descriptor.path.as_slice()) {
        (DescriptorType::Path, [id]) => {
            check_id(id)?;
            Ok(id.clone())
        }
        _ => Err(IngestError::Invalid(
            "the flight descriptor must be a path of one element, the dataset id".into(),
        )),
    }
}

#[tonic::async_trait]
impl FlightService for Flight {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;
    type DoExchangeStream = Stream<FlightData>;

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let ticket = decode_ticket(request.get_ref())?;
        check_id(&ticket.dataset_id)?;
        let ingest = self.ingest.clone();
        let batches = blocking(move || {
            let matrix = ingest.cache.load(&ticket.dataset_id)?;
            let n = matrix.n_strategies();
            let first = ticket.first_strategy.unwrap_or(0) as usize;
            let count = ticket
                .strategy_count
                .map_or(n.saturating_sub(first), |c| c as usize);
            let end = first
                .checked_add(count)
                .filter(|&end| first < end && end <= n);
            let Some(end) = end else {
                return Err(IngestError::Invalid(format!(
                    "strategies {first}..{} are empty or outside dataset {}'s {n} strategies",
                    first.saturating_add(count),
                    ticket.dataset_id
                )));
            };
            hop_columnar::to_batches(&matrix, ROWS_PER_BATCH, Some(first..end))
                .map_err(invalid_data)
        })
        .await?;
        let schema = batches[0].schema();
        let options = IpcWriteOptions::default()
            .try_with_compression(self.ingest.flight_compression.codec())
            .map_err(|e| Status::internal(format!("IPC compression: {e}")))?;
        let stream = FlightDataEncoderBuilder::new()
            .with_options(options)
            .with_schema(schema)
            .build(futures::stream::iter(batches.into_iter().map(Ok)))
            .map_err(Status::from);
        Ok(Response::new(stream.boxed()))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let limit = self.ingest.input.max_bytes();
        let mut stream = FlightRecordBatchStream::new_from_flight_data(
            request.into_inner().map_err(FlightError::from),
        );
        let mut batches = Vec::new();
        let mut bytes = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| match e {
                FlightError::Tonic(status) => *status,
                other => {
                    Status::invalid_argument(format!("cannot decode the Flight stream: {other}"))
                }
            })?;
            bytes += batch.get_array_memory_size() as u64;
            if bytes > limit {
                return Err(Status::invalid_argument(format!(
                    "the dataset is over {limit} bytes in memory (max_csv_bytes)"
                )));
            }
            batches.push(batch);
        }
        let Some(schema) = stream.schema().cloned() else {
            return Err(Status::invalid_argument(
                "the Flight stream holds no schema",
            ));
        };
        let this = self.clone();
        let id = blocking(move || this.store_put(&schema, &batches)).await?;
        let result = PutResult {
            app_metadata: id.into_bytes().into(),
        };
        Ok(Response::new(futures::stream::iter([Ok(result)]).boxed()))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let id = descriptor_id(request.get_ref())?;
        let this = self.clone();
        Ok(Response::new(blocking(move || this.info(&id)).await?))
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let this = self.clone();
        let infos = blocking(move || {
            let ids = this.ingest.cache.ids()?;
            // A dataset removed meanwhile is skipped; any other failure is reported.
            let mut infos = Vec::with_capacity(ids.len());
            for id in ids {
                match this.info(&id) {
                    Ok(info) => infos.push(info),
                    Err(IngestError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(infos)
        })
        .await?;
        Ok(Response::new(
            futures::stream::iter(infos.into_iter().map(Ok)).boxed(),
        ))
    }

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(unimplemented("Handshake"))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(unimplemented("PollFlightInfo"))
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let id = descriptor_id(request.get_ref())?;
        let ingest = self.ingest.clone();
        let shape = blocking(move || ingest.cache.shape(&id)).await?;
        let schema = hop_columnar::schema(shape.dates.len(), &shape.dates);
        let result = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(Response::new(result))
    }

    async fn do_action(
        &self,
        _request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        Err(unimplemented("DoAction"))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Err(unimplemented("ListActions"))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(unimplemented("DoExchange"))
    }
}

fn unimplemented(method: &str) -> Status {
    Status::unimplemented(format!(
        "the ingest Flight service does not implement {method} (it offers DoGet, DoPut, \
         GetFlightInfo, GetSchema and ListFlights)"
    ))
}
