//! [`RouterError`]: the router's one error type, with stable codes and one mapping to
//! `tonic::Status`.

use std::path::Path;

/// A failed router operation.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The request is malformed; says which field and why.
    #[error("{0}")]
    InvalidRequest(String),
    /// No job has this id.
    #[error("no job has the id {0:?}")]
    NotFound(String),
    /// The job store failed (names the file).
    #[error("the job store {path} failed: {message}")]
    Store { path: String, message: String },
}

impl RouterError {
    /// A store failure at `path`.
    pub fn store(path: &Path, message: impl ToString) -> Self {
        Self::Store {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }

    /// The stable error code, also sent in the `hop-error-code` metadata entry.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::NotFound(_) => "JOB_NOT_FOUND",
            Self::Store { .. } => "STORE_FAILED",
        }
    }
}

impl From<RouterError> for tonic::Status {
    fn from(err: RouterError) -> Self {
        let code = match &err {
            RouterError::InvalidRequest(_) => tonic::Code::InvalidArgument,
            RouterError::NotFound(_) => tonic::Code::NotFound,
            RouterError::Store { .. } => tonic::Code::Unavailable,
        };
        let mut status = tonic::Status::new(code, err.to_string());
        status.metadata_mut().insert(
            "hop-error-code",
            tonic::metadata::MetadataValue::from_static(err.code()),
        );
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let status = tonic::Status::from(RouterError::NotFound("j1".into()));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert!(status.message().contains("\"j1\""));
        assert_eq!(
            status.metadata().get("hop-error-code").unwrap(),
            "JOB_NOT_FOUND"
        );
        let status =
            tonic::Status::from(RouterError::store(Path::new("/x/jobs.sqlite"), "disk full"));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().contains("/x/jobs.sqlite"));
    }
}
