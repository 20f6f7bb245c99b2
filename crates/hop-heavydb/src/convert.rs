//! A columnar `TQueryResult` as `hop_sql::Rows`: integers (and BOOL) as `Int`, FLOAT, DOUBLE and
//! DECIMAL as `Real`, strings as `Text`, DATE / TIME / TIMESTAMP as ISO text (`2024-01-02`,
//! `03:04:05`, `2024-01-02 03:04:05`, what a date stored as text reads back as on SQLite), NULL
//! where the column's `nulls` says so.

use hop_sql::{Rows, Value};

use crate::wire::{Column, ColumnType, QueryResult, datum};

const SECONDS_PER_DAY: i64 = 86_400;

/// Converts a result, or says what is wrong with it.
pub fn to_rows(result: QueryResult) -> Result<Rows, String> {
    if !result.is_columnar && !result.row_desc.is_empty() {
        return Err("the server sent a row-wise result to a columnar request".into());
    }
    if result.columns.len() != result.row_desc.len() {
        return Err(format!(
            "{} columns for {} column descriptions",
            result.columns.len(),
            result.row_desc.len()
        ));
    }
    let mut rows = Rows::default();
    for (ty, column) in result.row_desc.into_iter().zip(result.columns) {
        rows.columns
            .push(to_values(&ty, column).map_err(|why| format!("column {:?}: {why}", ty.name))?);
        rows.names.push(ty.name);
    }
    if let Some(c) = rows.columns.iter().position(|c| c.len() != rows.n_rows()) {
        return Err(format!("column {:?} has another row count", rows.names[c]));
    }
    Ok(rows)
}

fn to_values(ty: &ColumnType, column: Column) -> Result<Vec<Value>, String> {
    if ty.is_array {
        return Err("array columns are not supported".into());
    }
    let nulls = column.nulls;
    let aligned = |n: usize, list: &str| {
        if n == nulls.len() {
            Ok(())
        } else {
            Err(format!(
                "{n} values in {list} for {} null flags",
                nulls.len()
            ))
        }
    };
    let values: Vec<Value> = match ty.datum {
        datum::SMALLINT | datum::INT | datum::BIGINT | datum::TINYINT | datum::BOOL => {
            aligned(column.ints.len(), "int_col")?;
            column.ints.into_iter().map(Value::Int).collect()
        }
        datum::FLOAT | datum::DOUBLE | datum::DECIMAL => {
            aligned(column.reals.len(), "real_col")?;
            column.reals.into_iter().map(Value::Real).collect()
        }
        datum::STR => {
            aligned(column.strs.len(), "str_col")?;
            column.strs.into_iter().map(Value::Text).collect()
        }
        datum::DATE | datum::TIME | datum::TIMESTAMP => {
            aligned(column.ints.len(), "int_col")?;
            column
                .ints
                .into_iter()
                .map(|v| Value::Text(temporal_text(ty.datum, ty.precision, v)))
                .collect()
        }
        other => return Err(format!("TDatumType {other} is not supported")),
    };
    Ok(nulls
        .into_iter()
        .zip(values)
        .map(|(null, v)| if null { Value::Null } else { v })
        .collect())
}

/// DATE: epoch seconds (whole days); TIME: seconds of the day; TIMESTAMP: epoch units of
/// 10^-precision seconds.
fn temporal_text(datum: i32, precision: i32, v: i64) -> String {
    match datum {
        datum::DATE => date_text(v.div_euclid(SECONDS_PER_DAY)),
        datum::TIME => time_text(v.rem_euclid(SECONDS_PER_DAY)),
        _ => {
            let digits = precision.clamp(0, 9) as u32;
            let scale = 10i64.pow(digits);
            let (secs, fraction) = (v.div_euclid(scale), v.rem_euclid(scale));
            let mut text = format!(
                "{} {}",
                date_text(secs.div_euclid(SECONDS_PER_DAY)),
                time_text(secs.rem_euclid(SECONDS_PER_DAY))
            );
            if digits > 0 {
                text.push_str(&format!(".{fraction:0width$}", width = digits as usize));
            }
            text
        }
    }
}

fn time_text(seconds: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`).
fn date_text(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_values_read_as_iso_text() {
        assert_eq!(temporal_text(datum::DATE, 0, 0), "1970-01-01");
        assert_eq!(temporal_text(datum::DATE, 0, 19_724 * 86_400), "2024-01-02");
        assert_eq!(temporal_text(datum::DATE, 0, -86_400), "1969-12-31");
        assert_eq!(temporal_text(datum::DATE, 0, 11_016 * 86_400), "2000-02-29");
        assert_eq!(
            temporal_text(datum::TIME, 0, 3 * 3600 + 4 * 60 + 5),
            "03:04:05"
        );
        assert_eq!(
            temporal_text(datum::TIMESTAMP, 0, 1_704_164_645),
            "2024-01-02 03:04:05"
        );
        assert_eq!(
            temporal_text(datum::TIMESTAMP, 3, -1),
            "1969-12-31 23:59:59.999"
        );
    }

    #[test]
    fn nulls_and_misaligned_columns() {
        let ty = |datum| ColumnType {
            name: "x".into(),
            datum,
            ..ColumnType::default()
        };
        let column = Column {
            reals: vec![0.5, 0.0],
            nulls: vec![false, true],
            ..Column::default()
        };
        let result = QueryResult {
            row_desc: vec![ty(datum::DOUBLE)],
            columns: vec![column.clone()],
            is_columnar: true,
        };
        let rows = to_rows(result).unwrap();
        assert_eq!(rows.columns[0], vec![Value::Real(0.5), Value::Null]);
        let bad = QueryResult {
            row_desc: vec![ty(datum::INT)],
            columns: vec![column],
            is_columnar: true,
        };
        assert!(to_rows(bad).unwrap_err().contains("int_col"));
    }
}
