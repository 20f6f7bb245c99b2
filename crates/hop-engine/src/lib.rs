//! The `hop.v1.Engine` server shared by both engines: green `hop-compute` and blue `hop-legacy`.
//!
//! SPEC 2.4 asks for one search implementation behind both sides, so that a job gives the same
//! bits on blue and green. This crate is that one place on the serving side: an engine implements
//! [`EngineBackend`] — which side it is, which engine it runs, and how it loads a job's matrix
//! (green over Arrow Flight, blue through SQL) — and [`EngineHandler`] does the rest:
//!
//! - `Run`: `Started`, the backend's load, then the search and the walk-forward
//!   (`hop_core::run::search_only`, then `validate`: together `run_search`) on a blocking thread
//!   while throttled `Progress` events stream ([`throttle`]: at most one per size and algorithm
//!   per 5 % of its budget), then exactly one `Finished{JobResult}` or `Failed{code, message}`
//!   ([`JobError`]). Events are numbered from 1 without gaps ([`emitter`]).
//! - `Describe`: side, engine, device and version.
//! - Metrics: `hop_engine_jobs_total{side,engine,outcome}` (outcome `finished`, `failed`,
//!   `cancelled`) and the `hop_engine_job_seconds{side,engine}` histogram.
//!
//! Cancellation: when the client drops the stream, nothing more is sent and no later step starts;
//! a search already running ends after the batch in hand ([`cancellable`]: the evaluator says it
//! was stopped, and every algorithm ends as at the end of its budget) and its result is dropped;
//! the walk-forward does not start. A walk-forward already running finishes (its folds' searches
//! have no stop point).

pub mod cancellable;
pub mod csv_file;
pub mod emitter;
pub mod error;
pub mod handler;
pub mod throttle;

pub use csv_file::{read_csv, read_csv_blocking};
pub use error::JobError;
pub use handler::{EngineBackend, EngineHandler, Loaded, register_metrics};
