//! [`JobStore`]: durable job records and event histories in an embedded SQLite database.
//!
//! Two tables: `jobs` (one row per job: the prost-encoded `JobRecord`, its state, and an
//! insertion ordinal for "newest first") and `events` (every event of every job, keyed by job and
//! sequence). A job is stored before `Submit` replies, and every event before it is sent to any
//! watcher, so a router killed at any point restarts with every accepted job and its history.
//! WAL mode with `synchronous = NORMAL`: a committed transaction survives the process being
//! killed; only a power loss can drop the last few.
//!
//! `Finished` events are stored without their result (the record holds it once); [`JobStore::events`]
//! puts it back.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hop_proto::v1::job_event::Event;
use hop_proto::v1::{JobEvent, JobRecord, JobState};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::RouterError;

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

/// The job store.
#[derive(Debug)]
pub struct JobStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// What [`JobStore::insert`] found.
#[derive(Debug)]
pub enum Inserted {
    /// The job is new and now stored.
    New,
    /// A job with this id already exists: its record.
    Existing(Box<JobRecord>),
}

impl JobStore {
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
            .map_err(|e| RouterError::store(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, RouterError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(|e| RouterError::store(&self.path, e))
    }

    /// Stores a new job with its first event, unless its id exists.
    pub fn insert(&self, record: &JobRecord, first: &JobEvent) -> Result<Inserted, RouterError> {
        let existing = self.with(|conn| {
            let tx = conn.transaction()?;
            let existing: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT record FROM jobs WHERE job_id = ?1",
                    params![record.job_id],
                    |row| row.get(0),
                )
                .optional()?;
            if existing.is_none() {
                tx.execute(
                    "INSERT INTO jobs (job_id, state, record) VALUES (?1, ?2, ?3)",
                    params![record.job_id, record.state, record.encode_to_vec()],
                )?;
                insert_event(&tx, first)?;
            }
            tx.commit()?;
            Ok(existing)
        })?;
        match existing {
            None => Ok(Inserted::New),
            Some(bytes) => Ok(Inserted::Existing(Box::new(self.decode(&bytes)?))),
        }
    }

    /// Stores `record` (which must exist) and `event` in one transaction.
    pub fn update(&self, record: &JobRecord, event: &JobEvent) -> Result<(), RouterError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE jobs SET state = ?2, record = ?3 WHERE job_id = ?1",
                params![record.job_id, record.state, record.encode_to_vec()],
            )?;
            insert_event(&tx, event)?;
            tx.commit()
        })
    }

    /// Stores `record` (which must exist) without an event.
    pub fn update_record(&self, record: &JobRecord) -> Result<(), RouterError> {
        self.with(|conn| {
            conn.execute(
                "UPDATE jobs SET state = ?2, record = ?3 WHERE job_id = ?1",
                params![record.job_id, record.state, record.encode_to_vec()],
            )
            .map(drop)
        })
    }

    /// Stores one more event of a job.
    pub fn append(&self, event: &JobEvent) -> Result<(), RouterError> {
        self.with(|conn| insert_event(conn, event).map(drop))
    }

    /// A job's record.
    pub fn get(&self, job_id: &str) -> Result<Option<JobRecord>, RouterError> {
        let bytes: Option<Vec<u8>> = self.with(|conn| {
            conn.query_row(
                "SELECT record FROM jobs WHERE job_id = ?1",
                params![job_id],
                |row| row.get(0),
            )
            .optional()
        })?;
        bytes.map(|b| self.decode(&b)).transpose()
    }

    /// A job's events after `after_sequence`, in order (the `Finished` event with its result).
    pub fn events(&self, job_id: &str, after_sequence: u64) -> Result<Vec<JobEvent>, RouterError> {
        let blobs: Vec<Vec<u8>> = self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT event FROM events WHERE job_id = ?1 AND sequence > ?2 ORDER BY sequence",
            )?;
            let rows =
                statement.query_map(params![job_id, after_sequence as i64], |row| row.get(0))?;
            rows.collect()
        })?;
        let mut events = blobs
            .iter()
            .map(|b| JobEvent::decode(b.as_slice()).map_err(|e| self.corrupt(e)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(Event::Finished(finished)) = events.last_mut().and_then(|e| e.event.as_mut()) {
            finished.result = self.get(job_id)?.and_then(|record| record.result);
        }
        Ok(events)
    }

    /// The largest event sequence of a job (0 when none).
    pub fn last_sequence(&self, job_id: &str) -> Result<u64, RouterError> {
        let last: i64 = self.with(|conn| {
            conn.query_row(
                "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE job_id = ?1",
                params![job_id],
                |row| row.get(0),
            )
        })?;
        Ok(last as u64)
    }

    /// Up to `limit` records, newest first, optionally only in `state`.
    pub fn list(
        &self,
        limit: usize,
        state: Option<JobState>,
    ) -> Result<Vec<JobRecord>, RouterError> {
        let blobs: Vec<Vec<u8>> = self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT record FROM jobs WHERE (?1 IS NULL OR state = ?1)
                 ORDER BY ordinal DESC LIMIT ?2",
            )?;
            let rows = statement
                .query_map(params![state.map(|s| s as i32), limit as i64], |row| {
                    row.get(0)
                })?;
            rows.collect()
        })?;
        blobs.iter().map(|b| self.decode(b)).collect()
    }

    /// Jobs not in a final state (queued or running), oldest first: the ones to resume.
    pub fn unfinished(&self) -> Result<Vec<JobRecord>, RouterError> {
        let blobs: Vec<Vec<u8>> = self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT record FROM jobs WHERE state IN (?1, ?2) ORDER BY ordinal",
            )?;
            let rows = statement.query_map(
                params![JobState::Queued as i32, JobState::Running as i32],
                |row| row.get(0),
            )?;
            rows.collect()
        })?;
        blobs.iter().map(|b| self.decode(b)).collect()
    }

    fn decode(&self, bytes: &[u8]) -> Result<JobRecord, RouterError> {
        JobRecord::decode(bytes).map_err(|e| self.corrupt(e))
    }

    fn corrupt(&self, e: prost::DecodeError) -> RouterError {
        RouterError::store(&self.path, format!("a stored job does not decode: {e}"))
    }
}

