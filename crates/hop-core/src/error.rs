//! The domain library's errors: [`CoreError`], and the [`CsvError`] it wraps (built by the CSV reader).
//! A leaf: it imports nothing of the crate.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// The input CSV was refused; the message names the row, the column and the offending text.
    #[error("{0}")]
    Csv(#[from] CsvError),
    /// A matrix whose parts do not fit together.
    #[error("invalid matrix: {0}")]
    Shape(String),
    /// Job options that cannot be run (for example a portfolio larger than the strategy count).
    #[error("invalid job options: {0}")]
    Options(String),
}

/// A refused CSV: the message names the row, the column and the offending text.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct CsvError {
    /// 1-based line number in the file (the header is line 1), when the problem is on one line.
    pub line: Option<usize>,
    /// The column's header name (or its 1-based number when the header is the problem).
    pub column: Option<String>,
    /// The offending text, when there is one.
    pub text: Option<String>,
    /// A full sentence for a person.
    pub message: String,
}
