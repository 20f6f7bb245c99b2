//! `hop.v1.Ingest`: `Import` and `Stat`, with the import metrics.

use std::sync::Arc;
use std::time::Instant;

use hop_proto::v1::ingest_server::Ingest as IngestRpc;
use hop_proto::v1::{DatasetInfo, ImportReply, ImportRequest, StatRequest};
use tonic::{Request, Response, Status};

use crate::{Ingest, IngestError};

/// Counter of imports by `outcome`: `hit`, `miss`, `refused` (bad path, size or CSV; missing
/// file) or `error` (a server-side failure).
pub const IMPORTS_TOTAL: &str = "hop_ingest_imports_total";
/// Histogram of import durations, seconds.
pub const IMPORT_SECONDS: &str = "hop_ingest_import_seconds";

/// Describes the metrics and registers every outcome at 0, so dashboards see them from the start.
pub fn register_metrics() {
    metrics::describe_counter!(
        IMPORTS_TOTAL,
        "CSV imports by outcome (hit, miss, refused, error)"
    );
    metrics::describe_histogram!(
        IMPORT_SECONDS,
        metrics::Unit::Seconds,
        "CSV import duration"
    );
    for outcome in ["hit", "miss", "refused", "error"] {
        metrics::counter!(IMPORTS_TOTAL, "outcome" => outcome).increment(0);
    }
}

/// The `hop.v1.Ingest` handler.
#[derive(Debug)]
pub struct IngestHandler {
    ingest: Arc<Ingest>,
}

impl IngestHandler {
    pub fn new(ingest: Arc<Ingest>) -> Self {
        Self { ingest }
    }
}

/// Runs blocking work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IngestError> + Send + 'static,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IngestError::internal("blocking task", e))?
}

#[tonic::async_trait]
impl IngestRpc for IngestHandler {
    async fn import(
        &self,
        request: Request<ImportRequest>,
    ) -> Result<Response<ImportReply>, Status> {
        let csv_path = request.into_inner().csv_path;
        let started = Instant::now();
        let ingest = self.ingest.clone();
        let path = csv_path.clone();
        let result = blocking(move || ingest.import(&path)).await;
        metrics::histogram!(IMPORT_SECONDS).record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(reply) if reply.cache_hit => "hit",
            Ok(_) => "miss",
            Err(e) => e.outcome(),
        };
        metrics::counter!(IMPORTS_TOTAL, "outcome" => outcome).increment(1);
        match result {
            Ok(reply) => Ok(Response::new(reply)),
            Err(e) => {
                tracing::warn!(csv = %csv_path, error = %e, "import refused");
                Err(e.into())
            }
        }
    }

    async fn stat(&self, request: Request<StatRequest>) -> Result<Response<DatasetInfo>, Status> {
        let id = request.into_inner().dataset_id;
        let ingest = self.ingest.clone();
        let info = blocking(move || ingest.cache.describe(&id)).await?;
        Ok(Response::new(info))
    }
}
