//! [`PgStore`]: the job store in PostgreSQL, for router replicas that share one database.
//!
//! The same two tables as the embedded store (`hop_jobs`, `hop_events`), created when missing
//! (under an advisory lock, so replicas starting together do not race). `insert` is
//! `INSERT ... ON CONFLICT (job_id) DO NOTHING` inside a transaction with the first event, so of
//! two replicas accepting one id at the same time exactly one gets `New`. Leases (see
//! [`crate::store`]) are timed by the database's clock, so the replicas' clocks do not matter;
//! claims take rows with `FOR UPDATE SKIP LOCKED`, and fenced writes lock the job's row before
//! they check its generation. One connection, reopened on the next call after it broke; each call
//! is one statement or one transaction.
//!
//! The cut-over's state and health window live here too (`hop_cutover`, `hop_cutover_samples`:
//! see [`cutover`]).

use hop_proto::v1::{JobEvent, JobState};
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row};

use super::encoding::{Encoded, decode_events, decode_job, final_finished, leased, stored_event};
use super::{Claim, Inserted, JobStore, Owner};
use crate::error::RouterError;
use crate::record::Job;

const SCHEMA: &str = "
BEGIN;
SELECT pg_advisory_xact_lock(4701402);
CREATE TABLE IF NOT EXISTS hop_jobs (
    ordinal    BIGSERIAL PRIMARY KEY,
    job_id     TEXT NOT NULL UNIQUE,
    state      INTEGER NOT NULL,
    validation INTEGER NOT NULL,
    spec_hash  TEXT NOT NULL,
    starts     INTEGER NOT NULL,
    finished_ms BIGINT NOT NULL DEFAULT 0,
    record     BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS hop_jobs_state ON hop_jobs (state, validation);
CREATE TABLE IF NOT EXISTS hop_events (
    job_id   TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    event    BYTEA NOT NULL,
    PRIMARY KEY (job_id, sequence)
);
ALTER TABLE hop_jobs ADD COLUMN IF NOT EXISTS owner TEXT NOT NULL DEFAULT '';
ALTER TABLE hop_jobs ADD COLUMN IF NOT EXISTS incarnation TEXT NOT NULL DEFAULT '';
ALTER TABLE hop_jobs ADD COLUMN IF NOT EXISTS generation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE hop_jobs ADD COLUMN IF NOT EXISTS lease_until_ms BIGINT NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS hop_cutover (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL
);
INSERT INTO hop_cutover (id, state) VALUES (1, '') ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS hop_cutover_samples (
    ordinal    BIGSERIAL PRIMARY KEY,
    seconds    DOUBLE PRECISION NOT NULL,
    failed     BOOLEAN NOT NULL,
    matched    BOOLEAN,
    difference DOUBLE PRECISION
);
COMMIT;
";

const JOB_COLUMNS: &str = "record, spec_hash, starts, generation";
const SELECT_JOB: &str = "SELECT record, spec_hash, starts, generation FROM hop_jobs";
/// The database's clock in milliseconds since the Unix epoch.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
/// The PostgreSQL job store.
pub struct PgStore {
    config: Config,
    /// `postgres <host>:<port>/<database>`, for messages (never the password).
    target: String,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgresql://user@host:port/db` or libpq's
    /// `key=value` form), with `password` when given, and creates the tables when missing.
    pub async fn connect(url: &str, password: Option<&str>) -> Result<Self, RouterError> {
        let mut config: Config = url.parse().map_err(|e| {
            RouterError::InvalidRequest(format!(
                "the router's postgres setting is not a PostgreSQL connection string: {e}"
            ))
        })?;
        if let Some(password) = password {
            config.password(password);
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_default();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let target = format!(
            "postgres {host}:{port}/{}",
            config.get_dbname().unwrap_or("")
        );
        let store = Self {
            config,
            target,
            client: Mutex::new(None),
        };
        store
            .client()
            .await?
            .as_ref()
            .expect("connected")
            .batch_execute(SCHEMA)
            .await
            .map_err(|e| store.failed(e))?;
        Ok(store)
    }

    /// `postgres <host>:<port>/<database>` (no credentials), for logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn failed(&self, e: impl std::fmt::Display) -> RouterError {
        RouterError::Store {
            path: self.target.clone(),
            message: e.to_string(),
        }
    }

    /// The connection, reopened when there is none or it broke.
    async fn client(&self) -> Result<MutexGuard<'_, Option<Client>>, RouterError> {
        let mut client = self.client.lock().await;
        if client.as_ref().is_none_or(Client::is_closed) {
            let (fresh, connection) = self
                .config
                .connect(NoTls)
                .await
                .map_err(|e| self.failed(e))?;
            let target = self.target.clone();
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(store = target, error = %e, "the job store's connection broke");
                }
            });
            *client = Some(fresh);
        }
        Ok(client)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, RouterError> {
        let client = self.client().await?;
        let client = client.as_ref().expect("connected");
        client.query(sql, params).await.map_err(|e| self.failed(e))
    }

    fn job(&self, row: &Row) -> Result<Job, RouterError> {
        let starts: i32 = row.get(2);
        decode_job(row.get(0), row.get(1), starts.max(0) as u32, row.get(3))
            .map_err(|e| self.failed(e))
    }

    async fn jobs(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Job>, RouterError> {
        self.query(sql, params)
            .await?
            .iter()
            .map(|row| self.job(row))
            .collect()
    }
}

