//! The legacy workflow on HeavyDB, the blue side's production database (SPEC 1, 2.3).
//!
//! [`HeavyDbClient`] speaks HeavyDB's Thrift service the way its own clients do on port 6274:
//! TCP, buffered transport, strict binary protocol. It calls `connect`, `disconnect`,
//! `get_version`, `sql_execute` (columnar results: nulls, integers, doubles and decimals, text,
//! dates and timestamps as ISO text) and `load_table_binary_columnar` (the bulk load of the
//! strategy data). It keeps one connection and session, reconnects when the server closed the
//! connection or expired the session, bounds every call with a timeout, and turns
//! `TDBException`s into [`HeavyDbError::Server`] with HeavyDB's message. The few IDL types it
//! needs are written by hand in [`wire`] with the `thrift` crate's protocol traits.
//!
//! [`HeavyDbBackend`] implements `hop_sql::SqlBackend` over the client, so the workflow runs the
//! same SQL text on HeavyDB as on the embedded engine. [`HeavyDbConfig`] is parsed from
//! `heavydb://user@host:6274/db`; the [`Password`] is given apart and never printed.
//!
//! Tested against `tests/heavydb_peer/peer.py`, pyheavydb's generated Thrift processor executing
//! on DuckDB (a protocol peer: a real HeavyDB does not run on the test machines).

pub mod backend;
pub mod client;
pub mod config;
mod convert;
pub mod error;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use backend::{HeavyDbBackend, NAME};
pub use client::HeavyDbClient;
pub use config::{HeavyDbConfig, Password};
pub use error::HeavyDbError;
