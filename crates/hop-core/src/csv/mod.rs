//! Reader and writer for the legacy input CSV (SPEC 2.1).
//!
//! The file is a header row, then one row per trading day. The columns `Date` (ISO `YYYY-MM-DD`,
//! required) and `Day` and `Zone` (optional) are metadata; every other column is a strategy, in
//! file order. Cells may be double-quoted (`""` inside a quoted cell stands for one quote). Lines
//! end in `\n` or `\r\n`; trailing blank lines are ignored. A blank number cell counts as `0.0`.
//!
//! Bad input is refused with a [`CsvError`] whose message names the 1-based file line, the column
//! (by its header name) and the offending text. Nothing half-parsed is ever returned.
//!
//! Numbers are decimal text (`505.0525000000011`, `-12`, `1e3`, surrounding spaces allowed) and are
//! converted correctly rounded: an exact fast path (Clinger's: at most 19 digits forming an integer
//! up to 2^53 and a power of ten up to 10^22, one IEEE operation) and `str::parse::<f64>` for the
//! rest, so both give the same bits. `nan`, `inf`, `infinity` (any case) and overflow are refused.
//!
//! Speed (production shape 25,544 strategies x 82 days, 39.5 MB): lines are found in parallel eight
//! bytes at a time, rows are parsed in parallel (one task per line) into their own vectors, number
//! cells are scanned and converted in one pass, and the rows are transposed into the
//! strategy-major buffer of [`PnlMatrix`] at the end.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::matrix::PnlMatrix;

mod date;
mod number;
mod write;

use date::parse_iso_date;
pub use date::weekday;
use number::{parse_number, scan_decimal};
pub use write::write_csv;

pub use crate::error::CsvError;

impl CsvError {
    fn file(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            text: None,
            message: message.into(),
        }
    }

    fn line(line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            column: None,
            text: None,
            message: message.into(),
        }
    }

    /// `line 7, column "NAME": "TEXT" <what>`.
    fn cell(line: usize, column: &str, text: &str, what: &str) -> Self {
        let message = format!("line {line}, column {column:?}: {} {what}", shown(text));
        Self {
            line: Some(line),
            column: Some(column.to_string()),
            text: Some(text.to_string()),
            message,
        }
    }
}

/// The metadata column names (matched exactly, after trimming).
const DATE: &str = "Date";
const DAY: &str = "Day";
const ZONE: &str = "Zone";

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What a header column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Date,
    Meta,
    Strategy,
}

/// Parses the legacy CSV bytes into a matrix.
pub fn parse_csv(bytes: &[u8]) -> Result<PnlMatrix, CsvError> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::file(
            "the CSV file is empty: it has no header row and no data rows",
        ));
    }

    // The header record ends at the first line break outside quotes.
    let (header_end, header_lines) = header_record_end(bytes);
    let header = parse_header(trim_cr(&bytes[..header_end]))?;
    let body = if header_end < bytes.len() {
        &bytes[header_end + 1..]
    } else {
        &[][..]
    };
    let first_body_line = header_lines + 1;

    // Split the body into lines; blank lines are allowed only at the end.
    let mut lines: Vec<&[u8]> = split_lines(body);
    while lines.last().is_some_and(|line| is_blank(line)) {
        lines.pop();
    }
    if lines.is_empty() {
        return Err(CsvError::file(format!(
            "the CSV file has a header row but no data rows (expected one row per trading day \
             after line {header_lines})"
        )));
    }

    let parsed: Vec<Result<Row<'_>, CsvError>> = lines
        .par_iter()
        .enumerate()
        .map(|(i, line)| parse_row(first_body_line + i, line, &header))
        .collect();

    // Errors and duplicate dates, in file order.
    let mut rows = Vec::with_capacity(parsed.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(parsed.len());
    for (i, row) in parsed.into_iter().enumerate() {
        let row = row?;
        let line = first_body_line + i;
        if let Some(&earlier) = seen.get(row.date) {
            return Err(CsvError::cell(
                line,
                DATE,
                row.date,
                &format!(
                    "repeats the date already on line {earlier}; each trading day must appear once"
                ),
            ));
        }
        seen.insert(row.date, line);
        rows.push(row);
    }

    // Transpose the day rows into the strategy-major buffer.
    let days = rows.len();
    let n = header.names.len();
    let mut values = vec![0.0f64; n * days];
    const BLOCK: usize = 256;
    values
        .par_chunks_mut(days * BLOCK)
        .enumerate()
        .for_each(|(b, chunk)| {
            for (jj, column) in chunk.chunks_mut(days).enumerate() {
                let j = b * BLOCK + jj;
                for (t, value) in column.iter_mut().enumerate() {
                    *value = rows[t].values[j];
                }
            }
        });
    let dates = rows.iter().map(|row| row.date.to_string()).collect();
    drop(rows);

    PnlMatrix::new(header.names, dates, values).map_err(|e| {
        CsvError::file(format!(
            "the CSV file could not be turned into a matrix: {e}"
        ))
    })
}

