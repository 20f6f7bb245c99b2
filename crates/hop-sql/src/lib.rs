//! The blue (legacy) engine's SQL data path (SPEC 1, 2.3).
//!
//! The legacy workflow ran on HeavyDB: the P&L matrix was loaded into tables and the
//! per-strategy metrics were computed in SQL. This crate keeps that path independent of the
//! green engine's Rust metrics:
//!
//! - [`SqlBackend`] is what the workflow needs from an engine: `execute`, `query` (a columnar
//!   [`Rows`] of [`Value`]s, the shape HeavyDB's Thrift client returns too) and a columnar
//!   `bulk_load`. [`SqliteBackend`] (embedded SQLite, in memory or in a file) is the default,
//!   so everything runs on a laptop; a HeavyDB Thrift backend implements the same trait.
//! - [`LegacyWorkflow`] creates one job's tables (`hop_<tag>_strategies`, `hop_<tag>_dates`,
//!   `hop_<tag>_pnl`), loads a [`hop_core::PnlMatrix`], computes the five per-strategy metrics
//!   with one query per metric group ([`metrics_sql`]: window functions for equity, running
//!   peak and drawdown; `CASE` sums for wins, gains and losses), reads the matrix back with SQL
//!   (so the blue search runs on data that went through the database) and drops the tables,
//!   also on error. [`run`] does all of it.
//!
//! All SQL is plain enough for HeavyDB (Calcite): no SQLite-only syntax, plain DDL.
//!
//! Numerics: the profit factor is NULL in SQL when a strategy never lost and `+inf` in Rust.
//! SQLite's `SUM` runs in the window's day order but with compensated (Kahan-Babuska-Neumaier)
//! summation, so the SQL metrics can differ from the Rust reference
//! ([`hop_core::metrics::all_strategy_metrics`]) in the last bits; the tests bound that at
//! 1e-12 relative. The values read back are bit-identical (but `-0.0` reads back as `0.0`).

pub mod backend;
pub mod error;
pub mod metrics_sql;
pub mod sqlite;
pub mod workflow;

pub use backend::{ColumnData, Rows, SqlBackend, Value};
pub use error::SqlError;
pub use sqlite::SqliteBackend;
pub use workflow::{LegacyOutput, LegacyWorkflow, TableNames, run};
