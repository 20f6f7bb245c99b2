//! The legacy workflow over SQL: load the matrix into per-job tables, compute the per-strategy
//! metrics in SQL, read the matrix back (so the blue engine searches data that went through the
//! database), and drop the tables, also when anything fails.

use hop_core::{PnlMatrix, StrategyMetrics};

use crate::backend::{ColumnData, Rows, SqlBackend, Value};
use crate::error::SqlError;
use crate::metrics_sql;

/// Strategies per bulk load call (one SQLite transaction each): 2,048 x 82 days = 168k rows.
const LOAD_CHUNK_STRATEGIES: usize = 2048;
/// Strategies per read-back query, which bounds the memory of one result.
const READ_CHUNK_STRATEGIES: usize = 4096;
/// Longest sanitized job tag kept in a table name.
const MAX_TAG_CHARS: usize = 40;

/// The three tables of one job: `hop_<tag>_strategies (strategy_id INTEGER, name TEXT)`,
/// `hop_<tag>_dates (day_index INTEGER, trade_date TEXT)` and
/// `hop_<tag>_pnl (strategy_id INTEGER, day_index INTEGER, pnl DOUBLE)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub strategies: String,
    pub dates: String,
    pub pnl: String,
}

impl TableNames {
    /// The tables of the job tagged `job_tag`. The tag is lowercased, every character outside
    /// `[a-z0-9_]` becomes `_` and it is cut at 40 characters; when that changed anything, a hash
    /// of the original tag is appended, so that distinct tags (`job-1`, `job_1`, `JOB_1`) never
    /// share tables.
    pub fn for_job(job_tag: &str) -> Result<Self, SqlError> {
        let mut tag: String = job_tag
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9' | '_') => c,
                _ => '_',
            })
            .take(MAX_TAG_CHARS)
            .collect();
        if job_tag.trim().is_empty() {
            return Err(SqlError::Invalid("the job tag is empty".into()));
        }
        if tag != job_tag {
            tag = format!("{tag}_{:08x}", fnv1a32(job_tag.as_bytes()));
        }
        Ok(Self {
            strategies: format!("hop_{tag}_strategies"),
            dates: format!("hop_{tag}_dates"),
            pnl: format!("hop_{tag}_pnl"),
        })
    }

    fn all(&self) -> [&str; 3] {
        [&self.strategies, &self.dates, &self.pnl]
    }
}

/// FNV-1a, 32 bits: a stable hash for table names (no dependency, same on every platform).
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// What [`run`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyOutput {
    /// Per-strategy metrics computed in SQL, in strategy order.
    pub metrics: Vec<StrategyMetrics>,
    /// The matrix as read back from the database.
    pub matrix: PnlMatrix,
}

/// The whole workflow for one job: load, metrics, read back, drop the tables.
pub fn run<B: SqlBackend>(
    backend: B,
    job_tag: &str,
    matrix: &PnlMatrix,
) -> Result<LegacyOutput, SqlError> {
    let mut workflow = LegacyWorkflow::new(backend, job_tag)?;
    workflow.load(matrix)?;
    let metrics = workflow.strategy_metrics()?;
    let matrix = workflow.read_matrix()?;
    workflow.finish()?;
    Ok(LegacyOutput { metrics, matrix })
}

/// One job's tables on a backend. Also a guard: the tables this value created are dropped when
/// it is dropped (errors ignored); call [`LegacyWorkflow::finish`] to drop them and see errors.
///
/// `B` may be `&mut SqliteBackend` or `&mut dyn SqlBackend` to keep the backend for later.
pub struct LegacyWorkflow<B: SqlBackend> {
    backend: B,
    tables: TableNames,
    /// Which of `tables.all()` this value created and has not dropped yet.
    created: [bool; 3],
    /// Days per strategy of the loaded matrix.
    days: Option<usize>,
}

impl<B: SqlBackend> std::fmt::Debug for LegacyWorkflow<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyWorkflow")
            .field("backend", &self.backend.name())
            .field("tables", &self.tables)
            .field("created", &self.created)
            .finish()
    }
}