/// The parsed header: the role of each column, every column's name, and the strategy names.
#[derive(Debug)]
struct Header {
    roles: Vec<Role>,
    columns: Vec<String>,
    names: Vec<String>,
}

fn parse_header(record: &[u8]) -> Result<Header, CsvError> {
    let text = std::str::from_utf8(record).map_err(|e| {
        CsvError::line(
            1,
            format!(
                "line 1 (the header) is not valid UTF-8 text: invalid byte 0x{:02X} at byte {} of \
                 the line",
                record[e.valid_up_to()],
                e.valid_up_to() + 1
            ),
        )
    })?;
    let mut columns: Vec<String> = Vec::new();
    let mut pos = Some(0);
    while let Some(start) = pos {
        let number = columns.len() + 1;
        let (cell, next) = next_cell(text, start).map_err(|e| {
            let mut error = e.to_error(1, &number.to_string());
            error.message = format!(
                "line 1 (the header), column {number}: {} {}",
                shown(e.raw),
                e.what
            );
            error
        })?;
        let name = cell.text();
        // Unquoted cells come trimmed; a quoted name keeps its inner spaces.
        if name.trim_matches(is_space).is_empty() {
            let mut error = CsvError::line(
                1,
                format!(
                    "line 1 (the header): column {number} has an empty name; every column needs one"
                ),
            );
            error.column = Some(number.to_string());
            return Err(error);
        }
        columns.push(name.into_owned());
        pos = next;
    }

    let mut first: HashMap<&str, usize> = HashMap::with_capacity(columns.len());
    for (i, name) in columns.iter().enumerate() {
        if let Some(&earlier) = first.get(name.as_str()) {
            let mut error = CsvError::line(
                1,
                format!(
                    "line 1 (the header): the column name {} appears twice, as column {} and \
                     column {}; column names must be unique",
                    shown(name),
                    earlier + 1,
                    i + 1
                ),
            );
            error.column = Some(name.clone());
            error.text = Some(name.clone());
            return Err(error);
        }
        first.insert(name, i);
    }

    let roles: Vec<Role> = columns
        .iter()
        .map(|name| match name.as_str() {
            DATE => Role::Date,
            DAY | ZONE => Role::Meta,
            _ => Role::Strategy,
        })
        .collect();
    if !roles.contains(&Role::Date) {
        let mut listed: Vec<String> = columns.iter().take(5).map(|c| shown(c)).collect();
        if columns.len() > 5 {
            listed.push(format!("... ({} columns in all)", columns.len()));
        }
        return Err(CsvError::line(
            1,
            format!(
                "line 1 (the header) has no \"Date\" column (the header names are case-sensitive); \
                 found {}",
                listed.join(", ")
            ),
        ));
    }
    let names: Vec<String> = columns
        .iter()
        .zip(&roles)
        .filter(|(_, role)| **role == Role::Strategy)
        .map(|(name, _)| name.clone())
        .collect();
    if names.is_empty() {
        return Err(CsvError::line(
            1,
            "line 1 (the header) has no strategy column: only the metadata columns Date, Day and \
             Zone were found",
        ));
    }
    Ok(Header {
        roles,
        columns,
        names,
    })
}

/// One parsed day row: the date text and the strategy values in strategy order.
#[derive(Debug)]
struct Row<'a> {
    date: &'a str,
    values: Vec<f64>,
}

