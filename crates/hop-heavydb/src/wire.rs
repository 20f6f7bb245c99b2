//! The few types of HeavyDB's Thrift IDL (`heavy.thrift`, `common.thrift`) the client uses,
//! written by hand with the `thrift` crate's protocol traits. Field ids and types are those of
//! pyheavydb's generated code (`heavydb.thrift.ttypes`, `heavydb.common.ttypes`); unknown fields
//! are skipped, as generated code does.

use hop_sql::ColumnData;
use thrift::protocol::{
    TFieldIdentifier, TInputProtocol, TListIdentifier, TOutputProtocol, TStructIdentifier, TType,
};

/// `TDatumType` values (common.thrift).
pub mod datum {
    pub const SMALLINT: i32 = 0;
    pub const INT: i32 = 1;
    pub const BIGINT: i32 = 2;
    pub const FLOAT: i32 = 3;
    pub const DECIMAL: i32 = 4;
    pub const DOUBLE: i32 = 5;
    pub const STR: i32 = 6;
    pub const TIME: i32 = 7;
    pub const TIMESTAMP: i32 = 8;
    pub const DATE: i32 = 9;
    pub const BOOL: i32 = 10;
    pub const TINYINT: i32 = 17;
}

/// One argument of a call: field id and value. `Session` is the current session id.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Session(i16),
    Str(i16, &'a str),
    Bool(i16, bool),
    I32(i16, i32),
    Strings(i16, &'a [&'a str]),
    Columns(i16, &'a [ColumnData<'a>]),
}

