//! [`SqliteStore`]: the embedded job store (one router replica; the default for `hop up`).
//!
//! Two tables: `jobs` (one row per job: the prost-encoded wire record, its state, validation
//! outcome, spec hash and start count, and an insertion ordinal for "newest first") and `events`
//! (every event of every job, keyed by job and sequence). WAL mode with `synchronous = NORMAL`: a
//! committed transaction survives the process being killed; only a power loss can drop the last
//! few. Stores written by earlier versions gain the new columns on open.
//!
//! Every call runs on Tokio's blocking pool, never on the async worker threads. `Finished` events
//! are stored without their result (the record holds it once); [`JobStore::events`] puts it back.
//! Leases (see [`crate::store`]) work as in the shared store — one process serializes every
//! statement — so a restarted router takes its earlier run's jobs back at once (same replica
//! name) and a store opened by two routers by mistake still never runs a job twice at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hop_proto::v1::{JobEvent, JobState};
use rusqlite::{Connection, OptionalExtension, params};

use super::encoding::{Encoded, decode_events, decode_job, final_finished, leased, stored_event};
use super::{Claim, Inserted, JobStore, Owner};
use crate::error::RouterError;
use crate::record::Job;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    ordinal INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL UNIQUE,
    state   INTEGER NOT NULL,
    record  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS events (
    job_id   TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    event    BLOB NOT NULL,
    PRIMARY KEY (job_id, sequence)
);
";

