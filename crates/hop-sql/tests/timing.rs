//! Rough timings of the SQL data path (run with
//! `cargo test -p hop-sql --release --test timing -- --ignored --nocapture`).

mod common;

use std::time::Instant;

use hop_core::fixtures;
use hop_core::metrics::all_strategy_metrics;
use hop_core::synth::bootstrap;
use hop_sql::{LegacyWorkflow, SqliteBackend};

fn time(label: &str, matrix: &hop_core::PnlMatrix) {
    let t0 = Instant::now();
    let mut wf = LegacyWorkflow::new(SqliteBackend::in_memory().unwrap(), "timing").unwrap();
    wf.load(matrix).unwrap();
    let t1 = Instant::now();
    let metrics = wf.strategy_metrics().unwrap();
    let t2 = Instant::now();
    let back = wf.read_matrix().unwrap();
    let t3 = Instant::now();
    wf.finish().unwrap();
    let t4 = Instant::now();
    println!(
        "{label} ({} x {}): load {:.3} s, metrics {:.3} s, read back {:.3} s, drop {:.3} s, total {:.3} s",
        matrix.n_strategies(),
        matrix.n_days(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t3 - t2).as_secs_f64(),
        (t4 - t3).as_secs_f64(),
        (t4 - t0).as_secs_f64(),
    );
    assert_eq!(metrics.len(), matrix.n_strategies());
    fixtures::assert_bit_identical(&back, matrix);
    let r = Instant::now();
    let reference = all_strategy_metrics(matrix);
    println!(
        "  (Rust reference metrics: {:.4} s)",
        r.elapsed().as_secs_f64()
    );
    common::print_worst(label, &common::compare(&metrics, &reference));
}

#[test]
#[ignore = "timing; run in release with --nocapture"]
fn timings() {
    let base = fixtures::matrix("sensex_2500x82.csv");
    time("fixture", &base);
    time("production shape", &bootstrap(&base, 25_544, 42));
}