/// Writes a call's `<method>_args` struct.
pub fn write_args(
    o: &mut dyn TOutputProtocol,
    method: &str,
    args: &[Arg<'_>],
    session: &str,
) -> thrift::Result<()> {
    o.write_struct_begin(&TStructIdentifier::new(format!("{method}_args")))?;
    for arg in args {
        match *arg {
            Arg::Session(id) => string_field(o, id, session)?,
            Arg::Str(id, s) => string_field(o, id, s)?,
            Arg::Bool(id, b) => {
                o.write_field_begin(&field(TType::Bool, id))?;
                o.write_bool(b)?;
                o.write_field_end()?;
            }
            Arg::I32(id, i) => {
                o.write_field_begin(&field(TType::I32, id))?;
                o.write_i32(i)?;
                o.write_field_end()?;
            }
            Arg::Strings(id, list) => {
                o.write_field_begin(&field(TType::List, id))?;
                o.write_list_begin(&TListIdentifier::new(TType::String, len(list.len())?))?;
                for s in list {
                    o.write_string(s)?;
                }
                o.write_list_end()?;
                o.write_field_end()?;
            }
            Arg::Columns(id, columns) => {
                o.write_field_begin(&field(TType::List, id))?;
                o.write_list_begin(&TListIdentifier::new(TType::Struct, len(columns.len())?))?;
                for column in columns {
                    write_column(o, column)?;
                }
                o.write_list_end()?;
                o.write_field_end()?;
            }
        }
    }
    o.write_field_stop()?;
    o.write_struct_end()
}

fn field(ty: TType, id: i16) -> TFieldIdentifier {
    TFieldIdentifier::new::<Option<String>, String, i16>(None, ty, id)
}

fn len(n: usize) -> thrift::Result<i32> {
    i32::try_from(n).map_err(|_| {
        thrift::Error::Protocol(thrift::ProtocolError::new(
            thrift::ProtocolErrorKind::SizeLimit,
            format!("a list of {n} elements is too long for Thrift"),
        ))
    })
}

fn string_field(o: &mut dyn TOutputProtocol, id: i16, s: &str) -> thrift::Result<()> {
    o.write_field_begin(&field(TType::String, id))?;
    o.write_string(s)?;
    o.write_field_end()
}

/// `TColumn {1: TColumnData data, 2: list<bool> nulls}` with `TColumnData {1: list<i64> int_col,
/// 2: list<double> real_col, 3: list<string> str_col, 4: list<TColumn> arr_col}`: the values go
/// to the list of their kind, the other lists are empty, no value is NULL.
fn write_column(o: &mut dyn TOutputProtocol, column: &ColumnData<'_>) -> thrift::Result<()> {
    let n = len(column.len())?;
    o.write_struct_begin(&TStructIdentifier::new("TColumn"))?;
    o.write_field_begin(&field(TType::Struct, 1))?;
    o.write_struct_begin(&TStructIdentifier::new("TColumnData"))?;
    let (ints, reals, strs) = match column {
        ColumnData::Int(v) => (*v, &[][..], &[][..]),
        ColumnData::Real(v) => (&[][..], *v, &[][..]),
        ColumnData::Text(v) => (&[][..], &[][..], *v),
    };
    o.write_field_begin(&field(TType::List, 1))?;
    o.write_list_begin(&TListIdentifier::new(TType::I64, len(ints.len())?))?;
    for &i in ints {
        o.write_i64(i)?;
    }
    o.write_list_end()?;
    o.write_field_end()?;
    o.write_field_begin(&field(TType::List, 2))?;
    o.write_list_begin(&TListIdentifier::new(TType::Double, len(reals.len())?))?;
    for &x in reals {
        o.write_double(x)?;
    }
    o.write_list_end()?;
    o.write_field_end()?;
    o.write_field_begin(&field(TType::List, 3))?;
    o.write_list_begin(&TListIdentifier::new(TType::String, len(strs.len())?))?;
    for s in strs {
        o.write_string(s)?;
    }
    o.write_list_end()?;
    o.write_field_end()?;
    o.write_field_begin(&field(TType::List, 4))?;
    o.write_list_begin(&TListIdentifier::new(TType::Struct, 0))?;
    o.write_list_end()?;
    o.write_field_end()?;
    o.write_field_stop()?;
    o.write_struct_end()?;
    o.write_field_end()?;
    o.write_field_begin(&field(TType::List, 2))?;
    o.write_list_begin(&TListIdentifier::new(TType::Bool, n))?;
    for _ in 0..n {
        o.write_bool(false)?;
    }
    o.write_list_end()?;
    o.write_field_end()?;
    o.write_field_stop()?;
    o.write_struct_end()
}

/// Reads a `<method>_result` struct: `Ok(Some(success))` (field 0), `Ok(None)` for a void
/// method, or `Err(error_msg)` when the server raised `TDBException` (field 1).
pub fn read_reply<T>(
    i: &mut dyn TInputProtocol,
    mut success: impl FnMut(&mut dyn TInputProtocol) -> thrift::Result<T>,
) -> thrift::Result<Result<Option<T>, String>> {
    let mut out = Ok(None);
    read_struct(i, |i, id, ty| match (id, ty) {
        (0, _) => {
            out = Ok(Some(success(i)?));
            Ok(())
        }
        (1, TType::Struct) => {
            out = Err(read_db_exception(i)?);
            Ok(())
        }
        _ => i.skip(ty),
    })?;
    Ok(out)
}

/// Calls `on_field(i, id, type)` for every field of a struct; it must read or skip the value.
fn read_struct(
    i: &mut dyn TInputProtocol,
    mut on_field: impl FnMut(&mut dyn TInputProtocol, i16, TType) -> thrift::Result<()>,
) -> thrift::Result<()> {
    i.read_struct_begin()?;
    loop {
        let f = i.read_field_begin()?;
        if f.field_type == TType::Stop {
            break;
        }
        on_field(i, f.id.unwrap_or(-1), f.field_type)?;
        i.read_field_end()?;
    }
    i.read_struct_end()
}

/// Reads a list of `element` values with `read`; skips a field of another type.
fn read_list<T>(
    i: &mut dyn TInputProtocol,
    ty: TType,
    element: TType,
    mut read: impl FnMut(&mut dyn TInputProtocol) -> thrift::Result<T>,
) -> thrift::Result<Vec<T>> {
    if ty != TType::List {
        i.skip(ty)?;
        return Ok(Vec::new());
    }
    let list = i.read_list_begin()?;
    if list.element_type != element && list.size > 0 {
        return Err(thrift::Error::Protocol(thrift::ProtocolError::new(
            thrift::ProtocolErrorKind::InvalidData,
            format!(
                "a list of {:?} where {element:?} belongs",
                list.element_type
            ),
        )));
    }
    let mut out = Vec::with_capacity(list.size.max(0) as usize);
    for _ in 0..list.size {
        out.push(read(i)?);
    }
    i.read_list_end()?;
    Ok(out)
}

/// `TDBException {1: string error_msg}`.
fn read_db_exception(i: &mut dyn TInputProtocol) -> thrift::Result<String> {
    let mut message = String::new();
    read_struct(i, |i, id, ty| match (id, ty) {
        (1, TType::String) => {
            message = i.read_string()?;
            Ok(())
        }
        _ => i.skip(ty),
    })?;
    Ok(message)
}

/// A result column's name and type (`TColumnType` with its `TTypeInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnType {
    pub name: String,
    /// A `TDatumType` ([`datum`]).
    pub datum: i32,
    pub is_array: bool,
    /// For TIMESTAMP: digits of sub-second precision (0 = seconds, 3 = ms, 6 = us, 9 = ns).
    pub precision: i32,
}

