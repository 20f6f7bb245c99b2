//! Writing the legacy format back (the benchmark's generator and round-trip tests use it).

use rayon::prelude::*;

use super::date::weekday;
use super::is_space;
use crate::format;
use crate::matrix::PnlMatrix;

/// Writes the legacy format: `Date,Day,<names...>` (or `Date,<names...>` without `weekdays`),
/// then one row per day. `Day` is the English weekday name computed from the date; values are
/// written as Python's `repr(float)` (shortest round-trip digits), so
/// `parse_csv(&write_csv(m, _)) == m` bit for bit for any matrix of finite values whose names
/// are not `Date`, `Day` or `Zone`. Names that need it are CSV-quoted.
pub fn write_csv(matrix: &PnlMatrix, weekdays: bool) -> Vec<u8> {
    let days = matrix.n_days();
    let values = matrix.values();
    let mut out = Vec::with_capacity(matrix.n_strategies() * (days + 1) * 20);
    out.extend_from_slice(if weekdays { b"Date,Day" } else { b"Date" });
    for name in matrix.names() {
        out.push(b',');
        push_cell(&mut out, name);
    }
    out.push(b'\n');
    let rows: Vec<Vec<u8>> = matrix
        .dates()
        .par_iter()
        .enumerate()
        .map(|(t, date)| {
            let mut row = Vec::with_capacity(matrix.n_strategies() * 20);
            push_cell(&mut row, date);
            if weekdays {
                row.push(b',');
                row.extend_from_slice(weekday(date).unwrap_or("").as_bytes());
            }
            for j in 0..matrix.n_strategies() {
                row.push(b',');
                row.extend_from_slice(format::float(values[j * days + t]).as_bytes());
            }
            row.push(b'\n');
            row
        })
        .collect();
    for row in rows {
        out.extend_from_slice(&row);
    }
    out
}

/// Appends one text cell, quoted when the reader would otherwise change it.
pub(super) fn push_cell(out: &mut Vec<u8>, text: &str) {
    let needs_quotes = text.is_empty()
        || text.contains([',', '"', '\n', '\r'])
        || text.starts_with(is_space)
        || text.ends_with(is_space);
    if needs_quotes {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}
