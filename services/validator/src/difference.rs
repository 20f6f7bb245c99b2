//! How two numbers are compared: the relative difference with its absolute floor, the tolerance
//! rules, and the text form of numbers in mismatches.
//!
//! - `relative_difference(b, g) = |b - g| / max(|b|, |g|)`, so 0 when equal and at most 2 for
//!   finite numbers (opposite signs).
//! - Equal numbers (`==`: bit-equal, `0.0` and `-0.0`, both `+inf`, both `-inf`) differ by 0.
//! - NaN equals nothing, not even NaN; infinity against anything else differs by `+inf`.
//! - **Absolute floor**: two finite numbers with `|b - g| <= ABS_FLOOR` differ by 0. Every metric
//!   compared is a currency amount (ROI, drawdown, expectancy), a fraction (win %), or a ratio of
//!   them, so `1e-9` is far below anything an analyst can see while absorbing the summation
//!   noise of values near 0 (an ROI of `1e-13` on one side and `0` on the other is the same ROI;
//!   relatively they would differ by 1, the largest possible amount). The floor only applies
//!   with a positive tolerance: a tolerance of 0 asks for equal numbers.

use crate::ValidatorError;

/// Differences at or below this absolute amount count as none (with a positive tolerance).
pub const ABS_FLOOR: f64 = 1e-9;

/// The default tolerance: 0.001 % relative (SPEC 5).
pub const DEFAULT_TOLERANCE: f64 = 1e-5;

/// A checked tolerance: a finite number >= 0, with the absolute floor it implies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    relative: f64,
}

impl Tolerance {
    /// Checks `relative`: NaN, negative and infinite tolerances are refused (an infinite one
    /// would accept NaN and infinities against finite numbers).
    pub fn new(relative: f64) -> Result<Self, ValidatorError> {
        if relative.is_finite() && relative >= 0.0 {
            Ok(Self { relative })
        } else {
            Err(ValidatorError::InvalidTolerance(relative))
        }
    }

    /// The largest relative difference accepted.
    pub fn relative(self) -> f64 {
        self.relative
    }

    /// The absolute floor that applies: [`ABS_FLOOR`], or 0 when the tolerance is 0.
    pub fn abs_floor(self) -> f64 {
        if self.relative > 0.0 { ABS_FLOOR } else { 0.0 }
    }

    /// Whether a relative difference is accepted.
    pub fn accepts(self, difference: f64) -> bool {
        difference <= self.relative
    }
}

/// The relative difference of `blue` and `green` (see the module documentation); `+inf` when
/// either is NaN or exactly one side is infinite or the infinities differ.
pub fn relative_difference(blue: f64, green: f64, abs_floor: f64) -> f64 {
    if blue.is_nan() || green.is_nan() {
        return f64::INFINITY;
    }
    if blue == green {
        return 0.0;
    }
    if blue.is_infinite() || green.is_infinite() {
        return f64::INFINITY;
    }
    let scale = blue.abs().max(green.abs());
    let absolute = (blue - green).abs();
    if absolute <= abs_floor {
        0.0
    } else if absolute.is_finite() {
        absolute / scale
    } else {
        // Huge numbers of opposite signs: scale first so the difference does not overflow.
        (blue / scale - green / scale).abs()
    }
}

/// A number as text: the shortest form that reads back to the same bits (`0.1`, `1e-13`,
/// `-0.0`), `inf`, `-inf` or `NaN`.
pub fn number_text(x: f64) -> String {
    format!("{x:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    #[test]
    fn relative_difference_is_scaled_by_the_larger_magnitude() {
        assert_eq!(relative_difference(100.0, 99.0, ABS_FLOOR), 0.01);
        assert_eq!(relative_difference(99.0, 100.0, ABS_FLOOR), 0.01);
        assert_eq!(relative_difference(-2.0, 2.0, ABS_FLOOR), 2.0);
        assert_eq!(relative_difference(1.0, 0.0, ABS_FLOOR), 1.0);
        assert_eq!(relative_difference(f64::MAX, -f64::MAX, ABS_FLOOR), 2.0);
    }

    #[test]
    fn equal_numbers_and_equal_infinities_differ_by_nothing() {
        for x in [0.0, -0.0, 1.5, -1e300, INF, -INF, f64::MIN_POSITIVE] {
            assert_eq!(relative_difference(x, x, 0.0), 0.0, "{x}");
        }
        assert_eq!(relative_difference(0.0, -0.0, 0.0), 0.0);
    }

    #[test]
    fn nan_and_lone_infinities_differ_infinitely() {
        assert_eq!(relative_difference(f64::NAN, f64::NAN, ABS_FLOOR), INF);
        assert_eq!(relative_difference(f64::NAN, 1.0, ABS_FLOOR), INF);
        assert_eq!(relative_difference(0.0, f64::NAN, ABS_FLOOR), INF);
        assert_eq!(relative_difference(INF, -INF, ABS_FLOOR), INF);
        assert_eq!(relative_difference(INF, 1e308, ABS_FLOOR), INF);
        assert_eq!(relative_difference(-1.0, -INF, ABS_FLOOR), INF);
    }

    #[test]
    fn the_absolute_floor_absorbs_noise_near_zero() {
        assert_eq!(relative_difference(1e-13, 0.0, ABS_FLOOR), 0.0);
        assert_eq!(relative_difference(-4e-10, 5e-10, ABS_FLOOR), 0.0);
        assert_eq!(relative_difference(1e-13, 0.0, 0.0), 1.0);
        // Just above the floor, the relative rule applies again.
        assert_eq!(relative_difference(2e-9, 0.0, ABS_FLOOR), 1.0);
    }

    #[test]
    fn tolerances_are_checked() {
        for bad in [-1e-9, f64::NAN, INF, -INF] {
            assert!(Tolerance::new(bad).is_err(), "{bad}");
        }
        let exact = Tolerance::new(0.0).unwrap();
        assert_eq!(exact.abs_floor(), 0.0);
        assert!(exact.accepts(0.0) && !exact.accepts(f64::MIN_POSITIVE));
        let default = Tolerance::new(DEFAULT_TOLERANCE).unwrap();
        assert_eq!(default.abs_floor(), ABS_FLOOR);
        assert!(default.accepts(1e-5) && !default.accepts(1.0001e-5) && !default.accepts(INF));
    }

    #[test]
    fn numbers_read_back_from_their_text() {
        assert_eq!(number_text(0.1), "0.1");
        assert_eq!(number_text(1e-13), "1e-13");
        assert_eq!(number_text(-0.0), "-0.0");
        assert_eq!(number_text(INF), "inf");
        assert_eq!(number_text(-INF), "-inf");
        assert_eq!(number_text(f64::NAN), "NaN");
        for x in [
            -1.826_047_467_469_97,
            0.439_024_390_243_902_44,
            1e300,
            5e-324,
        ] {
            assert_eq!(
                number_text(x).parse::<f64>().unwrap().to_bits(),
                x.to_bits()
            );
        }
    }
}
