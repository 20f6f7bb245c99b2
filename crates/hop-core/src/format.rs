//! Number formatting shared by every report: Python's `repr(float)` (shortest round-trip digits),
//! which is what the legacy reports and `strategy_metrics.csv` contain.

use std::fmt::Write as _;

/// Formats like Python's `repr(float)`: `505.0525000000011`, `0.5`, `1e-05`, `inf`, `-inf`, `nan`.
///
/// A thin wrapper over [`push_float`]; use that one in loops to avoid an allocation per value.
pub fn float(value: f64) -> String {
    let mut out = String::with_capacity(24);
    push_float(&mut out, value);
    out
}

/// Appends `value` to `out` exactly as [`float`] formats it (Python `repr`), without allocating:
/// the 25,544-row `strategy_metrics.csv` writes 127,720 floats.
pub fn push_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("nan");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits in scientific form: `d.dddde<exp>` (at
    // most 17 digits and a 3-digit exponent, so it always fits the stack buffer).
    let mut sci = StackText {
        buf: [0; 32],
        len: 0,
    };
    let parsed = match write!(sci, "{:e}", value.abs()) {
        Ok(()) => split_scientific(sci.as_str()),
        Err(_) => None,
    };
    let Some((first, rest, exp)) = parsed else {
        // Unreachable (see above); keep Rust's own spelling rather than panic in a report.
        let _ = write!(out, "{value:e}");
        return;
    };
    if value < 0.0 {
        out.push('-');
    }
    // Python uses fixed notation for 1e-4 <= |x| < 1e16, scientific otherwise.
    if (-4..16).contains(&exp) {
        // The significant digits are `first` then `rest`; `n` of them.
        let n = 1 + rest.len() as i32;
        if exp < 0 {
            out.push_str("0.");
            push_zeros(out, -exp - 1);
            out.push_str(first);
            out.push_str(rest);
        } else if exp + 1 >= n {
            out.push_str(first);
            out.push_str(rest);
            push_zeros(out, exp + 1 - n);
            out.push_str(".0");
        } else {
            // 0 <= exp < n - 1: the point falls inside `rest`.
            let (int, frac) = rest.split_at(exp as usize);
            out.push_str(first);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        let _ = write!(out, "{abs}");
    }
}

/// Splits Rust's `{:e}` spelling of a positive finite number, `d.dddde<exp>` or `de<exp>`, into
/// the first digit, the other digits and the exponent.
fn split_scientific(sci: &str) -> Option<(&str, &str, i32)> {
    let (mantissa, exp) = sci.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    if !mantissa.is_char_boundary(1) {
        return None;
    }
    let (first, rest) = mantissa.split_at(1);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    Some((first, rest, exp))
}

/// Appends `count` zeros (at most 15 are ever needed).
fn push_zeros(out: &mut String, count: i32) {
    for _ in 0..count {
        out.push('0');
    }
}

/// A small stack buffer for `{:e}` output.
struct StackText {
    buf: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{float, push_float};

    #[test]
    fn matches_python_repr() {
        let cases = [
            (505.0525000000011, "505.0525000000011"),
            (0.5, "0.5"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.0, "123456789012345.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (0.6219512195121951, "0.6219512195121951"),
            (-1.82604746746997, "-1.82604746746997"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (1e100, "1e+100"),
            (-1.7976931348623157e308, "-1.7976931348623157e+308"),
        ];
        for (value, want) in cases {
            assert_eq!(float(value), want, "formatting {value:?}");
        }
        assert_eq!(float(f64::NAN), "nan");
    }

    /// The straightforward (allocating) implementation `float` had before `push_float` replaced
    /// it; kept here as the reference that `push_float` must agree with bit for bit.
    fn reference(value: f64) -> String {
        if value.is_nan() {
            return "nan".into();
        }
        if value.is_infinite() {
            return if value > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            };
        }
        if value == 0.0 {
            return if value.is_sign_negative() {
                "-0.0".into()
            } else {
                "0.0".into()
            };
        }
        let sci = format!("{value:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        let negative = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let sign = if negative { "-" } else { "" };
        if (-4..16).contains(&exp) {
            let n = digits.len() as i32;
            let body = if exp < 0 {
                format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
            } else if exp + 1 >= n {
                format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
            } else {
                let (int, frac) = digits.split_at((exp + 1) as usize);
                format!("{int}.{frac}")
            };
            format!("{sign}{body}")
        } else {
            let (first, rest) = digits.split_at(1);
            let mantissa = if rest.is_empty() {
                first.to_string()
            } else {
                format!("{first}.{rest}")
            };
            let exp_sign = if exp < 0 { '-' } else { '+' };
            format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
        }
    }

    fn check(value: f64) {
        let mut out = String::from("x");
        push_float(&mut out, value);
        let want = reference(value);
        assert_eq!(&out[1..], want, "bits {:#018x}", value.to_bits());
        assert_eq!(float(value), want, "bits {:#018x}", value.to_bits());
    }

    #[test]
    fn push_float_agrees_with_the_reference() {
        let specials = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            -5e-324,
            1.0,
            -1.0,
            0.5,
            100.0,
            1e16,
            1.5e16,
            9999999999999998.0,
            123456789012345.0,
            1e15,
            0.0001,
            0.00009999999999999999,
            0.00001,
            -2.5e-7,
            505.0525000000011,
            0.6219512195121951,
            -1.82604746746997,
            1e22,
            1e-300,
        ];
        for v in specials {
            check(v);
        }
        for e in -330..310 {
            let p = 10f64.powi(e);
            for v in [
                p,
                -p,
                p * 1.5,
                p * 0.999_999_999,
                p * 1.000_000_000_1,
                p.next_up(),
                p.next_down(),
            ] {
                check(v);
            }
        }
        // Random bit patterns (every exponent) and random amounts in the usual ranges.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            check(f64::from_bits(next()));
            let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
            check((unit - 0.5) * 50_000.0);
            check(unit);
            check((unit * 10_000.0).round() / 100.0);
        }
    }
}
