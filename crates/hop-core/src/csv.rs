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
use thiserror::Error;

use crate::format;
use crate::matrix::PnlMatrix;

/// A refused CSV: the message names the row, the column and the offending text.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct CsvError {
    /// 1-based line number in the file (the header is line 1), when the problem is on one line.
    pub line: Option<usize>,
    /// The column's header name (or its 1-based number when the header is the problem).
    pub column: Option<String>,
    /// The offending text, when there is one.
    pub text: Option<String>,
    /// A full sentence for a person.
    pub message: String,
}

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

/// Parses a number cell (already unquoted). Blank is `0.0`; NaN, infinities and overflow are
/// refused. `str::parse::<f64>` is correctly rounded.
fn parse_number(text: &str) -> Result<f64, &'static str> {
    let text = trim_spaces(text);
    if text.is_empty() {
        return Ok(0.0);
    }
    if let Some(value) = parse_exact_fast(text.as_bytes()) {
        return Ok(value);
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_)
            if text
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) =>
        {
            Err("is not a finite number (NaN and infinity are refused)")
        }
        Ok(_) => Err("is too large for a 64-bit float"),
        Err(_) => Err("is not a number"),
    }
}

/// Trims spaces and tabs at both ends (cheaper than the `char` pattern machinery).
fn trim_spaces(text: &str) -> &str {
    let b = text.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && is_space_byte(b[start]) {
        start += 1;
    }
    while end > start && is_space_byte(b[end - 1]) {
        end -= 1;
    }
    &text[start..end]
}

/// Exact powers of ten as `f64` (10^22 is the largest that is exact).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's exact fast path: a decimal `[+-]digits[.digits][(e|E)[+-]digits]` whose digits form
/// an integer `m <= 2^53` and whose power of ten `e` has `|e| <= 22`. Then `m` and `10^|e|` are
/// exact doubles and the one IEEE multiplication or division rounds correctly, so the result is
/// bit for bit `str::parse`'s. Returns `None` for anything else (which then goes to
/// `str::parse`): more digits, larger exponents, other syntax.
fn parse_exact_fast(b: &[u8]) -> Option<f64> {
    match scan_decimal(b, 0) {
        (end, value) if end == b.len() => value,
        _ => None,
    }
}

/// Scans the longest prefix of `b[start..]` that looks like a decimal number
/// (`[+-]digits[.digits][(e|E)[+-]digits]`) and returns where it ends, with its value when
/// [`parse_exact_fast`]'s exact conditions hold (`None` otherwise: let `str::parse` decide).
fn scan_decimal(b: &[u8], start: usize) -> (usize, Option<f64>) {
    const MAX_EXACT: u64 = 1 << 53;
    let len = b.len();
    let mut i = start;
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    // `m` may wrap past 19 digits; such numbers are left to `str::parse`.
    let mut m: u64 = 0;
    let int_start = i;
    i = scan_digits(b, i, &mut m);
    let mut digits = i - int_start;
    let mut scale: i32 = 0;
    if i < len && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        i = scan_digits(b, i, &mut m);
        digits += i - frac_start;
        scale = -((i - frac_start).min(1 << 20) as i32);
    }
    let mut exact = (1..=19).contains(&digits) && m <= MAX_EXACT;
    if digits == 0 {
        return (i, None);
    }
    if i < len && b[i] | 0x20 == b'e' {
        let mut j = i + 1;
        let exp_negative = match b.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let exp_start = j;
        let mut exp: i32 = 0;
        while j < len && b[j].is_ascii_digit() {
            if j - exp_start < 4 {
                exp = exp * 10 + i32::from(b[j] - b'0');
            } else {
                exact = false;
            }
            j += 1;
        }
        if j == exp_start {
            // `1e` or `1e+`: not a number; the caller's cell check and `str::parse` refuse it.
            return (j, None);
        }
        i = j;
        scale += if exp_negative { -exp } else { exp };
    }
    if !exact {
        return (i, None);
    }
    let x = m as f64;
    let value = match scale {
        0 => x,
        1..=22 => x * POW10[scale as usize],
        -22..=-1 => x / POW10[(-scale) as usize],
        _ => return (i, None),
    };
    (i, Some(if negative { -value } else { value }))
}

/// Appends the ASCII digits starting at `b[i]` to `m` (wrapping), eight at a time where it can
/// (the SWAR trick of `core::num::dec2flt`); returns where the digits end.
fn scan_digits(b: &[u8], mut i: usize, m: &mut u64) -> usize {
    while let Some(word) = b.get(i..i + 8) {
        let v = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let a = v.wrapping_add(0x4646_4646_4646_4646);
        let z = v.wrapping_sub(0x3030_3030_3030_3030);
        if (a | z) & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        *m = m.wrapping_mul(100_000_000).wrapping_add(eight_digits(z));
        i += 8;
    }
    while i < b.len() && b[i].is_ascii_digit() {
        *m = m.wrapping_mul(10).wrapping_add(u64::from(b[i] - b'0'));
        i += 1;
    }
    i
}