const INSERT_EVENT: &str = "INSERT INTO hop_events (job_id, sequence, event) VALUES ($1, $2, $3)
     ON CONFLICT (job_id, sequence) DO UPDATE SET event = EXCLUDED.event";

impl PgStore {
    /// Runs a lease statement (`$1` owner, `$2` incarnation, `$3` ttl in ms, then `more`) that
    /// returns job rows.
    async fn leasing(
        &self,
        sql: &str,
        owner: &Owner,
        more: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Job>, RouterError> {
        let ttl = owner.ttl_ms();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&owner.replica, &owner.incarnation, &ttl];
        params.extend_from_slice(more);
        self.jobs(sql, &params).await
    }
}

#[async_trait::async_trait]
impl JobStore for PgStore {
    async fn insert(
        &self,
        job: &Job,
        first: &JobEvent,
        owner: &Owner,
    ) -> Result<Inserted, RouterError> {
        let e = Encoded::of(job);
        let ttl = owner.ttl_ms();
        let (event_job, sequence, event) = stored_event(first);
        let mut client = self.client().await?;
        let client = client.as_mut().expect("connected");
        let failed = |e| self.failed(e);
        let tx = client.transaction().await.map_err(failed)?;
        let inserted = tx
            .execute(
                &format!(
                    "INSERT INTO hop_jobs (job_id, state, validation, spec_hash, starts, record,
                     owner, incarnation, generation, lease_until_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {NOW_MS} + $10)
                     ON CONFLICT (job_id) DO NOTHING"
                ),
                &[
                    &e.job_id,
                    &e.state,
                    &e.validation,
                    &e.spec_hash,
                    &(e.starts as i32),
                    &e.record,
                    &owner.replica,
                    &owner.incarnation,
                    &e.generation,
                    &ttl,
                ],
            )
            .await
            .map_err(failed)?;
        if inserted == 1 {
            tx.execute(INSERT_EVENT, &[&event_job, &sequence, &event])
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            return Ok(Inserted::New);
        }
        let row = tx
            .query_one(&format!("{SELECT_JOB} WHERE job_id = $1"), &[&e.job_id])
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(Inserted::Existing(Box::new(self.job(&row)?)))
    }

    async fn update(&self, job: &Job, event: Option<&JobEvent>) -> Result<(), RouterError> {
        let e = Encoded::of(job);
        let event = event.map(stored_event);
        let mut client = self.client().await?;
        let client = client.as_mut().expect("connected");
        let failed = |e| self.failed(e);
        let tx = client.transaction().await.map_err(failed)?;
        let updated = tx
            .execute(
                "UPDATE hop_jobs SET state = $2, record = $3, validation = $4, starts = $5,
                 finished_ms = $6 WHERE job_id = $1 AND generation = $7",
                &[
                    &e.job_id,
                    &e.state,
                    &e.record,
                    &e.validation,
                    &(e.starts as i32),
                    &e.finished_ms,
                    &e.generation,
                ],
            )
            .await
            .map_err(failed)?;
        if updated == 0 {
            return Err(RouterError::LeaseLost(e.job_id));
        }
        if let Some((job_id, sequence, bytes)) = &event {
            tx.execute(INSERT_EVENT, &[job_id, sequence, bytes])
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    async fn append(&self, event: &JobEvent, generation: u64) -> Result<(), RouterError> {
        let (job_id, sequence, bytes) = stored_event(event);
        let generation = i64::try_from(generation).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let client = client.as_mut().expect("connected");
        let failed = |e| self.failed(e);
        let tx = client.transaction().await.map_err(failed)?;
        let held = tx
            .query(
                "SELECT 1 FROM hop_jobs WHERE job_id = $1 AND generation = $2 FOR UPDATE",
                &[&job_id, &generation],
            )
            .await
            .map_err(failed)?;
        if held.is_empty() {
            return Err(RouterError::LeaseLost(job_id));
        }
        tx.execute(INSERT_EVENT, &[&job_id, &sequence, &bytes])
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn renew(&self, owner: &Owner, job_ids: &[String]) -> Result<Vec<String>, RouterError> {
        let ttl = owner.ttl_ms();
        let rows = self
            .query(
                &format!(
                    "UPDATE hop_jobs SET lease_until_ms = {NOW_MS} + $3
                     WHERE owner = $1 AND incarnation = $2 AND job_id = ANY($4) AND {}
                     RETURNING job_id",
                    leased("TRUE")
                ),
                &[&owner.replica, &owner.incarnation, &ttl, &job_ids],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn claim(&self, owner: &Owner, claim: Claim) -> Result<Vec<Job>, RouterError> {
        let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
        self.leasing(
            &format!(
                "UPDATE hop_jobs SET owner = $1, incarnation = $2, generation = generation + 1,
                 lease_until_ms = {NOW_MS} + $3
                 WHERE ordinal IN (SELECT ordinal FROM hop_jobs
                     WHERE {} AND (lease_until_ms < {NOW_MS}
                         OR ($5 AND owner = $1 AND incarnation <> $2))
                     ORDER BY ordinal LIMIT $6 FOR UPDATE SKIP LOCKED)
                 RETURNING {JOB_COLUMNS}",
                leased("$4")
            ),
            owner,
            &[&claim.validations, &claim.own_previous, &limit],
        )
        .await
    }

    async fn take(&self, job_id: &str, owner: &Owner) -> Result<Option<Job>, RouterError> {
        let mut taken = self
            .leasing(
                &format!(
                    "UPDATE hop_jobs SET owner = $1, incarnation = $2,
                     generation = generation + 1, lease_until_ms = {NOW_MS} + $3
                     WHERE job_id = $4 AND {} RETURNING {JOB_COLUMNS}",
                    leased("FALSE")
                ),
                owner,
                &[&job_id],
            )
            .await?;
        Ok(taken.pop())
    }

    async fn release(&self, owner: &Owner) -> Result<u64, RouterError> {
        let client = self.client().await?;
        let client = client.as_ref().expect("connected");
        client
            .execute(
                &format!(
                    "UPDATE hop_jobs SET lease_until_ms = 0,
                     starts = CASE WHEN {} AND starts > 0 THEN starts - 1 ELSE starts END
                     WHERE owner = $1 AND incarnation = $2 AND {}",
                    leased("FALSE"),
                    leased("TRUE")
                ),
                &[&owner.replica, &owner.incarnation],
            )
            .await
            .map_err(|e| self.failed(e))
    }

    async fn get(&self, job_id: &str) -> Result<Option<Job>, RouterError> {
        let rows = self
            .query(&format!("{SELECT_JOB} WHERE job_id = $1"), &[&job_id])
            .await?;
        rows.first().map(|row| self.job(row)).transpose()
    }

    async fn events(
        &self,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<JobEvent>, RouterError> {
        let rows = self
            .query(
                "SELECT event FROM hop_events WHERE job_id = $1 AND sequence > $2
                 ORDER BY sequence",
                &[&job_id, &(after_sequence as i64)],
            )
            .await?;
        let blobs: Vec<Vec<u8>> = rows.iter().map(|row| row.get(0)).collect();
        let mut events = decode_events(&blobs).map_err(|e| self.failed(e))?;
        if let Some(finished) = final_finished(&mut events) {
            finished.result = self.get(job_id).await?.and_then(|job| job.result);
        }
        Ok(events)
    }

    async fn last_sequence(&self, job_id: &str) -> Result<u64, RouterError> {
        let rows = self
            .query(
                "SELECT COALESCE(MAX(sequence), 0) FROM hop_events WHERE job_id = $1",
                &[&job_id],
            )
            .await?;
        let last: i64 = rows.first().map_or(0, |row| row.get(0));
        Ok(last.max(0) as u64)
    }

    async fn list(&self, limit: usize, state: Option<JobState>) -> Result<Vec<Job>, RouterError> {
        let state = state.map(|s| s as i32);
        self.jobs(
            &format!(
                "{SELECT_JOB} WHERE ($1::INTEGER IS NULL OR state = $1)
                 ORDER BY ordinal DESC LIMIT $2"
            ),
            &[&state, &(limit as i64)],
        )
        .await
    }

    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, RouterError> {
        let mut client = self.client().await?;
        let client = client.as_mut().expect("connected");
        let failed = |e| self.failed(e);
        let tx = client.transaction().await.map_err(failed)?;
        tx.execute(
            "DELETE FROM hop_events WHERE job_id IN
             (SELECT job_id FROM hop_jobs WHERE finished_ms > 0 AND finished_ms < $1)",
            &[&cutoff_ms],
        )
        .await
        .map_err(failed)?;
        let jobs = tx
            .execute(
                "DELETE FROM hop_jobs WHERE finished_ms > 0 AND finished_ms < $1",
                &[&cutoff_ms],
            )
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(jobs)
    }

    async fn size_bytes(&self) -> Result<u64, RouterError> {
        let rows = self
            .query(
                "SELECT pg_total_relation_size('hop_jobs') + pg_total_relation_size('hop_events')",
                &[],
            )
            .await?;
        let bytes: i64 = rows.first().map_or(0, |row| row.get(0));
        Ok(bytes.max(0) as u64)
    }
}

mod cutover;
#[cfg(test)]
mod tests;
