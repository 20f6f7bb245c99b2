//! The bad-CSV corpus (SPEC 2.1): every refusal names the line, the column and the offending text,
//! and nothing half-parsed comes back. Plus the real fixtures parse.

use hop_core::csv::{CsvError, parse_csv};

/// One bad input: (what, input, expected line, fragments the message must contain).
type Case = (
    &'static str,
    &'static [u8],
    Option<usize>,
    &'static [&'static str],
);

const CORPUS: &[Case] = &[
    ("empty file", b"", None, &["empty"]),
    ("only blank lines", b"\n \r\n\t\n", None, &["empty"]),
    ("only a byte-order mark", b"\xEF\xBB\xBF", None, &["empty"]),
    (
        "header only",
        b"Date,Day,A\n",
        None,
        &["header row but no data rows"],
    ),
    (
        "header then blank lines",
        b"Date,A\r\n\r\n\r\n",
        None,
        &["no data rows"],
    ),
    (
        "no Date column",
        b"Day,A\nThursday,1\n",
        Some(1),
        &["line 1", "no \"Date\" column", "\"Day\", \"A\""],
    ),
    (
        "Date in lower case",
        b"date,A\n2024-01-04,1\n",
        Some(1),
        &["no \"Date\" column", "case-sensitive", "\"date\""],
    ),
    (
        "no strategy column",
        b"Date,Day,Zone\n2024-01-04,Thursday,IST\n",
        Some(1),
        &["line 1", "no strategy column"],
    ),
    (
        "duplicate strategy names",
        b"Date,A,B,A\n2024-01-04,1,2,3\n",
        Some(1),
        &["line 1", "\"A\" appears twice", "column 2 and column 4"],
    ),
    (
        "duplicate Date column",
        b"Date,A,Date\n2024-01-04,1,2024-01-05\n",
        Some(1),
        &["\"Date\" appears twice", "column 1 and column 3"],
    ),
    (
        "empty column name",
        b"Date,A,,B\n2024-01-04,1,2,3\n",
        Some(1),
        &["line 1", "column 3 has an empty name"],
    ),
    (
        "header ends in a comma",
        b"Date,A,\n2024-01-04,1,\n",
        Some(1),
        &["column 3 has an empty name"],
    ),
    (
        "blank column name",
        b"Date,   ,A\n2024-01-04,1,2\n",
        Some(1),
        &["column 2 has an empty name"],
    ),
    (
        "row with too few cells",
        b"Date,A,B\n2024-01-04,1,2\n2024-01-05,1\n",
        Some(3),
        &["line 3", "expected 3", "found 2"],
    ),
    (
        "row with too many cells",
        b"Date,A,B\n2024-01-04,1,2,3\n",
        Some(2),
        &["line 2", "expected 3", "found 4"],
    ),
    (
        "ragged wins over a bad cell in the same row",
        b"Date,A,B\n2024-01-04,x\n",
        Some(2),
        &["line 2", "expected 3", "found 2"],
    ),
    (
        "non-numeric cell (the SPEC's example, quoted because of its comma)",
        b"Date,Day,SENSEX 1000-1100 SL7%\n2024-01-04,Thursday,1\n2024-01-05,Friday,2\n\
          2024-01-08,Monday,3\n2024-01-09,Tuesday,4\n2024-01-10,Wednesday,5\n\
          2024-01-11,Thursday,\"12,5x\"\n",
        Some(7),
        &["line 7, column \"SENSEX 1000-1100 SL7%\": \"12,5x\" is not a number"],
    ),
    (
        "decimal comma",
        b"Date,A\n2024-01-04,\"12,5\"\n",
        Some(2),
        &["line 2", "column \"A\"", "\"12,5\"", "not a number"],
    ),
    (
        "space inside a number",
        b"Date,A\n2024-01-04,12 345\n",
        Some(2),
        &["\"12 345\"", "not a number"],
    ),
    (
        "hexadecimal",
        b"Date,A\n2024-01-04,0x10\n",
        Some(2),
        &["\"0x10\"", "not a number"],
    ),
    (
        "exponent without digits",
        b"Date,A\n2024-01-04,1e\n",
        Some(2),
        &["\"1e\"", "not a number"],
    ),
    (
        "lone minus sign",
        b"Date,A,B\n2024-01-04,-,1\n",
        Some(2),
        &["column \"A\"", "\"-\"", "not a number"],
    ),
    (
        "NaN",
        b"Date,A,B\n2024-01-04,1,NaN\n",
        Some(2),
        &["column \"B\"", "\"NaN\"", "NaN and infinity"],
    ),
    (
        "nan lower case",
        b"Date,A\n2024-01-04,nan\n",
        Some(2),
        &["\"nan\"", "not a finite number"],
    ),
    (
        "infinity",
        b"Date,A\n2024-01-04,-Infinity\n",
        Some(2),
        &["\"-Infinity\"", "not a finite number"],
    ),
    (
        "inf upper case",
        b"Date,A\n2024-01-04,INF\n",
        Some(2),
        &["\"INF\"", "not a finite number"],
    ),
    (
        "overflow",
        b"Date,A\n2024-01-04,1e400\n",
        Some(2),
        &["\"1e400\"", "too large"],
    ),
    (
        "impossible date",
        b"Date,A\n2024-01-04,1\n2024-02-30,2\n",
        Some(3),
        &["line 3, column \"Date\": \"2024-02-30\" is not a valid date"],
    ),
    (
        "not a leap year",
        b"Date,A\n2023-02-29,1\n",
        Some(2),
        &["\"2023-02-29\"", "not a valid date"],
    ),
    (
        "day-first date",
        b"Date,A\n04/01/2024,1\n",
        Some(2),
        &["\"04/01/2024\"", "YYYY-MM-DD"],
    ),
    (
        "date with a time",
        b"Date,A\n2024-01-04 09:15,1\n",
        Some(2),
        &["\"2024-01-04 09:15\"", "not a valid date"],
    ),
    (
        "empty date",
        b"Date,A\n,1\n",
        Some(2),
        &["column \"Date\"", "\"\"", "not a valid date"],
    ),
    (
        "duplicate date",
        b"Date,A\n2024-01-04,1\n2024-01-05,2\n2024-01-04,3\n",
        Some(4),
        &["line 4", "\"2024-01-04\"", "already on line 2"],
    ),
    (
        "invalid UTF-8 in a row",
        b"Date,Day,A\n2024-01-04,Thursday,1\n2024-01-05,Fr\xFFday,2\n",
        Some(3),
        &["line 3 is not valid UTF-8", "0xFF", "column \"Day\""],
    ),
    (
        "invalid UTF-8 in the header",
        b"Date,\xC3(,B\n2024-01-04,1,2\n",
        Some(1),
        &["line 1", "not valid UTF-8", "0xC3"],
    ),
    (
        "blank line in the middle",
        b"Date,A\n2024-01-04,1\n\n2024-01-05,2\n",
        Some(3),
        &["line 3 is blank", "only at the end"],
    ),
    (
        "unterminated quote",
        b"Date,A,B\n2024-01-04,\"1,2\n",
        Some(2),
        &["line 2", "column \"A\"", "no closing quote"],
    ),
    (
        "text after a closing quote",
        b"Date,A,B\n2024-01-04,\"1\"2,3\n",
        Some(2),
        &["column \"A\"", "\"\\\"1\\\"2\"", "after its closing quote"],
    ),
    (
        "CRLF file, error on the last line without a final newline",
        b"Date,A\r\n2024-01-04,1\r\n2024-01-05,oops",
        Some(3),
        &["line 3", "\"oops\"", "not a number"],
    ),
    (
        "the first bad line in file order wins",
        b"Date,A\n2024-01-04,1\n2024-01-05,bad\n2024-01-06,worse\n",
        Some(3),
        &["line 3", "\"bad\""],
    ),
    (
        "line numbers count a header that spans two lines",
        b"Date,\"two\nlines\"\n2024-01-04,x\n",
        Some(3),
        &["line 3", "column \"two\\nlines\"", "\"x\""],
    ),
    (
        "a stray quote inside a header name is text, not an opening quote",
        b"Date,A\"B,C\n2024-01-04,1,x\n",
        Some(2),
        &["line 2", "column \"C\"", "\"x\""],
    ),
    (
        "unterminated quote in the header",
        b"Date,\"A,B\n2024-01-04,1,2\n",
        Some(1),
        &["line 1", "column 2", "no closing quote"],
    ),
];

