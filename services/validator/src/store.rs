//! [`ComparisonStore`]: every comparison and every mismatch, durably, in one SQLite file
//! (`<data_dir>/validator/comparisons.sqlite` unless `store` says otherwise).
//!
//! ```sql
//! comparisons(id INTEGER PRIMARY KEY, job_id, compared_at, matched, max_relative_difference,
//!             tolerance, fields_compared, mismatch_count)
//! mismatches(comparison_id, position, field, blue, green, relative_difference)
//! ```
//!
//! `compared_at` is RFC 3339 UTC text with nanoseconds (readable with the `sqlite3` shell, and it
//! sorts); `matched` is 0 or 1; `relative_difference` is `Inf` for non-numeric mismatches. A job
//! compared twice has two rows: the store is a history. WAL journal with `synchronous = FULL`: a
//! comparison acknowledged to a client survives a crash or a power cut. All methods block: call
//! them from a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hop_proto::v1::{CompareReply, Mismatch};
use prost_types::Timestamp;
use rusqlite::{Connection, Row, params};

use crate::ValidatorError;

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS comparisons (
    id                      INTEGER PRIMARY KEY,
    job_id                  TEXT    NOT NULL,
    compared_at             TEXT    NOT NULL,
    matched                 INTEGER NOT NULL,
    max_relative_difference REAL    NOT NULL,
    tolerance               REAL    NOT NULL,
    fields_compared         INTEGER NOT NULL,
    mismatch_count          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS comparisons_by_job ON comparisons (job_id);
CREATE INDEX IF NOT EXISTS comparisons_unmatched ON comparisons (id) WHERE matched = 0;
CREATE TABLE IF NOT EXISTS mismatches (
    comparison_id       INTEGER NOT NULL REFERENCES comparisons (id),
    position            INTEGER NOT NULL,
    field               TEXT    NOT NULL,
    blue                TEXT    NOT NULL,
    green               TEXT    NOT NULL,
    relative_difference REAL    NOT NULL,
    PRIMARY KEY (comparison_id, position)
) WITHOUT ROWID;
";

/// The comparison history in SQLite.
#[derive(Debug)]
pub struct ComparisonStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl ComparisonStore {
    /// Opens (creating it and its directory when missing) the store at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Self, ValidatorError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ValidatorError::Store {
                path: path.to_owned(),
                message: format!("cannot create its directory {}: {e}", dir.display()),
                transient: false,
            })?;
        }
        let fail = |what: &str| {
            let what = what.to_owned();
            move |e: rusqlite::Error| ValidatorError::store(path, &what, &e)
        };
        let conn = Connection::open(path).map_err(fail("cannot open it"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(fail("cannot set the busy timeout"))?;
        let journal: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(fail("cannot switch to WAL"))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(ValidatorError::Store {
                path: path.to_owned(),
                message: format!("the journal mode stays {journal:?} instead of WAL"),
                transient: false,
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail("cannot set synchronous = FULL"))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail("cannot read the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(ValidatorError::Store {
                path: path.to_owned(),
                message: format!(
                    "schema version {version} was written by a newer validator (this one writes \
                     {SCHEMA_VERSION})"
                ),
                transient: false,
            });
        }
        conn.execute_batch(SCHEMA)
            .map_err(fail("cannot create the tables"))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(fail("cannot write the schema version"))?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `reply` and its mismatches in one transaction; returns the comparison's id.
    pub fn record(&self, reply: &CompareReply) -> Result<i64, ValidatorError> {
        let fail = |e| ValidatorError::store(&self.path, "cannot record a comparison", &e);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(fail)?;
        tx.execute(
            "INSERT INTO comparisons (job_id, compared_at, matched, max_relative_difference, \
             tolerance, fields_compared, mismatch_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                reply.job_id,
                timestamp_text(reply.compared_at.as_ref()),
                reply.matched,
                reply.max_relative_difference,
                reply.tolerance,
                reply.fields_compared,
                sql_count(reply.mismatches.len()),
            ],
        )
        .map_err(fail)?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO mismatches (comparison_id, position, field, blue, green, \
                     relative_difference) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(fail)?;
            for (position, m) in reply.mismatches.iter().enumerate() {
                insert
                    .execute(params![
                        id,
                        sql_count(position),
                        m.field,
                        m.blue,
                        m.green,
                        m.relative_difference
                    ])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)?;
        Ok(id)
    }

    /// Up to `limit` comparisons, newest (last recorded) first, with their mismatches; only the
    /// ones that did not match when `only_mismatches`.
    pub fn list(
        &self,
        limit: u32,
        only_mismatches: bool,
    ) -> Result<Vec<CompareReply>, ValidatorError> {
        let fail = |e| ValidatorError::store(&self.path, "cannot list comparisons", &e);
        let conn = self.lock();
        let sql = if only_mismatches {
            "SELECT id, job_id, compared_at, matched, max_relative_difference, tolerance, \
             fields_compared FROM comparisons WHERE matched = 0 ORDER BY id DESC LIMIT ?1"
        } else {
            "SELECT id, job_id, compared_at, matched, max_relative_difference, tolerance, \
             fields_compared FROM comparisons ORDER BY id DESC LIMIT ?1"
        };
        let mut select = conn.prepare_cached(sql).map_err(fail)?;
        let rows = select
            .query_map([limit], |row| Ok((row.get::<_, i64>(0)?, comparison(row)?)))
            .map_err(fail)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let mut mismatches = conn
            .prepare_cached(
                "SELECT field, blue, green, relative_difference FROM mismatches \
                 WHERE comparison_id = ?1 ORDER BY position",
            )
            .map_err(fail)?;
        rows.into_iter()
            .map(|(id, mut reply)| {
                reply.mismatches = mismatches
                    .query_map([id], mismatch)
                    .map_err(fail)?
                    .collect::<Result<_, _>>()
                    .map_err(fail)?;
                Ok(reply)
            })
            .collect()
    }

    /// The connection; a panic while it was held left no open transaction (a dropped
    /// transaction rolls back), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A count or position as SQLite's integer (no `Vec` is that long).
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A `comparisons` row (columns 1.. of the list query) without its mismatches.
fn comparison(row: &Row<'_>) -> rusqlite::Result<CompareReply> {
    let compared_at: String = row.get(2)?;
    Ok(CompareReply {
        job_id: row.get(1)?,
        compared_at: parse_timestamp(&compared_at),
        matched: row.get(3)?,
        max_relative_difference: row.get(4)?,
        tolerance: row.get(5)?,
        fields_compared: row.get(6)?,
        mismatches: Vec::new(),
    })
}

fn mismatch(row: &Row<'_>) -> rusqlite::Result<Mismatch> {
    Ok(Mismatch {
        field: row.get(0)?,
        blue: row.get(1)?,
        green: row.get(2)?,
        relative_difference: row.get(3)?,
    })
}

/// RFC 3339 UTC with nanoseconds; the Unix epoch when absent or out of range.
fn timestamp_text(stamp: Option<&Timestamp>) -> String {
    let time = stamp
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .unwrap_or(DateTime::UNIX_EPOCH);
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The timestamp written by [`timestamp_text`]; absent if the text is not one.
fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let time = DateTime::parse_from_rfc3339(text).ok()?;
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).ok()?,
    })
}

#[cfg(test)]
mod tests;