/// The value of eight little-endian digit bytes, each already minus `'0'`.
fn eight_digits(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 0x000F_4240_0000_0064; // 100 + (1_000_000 << 32)
    const MUL2: u64 = 0x0000_2710_0000_0001; // 1 + (10_000 << 32)
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v1 = (v & MASK).wrapping_mul(MUL1);
    let v2 = ((v >> 16) & MASK).wrapping_mul(MUL2);
    u64::from((v1.wrapping_add(v2) >> 32) as u32)
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

/// Parses a strict ISO `YYYY-MM-DD` calendar date (years 0001-9999).
fn parse_iso_date(text: &str) -> Option<(i64, u32, u32)> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if year == 0 || !(1..=12).contains(&month) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=days_in_month)
        .contains(&day)
        .then_some((i64::from(year), month, day))
}

/// The English weekday name of an ISO `YYYY-MM-DD` date (`"Thursday"` for `2024-01-04`), or `None`
/// when the text is not a valid date.
pub fn weekday(date: &str) -> Option<&'static str> {
    const NAMES: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    const OFFSETS: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let (year, month, day) = parse_iso_date(date)?;
    // Sakamoto's method on the proleptic Gregorian calendar; 0 = Sunday.
    let y = if month < 3 { year - 1 } else { year };
    let w = (y + y / 4 - y / 100 + y / 400 + OFFSETS[month as usize - 1] + i64::from(day)) % 7;
    Some(NAMES[w as usize])
}

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
fn push_cell(out: &mut Vec<u8>, text: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_basic_shape_strategy_major() {
        let m = parse_csv(b"Date,Day,A,B\n2024-01-04,Thursday,1.5,-2\n2024-01-05,Friday,3,4e1\n")
            .unwrap();
        assert_eq!(m.names(), ["A", "B"]);
        assert_eq!(m.dates(), ["2024-01-04", "2024-01-05"]);
        assert_eq!(m.values(), [1.5, 3.0, -2.0, 40.0]);
        assert_eq!(m.column(1), [-2.0, 40.0]);
    }

    #[test]
    fn accepts_crlf_no_final_newline_and_trailing_blank_lines() {
        let want = parse_csv(b"Date,A\n2024-01-04,1\n2024-01-05,2\n").unwrap();
        for input in [
            &b"Date,A\r\n2024-01-04,1\r\n2024-01-05,2\r\n"[..],
            b"Date,A\r\n2024-01-04,1\r\n2024-01-05,2",
            b"Date,A\n2024-01-04,1\n2024-01-05,2",
            b"Date,A\n2024-01-04,1\n2024-01-05,2\n\n\r\n  \n",
            b"\xEF\xBB\xBFDate,A\n2024-01-04,1\n2024-01-05,2\n",
            b" Date , A \n2024-01-04 , 1 \n 2024-01-05,2\n",
        ] {
            assert_eq!(
                parse_csv(input).unwrap(),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn quoted_names_and_cells() {
        let m = parse_csv(
            b"\"Date\",Day,\"A, with comma\",\"say \"\"hi\"\"\", \"B\" \n2024-01-04,\"Thu\",\"1.25\",\" 2 \",3\n",
        )
        .unwrap();
        assert_eq!(m.names(), ["A, with comma", "say \"hi\"", "B"]);
        assert_eq!(m.values(), [1.25, 2.0, 3.0]);
    }

    #[test]
    fn blank_cells_are_zero_and_zone_is_metadata() {
        let m = parse_csv(
            b"Zone,Date,A,Day,B\nIST,2024-01-04,,Thursday,  \nIST,2024-01-05,-0,Friday,1\n",
        )
        .unwrap();
        assert_eq!(m.names(), ["A", "B"]);
        assert_eq!(m.values()[0], 0.0);
        assert!(m.values()[1].is_sign_negative(), "-0 stays -0.0");
        assert_eq!(m.values()[2..], [0.0, 1.0]);
    }

    #[test]
    fn number_cells_in_every_shape() {
        let m = parse_csv(
            b"Date,A,B,C,D,E,F,G,H\n2024-01-04, 12 ,12 ,\"7\",,-1.5e-3,+2.,.25,12345678901234567890\n",
        )
        .unwrap();
        assert_eq!(
            m.values(),
            [
                12.0,
                12.0,
                7.0,
                0.0,
                -0.0015,
                2.0,
                0.25,
                12345678901234567890.0
            ]
        );
        for (cell, what) in [
            ("1e", "not a number"),
            ("-", "not a number"),
            ("1.2.3", "not a number"),
        ] {
            let text = format!("Date,A,B\n2024-01-04,{cell},1\n");
            let err = parse_csv(text.as_bytes()).unwrap_err();
            assert_eq!(err.line, Some(2));
            assert_eq!(err.text.as_deref(), Some(cell));
            assert!(err.message.contains(what), "{err}");
        }
    }

    #[test]
    fn numbers_are_correctly_rounded() {
        let m =
            parse_csv(b"Date,A\n2024-01-04,505.0525000000011\n2024-01-05,0.1\n2024-01-08,1e3\n")
                .unwrap();
        assert_eq!(m.values(), [505.0525000000011, 0.1, 1000.0]);
    }

    #[test]
    fn fast_number_path_agrees_with_std_bit_for_bit() {
        let mut rng = crate::rng::Rng::new(0x1234_5678_9abc_def0, 1);
        let mut next = move || rng.next_u64();
        let mut fast = 0;
        let mut check = |text: &str| {
            if let Some(value) = parse_exact_fast(text.as_bytes()) {
                fast += 1;
                let want: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("std refuses {text:?}"));
                assert_eq!(value.to_bits(), want.to_bits(), "{text:?}");
            }
        };
        for _ in 0..200_000 {
            // Real-looking amounts: up to 17 significant digits, a few decimals, noise.
            let x = f64::from_bits(next());
            if x.is_finite() {
                check(&format!("{x}"));
                check(&format!("{x:e}"));
            }
            let cents = (next() % 100_000_000_000) as f64 / 10f64.powi((next() % 18) as i32);
            check(&crate::format::float(cents));
            check(&crate::format::float(-cents * 1.1));
            check(&format!("{:.4}", cents));
            // Random strings over the number alphabet.
            let alphabet = b"0123456789.-+eE";
            let len = 1 + next() % 24;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect();
            check(&text);
            // Long digit runs (the eight-at-a-time path) with a point somewhere.
            let len = 1 + (next() % 21) as usize;
            let mut digits: String = (0..len)
                .map(|_| (b'0' + (next() % 10) as u8) as char)
                .collect();
            let point = (next() % (len as u64 + 1)) as usize;
            digits.insert(point, '.');
            check(&digits);
            check(&format!("-{digits}e-{}", next() % 30));
        }
        for text in [
            "0",
            "-0",
            "+1",
            "1.",
            ".5",
            "1e22",
            "9007199254740992",
            "1e-22",
            "12.5e+3",
        ] {
            check(text);
        }
        assert!(fast > 300_000, "the fast path took only {fast} inputs");
        for text in [
            "",
            ".",
            "e5",
            "1e",
            "1e+",
            "nan",
            "inf",
            "1,5",
            "9007199254740993",
            "1e23",
        ] {
            assert_eq!(parse_exact_fast(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday("2024-01-04"), Some("Thursday"));
        assert_eq!(weekday("2000-02-29"), Some("Tuesday"));
        assert_eq!(weekday("1970-01-01"), Some("Thursday"));
        assert_eq!(weekday("2023-02-29"), None);
        assert_eq!(parse_iso_date("1900-02-29"), None);
        assert_eq!(parse_iso_date("2024-13-01"), None);
    }

    #[test]
    fn write_then_parse_is_bit_identical_on_the_real_fixture() {
        let bytes = crate::fixtures::bytes("sensex_500x82.csv");
        let m = parse_csv(&bytes).unwrap();
        assert_eq!((m.n_strategies(), m.n_days()), (500, 82));
        let written = write_csv(&m, true);
        // The fixture was written the same way (Python repr, `\n`), so even the bytes agree.
        assert!(
            written == bytes,
            "write_csv does not reproduce the fixture's bytes"
        );
        crate::fixtures::assert_bit_identical(&parse_csv(&written).unwrap(), &m);
        crate::fixtures::assert_bit_identical(&parse_csv(&write_csv(&m, false)).unwrap(), &m);
        // The fixture's own Day column is the computed weekday.
        let text = String::from_utf8(bytes).unwrap();
        for line in text.lines().skip(1) {
            let mut cells = line.split(',');
            let (date, day) = (cells.next().unwrap(), cells.next().unwrap());
            assert_eq!(weekday(date), Some(day), "{date}");
        }
    }

    #[test]
    fn write_round_trips_odd_names_and_values() {
        let names = vec![
            "a,b".to_string(),
            "q\"x".to_string(),
            " pad ".to_string(),
            "ok".into(),
        ];
        let values = vec![
            -0.0,
            1e-300,
            5e-324,
            f64::MAX,
            -1.7976931348623157e308,
            0.1,
            1e16,
            3.0,
        ];
        let m = PnlMatrix::new(
            names,
            vec!["2024-01-04".into(), "2024-01-05".into()],
            values,
        )
        .unwrap();
        crate::fixtures::assert_bit_identical(&parse_csv(&write_csv(&m, true)).unwrap(), &m);
    }
}
