//! [`JobStore`]: where the router keeps its jobs and their events, behind one trait so the
//! embedded SQLite store ([`SqliteStore`], the default) and a shared database for several router
//! replicas sit behind the same calls.
//!
//! Rules every store keeps: a job is stored before `Submit` replies and every event before any
//! watcher hears of it; `insert` is atomic (of two inserts of one id exactly one is `New`);
//! `update` with an event stores both or neither. Calls are async and never block the caller's
//! thread (SQLite runs them on the blocking pool).

#[cfg(test)]
mod contract;
mod encoding;
mod postgres;
mod sqlite;

use hop_proto::v1::{JobEvent, JobState};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::error::RouterError;
use crate::record::Job;

/// What [`JobStore::insert`] found.
#[derive(Debug)]
pub enum Inserted {
    /// The job is new and now stored.
    New,
    /// A job with this id already exists: its record.
    Existing(Box<Job>),
}

/// The job store.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Stores a new job with its first event, unless its id exists.
    async fn insert(&self, job: &Job, first: &JobEvent) -> Result<Inserted, RouterError>;

    /// Stores `job` (which must exist) and, when given, `event`, in one transaction.
    async fn update(&self, job: &Job, event: Option<&JobEvent>) -> Result<(), RouterError>;

    /// Stores one more event of a job.
    async fn append(&self, event: &JobEvent) -> Result<(), RouterError>;

    /// A job's record.
    async fn get(&self, job_id: &str) -> Result<Option<Job>, RouterError>;

    /// A job's events after `after_sequence`, in order (the `Finished` event with its result).
    async fn events(&self, job_id: &str, after_sequence: u64)
    -> Result<Vec<JobEvent>, RouterError>;

    /// The largest event sequence of a job (0 when none).
    async fn last_sequence(&self, job_id: &str) -> Result<u64, RouterError>;

    /// Up to `limit` records, newest first, optionally only in `state`.
    async fn list(&self, limit: usize, state: Option<JobState>) -> Result<Vec<Job>, RouterError>;

    /// Jobs not in a final state (queued or running), oldest first: the ones to resume.
    async fn unfinished(&self) -> Result<Vec<Job>, RouterError>;

    /// Succeeded jobs whose shadow comparison is still pending (the router stopped between the
    /// primary's answer and the comparison), oldest first.
    async fn pending_validations(&self) -> Result<Vec<Job>, RouterError>;

    /// Removes the jobs that reached a final state before `cutoff_ms` (ms since the Unix epoch)
    /// and their events; returns how many jobs it removed.
    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, RouterError>;

    /// The space the store takes on disk, in bytes.
    async fn size_bytes(&self) -> Result<u64, RouterError>;
}
