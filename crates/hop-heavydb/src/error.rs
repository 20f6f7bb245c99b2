//! The one error type of the HeavyDB client.

use std::time::Duration;

/// Everything that can go wrong talking to HeavyDB. No message ever contains the password.
#[derive(Debug, thiserror::Error)]
pub enum HeavyDbError {
    /// The backend URL or password source is not usable.
    #[error("invalid HeavyDB configuration: {0}")]
    Config(String),
    /// The TCP connection could not be opened.
    #[error("cannot connect to HeavyDB at {addr}: {message}")]
    Connect { addr: String, message: String },
    /// The server refused the login (`connect` raised `TDBException`).
    #[error(
        "HeavyDB at {addr} refused the login of user {user:?} to database {database:?}: {message}"
    )]
    Login {
        addr: String,
        user: String,
        database: String,
        message: String,
    },
    /// The server raised `TDBException` (an SQL error, an unknown table, a load error).
    #[error("HeavyDB error (TDBException) in {method}: {message}")]
    Server {
        method: &'static str,
        message: String,
    },
    /// No answer within the call timeout; the connection is dropped and the next call opens a
    /// new one.
    #[error("HeavyDB at {addr} did not answer {method} within {timeout:?}")]
    Timeout {
        addr: String,
        method: &'static str,
        timeout: Duration,
    },
    /// The connection broke during a call (the server closed it or went away).
    #[error("the connection to HeavyDB at {addr} broke during {method}: {message}")]
    Connection {
        addr: String,
        method: &'static str,
        message: String,
    },
    /// The server's answer is not what the Thrift interface says (or a Thrift application
    /// exception, e.g. an unknown method).
    #[error("HeavyDB at {addr} answered {method} with a protocol error: {message}")]
    Protocol {
        addr: String,
        method: &'static str,
        message: String,
    },
}
