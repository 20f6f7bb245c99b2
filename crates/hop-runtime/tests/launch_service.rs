//! `launch` starts /metrics and gRPC on port 0 and stops both on shutdown.

use hop_runtime::{GrpcServices, ServiceConfig, Shutdown, launch};

#[tokio::test]
async fn launch_serves_metrics_and_grpc_until_shutdown() {
    let shutdown = Shutdown::new();
    let config = ServiceConfig::default();
    let launched = launch("validator", &config, GrpcServices::new(), shutdown.clone())
        .await
        .unwrap();
    let grpc = launched.grpc.local_addr;
    let metrics = launched.metrics_addr;
    assert_ne!(grpc.port(), 0);
    assert_ne!(metrics.port(), 0);

    let body = hop_runtime::testing::scrape_metrics(metrics).await;
    assert!(
        body.contains("hop_service_info{service=\"validator\""),
        "{body}"
    );

    shutdown.trigger();
    launched.wait().await.unwrap();
    assert!(tokio::net::TcpStream::connect(grpc).await.is_err());
    assert!(tokio::net::TcpStream::connect(metrics).await.is_err());
}
