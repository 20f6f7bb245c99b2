//! Property-based fuzzing of the legacy CSV reader: arbitrary bytes and mutations of valid files
//! (truncation, byte flips, inserted quotes, commas, line breaks, byte-order marks, NUL bytes, huge
//! numbers). The parser never panics; it either accepts, and then `write_csv` of the matrix parses
//! back to the same matrix bit for bit, or refuses with a message that names the line and column
//! it reports.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default 2000 here). A longer run:
//! `PROPTEST_CASES=200000 cargo test --release -p hop-core --test csv_fuzz`.

use hop_core::PnlMatrix;
use hop_core::csv::{CsvError, parse_csv, write_csv};
use hop_core::fuzz::{Edit, apply, config};
use proptest::prelude::*;

/// A refusal names what it reports: its line ("line N") and its column (by name or number).
fn check_error(input: &[u8], e: &CsvError) {
    assert!(!e.message.trim().is_empty(), "empty message for {input:?}");
    if let Some(line) = e.line {
        assert!(
            e.message.contains(&format!("line {line}")),
            "line {line} not named in {:?} ({input:?})",
            e.message
        );
    }
    if let Some(column) = &e.column {
        assert!(
            e.message.contains(&format!("{column:?}"))
                || e.message.contains(&format!("column {column}")),
            "column {column:?} not named in {:?} ({input:?})",
            e.message
        );
    }
    if let Some(text) = &e.text {
        // The offending text is shown (possibly shortened or escaped): at least its start.
        let start: String = text.chars().take(8).collect();
        let shown = format!("{start:?}");
        assert!(
            text.is_empty()
                || e.message.contains(&start)
                || e.message.contains(&shown[1..shown.len() - 1]),
            "text {text:?} not shown in {:?} ({input:?})",
            e.message
        );
    }
    if e.line.is_none() {
        assert!(
            e.message.contains("CSV file") || e.message.contains("line"),
            "a file-level refusal that names neither the file nor a line: {:?} ({input:?})",
            e.message
        );
    }
}

/// Same names, dates and value bits.
fn assert_same(a: &PnlMatrix, b: &PnlMatrix, input: &[u8]) {
    assert_eq!(a.names(), b.names(), "{input:?}");
    assert_eq!(a.dates(), b.dates(), "{input:?}");
    let bits = |m: &PnlMatrix| m.values().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a), bits(b), "{input:?}");
}

/// Parses `input`: accepted -> round trip; refused -> a message naming the place.
fn check(input: &[u8]) {
    match parse_csv(input) {
        Ok(matrix) => {
            for weekdays in [true, false] {
                let written = write_csv(&matrix, weekdays);
                let again = parse_csv(&written).unwrap_or_else(|e| {
                    panic!(
                        "write_csv output refused: {e}\ninput {input:?}\nwritten {:?}",
                        String::from_utf8_lossy(&written)
                    )
                });
                assert_same(&matrix, &again, input);
            }
        }
        Err(e) => check_error(input, &e),
    }
}

/// A valid CSV: 1-6 strategies x 1-6 days of finite values (names from a small alphabet that
/// includes quotes, commas and spaces).
fn valid_csv() -> impl Strategy<Value = Vec<u8>> {
    (1usize..6, 1usize..6).prop_flat_map(|(n, days)| {
        let names = proptest::collection::hash_set("[A-Za-z][A-Za-z0-9 ,\"_-]{0,6}", n);
        let values = proptest::collection::vec(
            prop_oneof![
                -1e6f64..1e6,
                any::<f64>().prop_filter("finite", |v| v.is_finite()),
                Just(0.0),
                Just(-0.0),
            ],
            n * days,
        );
        let start = 0u32..20000;
        (names, values, start).prop_map(move |(names, values, start)| {
            let names: Vec<String> = names.into_iter().collect();
            let dates: Vec<String> = (0..days as u32)
                .map(|t| {
                    let d = start + t;
                    format!(
                        "{}-{:02}-{:02}",
                        1990 + d / 336,
                        (d / 28) % 12 + 1,
                        d % 28 + 1
                    )
                })
                .collect();
            let matrix = PnlMatrix::new(names, dates, values).expect("a valid matrix");
            write_csv(&matrix, true)
        })
    })
}

/// Edits that insert the tokens this format's reader is most likely to stumble on.
fn edit() -> impl Strategy<Value = Edit> {
    hop_core::fuzz::edit(vec![
        &b"\""[..],
        b",",
        b"\n",
        b"\r\n",
        b"\r",
        b"\xEF\xBB\xBF",
        b"\0",
        b"1e999",
        b"-1e400",
        b"179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        b"99999999999999999999999999",
        b"0.000000000000000000000000000000000000000000000000001",
        b"NaN",
        b"inf",
        b" ",
        b"\"\"",
        b"Date",
        b"2024-02-30",
        b"\xFF\xFE",
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes);
    }

    #[test]
    fn csv_like_text_never_panics(text in "[Date,Dy0-9.e\"\\-\r\n ]{0,200}") {
        check(text.as_bytes());
    }

    #[test]
    fn valid_files_round_trip(csv in valid_csv()) {
        let matrix = parse_csv(&csv).expect("a written CSV parses");
        let again = parse_csv(&write_csv(&matrix, true)).expect("parses again");
        assert_same(&matrix, &again, &csv);
    }

    #[test]
    fn mutated_files_never_panic(
        csv in valid_csv(),
        edits in proptest::collection::vec(edit(), 1..5),
    ) {
        check(&apply(csv, &edits));
    }
}