/// `TColumn`: the values in the list of their kind (a placeholder where `nulls` is true).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub ints: Vec<i64>,
    pub reals: Vec<f64>,
    pub strs: Vec<String>,
    pub nulls: Vec<bool>,
}

/// The parts of `TQueryResult` the client uses: its `TRowSet`'s `row_desc`, `columns` and
/// `is_columnar`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub row_desc: Vec<ColumnType>,
    pub columns: Vec<Column>,
    pub is_columnar: bool,
}

/// `TQueryResult {1: TRowSet row_set, ..}`.
pub fn read_query_result(i: &mut dyn TInputProtocol) -> thrift::Result<QueryResult> {
    let mut out = QueryResult::default();
    read_struct(i, |i, id, ty| match (id, ty) {
        (1, TType::Struct) => read_row_set(i, &mut out),
        _ => i.skip(ty),
    })?;
    Ok(out)
}

/// `TRowSet {1: list<TColumnType> row_desc, 2: list<TRow> rows, 3: list<TColumn> columns, 4: bool
/// is_columnar}`.
fn read_row_set(i: &mut dyn TInputProtocol, out: &mut QueryResult) -> thrift::Result<()> {
    read_struct(i, |i, id, ty| match id {
        1 => {
            out.row_desc = read_list(i, ty, TType::Struct, read_column_type)?;
            Ok(())
        }
        3 => {
            out.columns = read_list(i, ty, TType::Struct, read_column)?;
            Ok(())
        }
        4 if ty == TType::Bool => {
            out.is_columnar = i.read_bool()?;
            Ok(())
        }
        _ => i.skip(ty),
    })
}

/// `TColumnType {1: string col_name, 2: TTypeInfo col_type, ..}` with `TTypeInfo {1: i32 type,
/// 2: bool nullable, 3: bool is_array, 4: i32 encoding, 5: i32 precision, 6: i32 scale, ..}`.
fn read_column_type(i: &mut dyn TInputProtocol) -> thrift::Result<ColumnType> {
    let mut out = ColumnType::default();
    read_struct(i, |i, id, ty| match (id, ty) {
        (1, TType::String) => {
            out.name = i.read_string()?;
            Ok(())
        }
        (2, TType::Struct) => read_struct(i, |i, id, ty| match (id, ty) {
            (1, TType::I32) => {
                out.datum = i.read_i32()?;
                Ok(())
            }
            (3, TType::Bool) => {
                out.is_array = i.read_bool()?;
                Ok(())
            }
            (5, TType::I32) => {
                out.precision = i.read_i32()?;
                Ok(())
            }
            _ => i.skip(ty),
        }),
        _ => i.skip(ty),
    })?;
    Ok(out)
}

/// `TColumn {1: TColumnData data, 2: list<bool> nulls}` (arrays in `arr_col` are skipped: the
/// client refuses array columns by their type).
fn read_column(i: &mut dyn TInputProtocol) -> thrift::Result<Column> {
    let mut out = Column::default();
    read_struct(i, |i, id, ty| match (id, ty) {
        (1, TType::Struct) => read_struct(i, |i, id, ty| match id {
            1 => {
                out.ints = read_list(i, ty, TType::I64, |i| i.read_i64())?;
                Ok(())
            }
            2 => {
                out.reals = read_list(i, ty, TType::Double, |i| i.read_double())?;
                Ok(())
            }
            3 => {
                out.strs = read_list(i, ty, TType::String, |i| i.read_string())?;
                Ok(())
            }
            _ => i.skip(ty),
        }),
        (2, _) => {
            out.nulls = read_list(i, ty, TType::Bool, |i| i.read_bool())?;
            Ok(())
        }
        _ => i.skip(ty),
    })?;
    Ok(out)
}
