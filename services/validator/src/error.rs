//! [`ValidatorError`]: everything a request (or opening the store) can fail with, and its one
//! mapping to a gRPC status.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;
use thiserror::Error;
use tonic::Status;

/// A failed validator request or store operation.
#[derive(Debug, Error)]
pub enum ValidatorError {
    /// `CompareRequest.job_id` is empty (`INVALID_ARGUMENT`).
    #[error("CompareRequest.job_id is empty: name the job both results belong to")]
    MissingJobId,
    /// `CompareRequest.blue` or `.green` is absent (`INVALID_ARGUMENT`); names the field.
    #[error("CompareRequest.{0} is missing: send both the blue and the green result")]
    MissingResult(&'static str),
    /// A tolerance that is negative, NaN or infinite (`INVALID_ARGUMENT`).
    #[error(
        "tolerance {0:?} is not allowed: it must be a finite number >= 0 \
         (a relative difference, e.g. 1e-5; 0 asks for equal numbers)"
    )]
    InvalidTolerance(f64),
    /// The comparison store failed. `UNAVAILABLE` when retrying may help (the database is busy
    /// or locked, the disk is full, an I/O error, it cannot be opened), `INTERNAL` otherwise.
    #[error("comparison store {}: {message}", path.display())]
    Store {
        /// The SQLite file.
        path: PathBuf,
        /// What failed, with SQLite's reason.
        message: String,
        /// Whether the failure is transient.
        transient: bool,
    },
    /// A server-side failure outside the store (`INTERNAL`).
    #[error("{0}")]
    Internal(String),
}

impl ValidatorError {
    /// A SQLite failure on the store at `path` while doing `what`.
    pub fn store(path: &Path, what: &str, e: &rusqlite::Error) -> Self {
        let transient = matches!(
            e.sqlite_error_code(),
            Some(
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen
            )
        );
        Self::Store {
            path: path.to_owned(),
            message: format!("{what}: {e}"),
            transient,
        }
    }
}

impl From<ValidatorError> for Status {
    fn from(e: ValidatorError) -> Self {
        let message = e.to_string();
        match e {
            ValidatorError::MissingJobId
            | ValidatorError::MissingResult(_)
            | ValidatorError::InvalidTolerance(_) => Status::invalid_argument(message),
            ValidatorError::Store {
                transient: true, ..
            } => Status::unavailable(message),
            ValidatorError::Store {
                transient: false, ..
            }
            | ValidatorError::Internal(_) => Status::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn each_error_has_its_status() {
        let status = Status::from(ValidatorError::MissingResult("green"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("CompareRequest.green"));
        let status = Status::from(ValidatorError::InvalidTolerance(-1.0));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("-1.0"), "{}", status.message());
        assert_eq!(
            Status::from(ValidatorError::MissingJobId).code(),
            Code::InvalidArgument
        );

        let path = Path::new("/var/lib/hop/validator/comparisons.sqlite");
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let status = Status::from(ValidatorError::store(path, "recording", &busy));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status.message().contains("comparisons.sqlite")
                && status.message().contains("recording"),
            "{}",
            status.message()
        );
        let corrupt = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        );
        let status = Status::from(ValidatorError::store(path, "listing", &corrupt));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            Status::from(ValidatorError::Internal("x".into())).code(),
            Code::Internal
        );
    }
}
