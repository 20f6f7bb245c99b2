//! [`ValidatorHandler`]: `hop.v1.Validator` over the pure comparison and the store, with the
//! validator's metrics.

use std::sync::Arc;
use std::time::SystemTime;

use hop_proto::v1::validator_server::Validator;
use hop_proto::v1::{CompareReply, CompareRequest, ListComparisonsReply, ListComparisonsRequest};
use tonic::{Request, Response, Status};

use crate::ValidatorError;
use crate::compare::compare;
use crate::difference::Tolerance;
use crate::store::ComparisonStore;

/// Comparisons recorded, by `outcome`: `matched` or `mismatched`.
pub const COMPARISONS_TOTAL: &str = "hop_validator_comparisons_total";
/// Mismatched fields over all recorded comparisons.
pub const MISMATCHED_FIELDS_TOTAL: &str = "hop_validator_mismatched_fields_total";
/// The last comparison's largest finite relative difference.
pub const MAX_RELATIVE_DIFFERENCE: &str = "hop_validator_max_relative_difference";
/// Distribution of each comparison's largest finite relative difference.
pub const RELATIVE_DIFFERENCE: &str = "hop_validator_relative_difference";

/// `ListComparisons` with `limit = 0` returns this many.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// `ListComparisons` never returns more than this many at once.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// Describes the metrics and registers each series at 0, so dashboards see them from the start.
pub fn register_metrics() {
    metrics::describe_counter!(
        COMPARISONS_TOTAL,
        "Blue/green comparisons recorded, by outcome (matched, mismatched)"
    );
    metrics::describe_counter!(
        MISMATCHED_FIELDS_TOTAL,
        "Fields on which blue and green disagreed, over all comparisons"
    );
    metrics::describe_gauge!(
        MAX_RELATIVE_DIFFERENCE,
        "Largest finite relative difference of the last comparison"
    );
    metrics::describe_histogram!(
        RELATIVE_DIFFERENCE,
        "Largest finite relative difference of each comparison"
    );
    for outcome in ["matched", "mismatched"] {
        metrics::counter!(COMPARISONS_TOTAL, "outcome" => outcome).increment(0);
    }
    metrics::counter!(MISMATCHED_FIELDS_TOTAL).increment(0);
    metrics::gauge!(MAX_RELATIVE_DIFFERENCE).set(0.0);
}

fn record_metrics(reply: &CompareReply) {
    let outcome = if reply.matched {
        "matched"
    } else {
        "mismatched"
    };
    metrics::counter!(COMPARISONS_TOTAL, "outcome" => outcome).increment(1);
    metrics::counter!(MISMATCHED_FIELDS_TOTAL).increment(reply.mismatches.len() as u64);
    metrics::gauge!(MAX_RELATIVE_DIFFERENCE).set(reply.max_relative_difference);
    metrics::histogram!(RELATIVE_DIFFERENCE).record(reply.max_relative_difference);
}

/// The `hop.v1.Validator` handler.
#[derive(Debug, Clone)]
pub struct ValidatorHandler {
    store: Arc<ComparisonStore>,
    default_tolerance: Tolerance,
}

impl ValidatorHandler {
    /// A handler recording into `store`, applying `default_tolerance` to requests that set none.
    pub fn new(store: Arc<ComparisonStore>, default_tolerance: Tolerance) -> Self {
        Self {
            store,
            default_tolerance,
        }
    }

    /// Checks, compares and records one request; the reply is only returned once stored.
    async fn compare_and_record(
        &self,
        request: CompareRequest,
    ) -> Result<CompareReply, ValidatorError> {
        if request.job_id.is_empty() {
            return Err(ValidatorError::MissingJobId);
        }
        let blue = request.blue.ok_or(ValidatorError::MissingResult("blue"))?;
        let green = request
            .green
            .ok_or(ValidatorError::MissingResult("green"))?;
        let tolerance = match request.tolerance {
            Some(t) => Tolerance::new(t)?,
            None => self.default_tolerance,
        };
        let store = self.store.clone();
        let job_id = request.job_id;
        blocking(move || {
            let reply = compare(&blue, &green, tolerance).into_reply(job_id, SystemTime::now());
            let id = store.record(&reply)?;
            tracing::debug!(id, job_id = %reply.job_id, "comparison recorded");
            Ok(reply)
        })
        .await
    }
}

/// Runs blocking work (SQLite, a large comparison) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ValidatorError> + Send + 'static,
) -> Result<T, ValidatorError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ValidatorError::Internal(format!("the blocking task stopped: {e}")))?
}

#[tonic::async_trait]
impl Validator for ValidatorHandler {
    async fn compare(
        &self,
        request: Request<CompareRequest>,
    ) -> Result<Response<CompareReply>, Status> {
        let request = request.into_inner();
        let job_id = request.job_id.clone();
        match self.compare_and_record(request).await {
            Ok(reply) => {
                record_metrics(&reply);
                if reply.matched {
                    tracing::info!(
                        job_id,
                        fields = reply.fields_compared,
                        max_relative_difference = reply.max_relative_difference,
                        "blue and green match"
                    );
                } else {
                    let first = reply.mismatches.first().map(|m| m.field.as_str());
                    tracing::warn!(job_id, fields = reply.fields_compared,
                        mismatches = reply.mismatches.len(), first_mismatch = ?first,
                        max_relative_difference = reply.max_relative_difference,
                        "blue and green disagree");
                }
                Ok(Response::new(reply))
            }
            Err(e) => {
                tracing::warn!(job_id, error = %e, "comparison refused");
                Err(e.into())
            }
        }
    }

    async fn list_comparisons(
        &self,
        request: Request<ListComparisonsRequest>,
    ) -> Result<Response<ListComparisonsReply>, Status> {
        let request = request.into_inner();
        let limit = match request.limit {
            0 => DEFAULT_LIST_LIMIT,
            n => n.min(MAX_LIST_LIMIT),
        };
        let store = self.store.clone();
        let comparisons = blocking(move || store.list(limit, request.only_mismatches))
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "listing comparisons failed"))?;
        Ok(Response::new(ListComparisonsReply { comparisons }))
    }
}
