//! The SQL metrics equal the Rust reference on the legacy fixtures, and the matrix read back
//! from the database is bit-identical to the one loaded.

mod common;

use hop_core::fixtures;
use hop_core::metrics::all_strategy_metrics;
use hop_sql::{LegacyWorkflow, SqliteBackend, run};

fn check_fixture(name: &str) {
    let matrix = fixtures::matrix(name);
    let out = run(SqliteBackend::in_memory().unwrap(), "fixture", &matrix).unwrap();
    let worst = common::compare(&out.metrics, &all_strategy_metrics(&matrix));
    common::print_worst(name, &worst);
    fixtures::assert_bit_identical(&out.matrix, &matrix);
}

#[test]
fn sensex_2500_metrics_and_read_back() {
    check_fixture("sensex_2500x82.csv");
}

#[test]
fn sensex_500_metrics_and_read_back() {
    check_fixture("sensex_500x82.csv");
}

#[test]
fn metrics_work_on_tables_loaded_by_another_workflow_value() {
    // A workflow that did not load the tables itself finds T in the dates table.
    let matrix = fixtures::matrix("sensex_500x82.csv");
    let mut backend = SqliteBackend::in_memory().unwrap();
    let mut loader = LegacyWorkflow::new(&mut backend, "shared").unwrap();
    loader.load(&matrix).unwrap();
    let from_loader = loader.strategy_metrics().unwrap();
    std::mem::forget(loader); // keep the tables
    let mut reader = LegacyWorkflow::new(&mut backend, "shared").unwrap();
    assert_eq!(reader.strategy_metrics().unwrap(), from_loader);
    fixtures::assert_bit_identical(&reader.read_matrix().unwrap(), &matrix);
}
