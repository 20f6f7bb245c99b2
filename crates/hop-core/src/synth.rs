//! A production-shape matrix generator for benchmarks and tests.
//!
//! [`bootstrap`] grows a real matrix (for example the 2,500-strategy fixture) to any number of
//! strategies by resampling its columns with replacement. Days stay aligned, so each day's
//! cross-section (the market move that all strategies share) is preserved; each copy is scaled by
//! a random factor in `[0.8, 1.25]` and rounded to 4 decimals so that no two columns are exact
//! duplicates, then given the float noise that real P&L sums carry. Deterministic for a seed (the crate's own [`crate::rng::Rng`]).

use crate::matrix::PnlMatrix;
use crate::rng::Rng;

/// The scale factors are drawn from this range.
pub const SCALE_RANGE: (f64, f64) = (0.8, 1.25);

/// Builds an `n_strategies` x `base.n_days()` matrix by bootstrapping `base`'s columns: strategy
/// `j` is base column `c_j` (drawn with replacement) times a factor `s_j` drawn uniformly from
/// [`SCALE_RANGE`]. Each value is rounded to 4 decimals and then moved by a random `-8..=8` units
/// in the last place, which reproduces the text of the real files: 4-decimal amounts carrying the
/// legacy consolidator's float-summation noise, like `505.0525000000011` (on the 2,500-strategy
/// fixture the real cells average 18.2 bytes and 94% of them have 13+ characters; generated ones
/// 18.4 bytes and 94%). Without the noise the CSV would be half as large as production's and the
/// parse benchmark too kind. Strategy `j` is named `SENSEX SYN<j+1, 5 digits> <base name>`; the
/// dates are `base`'s.
///
/// # Panics
/// When `n_strategies` is 0 (a matrix has at least one strategy).
pub fn bootstrap(base: &PnlMatrix, n_strategies: usize, seed: u64) -> PnlMatrix {
    assert!(n_strategies > 0, "bootstrap needs at least one strategy");
    let days = base.n_days();
    let mut rng = Rng::new(seed, 0x5E17);
    let mut names = Vec::with_capacity(n_strategies);
    let mut values = Vec::with_capacity(n_strategies * days);
    let (low, high) = SCALE_RANGE;
    for j in 0..n_strategies {
        let source = rng.below(base.n_strategies());
        let scale = low + (high - low) * rng.unit();
        names.push(format!("SENSEX SYN{:05} {}", j + 1, base.names()[source]));
        for &x in base.column(source) {
            let noise = rng.below(2 * MAX_NOISE_ULPS as usize + 1) as i64 - MAX_NOISE_ULPS;
            values.push(nudge(round4(x * scale), noise));
        }
    }
    PnlMatrix::new(names, base.dates().to_vec(), values)
        .expect("bootstrapped names are unique and the shape is consistent")
}

/// The float-summation noise added to each value, in units in the last place.
const MAX_NOISE_ULPS: i64 = 8;

/// Moves a nonzero finite `x` by `ulps` units in the last place (zero stays zero).
fn nudge(x: f64, ulps: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    f64::from_bits(x.to_bits().wrapping_add_signed(ulps))
}

/// Rounds to 4 decimals: `k / 10^4` with `k` an exact integer (below 2^53 for any realistic P&L),
/// which IEEE division rounds correctly, so the result is exactly what parsing `"k/10^4"` as a
/// decimal text gives. `-0.0` becomes `0.0`.
fn round4(x: f64) -> f64 {
    let k = (x * 1e4).round();
    if k.abs() < 9_007_199_254_740_992.0 {
        k / 1e4 + 0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulp(x: f64) -> f64 {
        f64::from_bits(x.abs().to_bits() + 1) - x.abs()
    }

    fn base() -> PnlMatrix {
        let names = (0..7).map(|j| format!("S{j}")).collect();
        let dates = (1..=5).map(|d| format!("2024-01-0{d}")).collect();
        let values = (0..35)
            .map(|i| (i as f64 * 37.123457 - 500.0) * if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        PnlMatrix::new(names, dates, values).unwrap()
    }

    #[test]
    fn deterministic_for_a_seed() {
        let b = base();
        assert_eq!(bootstrap(&b, 100, 42), bootstrap(&b, 100, 42));
        assert_ne!(bootstrap(&b, 100, 42), bootstrap(&b, 100, 43));
    }

    #[test]
    fn shape_names_and_day_alignment() {
        let b = base();
        let m = bootstrap(&b, 250, 7);
        assert_eq!((m.n_strategies(), m.n_days()), (250, 5));
        assert_eq!(m.dates(), b.dates());
        let unique: std::collections::HashSet<_> = m.names().iter().collect();
        assert_eq!(unique.len(), 250);
        assert_eq!(
            m.names()[0].split(' ').take(2).collect::<Vec<_>>(),
            ["SENSEX", "SYN00001"]
        );
        let mut sources = std::collections::HashSet::new();
        for j in 0..m.n_strategies() {
            // The base column named in the suffix, with one scale factor over all days.
            let source_name = m.names()[j].rsplit(' ').next().unwrap();
            let source = b.names().iter().position(|n| n == source_name).unwrap();
            sources.insert(source);
            let (col, src) = (m.column(j), b.column(source));
            // Estimate the factor on the largest day so that rounding barely moves it.
            let big = (0..src.len())
                .max_by(|&a, &b| src[a].abs().total_cmp(&src[b].abs()))
                .unwrap();
            let scale = col[big] / src[big];
            assert!((0.8 - 1e-6..=1.25 + 1e-6).contains(&scale), "scale {scale}");
            for t in 0..m.n_days() {
                assert!(
                    (col[t] - src[t] * scale).abs() <= 1e-4,
                    "day {t} of strategy {j}"
                );
                // A 4-decimal amount plus at most 8 ulps of noise.
                let decimal: f64 = format!("{:.4}", col[t]).parse().unwrap();
                let off = (col[t] - decimal).abs();
                assert!(off <= 8.0 * ulp(decimal), "{} vs {decimal}", col[t]);
            }
        }
        assert_eq!(
            sources.len(),
            b.n_strategies(),
            "every base column gets drawn"
        );
    }

    #[test]
    fn generated_text_looks_like_the_real_file() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/legacy/sensex_2500x82.csv");
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("the fixture {} is missing: {e}", path.display()));
        let base = crate::csv::parse_csv(&bytes).unwrap();
        let m = bootstrap(&base, 5000, 1);
        let text = crate::csv::write_csv(&m, true);
        let per_cell = |len: usize, strategies: usize| len as f64 / (strategies * 82) as f64;
        let (real, generated) = (per_cell(bytes.len(), 2500), per_cell(text.len(), 5000));
        assert!(
            (generated - real).abs() < 0.6,
            "{generated:.2} bytes per cell vs {real:.2}"
        );
    }
}
