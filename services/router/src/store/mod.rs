//! [`JobStore`]: where the router keeps its jobs and their events, behind one trait so the
//! embedded SQLite store ([`SqliteStore`], the default) and a shared database for several router
//! replicas sit behind the same calls.
//!
//! Rules every store keeps: a job is stored before `Submit` replies and every event before any
//! watcher hears of it; `insert` is atomic (of two inserts of one id exactly one is `New`);
//! `update` with an event stores both or neither. Calls are async and never block the caller's
//! thread (SQLite runs them on the blocking pool).
//!
//! **Leases.** Router replicas share the jobs through the store, never through memory. A job
//! not yet final (or succeeded with its shadow comparison pending) is leased to one replica
//! ([`Owner`]) until a time on the store's own clock, renewed while that replica lives
//! ([`JobStore::renew`]). A replica that stops renewing (killed, cut off) loses its jobs when
//! their leases expire, and another replica claims them ([`JobStore::claim`]: PostgreSQL's
//! `FOR UPDATE SKIP LOCKED`, so two replicas never claim one job). Every claim bumps the job's
//! *generation*, and every write of a job or its events is fenced by the generation the writer
//! holds: a replica that lost a job gets [`RouterError::LeaseLost`] instead of writing over its
//! new owner.

#[cfg(test)]
pub(crate) mod contract;
mod encoding;
mod postgres;
mod sqlite;

use std::time::Duration;

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

/// The router replica that holds leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The replica's stable name (its pod or host name): a replica restarted under the same name
    /// takes its previous run's jobs back at once ([`Claim::own_previous`]).
    pub replica: String,
    /// This run of the replica, unique per process start.
    pub incarnation: String,
    /// How long a lease lasts without renewal.
    pub ttl: Duration,
}

impl Owner {
    /// The lease length in milliseconds, for the statements.
    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }
}

/// What a [`JobStore::claim`] takes, besides the unfinished jobs whose lease expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Also the unexpired leases of this replica's earlier runs (at start-up: the process that
    /// held them is gone).
    pub own_previous: bool,
    /// Also the succeeded jobs whose shadow comparison is pending (only a replica with a
    /// validator can settle them).
    pub validations: bool,
    /// At most this many jobs.
    pub limit: usize,
}

/// The job store.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Stores a new job with its first event, leased to `owner` at generation 1, unless its id
    /// exists.
    async fn insert(
        &self,
        job: &Job,
        first: &JobEvent,
        owner: &Owner,
    ) -> Result<Inserted, RouterError>;

    /// Stores `job` (which must exist) and, when given, `event`, in one transaction; refused
    /// with [`RouterError::LeaseLost`] when the job's generation is no longer `job.generation`.
    async fn update(&self, job: &Job, event: Option<&JobEvent>) -> Result<(), RouterError>;

    /// Stores one more event of a job, fenced by `generation` like [`JobStore::update`].
    async fn append(&self, event: &JobEvent, generation: u64) -> Result<(), RouterError>;

    /// Extends `owner`'s leases of `job_ids` (the jobs it is running or comparing) by its ttl;
    /// returns the ids of those it still holds.
    async fn renew(&self, owner: &Owner, job_ids: &[String]) -> Result<Vec<String>, RouterError>;

    /// Leases to `owner` the jobs `claim` describes (each with a new generation) and returns
    /// them; a job another replica is claiming at the same moment is skipped, never shared.
    async fn claim(&self, owner: &Owner, claim: Claim) -> Result<Vec<Job>, RouterError>;

    /// Leases one unfinished job to `owner` whatever its lease (to cancel it from any replica:
    /// its holder is fenced off); `None` when the job is final or unknown.
    async fn take(&self, job_id: &str, owner: &Owner) -> Result<Option<Job>, RouterError>;

    /// Ends `owner`'s leases now (a graceful stop hands its jobs over); a released start does
    /// not count against the job's starts. Returns how many jobs it released.
    async fn release(&self, owner: &Owner) -> Result<u64, RouterError>;

    /// A job's record.
    async fn get(&self, job_id: &str) -> Result<Option<Job>, RouterError>;

    /// A job's events after `after_sequence`, in order (the `Finished` event with its result).
    async fn events(&self, job_id: &str, after_sequence: u64)
    -> Result<Vec<JobEvent>, RouterError>;

    /// The largest event sequence of a job (0 when none).
    async fn last_sequence(&self, job_id: &str) -> Result<u64, RouterError>;

    /// Up to `limit` records, newest first, optionally only in `state`.
    async fn list(&self, limit: usize, state: Option<JobState>) -> Result<Vec<Job>, RouterError>;

    /// Removes the jobs that reached a final state before `cutoff_ms` (ms since the Unix epoch)
    /// and their events; returns how many jobs it removed.
    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, RouterError>;

    /// The space the store takes on disk, in bytes.
    async fn size_bytes(&self) -> Result<u64, RouterError>;
}