fn insert_event(conn: &Connection, event: &JobEvent) -> rusqlite::Result<usize> {
    let mut stored = event.clone();
    if let Some(Event::Finished(finished)) = stored.event.as_mut() {
        finished.result = None;
    }
    conn.execute(
        "INSERT OR REPLACE INTO events (job_id, sequence, event) VALUES (?1, ?2, ?3)",
        params![event.job_id, event.sequence as i64, stored.encode_to_vec()],
    )
}

#[cfg(test)]
mod tests {
    use hop_proto::v1::job_event::{Finished, Queued};
    use hop_proto::v1::{JobResult, JobState};

    use super::*;

    fn record(id: &str) -> JobRecord {
        JobRecord {
            job_id: id.into(),
            state: JobState::Queued as i32,
            ..JobRecord::default()
        }
    }

    fn event(id: &str, sequence: u64, event: Event) -> JobEvent {
        JobEvent {
            sequence,
            ..JobEvent::now(id, event)
        }
    }

    #[test]
    fn insert_is_idempotent_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        {
            let store = JobStore::open(&path).unwrap();
            let queued = event("a", 1, Event::Queued(Queued {}));
            assert!(matches!(
                store.insert(&record("a"), &queued).unwrap(),
                Inserted::New
            ));
            assert!(matches!(
                store.insert(&record("a"), &queued).unwrap(),
                Inserted::Existing(r) if r.job_id == "a"
            ));
            store
                .insert(&record("b"), &event("b", 1, Event::Queued(Queued {})))
                .unwrap();
            let mut done = record("a");
            done.state = JobState::Succeeded as i32;
            done.result = Some(JobResult {
                best_fitness: 12.5,
                ..JobResult::default()
            });
            let finished = event(
                "a",
                2,
                Event::Finished(Finished {
                    result: done.result.clone(),
                }),
            );
            store.update(&done, &finished).unwrap();
        }
        let store = JobStore::open(&path).unwrap();
        let unfinished: Vec<_> = store
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|r| r.job_id)
            .collect();
        assert_eq!(unfinished, ["b"]);
        let listed: Vec<_> = store
            .list(10, None)
            .unwrap()
            .into_iter()
            .map(|r| r.job_id)
            .collect();
        assert_eq!(listed, ["b", "a"]);
        assert_eq!(store.list(10, Some(JobState::Succeeded)).unwrap().len(), 1);
        assert_eq!(store.last_sequence("a").unwrap(), 2);
        let events = store.events("a", 1).unwrap();
        assert_eq!(events.len(), 1);
        match &events[0].event {
            Some(Event::Finished(f)) => assert_eq!(f.result.as_ref().unwrap().best_fitness, 12.5),
            other => panic!("{other:?}"),
        }
        assert!(store.get("zzz").unwrap().is_none());
    }

    #[test]
    fn an_unusable_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = JobStore::open(&file.join("jobs.sqlite")).unwrap_err();
        assert!(err.to_string().contains("jobs.sqlite"), "{err}");
    }
}
