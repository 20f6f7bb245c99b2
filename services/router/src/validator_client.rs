//! [`GrpcValidator`]: the [`Comparator`] over `hop.v1.Validator` (`hop-validator`).

use hop_proto::v1::validator_client::ValidatorClient;
use hop_proto::v1::{CompareReply, CompareRequest, JobResult};
use hop_runtime::client::ServiceChannel;

use crate::dual_run::Comparator;
use crate::error::RouterError;

/// The validator at its configured address.
#[derive(Debug, Clone)]
pub struct GrpcValidator {
    client: ValidatorClient<ServiceChannel>,
}

impl GrpcValidator {
    /// A client (connected on first use) of the validator at `uri`.
    pub fn new(uri: &str) -> Result<Self, RouterError> {
        let channel = hop_runtime::client::lazy_channel(uri).map_err(|e| {
            RouterError::InvalidRequest(format!("validator address {uri:?} is not a URI: {e}"))
        })?;
        Ok(Self {
            client: ValidatorClient::new(channel)
                .max_encoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
                .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES),
        })
    }
}

#[async_trait::async_trait]
impl Comparator for GrpcValidator {
    async fn compare(
        &self,
        job_id: &str,
        blue: &JobResult,
        green: &JobResult,
    ) -> Option<CompareReply> {
        let request = CompareRequest {
            job_id: job_id.to_owned(),
            blue: Some(blue.clone()),
            green: Some(green.clone()),
            tolerance: None,
        };
        match self.client.clone().compare(request).await {
            Ok(reply) => {
                let reply = reply.into_inner();
                if !reply.matched {
                    tracing::warn!(
                        job_id,
                        mismatches = reply.mismatches.len(),
                        max_relative_difference = reply.max_relative_difference,
                        "blue and green disagree"
                    );
                }
                Some(reply)
            }
            Err(status) => {
                tracing::error!(job_id, error = %status.message(), "the validator could not compare");
                None
            }
        }
    }
}
