//! The Rust client against the conformance peer (pyheavydb's generated processor on DuckDB):
//! result types and nulls, bulk loads, HeavyDB errors, a bad login, dropped connections and
//! sessions, and timeouts.

use std::time::Duration;

use hop_heavydb::testing::{PASSWORD, Peer};
use hop_heavydb::{HeavyDbClient, HeavyDbConfig, HeavyDbError, Password};
use hop_sql::{ColumnData, Value};

fn client(peer: &Peer) -> HeavyDbClient {
    HeavyDbClient::connect(peer.config()).expect("logs in")
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn nulls_doubles_text_and_dates() {
    let Some(peer) = Peer::start(&[]) else { return };
    let mut c = client(&peer);
    assert!(c.get_version().unwrap().starts_with("8."));
    c.sql_execute(
        "CREATE TABLE t (id INTEGER, name TEXT, x DOUBLE, cost DECIMAL(10,2), ok BOOLEAN, \
         d DATE, ts TIMESTAMP, big BIGINT)",
        false,
    )
    .unwrap();
    c.sql_execute(
        "INSERT INTO t VALUES (1, 'alpha', 0.1, 12.34, true, '2024-01-02', '2024-01-02 03:04:05', 9000000000), \
         (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (3, 'gämma', -1e-300, -1.5, false, '1969-12-31', '1999-12-31 23:59:59', -7)",
        false,
    )
    .unwrap();
    let rows = c.sql_execute("SELECT * FROM t ORDER BY id", true).unwrap();
    assert_eq!(
        rows.names,
        ["id", "name", "x", "cost", "ok", "d", "ts", "big"]
    );
    let null = Value::Null;
    let want = [
        vec![Value::Int(1), Value::Int(2), Value::Int(3)],
        vec![text("alpha"), null.clone(), text("gämma")],
        vec![Value::Real(0.1), null.clone(), Value::Real(-1e-300)],
        vec![Value::Real(12.34), null.clone(), Value::Real(-1.5)],
        vec![Value::Int(1), null.clone(), Value::Int(0)],
        vec![text("2024-01-02"), null.clone(), text("1969-12-31")],
        vec![
            text("2024-01-02 03:04:05"),
            null.clone(),
            text("1999-12-31 23:59:59"),
        ],
        vec![Value::Int(9_000_000_000), null, Value::Int(-7)],
    ];
    assert_eq!(rows.columns, want);
    let empty = c
        .sql_execute("SELECT id FROM t WHERE id > 10", true)
        .unwrap();
    assert_eq!((empty.names.len(), empty.n_rows()), (1, 0));
}

#[test]
fn bulk_loads_round_trip_bit_for_bit() {
    let Some(peer) = Peer::start(&[]) else { return };
    let mut c = client(&peer);
    c.sql_execute(
        "CREATE TABLE p (strategy_id INTEGER, name TEXT, pnl DOUBLE)",
        false,
    )
    .unwrap();
    let n = 20_000;
    let ids: Vec<i64> = (0..n).collect();
    let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    let pnl: Vec<f64> = (0..n)
        .map(|i| (i as f64 * 0.37).sin() * 1e3 / 7.0)
        .collect();
    c.load_table_binary_columnar(
        "p",
        &["strategy_id", "name", "pnl"],
        &[
            ColumnData::Int(&ids),
            ColumnData::Text(&names),
            ColumnData::Real(&pnl),
        ],
    )
    .unwrap();
    let rows = c
        .sql_execute(
            "SELECT strategy_id, name, pnl FROM p ORDER BY strategy_id",
            true,
        )
        .unwrap();
    assert_eq!(rows.n_rows(), n as usize);
    for (r, v) in rows.column("pnl").unwrap().iter().enumerate() {
        let Value::Real(x) = v else { panic!("{v:?}") };
        assert_eq!(x.to_bits(), pnl[r].to_bits(), "row {r}");
    }
    assert_eq!(rows.column("name").unwrap()[7], text("s7"));
}

#[test]
fn sql_errors_name_heavydb_and_keep_the_session() {
    let Some(peer) = Peer::start(&[]) else { return };
    let mut c = client(&peer);
    let e = c
        .sql_execute("SELECT * FROM no_such_table", true)
        .unwrap_err();
    assert!(
        matches!(
            e,
            HeavyDbError::Server {
                method: "sql_execute",
                ..
            }
        ),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.contains("HeavyDB error (TDBException) in sql_execute: SQL Error"),
        "{message}"
    );
    assert!(message.contains("no_such_table"), "{message}");
    let e = c
        .load_table_binary_columnar("no_such_table", &["a"], &[ColumnData::Int(&[1])])
        .unwrap_err();
    assert!(e.to_string().contains("load_table_binary_columnar"), "{e}");
    let rows = c.sql_execute("SELECT 42 AS answer", true).unwrap();
    assert_eq!(rows.columns, [vec![Value::Int(42)]]);
}

#[test]
fn a_bad_login_is_refused_without_echoing_the_password() {
    let Some(peer) = Peer::start(&[]) else { return };
    let mut config = peer.config();
    config.password = Password::new("wrong-password");
    let e = HeavyDbClient::connect(config).unwrap_err();
    assert!(matches!(e, HeavyDbError::Login { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("Authentication failure"), "{message}");
    assert!(!message.contains("wrong-password") && !format!("{e:?}").contains("wrong-password"));
    let mut config = peer.config();
    config.database = "nope".into();
    let e = HeavyDbClient::connect(config).unwrap_err();
    assert!(
        e.to_string().contains("Database nope does not exist"),
        "{e}"
    );
    let closed = HeavyDbConfig::from_url(
        "heavydb://admin@127.0.0.1:1/heavyai",
        Password::new(PASSWORD),
    )
    .unwrap();
    let e = HeavyDbClient::connect(closed).unwrap_err();
    assert!(matches!(e, HeavyDbError::Connect { .. }), "{e:?}");
}

#[test]
fn reconnects_after_a_dropped_connection_or_session() {
    let Some(mut peer) = Peer::start(&[]) else {
        return;
    };
    let mut c = client(&peer);
    c.sql_execute("SELECT 1 AS one", true).unwrap();
    // The server goes away and comes back: the old connection is closed, its session lost.
    peer.restart(&[]);
    c.sql_execute("CREATE TABLE r (a INTEGER)", false).unwrap();
    c.sql_execute("INSERT INTO r VALUES (1)", false).unwrap();
    // Again, before a read-only query.
    peer.restart(&[]);
    let rows = c.sql_execute("SELECT 2 AS two", true).unwrap();
    assert_eq!(rows.columns, [vec![Value::Int(2)]]);
    // Logging out, then using the client again, logs in again.
    c.disconnect().unwrap();
    assert_eq!(
        c.sql_execute("SELECT 3 AS x", true).unwrap().columns,
        [vec![Value::Int(3)]]
    );
    // Sessions that the server expires after two calls.
    peer.restart(&["--session-calls", "2"]);
    for i in 0..5 {
        let rows = c.sql_execute(&format!("SELECT {i} AS i"), false).unwrap();
        assert_eq!(rows.columns, [vec![Value::Int(i)]]);
    }
    // A dead server is a clear connection error.
    peer.kill();
    let e = c.sql_execute("SELECT 1", true).unwrap_err();
    assert!(matches!(e, HeavyDbError::Connect { .. }), "{e:?}");
}

#[test]
fn a_slow_call_times_out_and_the_next_one_reconnects() {
    let Some(peer) = Peer::start(&[]) else { return };
    let mut config = peer.config();
    config.call_timeout = Duration::from_millis(300);
    let mut c = HeavyDbClient::connect(config).unwrap();
    let e = c
        .sql_execute("SELECT peer_sleep(1.5) AS slept", true)
        .unwrap_err();
    assert!(
        matches!(
            e,
            HeavyDbError::Timeout {
                method: "sql_execute",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("did not answer sql_execute within 300ms"),
        "{e}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let rows = c.sql_execute("SELECT 'after' AS t", true).unwrap();
    assert_eq!(rows.columns, [vec![text("after")]]);
}