#[test]
fn every_bad_input_is_refused_with_a_precise_message() {
    assert!(CORPUS.len() >= 20);
    let mut failures = Vec::new();
    for (what, input, line, fragments) in CORPUS {
        match parse_csv(input) {
            Ok(m) => failures.push(format!(
                "{what}: accepted ({} x {})",
                m.n_strategies(),
                m.n_days()
            )),
            Err(CsvError {
                line: got_line,
                message,
                ..
            }) => {
                println!("{what}: {message}");
                for fragment in *fragments {
                    if !message.contains(fragment) {
                        failures.push(format!("{what}: {message:?} lacks {fragment:?}"));
                    }
                }
                if got_line != *line {
                    failures.push(format!("{what}: line {got_line:?}, expected {line:?}"));
                }
                // One sentence for a person: no line breaks, no debug dump.
                assert!(
                    !message.contains('\n') && !message.contains("CsvError"),
                    "{message}"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_carry_the_structured_fields() {
    let err = parse_csv(b"Date,Day,SENSEX 1000-1100 SL7%\n2024-01-04,Thursday,12x\n").unwrap_err();
    assert_eq!(err.line, Some(2));
    assert_eq!(err.column.as_deref(), Some("SENSEX 1000-1100 SL7%"));
    assert_eq!(err.text.as_deref(), Some("12x"));
    assert_eq!(err.to_string(), err.message);
    // The domain error wraps it unchanged.
    let core: hop_core::CoreError = err.clone().into();
    assert_eq!(core.to_string(), err.message);
}

#[test]
fn long_offending_text_is_cut_in_the_message() {
    let cell = "x".repeat(5000);
    let input = format!("Date,A\n2024-01-04,{cell}\n");
    let err = parse_csv(input.as_bytes()).unwrap_err();
    assert!(err.message.len() < 400, "{}", err.message.len());
    assert!(err.message.contains("(5000 bytes)"), "{}", err.message);
    assert_eq!(err.text.as_deref(), Some(cell.as_str()));
}

#[test]
fn the_real_fixtures_parse() {
    let bytes = hop_core::fixtures::bytes("sensex_2500x82.csv");
    let m = parse_csv(&bytes).unwrap();
    assert_eq!((m.n_strategies(), m.n_days()), (2500, 82));
    assert_eq!(m.names()[0], "SENSEX 1000-1100 SL7%");
    assert_eq!(m.dates()[0], "2024-01-04");
    // The first data cell of the file is strategy 0 on day 0 (the legacy optimizer's
    // skip-the-first-strategy bug is not copied).
    assert_eq!(m.column(0)[0], 505.0525000000011);
    assert_eq!(m.column(1)[0], 573.5500000000013);
    let text = std::str::from_utf8(&bytes).unwrap();
    let last_row = text.trim_end().lines().last().unwrap();
    assert_eq!(m.dates()[81], last_row.split(',').next().unwrap());
    let last_cell: f64 = last_row.rsplit(',').next().unwrap().parse().unwrap();
    assert_eq!(m.column(2499)[81].to_bits(), last_cell.to_bits());

    let small = parse_csv(&hop_core::fixtures::bytes("sensex_500x82.csv")).unwrap();
    assert_eq!((small.n_strategies(), small.n_days()), (500, 82));
    assert_eq!(small.names()[0], "SENSEX 1336-1406 SL71%");
}
