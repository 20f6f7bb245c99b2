//! [`PgStore`] against a real PostgreSQL server (skipped with a `skipped:` line where none is
//! installed, unless `HOP_REQUIRE_EXTERNAL=1`).

use std::sync::Arc;

use hop_runtime::testing::or_skip;
use hop_runtime::testing::postgres::Postgres;

use super::*;
use crate::store::contract::{self, holder, job, queued};

/// A fresh database on `server` for one test (the contract tests each want empty tables).
async fn database(server: &Postgres, name: &str) -> PgStore {
    let admin = PgStore::connect(&server.url, None).await.unwrap();
    admin
        .query(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    let url = server.url.replace("/postgres", &format!("/{name}"));
    PgStore::connect(&url, None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn keeps_the_store_contract_on_a_real_server() {
    let Some(server) = or_skip(Postgres::start()) else {
        return;
    };
    contract::records_and_events(&database(&server, "records").await).await;
    contract::leases(&database(&server, "leases").await).await;
    contract::one_winner(Arc::new(database(&server, "race").await)).await;
    // Claims from four replicas (four connections) at once: FOR UPDATE SKIP LOCKED.
    let first = database(&server, "claims").await;
    let url = server.url.replace("/postgres", "/claims");
    let mut replicas: Vec<Arc<dyn JobStore>> = vec![Arc::new(first)];
    for _ in 1..4 {
        replicas.push(Arc::new(PgStore::connect(&url, None).await.unwrap()));
    }
    contract::claims_never_overlap(replicas).await;
    contract::retention(&database(&server, "retention").await).await;
    // Two stores on one database (two router replicas) see each other's jobs.
    let url = server.url.replace("/postgres", "/records");
    let other = PgStore::connect(&url, None).await.unwrap();
    assert_eq!(other.list(10, None).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnects_after_the_server_restarts_and_names_it_when_down() {
    let Some(mut server) = or_skip(Postgres::start()) else {
        return;
    };
    let store = PgStore::connect(&server.url, None).await.unwrap();
    store
        .insert(&job("before"), &queued("before"), &holder())
        .await
        .unwrap();
    server.stop();
    let down = store.get("before").await.unwrap_err().to_string();
    assert!(
        down.contains(&format!("postgres 127.0.0.1:{}/postgres", server.port)),
        "{down}"
    );
    server.restart().unwrap();
    let back = store.get("before").await.unwrap().unwrap();
    assert_eq!(back.id, "before");
}

#[tokio::test]
async fn a_bad_connection_string_is_refused_clearly() {
    let err = PgStore::connect("postgresql://[::1", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not a PostgreSQL connection string"),
        "{err}"
    );
}
