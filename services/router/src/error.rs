//! [`RouterError`]: the router's one error type, with stable codes and one mapping to
//! `tonic::Status`.

use std::path::Path;

/// A failed router operation.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The request is malformed; says which field and why.
    #[error("{0}")]
    InvalidRequest(String),
    /// The job id is taken by a different job (another spec); says what to do.
    #[error("{0}")]
    Conflict(String),
    /// No job has this id.
    #[error("no job has the id {0:?}")]
    NotFound(String),
    /// The job store failed (names the file).
    #[error("the job store {path} failed: {message}")]
    Store { path: String, message: String },
    /// The request is well formed but not allowed in the current state (e.g. a weight change
    /// while a rollback is latched); says what to do first.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller did not prove who it is (a missing or wrong admin token).
    #[error("{0}")]
    Unauthenticated(String),
    /// The cut-over state file could not be written (names the file).
    #[error("the cutover state file {path} failed: {message}")]
    State { path: String, message: String },
    /// Another router replica holds the job now (this one's lease expired or the job was taken
    /// to be cancelled): this replica's write was refused.
    #[error("job {0:?} is now run by another router replica")]
    LeaseLost(String),
    /// This router replica is stopping while a watcher follows a job it does not run: the
    /// watcher should watch again (another replica answers) from where it was.
    #[error(
        "this router replica is stopping: watch job {job_id:?} again from sequence \
         {after_sequence} (another replica answers)"
    )]
    Stopping { job_id: String, after_sequence: u64 },
}

impl RouterError {
    /// A store failure at `path`.
    pub fn store(path: &Path, message: impl ToString) -> Self {
        Self::Store {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }

    /// A cut-over state file failure at `path`.
    pub fn state(path: &Path, message: impl ToString) -> Self {
        Self::State {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }

    /// The stable error code, also sent in the `hop-error-code` metadata entry.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::Conflict(_) => "JOB_ID_REUSED",
            Self::NotFound(_) => "JOB_NOT_FOUND",
            Self::Store { .. } => "STORE_FAILED",
            Self::FailedPrecondition(_) => "FAILED_PRECONDITION",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::State { .. } => "CUTOVER_STATE_FAILED",
            Self::LeaseLost(_) => "LEASE_LOST",
            Self::Stopping { .. } => "REPLICA_STOPPING",
        }
    }
}

impl From<RouterError> for tonic::Status {
    fn from(err: RouterError) -> Self {
        let code = match &err {
            RouterError::InvalidRequest(_) => tonic::Code::InvalidArgument,
            RouterError::Conflict(_) => tonic::Code::AlreadyExists,
            RouterError::NotFound(_) => tonic::Code::NotFound,
            RouterError::Store { .. }
            | RouterError::State { .. }
            | RouterError::Stopping { .. } => tonic::Code::Unavailable,
            RouterError::LeaseLost(_) => tonic::Code::Aborted,
            RouterError::FailedPrecondition(_) => tonic::Code::FailedPrecondition,
            RouterError::Unauthenticated(_) => tonic::Code::Unauthenticated,
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
        let status = tonic::Status::from(RouterError::Conflict("reused".into()));
        assert_eq!(status.code(), tonic::Code::AlreadyExists);
        assert_eq!(
            status.metadata().get("hop-error-code").unwrap(),
            "JOB_ID_REUSED"
        );
        let status = tonic::Status::from(RouterError::FailedPrecondition("latched".into()));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(
            status.metadata().get("hop-error-code").unwrap(),
            "FAILED_PRECONDITION"
        );
        let status = tonic::Status::from(RouterError::Unauthenticated("no token".into()));
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let status = tonic::Status::from(RouterError::state(Path::new("/x/cutover.json"), "ro"));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(
            status
                .message()
                .contains("cutover state file /x/cutover.json")
        );
        let status = tonic::Status::from(RouterError::Stopping {
            job_id: "j1".into(),
            after_sequence: 3,
        });
        assert!(status.message().contains("from sequence 3"), "{status:?}");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.metadata().get("hop-error-code").unwrap(),
            "REPLICA_STOPPING"
        );
        let status = tonic::Status::from(RouterError::LeaseLost("j1".into()));
        assert_eq!(status.code(), tonic::Code::Aborted);
    }
}
