//! Shared test helpers: comparing SQL metrics with the Rust reference.

#![allow(dead_code)]

use hop_core::StrategyMetrics;

pub const REL_TOL: f64 = 1e-12;
pub const ABS_FLOOR: f64 = 1e-9;

/// |a - b| / max(|a|, |b|), 0 when equal (infinities included).
pub fn rel_diff(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

pub fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= ABS_FLOOR || rel_diff(a, b) <= REL_TOL
}

pub const METRIC_NAMES: [&str; 5] = [
    "roi",
    "max_drawdown",
    "win_percentage",
    "profit_factor",
    "expectancy",
];

pub fn fields(m: &StrategyMetrics) -> [f64; 5] {
    [
        m.roi,
        m.max_drawdown,
        m.win_percentage,
        m.profit_factor,
        m.expectancy,
    ]
}

/// Asserts every metric of every strategy agrees; returns per metric the worst relative and
/// absolute differences and how many values differ in any bit.
pub fn compare(sql: &[StrategyMetrics], reference: &[StrategyMetrics]) -> [(f64, f64, usize); 5] {
    assert_eq!(sql.len(), reference.len());
    let mut worst = [(0.0, 0.0, 0); 5];
    for (j, (s, r)) in sql.iter().zip(reference).enumerate() {
        for (k, (a, b)) in fields(s).into_iter().zip(fields(r)).enumerate() {
            assert!(
                close(a, b),
                "strategy {j} {}: sql {a:?} vs reference {b:?}",
                METRIC_NAMES[k]
            );
            if a.to_bits() != b.to_bits() {
                worst[k].2 += 1;
            }
            worst[k].0 = f64::max(worst[k].0, rel_diff(a, b));
            if a != b {
                worst[k].1 = f64::max(worst[k].1, (a - b).abs());
            }
        }
    }
    worst
}

pub fn print_worst(label: &str, worst: &[(f64, f64, usize); 5]) {
    for (k, (rel, abs, differing)) in worst.iter().enumerate() {
        println!(
            "{label}: {:<15} worst relative difference {rel:.3e}, absolute {abs:.3e}, {differing} values not bit-identical",
            METRIC_NAMES[k]
        );
    }
}
