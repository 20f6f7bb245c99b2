//! Per-job tables: two jobs in one database do not interfere and leave nothing behind; a job
//! whose tables are taken fails cleanly; SQL errors name their statement.

use std::sync::Barrier;

use hop_core::fixtures;
use hop_core::metrics::all_strategy_metrics;
use hop_sql::{LegacyWorkflow, SqlBackend, SqlError, SqliteBackend, TableNames, Value, run};

fn table_names(backend: &mut SqliteBackend) -> Vec<String> {
    let rows = backend
        .query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    rows.column("name")
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn job_tags_are_sanitized_and_distinct() {
    let t = TableNames::for_job("job_12345_20250730").unwrap();
    assert_eq!(t.pnl, "hop_job_12345_20250730_pnl");
    let a = TableNames::for_job("job-1").unwrap();
    let b = TableNames::for_job("job_1").unwrap();
    let c = TableNames::for_job("JOB_1").unwrap();
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_ne!(a, c);
    for t in [
        &a,
        &c,
        &TableNames::for_job("x'; DROP TABLE y; --").unwrap(),
    ] {
        assert!(
            t.pnl
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "{t:?}"
        );
    }
    assert!(TableNames::for_job(&"z".repeat(500)).unwrap().pnl.len() < 64);
    assert!(matches!(
        TableNames::for_job("  "),
        Err(SqlError::Invalid(_))
    ));
}

#[test]
fn two_jobs_in_one_database_do_not_interfere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.sqlite");
    let big = fixtures::matrix("sensex_2500x82.csv");
    let small = fixtures::matrix("sensex_500x82.csv");
    let barrier = Barrier::new(2);

    // Two connections, two threads, steps interleaved: both load, then both compute, then both
    // read back, each on its own tables.
    std::thread::scope(|scope| {
        let jobs = [("job-a", &big), ("job-b", &small)];
        for (tag, matrix) in jobs {
            let (path, barrier) = (&path, &barrier);
            scope.spawn(move || {
                let mut wf = LegacyWorkflow::new(SqliteBackend::open(path).unwrap(), tag).unwrap();
                wf.load(matrix).unwrap();
                barrier.wait();
                let metrics = wf.strategy_metrics().unwrap();
                barrier.wait();
                let back = wf.read_matrix().unwrap();
                barrier.wait();
                assert_eq!(metrics.len(), matrix.n_strategies());
                let reference = all_strategy_metrics(matrix);
                for (s, r) in metrics.iter().zip(&reference) {
                    assert!((s.roi - r.roi).abs() <= 1e-9 + 1e-12 * r.roi.abs());
                }
                fixtures::assert_bit_identical(&back, matrix);
                wf.finish().unwrap();
            });
        }
    });

    let mut db = SqliteBackend::open(&path).unwrap();
    assert_eq!(
        table_names(&mut db),
        Vec::<String>::new(),
        "tables left behind"
    );
}

#[test]
fn tables_are_dropped_on_error_and_taken_tables_are_refused() {
    let matrix = fixtures::matrix("sensex_500x82.csv");
    let mut backend = SqliteBackend::in_memory().unwrap();

    // Dropped without finish (an error path): the guard drops the tables.
    {
        let mut wf = LegacyWorkflow::new(&mut backend, "guarded").unwrap();
        wf.load(&matrix).unwrap();
        wf.backend_mut()
            .execute("SELECT nonsense FROM nowhere")
            .unwrap_err();
    }
    assert!(table_names(&mut backend).is_empty());

    // A second job with the same tag while the first holds its tables fails at CREATE and drops
    // nothing of the first.
    let other = TableNames::for_job("busy").unwrap();
    backend
        .execute(&format!(
            "CREATE TABLE {} (strategy_id INTEGER, name TEXT)",
            other.strategies
        ))
        .unwrap();
    let err = run(&mut backend, "busy", &matrix).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("CREATE TABLE {}", other.strategies)),
        "{err}"
    );
    assert_eq!(table_names(&mut backend), vec![other.strategies.clone()]);
}

#[test]
fn sql_errors_name_the_statement_and_the_backend_message() {
    let mut backend = SqliteBackend::in_memory().unwrap();
    let err = backend
        .query("SELECT strategy_id, no_such_column FROM no_such_table WHERE 1 = 1")
        .unwrap_err();
    assert!(matches!(err, SqlError::Statement { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("embedded-sql failed on SQL `SELECT strategy_id"),
        "{text}"
    );
    assert!(text.contains("no such table: no_such_table"), "{text}");

    let long = format!("CREATE TABLE t ({} INTEGER)", "c".repeat(1000));
    let err = backend.execute(&format!("{long} garbage")).unwrap_err();
    assert!(err.to_string().contains("CREATE TABLE t (ccc"), "{err}");
    assert!(
        err.to_string().len() < 600,
        "the statement is truncated: {err}"
    );
}

#[test]
fn query_returns_typed_columns() {
    let mut b = SqliteBackend::in_memory().unwrap();
    b.execute("CREATE TABLE t (strategy_id INTEGER, name TEXT, pnl DOUBLE)")
        .unwrap();
    b.execute("INSERT INTO t (strategy_id, name, pnl) VALUES (1, 'a', 2.5)")
        .unwrap();
    b.execute("INSERT INTO t (strategy_id, name, pnl) VALUES (2, NULL, 3)")
        .unwrap();
    let rows = b
        .query("SELECT strategy_id, name, pnl FROM t ORDER BY strategy_id")
        .unwrap();
    assert_eq!(rows.names, ["strategy_id", "name", "pnl"]);
    assert_eq!(rows.n_rows(), 2);
    assert_eq!(
        rows.column("STRATEGY_ID").unwrap(),
        [Value::Int(1), Value::Int(2)]
    );
    assert_eq!(
        rows.column("name").unwrap(),
        [Value::Text("a".into()), Value::Null]
    );
    assert_eq!(
        rows.column("pnl").unwrap(),
        [Value::Real(2.5), Value::Real(3.0)]
    );
    assert_eq!(b.name(), "embedded-sql");
}

#[test]
fn bulk_load_refuses_bad_requests() {
    use hop_sql::ColumnData;
    let mut b = SqliteBackend::in_memory().unwrap();
    b.execute("CREATE TABLE t (a INTEGER, b DOUBLE)").unwrap();
    let err = b
        .bulk_load(
            "t",
            &["a", "b"],
            &[ColumnData::Int(&[1, 2]), ColumnData::Real(&[1.0])],
        )
        .unwrap_err();
    assert!(matches!(err, SqlError::Invalid(_)), "{err}");
    let err = b
        .bulk_load("t; DROP TABLE t", &["a"], &[ColumnData::Int(&[1])])
        .unwrap_err();
    assert!(matches!(err, SqlError::Invalid(_)), "{err}");
    // A failing row rolls the whole load back.
    let err = b
        .bulk_load(
            "t",
            &["a", "missing"],
            &[ColumnData::Int(&[1]), ColumnData::Int(&[2])],
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("INSERT INTO t (a, missing)"),
        "{err}"
    );
    assert_eq!(b.query("SELECT a FROM t").unwrap().n_rows(), 0);
}
