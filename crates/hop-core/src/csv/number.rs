//! Number cells: correctly rounded decimal parsing with an exact fast path (Clinger's).

use super::is_space_byte;

/// Parses a number cell (already unquoted). Blank is `0.0`; NaN, infinities and overflow are
/// refused. `str::parse::<f64>` is correctly rounded.
pub(super) fn parse_number(text: &str) -> Result<f64, &'static str> {
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
pub(super) fn trim_spaces(text: &str) -> &str {
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
pub(super) fn parse_exact_fast(b: &[u8]) -> Option<f64> {
    match scan_decimal(b, 0) {
        (end, value) if end == b.len() => value,
        _ => None,
    }
}

/// Scans the longest prefix of `b[start..]` that looks like a decimal number
/// (`[+-]digits[.digits][(e|E)[+-]digits]`) and returns where it ends, with its value when
/// [`parse_exact_fast`]'s exact conditions hold (`None` otherwise: let `str::parse` decide).
pub(super) fn scan_decimal(b: &[u8], start: usize) -> (usize, Option<f64>) {
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
