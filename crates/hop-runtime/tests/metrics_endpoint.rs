//! `GET /metrics` serves Prometheus text with registered metrics; other paths are 404.

use std::time::Duration;

use hop_runtime::Shutdown;
use hop_runtime::metrics::serve_metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn metrics_endpoint_serves_prometheus_text() {
    let shutdown = Shutdown::new();
    let (addr, task) = serve_metrics("127.0.0.1:0".parse().unwrap(), shutdown.clone())
        .await
        .unwrap();
    metrics::counter!("hop_test_requests_total", "rpc" => "describe").increment(3);

    let response = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        body.contains("hop_test_requests_total{rpc=\"describe\"} 3"),
        "{body}"
    );
    assert!(body.contains("process_uptime_seconds"), "{body}");
    if cfg!(target_os = "linux") {
        assert!(body.contains("process_resident_memory_bytes"), "{body}");
    }

    let missing = get(addr, "GET /nope HTTP/1.1\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let post = get(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("endpoint stops on shutdown")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
