//! Starts the real `hop-compute` (and `hop-ingest`) binaries on loopback port 0
//! (`hop_runtime::testing`; `hop-ingest` is found next to `hop-compute`, built when missing).

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::Path;

use futures::StreamExt;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::{JobEvent, JobSpec, RunRequest};
use hop_runtime::testing::{ServiceProcess, sibling_binary};
use tonic::transport::Channel;

/// A running service binary (killed when dropped), with an Engine client.
pub struct Server(ServiceProcess);

impl std::ops::Deref for Server {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.0
    }
}

impl Server {
    /// `hop-compute` with the extra arguments (e.g. `--set engine=gpu`).
    pub fn compute(extra: &[&str]) -> Self {
        let binary = Path::new(env!("CARGO_BIN_EXE_hop-compute"));
        Self(ServiceProcess::start(binary, "compute", extra))
    }

    /// `hop-compute` talking to `ingest`.
    pub fn compute_with_ingest(ingest: &Server) -> Self {
        let set = format!("ingest={}", ingest.uri());
        Self::compute(&["--set", &set])
    }

    /// `hop-ingest` with its defaults.
    pub fn ingest() -> Self {
        let anchor = Path::new(env!("CARGO_BIN_EXE_hop-compute"));
        let binary = sibling_binary(anchor, "hop-ingest", "hop-ingest");
        Self(ServiceProcess::start(&binary, "ingest", &[]))
    }

    pub async fn engine(&self) -> EngineClient<Channel> {
        EngineClient::new(self.channel().await)
            .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
    }

    /// Runs `spec` to the end of its stream and returns every event.
    pub async fn run(&self, spec: JobSpec) -> Vec<JobEvent> {
        let mut stream = self
            .engine()
            .await
            .run(RunRequest { spec: Some(spec) })
            .await
            .expect("Run is accepted")
            .into_inner();
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            events.push(event.expect("no stream error"));
        }
        events
    }
}

/// The kind of each event, for order checks.
pub fn kinds(events: &[JobEvent]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e.event.as_ref().expect("an event") {
            Event::Queued(_) => "queued",
            Event::Started(_) => "started",
            Event::Progress(_) => "progress",
            Event::Finished(_) => "finished",
            Event::Failed(_) => "failed",
        })
        .collect()
}

/// The `Failed` event that ends `events` (panics when the job did not fail).
pub fn failure(events: &[JobEvent]) -> (String, String) {
    match events.last().and_then(|e| e.event.as_ref()) {
        Some(Event::Failed(f)) => (f.code.clone(), f.message.clone()),
        other => panic!("the job did not fail: {other:?}"),
    }
}

/// What `engine = auto` resolves to on this machine: "gpu" when the GPU probe succeeds here (a
/// machine with a usable GPU), else "cpu" — a failure instead when `HOP_REQUIRE_GPU=1`.
pub fn auto_engine() -> &'static str {
    static ENGINE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| match hop_gpu::Gpu::probe() {
        Ok(_) => "gpu",
        Err(e) if std::env::var("HOP_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("HOP_REQUIRE_GPU=1 but the GPU is not usable: {e}")
        }
        Err(_) => "cpu",
    })
}
