//! Reference values computed independently with Python's standard library (CPython 3,
//! `statistics.NormalDist`, `math.erfc`, `math.log`):
//!
//! ```python
//! from statistics import NormalDist
//! import math
//! N = NormalDist()
//! cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))   # exact in the tails, unlike N.cdf
//! [N.inv_cdf(p) for p in (1e-12, 1e-6, 0.01, 0.3, 0.5, 0.8, 0.975, 1 - 1e-9)]
//! [math.log(x) for x in (1e-300, 0.001, 0.5, 1.0, 2.0, 10.0, 12345.678)]  # ln 2, ln 10 = Rust's consts
//! s = [0.5, -0.2, 1.3, 0.1, -0.7, 0.9, 0.4, -0.1, 0.6, 0.2, 2.5, -1.1, 0.3, 0.05, -0.4, 0.8]
//! n = len(s); mean = sum(s) / n
//! m2, m3, m4 = (sum((x - mean) ** p for x in s) / n for p in (2, 3, 4))
//! sr, g3, g4 = mean / math.sqrt(m2), m3 / m2 ** 1.5, m4 / m2 ** 2
//! psr = lambda b: N.cdf((sr - b) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr))
//! trials, V, g = 432000, 0.01, 0.5772156649015329
//! sr0 = math.sqrt(V) * ((1 - g) * N.inv_cdf(1 - 1 / trials) + g * N.inv_cdf(1 - 1 / (trials * math.e)))
//! (sr, g3, g4, psr(0.0), sr0, psr(sr0))
//! ```

use super::*;

fn close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let scale = expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() <= tolerance * scale,
        "{what}: {actual:e} vs {expected:e}"
    );
}

#[test]
fn normal_cdf_matches_python() {
    let cases = [
        (-8.5, 9.479534822203355e-18),
        (-3.0, 0.0013498980316300957),
        (-1.0, 0.15865525393145707),
        (-0.25, 0.4012936743170763),
        (0.0, 0.5),
        (0.5, 0.6914624612740131),
        (1.96, 0.9750021048517795),
        (4.0, 0.9999683287581669),
        (7.5, 0.9999999999999681),
    ];
    for (x, expected) in cases {
        // Relative 1e-12 down to -4.2; the far lower tail keeps 1e-8 relative.
        let tolerance = if x < -4.2 { 1e-8 } else { 1e-12 };
        close(normal_cdf(x), expected, tolerance, &format!("Phi({x})"));
    }
    assert_eq!(normal_cdf(-40.0), 0.0);
    assert_eq!(normal_cdf(40.0), 1.0);
}

#[test]
fn normal_quantile_matches_python() {
    let cases = [
        (1e-12, -7.034483825301132),
        (1e-6, -4.753424308822899),
        (0.01, -2.3263478740408408),
        (0.3, -0.5244005127080407),
        (0.5, 0.0),
        (0.8, 0.8416212335729144),
        (0.975, 1.9599639845400536),
        (1.0 - 1e-9, 5.997807019601638),
    ];
    for (p, expected) in cases {
        let x = normal_quantile(p);
        if expected == 0.0 {
            assert!(x.abs() < 1e-15, "Phi^-1(0.5) = {x}");
        } else {
            let tolerance = if (0.001..=0.999).contains(&p) {
                1e-13
            } else {
                1e-10
            };
            close(x, expected, tolerance, &format!("Phi^-1({p})"));
        }
    }
    assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    assert!(normal_quantile(1.5).is_nan());
}

#[test]
fn ln_matches_python() {
    let cases = [
        (1e-300, -690.7755278982137),
        (0.001, -6.907755278982137),
        (0.5, -std::f64::consts::LN_2),
        (2.0, std::f64::consts::LN_2),
        (10.0, std::f64::consts::LN_10),
        (12345.678, 9.421061321291832),
    ];
    for (x, expected) in cases {
        close(det_ln(x), expected, 4e-16, &format!("ln({x})"));
    }
    assert_eq!(det_ln(1.0), 0.0);
    assert_eq!(det_ln(0.0), f64::NEG_INFINITY);
}

#[test]
fn psr_and_dsr_match_python() {
    let series = [
        0.5, -0.2, 1.3, 0.1, -0.7, 0.9, 0.4, -0.1, 0.6, 0.2, 2.5, -1.1, 0.3, 0.05, -0.4, 0.8,
    ];
    let sr0 = expected_max_sharpe(432_000, 0.01);
    close(sr0, 0.46991698457204784, 1e-9, "SR0");
    let stats = sharpe_stats(&series, sr0);
    close(stats.sharpe, 0.39629750072270975, 1e-13, "Sharpe");
    close(stats.skewness, 0.820225174232609, 1e-13, "skewness");
    close(stats.kurtosis, 4.187590852577491, 1e-13, "kurtosis");
    close(stats.psr, 0.9569107642130694, 1e-12, "PSR");
    close(stats.dsr, 0.3749536485683331, 1e-9, "DSR");
    assert_eq!(stats.days, 16);
}

#[test]
fn degenerate_series_stay_finite() {
    let flat = sharpe_stats(&[1.0; 10], 0.2);
    assert_eq!((flat.sharpe, flat.skewness, flat.kurtosis), (0.0, 0.0, 3.0));
    assert_eq!(flat.psr, 0.5);
    assert!(flat.dsr < 0.5);
    assert_eq!(expected_max_sharpe(1, 0.5), 0.0);
    assert_eq!(probabilistic_sharpe(1.0, 0.0, 3.0, 1, 0.0), 0.5);
}
