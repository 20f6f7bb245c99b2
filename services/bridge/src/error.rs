//! [`BridgeError`]: everything the bridge can fail with, and what becomes of the job.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A failure of the bridge or of one job. The variant decides what happens to the job file:
///
/// | variant | job file | metric outcome |
/// |---|---|---|
/// | [`Config`](Self::Config) | (startup: the service does not start) | - |
/// | [`Refused`](Self::Refused) | `jobs/failed/`, the message as `error` | `refused` |
/// | [`Failed`](Self::Failed) | `jobs/failed/`, the message as `error` | `failed` |
/// | [`Share`](Self::Share), [`Report`](Self::Report) | stays in `jobs/processing/`, retried later | - |
#[derive(Debug, Error)]
pub enum BridgeError {
    /// The configuration cannot be used (missing share or router, bad value).
    #[error("{0}")]
    Config(String),
    /// The job file was refused before it reached the optimizer: a sentence a Windows analyst can
    /// act on, naming the field and the value.
    #[error("{0}")]
    Refused(String),
    /// The optimizer could not complete the job (its own error sentence, or the job timeout).
    #[error("{0}")]
    Failed(String),
    /// A file on the share could not be read or written; the job is left where it is and retried.
    #[error("cannot {action} {}: {source}", path.display())]
    Share {
        /// What was being done, e.g. `write`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The run folder could not be written to the share's disk; the job is retried later.
    #[error(transparent)]
    Report(hop_report::ReportError),
}

impl BridgeError {
    /// A [`BridgeError::Share`] for `action` on `path`.
    pub fn share(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Share {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The `outcome` label of `hop_bridge_jobs_total` when this error ends a job, or `None` when
    /// the job is left for a retry.
    pub fn outcome(&self) -> Option<&'static str> {
        match self {
            Self::Refused(_) => Some("refused"),
            Self::Failed(_) => Some("failed"),
            Self::Config(_) | Self::Share { .. } | Self::Report(_) => None,
        }
    }
}
