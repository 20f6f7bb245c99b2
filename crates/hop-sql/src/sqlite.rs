//! The default backend: SQLite compiled into the binary (rusqlite, `bundled`), in memory or in a
//! file, so the blue engine runs on a laptop with no database server.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::backend::{ColumnData, Rows, SqlBackend, Value, check_bulk_shape};
use crate::error::SqlError;

const NAME: &str = "embedded-sql";

/// How long a statement waits for another connection's lock on a file database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An embedded SQLite database.
pub struct SqliteBackend {
    conn: Connection,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl SqliteBackend {
    /// A private database that lives as long as this value.
    pub fn in_memory() -> Result<Self, SqlError> {
        let open_err = |e: rusqlite::Error| SqlError::Open {
            backend: NAME,
            target: ":memory:".into(),
            message: e.to_string(),
        };
        let conn = Connection::open_in_memory().map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        Ok(Self { conn })
    }

    /// A database file, created when missing. Several backends (processes or threads) may open
    /// the same file; writers wait up to 30 s for each other's locks.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SqlError> {
        let path = path.as_ref();
        let open_err = |e: rusqlite::Error| SqlError::Open {
            backend: NAME,
            target: path.display().to_string(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        Ok(Self { conn })
    }

    /// The SQLite library version compiled in (for logs).
    pub fn library_version() -> &'static str {
        rusqlite::version()
    }
}

/// Sorts (the window functions sort 2 million rows three times on production data) stay in
/// memory instead of spilling to temporary files: about 15% faster.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "temp_store", "MEMORY")
}

fn fail(sql: &str) -> impl Fn(rusqlite::Error) -> SqlError + '_ {
    move |e| SqlError::statement(NAME, sql, e)
}

/// An identifier the backend puts into generated SQL: letters, digits and `_`, not starting with
/// a digit.
fn check_identifier(name: &str) -> Result<(), SqlError> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SqlError::Invalid(format!(
            "{name:?} is not a plain SQL identifier"
        )))
    }
}

impl SqlBackend for SqliteBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&mut self, sql: &str) -> Result<(), SqlError> {
        self.conn.execute(sql, []).map(drop).map_err(fail(sql))
    }

    fn query(&mut self, sql: &str) -> Result<Rows, SqlError> {
        let mut stmt = self.conn.prepare(sql).map_err(fail(sql))?;
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let width = names.len();
        let mut columns: Vec<Vec<Value>> = vec![Vec::new(); width];
        let mut rows = stmt.query([]).map_err(fail(sql))?;
        while let Some(row) = rows.next().map_err(fail(sql))? {
            for (c, column) in columns.iter_mut().enumerate() {
                let value = match row.get_ref(c).map_err(fail(sql))? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => {
                        return Err(SqlError::result(
                            sql,
                            format!("column {:?} holds a BLOB", names[c]),
                        ));
                    }
                };
                column.push(value);
            }
        }
        Ok(Rows { names, columns })
    }

    fn bulk_load(
        &mut self,
        table: &str,
        columns: &[&str],
        data: &[ColumnData<'_>],
    ) -> Result<(), SqlError> {
        let n_rows = check_bulk_shape(columns, data)?;
        check_identifier(table)?;
        for c in columns {
            check_identifier(c)?;
        }
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        );
        let tx = self.conn.transaction().map_err(fail("BEGIN"))?;
        {
            let mut stmt = tx.prepare(&sql).map_err(fail(&sql))?;
            for r in 0..n_rows {
                for (c, column) in data.iter().enumerate() {
                    let bound = match column {
                        ColumnData::Int(v) => stmt.raw_bind_parameter(c + 1, v[r]),
                        ColumnData::Real(v) => stmt.raw_bind_parameter(c + 1, v[r]),
                        ColumnData::Text(v) => stmt.raw_bind_parameter(c + 1, v[r].as_str()),
                    };
                    bound.map_err(fail(&sql))?;
                }
                stmt.raw_execute().map_err(fail(&sql))?;
            }
        }
        // Dropping an uncommitted transaction (on any error above) rolls it back.
        tx.commit().map_err(fail("COMMIT"))
    }
}
