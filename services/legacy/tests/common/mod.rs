//! What the blue engine's tests share: the `hop-legacy` binary started on port 0, a job run to
//! its last event, and the worst relative difference between two sets of per-strategy metrics
//! (SQL engines agree with each other and with Rust to ~1e-12, not bits).

use std::path::Path;

use futures::StreamExt;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::{JobEvent, JobSpec, RunRequest};
use hop_runtime::testing::ServiceProcess;

/// The real `hop-legacy` with `extra` arguments.
pub fn legacy(extra: &[&str]) -> ServiceProcess {
    ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_hop-legacy")), "legacy", extra)
}

/// Runs `spec` on `server` and returns every event of the job, in order.
pub async fn events(server: &ServiceProcess, spec: JobSpec) -> Vec<JobEvent> {
    let mut client = EngineClient::new(server.channel().await).max_decoding_message_size(1 << 28);
    let mut stream = client
        .run(RunRequest { spec: Some(spec) })
        .await
        .expect("accepted")
        .into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("no stream error"));
    }
    events
}

/// A strategy's five metrics in `strategy_metrics.csv` order.
pub fn five(m: &hop_proto::v1::StrategyMetrics) -> [f64; 5] {
    [
        m.roi,
        m.max_drawdown,
        m.win_percentage,
        m.profit_factor,
        m.expectancy,
    ]
}

/// `|a - b| / max(|a|, |b|)`, 0 when equal (also for two infinities).
fn relative(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// The largest relative difference over every metric of every strategy pair.
pub fn worst_relative(pairs: impl IntoIterator<Item = ([f64; 5], [f64; 5])>) -> f64 {
    pairs
        .into_iter()
        .flat_map(|(a, b)| a.into_iter().zip(b))
        .map(|(a, b)| relative(a, b))
        .fold(0.0, f64::max)
}