fn parse_row<'a>(line_no: usize, line: &'a [u8], header: &Header) -> Result<Row<'a>, CsvError> {
    if is_blank(line) {
        return Err(CsvError::line(
            line_no,
            format!("line {line_no} is blank; blank lines are allowed only at the end of the file"),
        ));
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        let at = e.valid_up_to();
        // Name the column too: count the separators before the bad byte (quotes ignored).
        let column = line[..at].iter().filter(|&&b| b == b',').count();
        let mut error = CsvError::line(
            line_no,
            format!(
                "line {line_no} is not valid UTF-8 text: invalid byte 0x{:02X} at byte {} of the line{}",
                line[at],
                at + 1,
                match header.columns.get(column) {
                    Some(name) => format!(", in column {name:?}"),
                    None => String::new(),
                }
            ),
        );
        error.column = header.columns.get(column).cloned();
        error
    })?;

    let expected = header.roles.len();
    let column_name = |count: usize| {
        header
            .columns
            .get(count)
            .map_or("(extra cell)", String::as_str)
    };
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut values = Vec::with_capacity(header.names.len());
    let mut date = None;
    let mut first_error: Option<CsvError> = None;
    let mut count = 0usize;
    let mut start = 0usize;
    loop {
        // Fastest path: a plain number cell, scanned and converted in one pass.
        if first_error.is_none() && count < expected && header.roles[count] == Role::Strategy {
            let (end, fast) = scan_decimal(bytes, start);
            if end == len || bytes[end] == b',' {
                let value = match fast {
                    Some(value) => Ok(value),
                    None => parse_number(&text[start..end]),
                };
                match value {
                    Ok(value) => values.push(value),
                    Err(what) => {
                        let column = column_name(count);
                        first_error =
                            Some(CsvError::cell(line_no, column, &text[start..end], what));
                    }
                }
                count += 1;
                if end == len {
                    break;
                }
                start = end + 1;
                continue;
            }
        }
        // Fast path: an unquoted cell runs to the next comma; a quote sends the cell to the
        // general reader.
        let mut end = start;
        while end < len && bytes[end] != b',' && bytes[end] != b'"' {
            end += 1;
        }
        let (cell, next) = if end < len && bytes[end] == b'"' {
            match next_cell(text, start) {
                Ok(found) => found,
                Err(e) => {
                    let resume = e.resume;
                    let error = e.to_error(line_no, column_name(count));
                    count += 1;
                    match resume {
                        // An unterminated quote swallows the rest of the line: report it as is.
                        None => return Err(first_error.unwrap_or(error)),
                        Some(resume) => {
                            first_error.get_or_insert(error);
                            start = resume;
                            continue;
                        }
                    }
                }
            }
        } else {
            (
                Cell {
                    raw: &text[start..end],
                    escaped: false,
                },
                (end < len).then_some(end + 1),
            )
        };
        if first_error.is_none() && count < expected {
            match header.roles[count] {
                Role::Strategy => {
                    let parsed = if cell.escaped {
                        parse_number(&cell.text())
                    } else {
                        parse_number(cell.raw)
                    };
                    match parsed {
                        Ok(value) => values.push(value),
                        Err(what) => {
                            let column = column_name(count);
                            first_error = Some(CsvError::cell(line_no, column, &cell.text(), what));
                        }
                    }
                }
                Role::Date => {
                    let raw = cell.raw.trim_matches(is_space);
                    if cell.escaped || parse_iso_date(raw).is_none() {
                        first_error = Some(CsvError::cell(
                            line_no,
                            column_name(count),
                            &cell.text(),
                            "is not a valid date (expected an ISO date YYYY-MM-DD)",
                        ));
                    } else {
                        date = Some(raw);
                    }
                }
                Role::Meta => {}
            }
        }
        count += 1;
        match next {
            Some(next) => start = next,
            None => break,
        }
    }
    if count != expected {
        let mut error = CsvError::line(
            line_no,
            format!(
                "line {line_no} has {count} cells but the header has {expected} columns; every \
                 row needs exactly one cell per column (expected {expected}, found {count})"
            ),
        );
        error.text = Some(count.to_string());
        return Err(error);
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let date = date.expect("the header has a Date column and the row has every column");
    Ok(Row { date, values })
}

/// One cell of a record, outer spaces and quotes removed.
#[derive(Debug)]
struct Cell<'a> {
    raw: &'a str,
    /// The cell contains `""` escapes (only possible when quoted).
    escaped: bool,
}

