//! [`IngestError`]: what a request can fail with, and its gRPC status code.

use hop_columnar::ColumnarError;
use thiserror::Error;
use tonic::Status;

/// A failed ingest request; the message always names the path or the dataset.
#[derive(Debug, Error)]
pub enum IngestError {
    /// The CSV file or the dataset does not exist (`NOT_FOUND`).
    #[error("{0}")]
    NotFound(String),
    /// The request or its data was refused (`INVALID_ARGUMENT`): a bad CSV, a path outside
    /// `input_root`, a file over `max_csv_bytes`, a malformed id or ticket.
    #[error("{0}")]
    Invalid(String),
    /// A server-side failure (`INTERNAL`): an unreadable cache file, a failed write.
    #[error("{0}")]
    Internal(String),
}

impl IngestError {
    /// An internal error with context.
    pub fn internal(context: impl std::fmt::Display, e: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {e}"))
    }

    /// An I/O error on `path`: not found, or internal.
    pub fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound(format!("{what} {} does not exist", path.display()))
        } else {
            Self::Internal(format!("cannot read {what} {}: {e}", path.display()))
        }
    }

    /// The metrics outcome label of a failed import.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::NotFound(_) | Self::Invalid(_) => "refused",
            Self::Internal(_) => "error",
        }
    }
}

impl From<IngestError> for Status {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::NotFound(m) => Status::not_found(m),
            IngestError::Invalid(m) => Status::invalid_argument(m),
            IngestError::Internal(m) => Status::internal(m),
        }
    }
}

/// An input file refused or missing ([`hop_runtime::InputFiles`]).
impl From<hop_runtime::RuntimeError> for IngestError {
    fn from(e: hop_runtime::RuntimeError) -> Self {
        match e {
            hop_runtime::RuntimeError::InputNotFound(m) => Self::NotFound(m),
            hop_runtime::RuntimeError::InputRefused(m) => Self::Invalid(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Columnar data that does not hold a valid matrix is the client's fault.
pub fn invalid_data(e: ColumnarError) -> IngestError {
    match e {
        ColumnarError::Parquet(_) => IngestError::Internal(e.to_string()),
        other => IngestError::Invalid(other.to_string()),
    }
}
