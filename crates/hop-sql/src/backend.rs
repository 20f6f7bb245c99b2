//! The backend contract: what the legacy workflow needs from a SQL engine, and the columnar
//! result shape every backend returns (the HeavyDB Thrift client returns its `TColumn`s the same
//! way).

use crate::error::SqlError;

/// One cell of a query result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Real(f64),
    Text(String),
    Null,
}

impl Value {
    /// The number in the cell (an integer converts exactly up to 2^53); `None` for text and NULL.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Real(x) => Some(x),
            _ => None,
        }
    }

    /// The integer in the cell (a real converts only when it is a whole number in range).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Real(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(x as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A query result, columnar: `columns[c][r]` is row `r` of the column named `names[c]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub names: Vec<String>,
    pub columns: Vec<Vec<Value>>,
}

impl Rows {
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The column named `name` (case-insensitive, as SQL names are).
    pub fn column(&self, name: &str) -> Option<&[Value]> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|c| self.columns[c].as_slice())
    }
}

/// One column of a bulk load, borrowed: every column of a load has the same length.
#[derive(Debug, Clone, Copy)]
pub enum ColumnData<'a> {
    Int(&'a [i64]),
    Real(&'a [f64]),
    Text(&'a [String]),
}

impl ColumnData<'_> {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Int(v) => v.len(),
            ColumnData::Real(v) => v.len(),
            ColumnData::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A SQL engine the legacy workflow can run on. Statements are plain SQL that both SQLite and
/// HeavyDB (Calcite) accept.
pub trait SqlBackend: Send {
    /// The engine name reported in job results (`embedded-sql`, `heavydb`).
    fn name(&self) -> &'static str;

    /// Runs one statement that returns no rows (DDL, INSERT, DROP).
    fn execute(&mut self, sql: &str) -> Result<(), SqlError>;

    /// Runs one query and returns all of its rows.
    fn query(&mut self, sql: &str) -> Result<Rows, SqlError>;

    /// Appends rows to `table`, given column by column: `data[c]` holds the values of
    /// `columns[c]`, all of the same length. This is the fast path for loading the matrix:
    /// SQLite runs one transaction over one prepared `INSERT`; HeavyDB will use its own columnar
    /// bulk path (`load_table_binary_columnar`), which takes exactly this shape.
    fn bulk_load(
        &mut self,
        table: &str,
        columns: &[&str],
        data: &[ColumnData<'_>],
    ) -> Result<(), SqlError>;
}

/// Checks a bulk load request: one data column per name, all of the same length; returns the
/// number of rows.
pub fn check_bulk_shape(columns: &[&str], data: &[ColumnData<'_>]) -> Result<usize, SqlError> {
    if columns.is_empty() || columns.len() != data.len() {
        return Err(SqlError::Invalid(format!(
            "bulk load of {} column names with {} data columns",
            columns.len(),
            data.len()
        )));
    }
    let rows = data[0].len();
    if let Some(c) = data.iter().position(|d| d.len() != rows) {
        return Err(SqlError::Invalid(format!(
            "bulk load column {:?} has {} rows, column {:?} has {rows}",
            columns[c],
            data[c].len(),
            columns[0]
        )));
    }
    Ok(rows)
}

/// A borrowed backend is a backend: `LegacyWorkflow::new(&mut backend, ..)` keeps it usable after,
/// and a backend chosen at run time works as `&mut *boxed` (`&mut dyn SqlBackend`).
impl<T: SqlBackend + ?Sized> SqlBackend for &mut T {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn execute(&mut self, sql: &str) -> Result<(), SqlError> {
        (**self).execute(sql)
    }
    fn query(&mut self, sql: &str) -> Result<Rows, SqlError> {
        (**self).query(sql)
    }
    fn bulk_load(
        &mut self,
        table: &str,
        columns: &[&str],
        data: &[ColumnData<'_>],
    ) -> Result<(), SqlError> {
        (**self).bulk_load(table, columns, data)
    }
}
