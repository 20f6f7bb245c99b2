//! The one error type of the SQL data path.

use hop_core::CoreError;

/// How many characters of a statement an error message quotes.
pub const SQL_QUOTE_CHARS: usize = 160;

/// Everything that can go wrong on the SQL data path. Messages name the statement (whitespace
/// collapsed, cut at [`SQL_QUOTE_CHARS`] characters) and the backend's own message.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The backend refused or failed a statement.
    #[error("{backend} failed on SQL `{sql}`: {message}")]
    Statement {
        backend: &'static str,
        sql: String,
        message: String,
    },
    /// A statement ran but its result is not what the workflow expects (a missing column, a
    /// NULL or a text where a number belongs, a row count that does not match the matrix).
    #[error("unexpected result of SQL `{sql}`: {message}")]
    Result { sql: String, message: String },
    /// The database could not be opened.
    #[error("cannot open the {backend} database {target}: {message}")]
    Open {
        backend: &'static str,
        target: String,
        message: String,
    },
    /// A job tag that leaves nothing after sanitizing, or a malformed bulk load request.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The data read back from the database does not form a valid matrix.
    #[error("the matrix read back from the database is invalid: {0}")]
    Matrix(#[from] CoreError),
}

impl SqlError {
    /// A backend failure on `sql`.
    pub fn statement(backend: &'static str, sql: &str, message: impl ToString) -> Self {
        Self::Statement {
            backend,
            sql: quote(sql),
            message: message.to_string(),
        }
    }

    /// An unexpected result of `sql`.
    pub fn result(sql: &str, message: impl ToString) -> Self {
        Self::Result {
            sql: quote(sql),
            message: message.to_string(),
        }
    }
}

/// `sql` on one line (runs of whitespace become one space), cut at [`SQL_QUOTE_CHARS`]
/// characters with a trailing `...`.
pub fn quote(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(SQL_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_one_line_and_cut() {
        assert_eq!(quote("SELECT  1\n  FROM t"), "SELECT 1 FROM t");
        let long = format!("SELECT {}", "é".repeat(500));
        let q = quote(&long);
        assert!(q.ends_with("..."));
        assert_eq!(q.chars().count(), SQL_QUOTE_CHARS + 3);
    }
}
