//! The CLI's one error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// The CSV was refused; the message names the line, the column and the text.
    #[error("{path}: {source}")]
    Csv {
        path: String,
        source: hop_core::csv::CsvError,
    },
    /// The options were refused.
    #[error("{0}")]
    Input(#[from] hop_core::CoreError),
    #[error("{0}")]
    Report(#[from] hop_report::ReportError),
    /// The command was used wrongly (says how to use it).
    #[error("{0}")]
    Usage(String),
    /// A service could not be started or stopped.
    #[error("{0}")]
    Stack(String),
    /// The chosen engine cannot run (e.g. `--engine gpu` without a usable GPU).
    #[error("{0}")]
    Engine(String),
    /// A gRPC call failed.
    #[error("{what}: {message}")]
    Rpc { what: String, message: String },
    /// The job ended without a result.
    #[error("job {job_id} {state}: {message}")]
    JobFailed {
        job_id: String,
        state: String,
        message: String,
    },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) | CliError::Csv { .. } | CliError::Read { .. } => 2,
            CliError::Usage(_) => 2,
            CliError::Report(_)
            | CliError::Write { .. }
            | CliError::Stack(_)
            | CliError::Engine(_)
            | CliError::Rpc { .. }
            | CliError::JobFailed { .. } => 1,
        }
    }

    /// A failed gRPC call.
    pub fn rpc(what: impl Into<String>, status: &tonic::Status) -> Self {
        CliError::Rpc {
            what: what.into(),
            message: format!("{} ({:?})", status.message(), status.code()),
        }
    }
}
