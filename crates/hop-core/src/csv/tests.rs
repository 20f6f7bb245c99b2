//! Unit tests of the reader and writer.

use super::number::parse_exact_fast;
use super::*;

#[test]
fn parses_the_basic_shape_strategy_major() {
    let m =
        parse_csv(b"Date,Day,A,B\n2024-01-04,Thursday,1.5,-2\n2024-01-05,Friday,3,4e1\n").unwrap();
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
    let m =
        parse_csv(b"Zone,Date,A,Day,B\nIST,2024-01-04,,Thursday,  \nIST,2024-01-05,-0,Friday,1\n")
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
    let m = parse_csv(b"Date,A\n2024-01-04,505.0525000000011\n2024-01-05,0.1\n2024-01-08,1e3\n")
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
