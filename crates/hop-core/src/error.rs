//! The one error type of the domain library.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// The input CSV was refused; the message names the row, the column and the offending text.
    #[error("{0}")]
    Csv(#[from] crate::csv::CsvError),
    /// A matrix whose parts do not fit together.
    #[error("invalid matrix: {0}")]
    Shape(String),
    /// Job options that cannot be run (for example a portfolio larger than the strategy count).
    #[error("invalid job options: {0}")]
    Options(String),
}
