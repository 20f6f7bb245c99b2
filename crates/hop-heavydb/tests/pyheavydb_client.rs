//! pyheavydb's own client (`heavydb.connect`, cursor) and the Rust client give the same answers
//! from the same peer: column names, NULLs, integers, doubles (bit for bit), text, dates and
//! timestamps, and the same HeavyDB error.

use std::io::Write;
use std::process::{Command, Stdio};

use hop_heavydb::testing::{DATABASE, PASSWORD, Peer, USER, python};
use hop_heavydb::{HeavyDbClient, HeavyDbError};
use hop_sql::Value;
use serde_json::Value as Json;

const QUERIES: &[&str] = &[
    "SELECT * FROM t ORDER BY id",
    "SELECT COUNT(*) AS n, SUM(x) AS total, MAX(name) AS last_name FROM t",
    "SELECT id, x / 3 AS third, CAST(id AS DOUBLE) / 7 AS seventh FROM t ORDER BY id",
    "SELECT name FROM t WHERE id < 0",
    "SELECT * FROM no_such_table",
];

/// pyheavydb's answers, one JSON object per query.
fn pyheavydb_answers(peer: &Peer) -> Vec<Json> {
    let python = python().expect("the peer runs, so its Python imports heavydb");
    let script = hop_heavydb::testing::peer_script().with_file_name("pyheavydb_answers.py");
    let mut child = Command::new(python)
        .arg(script)
        .args([&peer.port.to_string(), USER, DATABASE])
        .env("HOP_HEAVYDB_PEER_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let queries = serde_json::to_vec(QUERIES).unwrap();
    child.stdin.take().unwrap().write_all(&queries).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pyheavydb_answers.py failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A Rust cell as pyheavydb renders it in JSON.
fn same_cell(rust: &Value, py: &Json) -> bool {
    match (rust, py) {
        (Value::Null, Json::Null) => true,
        (Value::Int(i), Json::Number(n)) => n.as_i64() == Some(*i),
        (Value::Real(x), Json::Number(n)) => {
            !n.is_i64() && !n.is_u64() && n.as_f64().map(f64::to_bits) == Some(x.to_bits())
        }
        (Value::Text(s), Json::String(p)) => s == p,
        _ => false,
    }
}

#[test]
fn pyheavydb_and_the_rust_client_agree() {
    let Some(peer) = Peer::start(&[]) else { return };
    let mut c = HeavyDbClient::connect(peer.config()).unwrap();
    c.sql_execute(
        "CREATE TABLE t (id INTEGER, name TEXT, x DOUBLE, cost DECIMAL(10,2), ok BOOLEAN, \
         d DATE, ts TIMESTAMP, big BIGINT)",
        false,
    )
    .unwrap();
    c.sql_execute(
        "INSERT INTO t VALUES (1, 'alpha', 0.1, 12.34, true, '2024-01-02', '2024-01-02 03:04:05', 9000000000), \
         (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (3, 'gämma', 2.25e-7, -1.5, false, '1969-12-31', '1999-12-31 23:59:59', -7)",
        false,
    )
    .unwrap();
    let answers = pyheavydb_answers(&peer);
    assert_eq!(answers.len(), QUERIES.len());
    for (query, py) in QUERIES.iter().zip(&answers) {
        match c.sql_execute(query, true) {
            Ok(rows) => {
                let names: Vec<&str> = py["names"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{query}: pyheavydb says {py}"))
                    .iter()
                    .filter_map(Json::as_str)
                    .collect();
                assert_eq!(rows.names, names, "{query}");
                let py_rows = py["rows"].as_array().unwrap();
                assert_eq!(rows.n_rows(), py_rows.len(), "{query}");
                for (r, py_row) in py_rows.iter().enumerate() {
                    for (c, py_cell) in py_row.as_array().unwrap().iter().enumerate() {
                        let rust = &rows.columns[c][r];
                        assert!(
                            same_cell(rust, py_cell),
                            "{query}: row {r} column {c}: {rust:?} vs {py_cell}"
                        );
                    }
                }
            }
            Err(HeavyDbError::Server { message, .. }) => {
                let py_error = py["error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{query}: {py}"));
                assert!(py_error.starts_with("ProgrammingError"), "{py_error}");
                assert!(py_error.ends_with(&message), "{py_error} vs {message}");
            }
            Err(e) => panic!("{query}: {e}"),
        }
    }
}
