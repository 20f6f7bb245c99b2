//! The CLI's one error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
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
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) | CliError::Csv { .. } | CliError::Read { .. } => 2,
            CliError::Report(_) => 1,
        }
    }
}
