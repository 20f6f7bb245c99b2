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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hop_proto::v1::{JobEvent, JobState, ValidationOutcome};
use rusqlite::{Connection, OptionalExtension, params};

use super::encoding::{Encoded, decode_events, decode_job, final_finished, stored_event};
use super::{Inserted, JobStore};
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
const ADDED_COLUMNS: [(&str, &str); 4] = [
    ("spec_hash", "TEXT NOT NULL DEFAULT ''"),
    ("starts", "INTEGER NOT NULL DEFAULT 1"),
    ("validation", "INTEGER NOT NULL DEFAULT 0"),
    ("finished_ms", "INTEGER NOT NULL DEFAULT 0"),
];

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
type Row = (Vec<u8>, String, u32);

const ROW: &str = "record, spec_hash, starts";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
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

    fn decode(&self, (bytes, hash, starts): Row) -> Result<Job, RouterError> {
        decode_job(&bytes, hash, starts).map_err(|e| RouterError::store(&self.inner.path, e))
    }

    fn decode_all(&self, rows: Vec<Row>) -> Result<Vec<Job>, RouterError> {
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    async fn rows(
        &self,
        sql: &'static str,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<Job>, RouterError> {
        let rows = self
            .with(move |conn| {
                let mut statement = conn.prepare_cached(sql)?;
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
         WHERE job_id = ?1",
        params![
            encoded.job_id,
            encoded.state,
            encoded.record,
            encoded.validation,
            encoded.starts,
            encoded.finished_ms
        ],
    )
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
    async fn insert(&self, job: &Job, first: &JobEvent) -> Result<Inserted, RouterError> {
        let encoded = Encoded::of(job);
        let event = stored_event(first);
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
                        "INSERT INTO jobs (job_id, state, record, spec_hash, starts, validation)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            encoded.job_id,
                            encoded.state,
                            encoded.record,
                            encoded.spec_hash,
                            encoded.starts,
                            encoded.validation
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
        let event = event.map(stored_event);
        self.with(move |conn| {
            let tx = conn.transaction()?;
            update_job(&tx, &encoded)?;
            if let Some(event) = &event {
                insert_event(&tx, event)?;
            }
            tx.commit()
        })
        .await
    }

    async fn append(&self, event: &JobEvent) -> Result<(), RouterError> {
        let event = stored_event(event);
        self.with(move |conn| insert_event(conn, &event).map(drop))
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
            "SELECT record, spec_hash, starts FROM jobs WHERE (?1 IS NULL OR state = ?1)
             ORDER BY ordinal DESC LIMIT ?2",
            vec![state, rusqlite::types::Value::Integer(limit as i64)],
        )
        .await
    }

    async fn unfinished(&self) -> Result<Vec<Job>, RouterError> {
        self.rows(
            "SELECT record, spec_hash, starts FROM jobs WHERE state IN (?1, ?2) ORDER BY ordinal",
            vec![
                (JobState::Queued as i64).into(),
                (JobState::Running as i64).into(),
            ],
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

    async fn pending_validations(&self) -> Result<Vec<Job>, RouterError> {
        self.rows(
            "SELECT record, spec_hash, starts FROM jobs WHERE state = ?1 AND validation = ?2
             ORDER BY ordinal",
            vec![
                (JobState::Succeeded as i64).into(),
                (ValidationOutcome::Pending as i64).into(),
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests;