impl<B: SqlBackend> LegacyWorkflow<B> {
    /// A workflow for the job tagged `job_tag` (see [`TableNames::for_job`]); creates nothing yet.
    pub fn new(backend: B, job_tag: &str) -> Result<Self, SqlError> {
        Ok(Self {
            backend,
            tables: TableNames::for_job(job_tag)?,
            created: [false; 3],
            days: None,
        })
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// The backend, for ad-hoc statements.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Creates the job's tables and loads the matrix. Fails (creating nothing more) if a table of
    /// this tag already exists: another job is using it.
    pub fn load(&mut self, matrix: &PnlMatrix) -> Result<(), SqlError> {
        let t = self.tables.clone();
        let ddl = [
            format!(
                "CREATE TABLE {} (strategy_id INTEGER, name TEXT)",
                t.strategies
            ),
            format!(
                "CREATE TABLE {} (day_index INTEGER, trade_date TEXT)",
                t.dates
            ),
            format!(
                "CREATE TABLE {} (strategy_id INTEGER, day_index INTEGER, pnl DOUBLE)",
                t.pnl
            ),
        ];
        for (i, sql) in ddl.iter().enumerate() {
            if !self.created[i] {
                self.backend.execute(sql)?;
                self.created[i] = true;
            }
        }

        let (n, days) = (matrix.n_strategies(), matrix.n_days());
        let ids: Vec<i64> = (0..n as i64).collect();
        self.backend.bulk_load(
            &t.strategies,
            &["strategy_id", "name"],
            &[ColumnData::Int(&ids), ColumnData::Text(matrix.names())],
        )?;
        let day_ids: Vec<i64> = (0..days as i64).collect();
        self.backend.bulk_load(
            &t.dates,
            &["day_index", "trade_date"],
            &[ColumnData::Int(&day_ids), ColumnData::Text(matrix.dates())],
        )?;
        let mut strategy_col = Vec::with_capacity(LOAD_CHUNK_STRATEGIES * days);
        let mut day_col = Vec::with_capacity(LOAD_CHUNK_STRATEGIES * days);
        for first in (0..n).step_by(LOAD_CHUNK_STRATEGIES) {
            let end = (first + LOAD_CHUNK_STRATEGIES).min(n);
            strategy_col.clear();
            day_col.clear();
            for j in first..end {
                strategy_col.extend(std::iter::repeat_n(j as i64, days));
                day_col.extend_from_slice(&day_ids);
            }
            self.backend.bulk_load(
                &t.pnl,
                &["strategy_id", "day_index", "pnl"],
                &[
                    ColumnData::Int(&strategy_col),
                    ColumnData::Int(&day_col),
                    ColumnData::Real(&matrix.values()[first * days..end * days]),
                ],
            )?;
        }
        self.days = Some(days);
        Ok(())
    }

    /// The five per-strategy metrics, computed in SQL (two queries: path and distribution), in
    /// strategy order. A NULL profit factor (no losing day) is `+inf`.
    pub fn strategy_metrics(&mut self) -> Result<Vec<StrategyMetrics>, SqlError> {
        let days = match self.days {
            Some(days) => days,
            None => self.count_days()?,
        };
        let path_sql = metrics_sql::path_metrics(&self.tables.pnl, days - 1);
        let path = self.backend.query(&path_sql)?;
        let dist_sql = metrics_sql::distribution_metrics(&self.tables.pnl);
        let dist = self.backend.query(&dist_sql)?;
        let n = path.n_rows();
        check_ids(&path_sql, &path, "strategy_id", n)?;
        check_ids(&dist_sql, &dist, "strategy_id", n)?;

        let roi = number_column(&path_sql, &path, "roi", false)?;
        let mdd = number_column(&path_sql, &path, "max_drawdown", false)?;
        let win = number_column(&dist_sql, &dist, "win_percentage", false)?;
        let pf = number_column(&dist_sql, &dist, "profit_factor", true)?;
        let exp = number_column(&dist_sql, &dist, "expectancy", false)?;
        Ok((0..n)
            .map(|j| StrategyMetrics {
                roi: roi[j],
                max_drawdown: mdd[j],
                win_percentage: win[j],
                profit_factor: pf[j],
                expectancy: exp[j],
            })
            .collect())
    }

    /// Reads the matrix back from the job's tables (names, dates and values in id order). Every
    /// value comes back bit for bit, except that SQLite stores `-0.0` in a `DOUBLE` column as
    /// `0.0` (equal, and no metric can tell them apart).
    pub fn read_matrix(&mut self) -> Result<PnlMatrix, SqlError> {
        let t = self.tables.clone();
        let sql = format!(
            "SELECT strategy_id, name FROM {} ORDER BY strategy_id",
            t.strategies
        );
        let rows = self.backend.query(&sql)?;
        let n = rows.n_rows();
        check_ids(&sql, &rows, "strategy_id", n)?;
        let names = text_column(&sql, &rows, "name")?;

        let sql = format!(
            "SELECT day_index, trade_date FROM {} ORDER BY day_index",
            t.dates
        );
        let rows = self.backend.query(&sql)?;
        let days = rows.n_rows();
        check_ids(&sql, &rows, "day_index", days)?;
        let dates = text_column(&sql, &rows, "trade_date")?;

        let mut values = Vec::with_capacity(n * days);
        for first in (0..n).step_by(READ_CHUNK_STRATEGIES) {
            let end = (first + READ_CHUNK_STRATEGIES).min(n);
            let sql = format!(
                "SELECT strategy_id, day_index, pnl FROM {} \
                 WHERE strategy_id >= {first} AND strategy_id < {end} \
                 ORDER BY strategy_id, day_index",
                t.pnl
            );
            let rows = self.backend.query(&sql)?;
            if rows.n_rows() != (end - first) * days {
                return Err(SqlError::result(
                    &sql,
                    format!(
                        "{} rows for {} strategies x {days} days",
                        rows.n_rows(),
                        end - first
                    ),
                ));
            }
            let (sid, day) = (
                int_column(&sql, &rows, "strategy_id")?,
                int_column(&sql, &rows, "day_index")?,
            );
            for (r, (&s, &d)) in sid.iter().zip(&day).enumerate() {
                let (want_s, want_d) = ((first + r / days) as i64, (r % days) as i64);
                if (s, d) != (want_s, want_d) {
                    return Err(SqlError::result(
                        &sql,
                        format!(
                            "row {r} is (strategy {s}, day {d}), expected ({want_s}, {want_d})"
                        ),
                    ));
                }
            }
            values.extend(number_column(&sql, &rows, "pnl", false)?);
        }
        Ok(PnlMatrix::new(names, dates, values)?)
    }

    /// Drops the tables this workflow created and reports the first error.
    pub fn finish(mut self) -> Result<(), SqlError> {
        self.drop_tables()
    }

    fn drop_tables(&mut self) -> Result<(), SqlError> {
        let mut first_error = None;
        let tables = self.tables.all();
        for (created, table) in self.created.iter_mut().zip(tables) {
            if *created {
                match self
                    .backend
                    .execute(&format!("DROP TABLE IF EXISTS {table}"))
                {
                    Ok(()) => *created = false,
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn count_days(&mut self) -> Result<usize, SqlError> {
        let sql = format!("SELECT COUNT(*) AS days FROM {}", self.tables.dates);
        let rows = self.backend.query(&sql)?;
        match rows
            .column("days")
            .and_then(|c| c.first())
            .and_then(Value::as_i64)
        {
            Some(days) if days > 0 => Ok(days as usize),
            _ => Err(SqlError::result(&sql, "no trading day in the table")),
        }
    }
}

impl<B: SqlBackend> Drop for LegacyWorkflow<B> {
    fn drop(&mut self) {
        let _ = self.drop_tables();
    }
}

fn column<'r>(sql: &str, rows: &'r Rows, name: &str) -> Result<&'r [Value], SqlError> {
    rows.column(name)
        .ok_or_else(|| SqlError::result(sql, format!("no column {name:?}")))
}

/// Checks that column `name` holds exactly the ids `0..n`, in order.
fn check_ids(sql: &str, rows: &Rows, name: &str, n: usize) -> Result<(), SqlError> {
    let ids = int_column(sql, rows, name)?;
    if ids.len() != n {
        return Err(SqlError::result(
            sql,
            format!("{} rows, expected {n}", ids.len()),
        ));
    }
    match ids.iter().enumerate().find(|&(i, &id)| id != i as i64) {
        Some((i, id)) => Err(SqlError::result(
            sql,
            format!("row {i} has {name} {id}, expected {i}"),
        )),
        None => Ok(()),
    }
}

fn int_column(sql: &str, rows: &Rows, name: &str) -> Result<Vec<i64>, SqlError> {
    column(sql, rows, name)?
        .iter()
        .enumerate()
        .map(|(r, v)| {
            v.as_i64().ok_or_else(|| {
                SqlError::result(sql, format!("row {r}: {name} is {v:?}, not an integer"))
            })
        })
        .collect()
}

/// A numeric column; NULL is `+inf` where `null_is_inf`, an error elsewhere.
fn number_column(
    sql: &str,
    rows: &Rows,
    name: &str,
    null_is_inf: bool,
) -> Result<Vec<f64>, SqlError> {
    column(sql, rows, name)?
        .iter()
        .enumerate()
        .map(|(r, v)| match v {
            Value::Null if null_is_inf => Ok(f64::INFINITY),
            v => v.as_f64().ok_or_else(|| {
                SqlError::result(sql, format!("row {r}: {name} is {v:?}, not a number"))
            }),
        })
        .collect()
}

fn text_column(sql: &str, rows: &Rows, name: &str) -> Result<Vec<String>, SqlError> {
    column(sql, rows, name)?
        .iter()
        .enumerate()
        .map(|(r, v)| match v {
            Value::Text(s) => Ok(s.clone()),
            v => Err(SqlError::result(
                sql,
                format!("row {r}: {name} is {v:?}, not a text"),
            )),
        })
        .collect()
}
