//! Refusals (bad CSV, unknown dataset, missing file, outside input_root, too big), health,
//! /metrics and SIGTERM.

mod common;

use hop_runtime::testing::{assert_serving, scrape_metrics};
use std::time::Duration;

use common::{FIXTURE, Server, do_get, ticket};
use hop_proto::v1::{ImportRequest, StatRequest};
use tonic::Code;

fn import(path: &std::path::Path) -> ImportRequest {
    ImportRequest {
        csv_path: path.display().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_and_unknown_datasets_are_refused() {
    let server = Server::start(&[]);
    let mut ingest = server.ingest().await;

    let bad = server.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Date,Day,A,B\n2024-01-01,Monday,1.5,2\n2024-01-02,Tuesday,3,abc\n",
    )
    .unwrap();
    let status = ingest.import(import(&bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let message = status.message();
    assert!(
        message.contains("line 3") && message.contains("\"B\"") && message.contains("abc"),
        "{message}"
    );
    assert!(message.contains("bad.csv"), "{message}");

    let missing = server.dir.path().join("missing.csv");
    let status = ingest.import(import(&missing)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        status.message().contains("missing.csv"),
        "{}",
        status.message()
    );

    let unknown = "0123456789abcdef0123456789abcdef";
    let status = ingest
        .stat(StatRequest {
            dataset_id: unknown.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = ingest
        .stat(StatRequest {
            dataset_id: "../etc/passwd".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let mut flight = server.flight().await;
    let status = do_get(&mut flight, ticket(unknown, None, None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = flight
        .do_get(arrow_flight::Ticket::new(b"not a ticket \xff".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = flight
        .list_actions(arrow_flight::Empty {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn input_root_and_size_limit_are_enforced() {
    let root = tempfile::tempdir().unwrap();
    let inside = root.path().join("small.csv");
    std::fs::write(&inside, "Date,Day,A\n2024-01-01,Monday,1.5\n").unwrap();
    let root_arg = format!("input_root={}", root.path().display());
    let server = Server::start(&["--set", &root_arg, "--set", "max_csv_bytes=1000"]);
    let mut ingest = server.ingest().await;

    let reply = ingest.import(import(&inside)).await.unwrap().into_inner();
    assert_eq!((reply.strategies, reply.days), (1, 1));
    let relative = ingest
        .import(ImportRequest {
            csv_path: "small.csv".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(relative.cache_hit);

    let outside = hop_core::fixtures::path(FIXTURE);
    let status = ingest.import(import(&outside)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("outside the input root"),
        "{}",
        status.message()
    );
    let status = ingest
        .import(ImportRequest {
            csv_path: "../escape.csv".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::InvalidArgument | Code::NotFound),
        "{status:?}"
    );

    let big = root.path().join("big.csv");
    std::fs::write(
        &big,
        format!("Date,Day,A\n{}", "2024-01-01,Monday,1.5\n".repeat(60)),
    )
    .unwrap();
    let status = ingest.import(import(&big)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("max_csv_bytes"),
        "{}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_and_sigterm() {
    let mut server = Server::start(&[]);
    assert_serving(
        server.channel().await,
        &["", "hop.v1.Ingest", "arrow.flight.protocol.FlightService"],
    )
    .await;

    let csv = hop_core::fixtures::path(FIXTURE);
    let mut ingest = server.ingest().await;
    ingest.import(import(&csv)).await.unwrap();
    ingest.import(import(&csv)).await.unwrap();
    let body = scrape_metrics(server.metrics).await;
    assert!(
        body.contains("hop_ingest_imports_total{outcome=\"miss\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("hop_ingest_imports_total{outcome=\"hit\"} 1"),
        "{body}"
    );
    assert!(body.contains("hop_ingest_import_seconds"), "{body}");

    drop(ingest);
    let status = tokio::task::block_in_place(|| server.terminate(Duration::from_secs(10)));
    assert!(status.success(), "{status:?}");
}
