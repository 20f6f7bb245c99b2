//! The comparison history across a restart, health and reflection, `/metrics`, a clean SIGTERM,
//! and a store path that cannot be used stopping the service at start.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Server, binary, fields, request, results};
use hop_proto::v1::ListComparisonsRequest;
use hop_runtime::testing::{assert_serving, scrape_metrics};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

fn list(limit: u32, only_mismatches: bool) -> ListComparisonsRequest {
    ListComparisonsRequest {
        limit,
        only_mismatches,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn comparisons_are_listed_newest_first_after_a_restart() {
    let shared = tempfile::tempdir().unwrap();
    let store = shared.path().join("history/comparisons.sqlite");
    let set = format!("store={}", store.display());
    let (blue, green) = results();
    let mut changed = green.clone();
    changed.best_fitness *= 1.01;

    let first = Server::start(&["--set", &set]);
    let matched = first
        .compare(request("job_1", blue.clone(), green, None))
        .await;
    let mismatched = first
        .compare(request("job_2", blue.clone(), changed, None))
        .await;
    assert_eq!(fields(&mismatched), ["best_fitness"]);
    drop(first); // killed: nothing but the store is left

    assert!(store.is_file(), "the store is at {}", store.display());
    let second = Server::start(&["--set", &set]);
    let mut client = second.validator().await;
    let all = client
        .list_comparisons(list(0, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.comparisons, [mismatched.clone(), matched.clone()]);
    let only = client
        .list_comparisons(list(0, true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only.comparisons, std::slice::from_ref(&mismatched));
    let newest = client
        .list_comparisons(list(1, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(newest.comparisons, [mismatched]);

    // The second process appends to the same history.
    let again = second
        .compare(request("job_1", blue.clone(), blue, None))
        .await;
    let all = client
        .list_comparisons(list(10, false))
        .await
        .unwrap()
        .into_inner();
    let jobs: Vec<&str> = all.comparisons.iter().map(|c| c.job_id.as_str()).collect();
    assert_eq!(jobs, ["job_1", "job_2", "job_1"]);
    assert_eq!(all.comparisons[0], again);

    // Without `store`, each data directory has its own history.
    let other = Server::start(&[]);
    let empty = other
        .validator()
        .await
        .list_comparisons(list(0, false))
        .await
        .unwrap();
    assert!(empty.into_inner().comparisons.is_empty());
    assert!(
        other
            .dir
            .path()
            .join("validator/comparisons.sqlite")
            .is_file()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reflection_metrics_and_sigterm() {
    let mut server = Server::start(&[]);
    assert_serving(server.channel().await, &["", "hop.v1.Validator"]).await;
    let services = list_services(server.channel().await).await;
    assert!(
        services.iter().any(|s| s == "hop.v1.Validator"),
        "{services:?}"
    );

    let body = scrape_metrics(server.metrics).await;
    for series in [
        "hop_validator_comparisons_total{outcome=\"matched\"} 0",
        "hop_validator_comparisons_total{outcome=\"mismatched\"} 0",
        "hop_validator_mismatched_fields_total 0",
        "hop_validator_max_relative_difference 0",
    ] {
        assert!(body.contains(series), "{series} missing from:\n{body}");
    }

    let (blue, green) = results();
    let mut changed = green.clone();
    changed.strategy_metrics[0].roi *= 1.5;
    changed.strategy_metrics[1].max_drawdown *= 1.000_001;
    changed.seed += 1;
    server
        .compare(request("job_1", blue.clone(), green, None))
        .await;
    let reply = server.compare(request("job_2", blue, changed, None)).await;
    assert_eq!(fields(&reply), ["strategy[0].roi", "seed"]);

    let body = scrape_metrics(server.metrics).await;
    for series in [
        "hop_validator_comparisons_total{outcome=\"matched\"} 1",
        "hop_validator_comparisons_total{outcome=\"mismatched\"} 1",
        "hop_validator_mismatched_fields_total 2",
        &format!(
            "hop_validator_max_relative_difference {}",
            reply.max_relative_difference
        ),
        "hop_validator_relative_difference_count 2",
    ] {
        assert!(body.contains(series), "{series} missing from:\n{body}");
    }
    assert!((reply.max_relative_difference - 0.5 / 1.5).abs() < 1e-12);

    let status = tokio::task::block_in_place(|| server.terminate(Duration::from_secs(10)));
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_unusable_store_stops_the_service_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let store = file.join("comparisons.sqlite");
    let output = Command::new(binary())
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--set")
        .arg(format!("store={}", store.display()))
        .env_remove("HOP_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&store.display().to_string()), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("HOP_READY"));

    let output = Command::new(binary())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--set", "tolerance=-1"])
        .env_remove("HOP_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tolerance -1.0"), "{stderr}");
}

async fn list_services(channel: Channel) -> Vec<String> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match replies
        .next()
        .await
        .expect("one reply")
        .unwrap()
        .message_response
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected {other:?}"),
    }
}
