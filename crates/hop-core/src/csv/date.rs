//! Trading dates: strict ISO `YYYY-MM-DD` validation and weekday names.

/// Parses a strict ISO `YYYY-MM-DD` calendar date (years 0001-9999).
pub(super) fn parse_iso_date(text: &str) -> Option<(i64, u32, u32)> {
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
