//! What the blue engine's tests share: the worst relative difference between two sets of
//! per-strategy metrics (SQL engines agree with each other and with Rust to ~1e-12, not bits).

/// A strategy's five metrics in `strategy_metrics.csv` order.
pub fn five(m: &hop_proto::v1::StrategyMetrics) -> [f64; 5] {
    [
        m.roi,
        m.max_drawdown,
        m.win_percentage,
        m.profit_factor,
        m.expectancy,
    ]
}

/// `|a - b| / max(|a|, |b|)`, 0 when equal (also for two infinities).
fn relative(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// The largest relative difference over every metric of every strategy pair.
pub fn worst_relative(pairs: impl IntoIterator<Item = ([f64; 5], [f64; 5])>) -> f64 {
    pairs
        .into_iter()
        .flat_map(|(a, b)| a.into_iter().zip(b))
        .map(|(a, b)| relative(a, b))
        .fold(0.0, f64::max)
}
