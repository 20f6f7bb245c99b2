//! Prometheus metrics: services record through the `metrics` facade (`metrics::counter!` ...);
//! [`serve_metrics`] answers `GET /metrics` with the text exposition format, plus process
//! metrics ([`process`]). A deliberately tiny HTTP/1.1 handler: one request per connection.

pub mod process;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{RuntimeError, Shutdown};

/// The Prometheus text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const MAX_REQUEST_HEAD: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Bucket bounds of every histogram whose name ends in `_seconds` (1 ms to 5 min), so that
/// Prometheus can compute quantiles across instances; other histograms are summaries.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// Installs the Prometheus recorder as the global `metrics` recorder (once per process; later
/// calls return the same handle) and registers the process metrics. `init_tracing` calls it, so
/// metrics registered before `launch` are kept.
pub fn install_recorder() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                SECONDS_BUCKETS,
            )
            .map_or_else(
                |_| PrometheusBuilder::new().build_recorder(),
                |b| b.build_recorder(),
            );
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will not see it");
        }
        process::register();
        handle
    })
}

/// The current metrics in the Prometheus text format (process metrics refreshed first).
pub fn render() -> String {
    let handle = install_recorder();
    process::refresh();
    handle.run_upkeep();
    handle.render()
}

/// Binds `addr` and serves `GET /metrics` until `shutdown` fires (installing the recorder if
/// needed). Returns the bound address (the real port when `addr` has port 0) and the task.
pub async fn serve_metrics(
    addr: SocketAddr,
    shutdown: Shutdown,
) -> Result<(SocketAddr, JoinHandle<()>), RuntimeError> {
    install_recorder();
    let bind_error = |source| RuntimeError::Bind {
        role: "metrics",
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    tracing::info!(%local_addr, "metrics endpoint listening on /metrics");
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.wait() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(async move {
                            let answered = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream)).await;
                            if let Ok(Err(e)) = answered {
                                tracing::debug!(error = %e, "metrics request failed");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    });
    Ok((local_addr, task))
}

async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut request_line = head.lines().next().unwrap_or("").split_whitespace();
    let method = request_line.next().unwrap_or("");
    let path = request_line
        .next()
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", CONTENT_TYPE, render()),
        (_, "/metrics") => (
            "405 Method Not Allowed",
            "text/plain",
            "use GET\n".to_owned(),
        ),
        _ => (
            "404 Not Found",
            "text/plain",
            "not found; try /metrics\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
