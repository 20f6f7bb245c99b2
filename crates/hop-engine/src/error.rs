//! [`JobError`]: why a job failed, as the `code` and `message` of a `JobEvent.Failed`.

use hop_contract::ContractError;
use hop_core::CoreError;
use hop_proto::FailureCode;

/// A failed job. Jobs fail as a stream item (`Failed{code, message}`), not as an RPC error, so
/// this is the engines' one error type; the RPC itself fails only for a request without a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// Stable code (sent as its text).
    pub code: FailureCode,
    /// A sentence a person can act on.
    pub message: String,
}

impl JobError {
    pub fn new(code: FailureCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(FailureCode::InvalidInput, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(FailureCode::Internal, message)
    }

    /// A service the engine depends on (ingest, a database) could not be reached.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(FailureCode::Unavailable, message)
    }

    /// A gRPC error from a service the engine called (e.g. ingest's Import or Flight DoGet),
    /// mapped to a job code; `what` says what was being done.
    pub fn from_upstream(what: &str, status: &tonic::Status) -> Self {
        let message = format!("{what}: {}", status.message());
        match status.code() {
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => {
                Self::invalid_input(message)
            }
            tonic::Code::NotFound => Self::new(FailureCode::DatasetNotFound, message),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Self::unavailable(message),
            _ => Self::internal(message),
        }
    }
}

impl From<ContractError> for JobError {
    fn from(e: ContractError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<CoreError> for JobError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Options(_) => Self::new(FailureCode::InvalidOptions, e.to_string()),
            CoreError::Csv(_) | CoreError::Shape(_) => Self::invalid_input(e.to_string()),
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