/// Columns added after the first version, with their definitions.
const ADDED_COLUMNS: [(&str, &str); 8] = [
    ("spec_hash", "TEXT NOT NULL DEFAULT ''"),
    ("starts", "INTEGER NOT NULL DEFAULT 1"),
    ("validation", "INTEGER NOT NULL DEFAULT 0"),
    ("finished_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("owner", "TEXT NOT NULL DEFAULT ''"),
    ("incarnation", "TEXT NOT NULL DEFAULT ''"),
    ("generation", "INTEGER NOT NULL DEFAULT 1"),
    ("lease_until_ms", "INTEGER NOT NULL DEFAULT 0"),
];

/// The clock in milliseconds since the Unix epoch.
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// The SQLite job store; cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// A job row as read: the record and the columns the wire record lacks.
type Row = (Vec<u8>, String, u32, i64);

const ROW: &str = "record, spec_hash, starts, generation";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

impl SqliteStore {
    /// Opens (creating when missing) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, RouterError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RouterError::store(path, e))?;
        }
        let conn = Connection::open(path).map_err(|e| RouterError::store(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| conn.busy_timeout(std::time::Duration::from_secs(10)))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .and_then(|()| add_missing_columns(&conn))
            .map_err(|e| RouterError::store(path, e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn: Mutex::new(conn),
            }),
        })
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, RouterError> {
        let inner = self.inner.clone();
        let path = inner.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn).map_err(|e| RouterError::store(&inner.path, e))
        })
        .await
        .map_err(|e| RouterError::store(&path, format!("the store's worker failed: {e}")))?
    }

    fn decode(&self, (bytes, hash, starts, generation): Row) -> Result<Job, RouterError> {
        decode_job(&bytes, hash, starts, generation)
            .map_err(|e| RouterError::store(&self.inner.path, e))
    }

    fn decode_all(&self, rows: Vec<Row>) -> Result<Vec<Job>, RouterError> {
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    async fn rows(
        &self,
        sql: String,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<Job>, RouterError> {
        let rows = self
            .with(move |conn| {
                let mut statement = conn.prepare_cached(&sql)?;
                let rows = statement.query_map(rusqlite::params_from_iter(params), row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        self.decode_all(rows)
    }
}

fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info('jobs')")?;
    let present: Vec<String> = statement
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, definition) in ADDED_COLUMNS {
        if !present.iter().any(|p| p == name) {
            conn.execute_batch(&format!("ALTER TABLE jobs ADD COLUMN {name} {definition}"))?;
        }
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS jobs_validation ON jobs (state, validation)")
}

fn update_job(conn: &Connection, encoded: &Encoded) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE jobs SET state = ?2, record = ?3, validation = ?4, starts = ?5, finished_ms = ?6
         WHERE job_id = ?1 AND generation = ?7",
        params![
            encoded.job_id,
            encoded.state,
            encoded.record,
            encoded.validation,
            encoded.starts,
            encoded.finished_ms,
            encoded.generation
        ],
    )
}

/// Whether the job is at `generation` (its holder may write).
fn holds(conn: &Connection, job_id: &str, generation: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM jobs WHERE job_id = ?1 AND generation = ?2",
        params![job_id, generation],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// A lease's parameters: owner, incarnation, ttl in ms.
fn lease_params(owner: &Owner) -> Vec<rusqlite::types::Value> {
    vec![
        owner.replica.clone().into(),
        owner.incarnation.clone().into(),
        owner.ttl_ms().into(),
    ]
}

fn insert_event(
    conn: &Connection,
    (job_id, sequence, bytes): &(String, i64, Vec<u8>),
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR REPLACE INTO events (job_id, sequence, event) VALUES (?1, ?2, ?3)",
        params![job_id, sequence, bytes],
    )
}

#[async_trait::async_trait]
impl JobStore for SqliteStore {
    async fn insert(
        &self,
        job: &Job,
        first: &JobEvent,
        owner: &Owner,
    ) -> Result<Inserted, RouterError> {
        let encoded = Encoded::of(job);
        let event = stored_event(first);
        let owner = owner.clone();
        let existing = self
            .with(move |conn| {
                let tx = conn.transaction()?;
                let existing: Option<Row> = tx
                    .query_row(
                        &format!("SELECT {ROW} FROM jobs WHERE job_id = ?1"),
                        params![encoded.job_id],
                        row,
                    )
                    .optional()?;
                if existing.is_none() {
                    tx.execute(
                        &format!(
                            "INSERT INTO jobs (job_id, state, record, spec_hash, starts,
                             validation, owner, incarnation, generation, lease_until_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, {NOW_MS} + ?10)"
                        ),
                        params![
                            encoded.job_id,
                            encoded.state,
                            encoded.record,
                            encoded.spec_hash,
                            encoded.starts,
                            encoded.validation,
                            owner.replica,
                            owner.incarnation,
                            encoded.generation,
                            owner.ttl_ms()
                        ],
                    )?;
                    insert_event(&tx, &event)?;
                }
                tx.commit()?;
                Ok(existing)
            })
            .await?;
        match existing {
            None => Ok(Inserted::New),
            Some(row) => Ok(Inserted::Existing(Box::new(self.decode(row)?))),
        }
    }

    async fn update(&self, job: &Job, event: Option<&JobEvent>) -> Result<(), RouterError> {
        let encoded = Encoded::of(job);
        let job_id = encoded.job_id.clone();
        let event = event.map(stored_event);
        let written = self
            .with(move |conn| {
                let tx = conn.transaction()?;
                if update_job(&tx, &encoded)? == 0 {
                    return Ok(false);
                }
                if let Some(event) = &event {
                    insert_event(&tx, event)?;
                }
                tx.commit().map(|()| true)
            })
            .await?;
        written.then_some(()).ok_or(RouterError::LeaseLost(job_id))
    }

    async fn append(&self, event: &JobEvent, generation: u64) -> Result<(), RouterError> {
        let event = stored_event(event);
        let job_id = event.0.clone();
        let generation = i64::try_from(generation).unwrap_or(i64::MAX);
        let written = self
            .with(move |conn| {
                let tx = conn.transaction()?;
                if !holds(&tx, &event.0, generation)? {
                    return Ok(false);
                }
                insert_event(&tx, &event)?;
                tx.commit().map(|()| true)
            })
            .await?;
        written.then_some(()).ok_or(RouterError::LeaseLost(job_id))
    }

    async fn renew(&self, owner: &Owner, job_ids: &[String]) -> Result<Vec<String>, RouterError> {
        let params = lease_params(owner);
        let job_ids = job_ids.to_vec();
        let sql = format!(
            "UPDATE jobs SET lease_until_ms = {NOW_MS} + ?3
             WHERE owner = ?1 AND incarnation = ?2 AND job_id = ?4 AND {}",
            leased("1")
        );
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let mut renewed = Vec::new();
            for id in job_ids {
                let mut params = params.clone();
                params.push(id.clone().into());
                if tx.execute(&sql, rusqlite::params_from_iter(params))? > 0 {
                    renewed.push(id);
                }
            }
            tx.commit().map(|()| renewed)
        })
        .await
    }

    async fn claim(&self, owner: &Owner, claim: Claim) -> Result<Vec<Job>, RouterError> {
        let mut params = lease_params(owner);
        params.extend([
            i64::from(claim.validations).into(),
            i64::from(claim.own_previous).into(),
            i64::try_from(claim.limit).unwrap_or(i64::MAX).into(),
        ]);
        self.rows(
            format!(
                "UPDATE jobs SET owner = ?1, incarnation = ?2, generation = generation + 1,
                 lease_until_ms = {NOW_MS} + ?3
                 WHERE ordinal IN (SELECT ordinal FROM jobs
                     WHERE {} AND (lease_until_ms < {NOW_MS}
                         OR (?5 AND owner = ?1 AND incarnation <> ?2))
                     ORDER BY ordinal LIMIT ?6)
                 RETURNING {ROW}",
                leased("?4")
            ),
            params,
        )
        .await
    }

    async fn take(&self, job_id: &str, owner: &Owner) -> Result<Option<Job>, RouterError> {
        let mut params = lease_params(owner);
        params.push(job_id.to_owned().into());
        let mut taken = self
            .rows(
                format!(
                    "UPDATE jobs SET owner = ?1, incarnation = ?2, generation = generation + 1,
                     lease_until_ms = {NOW_MS} + ?3
                     WHERE job_id = ?4 AND {} RETURNING {ROW}",
                    leased("0")
                ),
                params,
            )
            .await?;
        Ok(taken.pop())
    }

    async fn release(&self, owner: &Owner) -> Result<u64, RouterError> {
        let (replica, incarnation) = (owner.replica.clone(), owner.incarnation.clone());
        let sql = format!(
            "UPDATE jobs SET lease_until_ms = 0,
             starts = CASE WHEN {} AND starts > 0 THEN starts - 1 ELSE starts END
             WHERE owner = ?1 AND incarnation = ?2 AND {}",
            leased("0"),
            leased("1")
        );
        self.with(move |conn| {
            conn.execute(&sql, params![replica, incarnation])
                .map(|n| n as u64)
        })
        .await
    }

    async fn get(&self, job_id: &str) -> Result<Option<Job>, RouterError> {
        let job_id = job_id.to_owned();
        let row = self
            .with(move |conn| {
                conn.query_row(
                    &format!("SELECT {ROW} FROM jobs WHERE job_id = ?1"),
                    params![job_id],
                    row,
                )
                .optional()
            })
            .await?;
        row.map(|r| self.decode(r)).transpose()
    }

    async fn events(
        &self,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<JobEvent>, RouterError> {
        let id = job_id.to_owned();
        let blobs: Vec<Vec<u8>> = self
            .with(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT event FROM events WHERE job_id = ?1 AND sequence > ?2
                     ORDER BY sequence",
                )?;
                let rows =
                    statement.query_map(params![id, after_sequence as i64], |row| row.get(0))?;
                rows.collect()
            })
            .await?;
        let mut events =
            decode_events(&blobs).map_err(|e| RouterError::store(&self.inner.path, e))?;
        if let Some(finished) = final_finished(&mut events) {
            finished.result = self.get(job_id).await?.and_then(|job| job.result);
        }
        Ok(events)
    }

    async fn last_sequence(&self, job_id: &str) -> Result<u64, RouterError> {
        let job_id = job_id.to_owned();
        let last: i64 = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE job_id = ?1",
                    params![job_id],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(last as u64)
    }

    async fn list(&self, limit: usize, state: Option<JobState>) -> Result<Vec<Job>, RouterError> {
        let state = state.map_or(rusqlite::types::Value::Null, |s| {
            rusqlite::types::Value::Integer(s as i64)
        });
        self.rows(
            format!(
                "SELECT {ROW} FROM jobs WHERE (?1 IS NULL OR state = ?1)
                 ORDER BY ordinal DESC LIMIT ?2"
            ),
            vec![state, rusqlite::types::Value::Integer(limit as i64)],
        )
        .await
    }

    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, RouterError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM events WHERE job_id IN
                 (SELECT job_id FROM jobs WHERE finished_ms > 0 AND finished_ms < ?1)",
                params![cutoff_ms],
            )?;
            let jobs = tx.execute(
                "DELETE FROM jobs WHERE finished_ms > 0 AND finished_ms < ?1",
                params![cutoff_ms],
            )?;
            tx.commit()?;
            Ok(jobs as u64)
        })
        .await
    }

    async fn size_bytes(&self) -> Result<u64, RouterError> {
        let pages: i64 = self
            .with(|conn| {
                conn.query_row(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                    [],
                    |row| row.get(0),
                )
            })
            .await?;
        let mut wal = self.inner.path.clone().into_os_string();
        wal.push("-wal");
        let wal = std::fs::metadata(wal).map_or(0, |m| m.len());
        Ok(pages.max(0) as u64 + wal)
    }
}

#[cfg(test)]
mod tests;
