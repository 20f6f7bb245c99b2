//! Shutdown: health turns NOT_SERVING, in-flight RPCs finish within the grace period, the
//! listener closes; RPCs that outlive the grace are cut off.

mod common;

use std::time::{Duration, Instant};

use hop_proto::v1::DescribeRequest;
use hop_proto::v1::engine_client::EngineClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn in_flight_call_finishes_and_new_connections_are_refused() {
    let delay = Duration::from_millis(700);
    let (server, shutdown, started) = common::start(delay, Duration::from_secs(10)).await;
    let addr = server.local_addr;
    let channel = common::channel(&server).await;

    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let mut client = EngineClient::new(channel);
    let call = tokio::spawn(async move { client.describe(DescribeRequest {}).await });
    started.notified().await; // the RPC is inside the handler now
    let triggered = Instant::now();
    shutdown.trigger();

    let during = watch.message().await.unwrap().unwrap();
    assert_eq!(during.status(), ServingStatus::NotServing);
    drop(watch);

    let reply = call.await.unwrap().expect("in-flight call completes");
    assert_eq!(reply.into_inner().engine, "test");
    tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("server stops well inside the grace period")
        .unwrap();
    assert!(triggered.elapsed() < Duration::from_secs(5));

    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "listener must be closed after shutdown");
}

#[tokio::test]
async fn call_outliving_the_grace_is_cut_off() {
    let grace = Duration::from_millis(300);
    let (server, shutdown, started) = common::start(Duration::from_secs(30), grace).await;
    let mut client = EngineClient::new(common::channel(&server).await);
    let call = tokio::spawn(async move { client.describe(DescribeRequest {}).await });
    started.notified().await;
    let triggered = Instant::now();
    shutdown.trigger();
    server.wait().await.unwrap();
    assert!(triggered.elapsed() < Duration::from_secs(3));
    let result = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("client sees the cut-off")
        .unwrap();
    assert!(result.is_err(), "{result:?}");
}
