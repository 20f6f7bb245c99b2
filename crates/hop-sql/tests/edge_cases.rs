//! Edge cases of the SQL metrics: a flat strategy, an all-loss strategy, one day, `-0.0`.

mod common;

use hop_core::metrics::all_strategy_metrics;
use hop_core::{PnlMatrix, StrategyMetrics};
use hop_sql::{SqliteBackend, run};

fn matrix(columns: &[&[f64]]) -> PnlMatrix {
    let days = columns[0].len();
    let names = (0..columns.len()).map(|j| format!("S{j}")).collect();
    let dates = (0..days).map(|t| format!("2024-01-{:02}", t + 1)).collect();
    PnlMatrix::new(names, dates, columns.concat()).unwrap()
}

fn sql_metrics(m: &PnlMatrix) -> Vec<StrategyMetrics> {
    let out = run(SqliteBackend::in_memory().unwrap(), "edge", m).unwrap();
    common::compare(&out.metrics, &all_strategy_metrics(m));
    out.metrics
}

#[test]
fn flat_all_loss_and_mixed_strategies() {
    let m = matrix(&[
        &[0.0, 0.0, 0.0, 0.0],
        &[-1.0, -2.0, -0.5, -4.0],
        &[-5.0, -3.0, 6.0, 0.0],
        &[1.0, 2.0, 0.0, 3.0],
    ]);
    let got = sql_metrics(&m);

    let flat = got[0];
    assert_eq!(flat.roi, 0.0);
    assert_eq!(flat.max_drawdown, 0.0);
    assert_eq!(flat.win_percentage, 0.0);
    assert_eq!(flat.profit_factor, f64::INFINITY);
    assert_eq!(flat.expectancy, 0.0);

    let losses = got[1];
    assert_eq!(losses.roi, -7.5);
    assert_eq!(
        losses.max_drawdown, 6.5,
        "peak starts at day 1's equity (-1)"
    );
    assert_eq!(losses.win_percentage, 0.0);
    assert_eq!(losses.profit_factor, 0.0);
    assert_eq!(losses.expectancy, -7.5 / 4.0);

    let mixed = got[2];
    assert_eq!(mixed.max_drawdown, 3.0);
    assert_eq!(mixed.win_percentage, 0.25);
    assert_eq!(mixed.profit_factor, 6.0 / 8.0);

    let gains = got[3];
    assert_eq!(gains.max_drawdown, 0.0);
    assert_eq!(gains.profit_factor, f64::INFINITY);
    assert_eq!(gains.win_percentage, 0.75);
}

#[test]
fn one_day() {
    let m = matrix(&[&[2.5], &[-1.5], &[0.0]]);
    let got = sql_metrics(&m);
    assert_eq!(got[0].roi, 2.5);
    assert_eq!(got[0].max_drawdown, 0.0);
    assert_eq!(got[0].win_percentage, 1.0);
    assert_eq!(got[0].profit_factor, f64::INFINITY);
    assert_eq!(got[0].expectancy, 2.5);
    assert_eq!(got[1].max_drawdown, 0.0);
    assert_eq!(got[1].profit_factor, 0.0);
    assert_eq!(got[1].expectancy, -1.5);
    assert_eq!(got[2].profit_factor, f64::INFINITY);
}

#[test]
fn extreme_values_read_back_bit_identical_except_negative_zero() {
    let values = [
        f64::MIN_POSITIVE,
        5e-324,
        -1.7976931348623157e308,
        1.7976931348623157e308,
        0.1 + 0.2,
        -0.0,
        9007199254740993.0,
        -123456789.0,
    ];
    let m = matrix(&[&values]);
    let out = run(SqliteBackend::in_memory().unwrap(), "extreme", &m).unwrap();
    for (i, (&got, &want)) in out.matrix.values().iter().zip(&values).enumerate() {
        if want == 0.0 && want.is_sign_negative() {
            // SQLite keeps whole-number doubles of a REAL column as integers: -0.0 becomes 0.0.
            assert_eq!(
                got.to_bits(),
                0.0f64.to_bits(),
                "-0.0 reads back as {got:?}"
            );
        } else {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "value {i}: {got:?} vs {want:?}"
            );
        }
    }
}