impl<'a> Cell<'a> {
    fn text(&self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(self.raw.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

/// A syntax problem in one cell.
#[derive(Debug)]
struct CellSyntax<'a> {
    raw: &'a str,
    what: &'static str,
    /// Where the next cell starts, when the rest of the record can still be read.
    resume: Option<usize>,
}

impl CellSyntax<'_> {
    fn to_error(&self, line: usize, column: &str) -> CsvError {
        CsvError::cell(line, column, self.raw, self.what)
    }
}

/// Reads the cell starting at byte `start` of `record`; returns it and where the next one starts
/// (`None` when it was the last).
fn next_cell(record: &str, start: usize) -> Result<(Cell<'_>, Option<usize>), CellSyntax<'_>> {
    let bytes = record.as_bytes();
    let len = bytes.len();
    let mut i = start;
    while i < len && is_space_byte(bytes[i]) {
        i += 1;
    }
    if i < len && bytes[i] == b'"' {
        i += 1;
        let content = i;
        let mut escaped = false;
        loop {
            if i >= len {
                return Err(CellSyntax {
                    raw: &record[start..],
                    what: "has an opening quote but no closing quote",
                    resume: None,
                });
            }
            if bytes[i] == b'"' {
                if i + 1 < len && bytes[i + 1] == b'"' {
                    escaped = true;
                    i += 2;
                    continue;
                }
                break;
            }
            i += 1;
        }
        let raw = &record[content..i];
        i += 1;
        while i < len && is_space_byte(bytes[i]) {
            i += 1;
        }
        if i == len {
            return Ok((Cell { raw, escaped }, None));
        }
        if bytes[i] == b',' {
            return Ok((Cell { raw, escaped }, Some(i + 1)));
        }
        let end = bytes[i..]
            .iter()
            .position(|&b| b == b',')
            .map_or(len, |p| i + p);
        return Err(CellSyntax {
            raw: &record[start..end],
            what: "has text after its closing quote",
            resume: (end < len).then_some(end + 1),
        });
    }
    let end = bytes[i..]
        .iter()
        .position(|&b| b == b',')
        .map_or(len, |p| i + p);
    let raw = record[i..end].trim_end_matches(is_space);
    Ok((
        Cell {
            raw,
            escaped: false,
        },
        (end < len).then_some(end + 1),
    ))
}

/// The end (exclusive, at the `\n` or the end of input) of the header record, and how many file
/// lines it spans.
fn header_record_end(bytes: &[u8]) -> (usize, usize) {
    // The same grammar as `next_cell`: a quote opens a quoted cell only at the start of a cell.
    let mut in_quotes = false;
    let mut cell_start = true;
    let mut lines = 1;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            match b {
                b'"' if bytes.get(i + 1) == Some(&b'"') => i += 1,
                b'"' => in_quotes = false,
                b'\n' => lines += 1,
                _ => {}
            }
        } else {
            match b {
                b'\n' => return (i, lines),
                b',' => cell_start = true,
                b'"' if cell_start => {
                    in_quotes = true;
                    cell_start = false;
                }
                b' ' | b'\t' => {}
                _ => cell_start = false,
            }
        }
        i += 1;
    }
    (bytes.len(), lines)
}

/// Splits `body` at every `\n` (a `\r` before it is dropped), searching 1 MiB pieces in parallel
/// eight bytes at a time. Data rows hold numbers and dates, so a line break inside quotes there
/// is an error anyway (reported as an unterminated quote).
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    const PIECE: usize = 1 << 20;
    let ends: Vec<Vec<usize>> = body
        .par_chunks(PIECE)
        .enumerate()
        .map(|(p, piece)| {
            let base = p * PIECE;
            let mut ends = Vec::new();
            let words = piece.chunks_exact(8);
            let tail = words.remainder();
            for (w, word) in words.enumerate() {
                let x =
                    u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ 0x0A0A_0A0A_0A0A_0A0A;
                // Nonzero when some byte of `x` is zero, i.e. some byte of `word` is `\n`.
                if x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0 {
                    let at = base + w * 8;
                    ends.extend((0..8).filter(|&k| word[k] == b'\n').map(|k| at + k));
                }
            }
            let at = base + piece.len() - tail.len();
            ends.extend(
                (0..tail.len())
                    .filter(|&k| tail[k] == b'\n')
                    .map(|k| at + k),
            );
            ends
        })
        .collect();
    let mut lines = Vec::with_capacity(ends.iter().map(Vec::len).sum::<usize>() + 1);
    let mut start = 0;
    for end in ends.into_iter().flatten() {
        lines.push(trim_cr(&body[start..end]));
        start = end + 1;
    }
    lines.push(trim_cr(&body[start..]));
    lines
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| is_space_byte(b) || b == b'\r')
}

fn is_space_byte(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The offending text as shown in a message: quoted, escaped, cut after 80 characters.
fn shown(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests;
