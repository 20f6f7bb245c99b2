//! Starts the real `hop-compute` (and `hop-ingest`) binaries on loopback port 0 with temporary
//! data directories, and reads their `HOP_READY` lines.
//!
//! `hop-ingest` is another package's binary, so Cargo gives no `CARGO_BIN_EXE_hop-ingest` here: it
//! is looked up next to `hop-compute` (`target/<profile>/hop-ingest`). `cargo test --workspace`
//! builds every binary first; when it is missing (e.g. `cargo test -p hop-compute` on a clean
//! target), it is built here with `cargo build -p hop-ingest` (same profile).

#![allow(dead_code, reason = "each test file uses a part")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use futures::StreamExt;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::{JobEvent, JobSpec, RunRequest};
use tonic::transport::Channel;

/// A running service binary; killed when dropped.
pub struct Server {
    child: Child,
    pub grpc: SocketAddr,
    pub metrics: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Server {
    fn start(binary: &Path, service: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(["--log-filter", "warn"])
            .arg("--data-dir")
            .arg(dir.path())
            .args(extra)
            .env_remove("HOP_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ready) = hop_runtime::ready::parse_ready_line(&line) {
                    let _ = tx.send(ready);
                }
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                panic!("{} printed no HOP_READY line: {e}", binary.display());
            }
        };
        assert_eq!(ready.service, service);
        Self {
            child,
            grpc: ready.addr("grpc").unwrap(),
            metrics: ready.addr("metrics").unwrap(),
            dir,
        }
    }

    /// `hop-compute` with the extra arguments (e.g. `--set engine=gpu`).
    pub fn compute(extra: &[&str]) -> Self {
        Self::start(
            Path::new(env!("CARGO_BIN_EXE_hop-compute")),
            "compute",
            extra,
        )
    }

    /// `hop-compute` talking to `ingest`.
    pub fn compute_with_ingest(ingest: &Server) -> Self {
        let set = format!("ingest={}", ingest.uri());
        Self::compute(&["--set", &set])
    }

    /// `hop-ingest` with its defaults.
    pub fn ingest() -> Self {
        Self::start(&ingest_binary(), "ingest", &[])
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.uri())
            .unwrap()
            .connect()
            .await
            .expect("connects")
    }

    pub async fn engine(&self) -> EngineClient<Channel> {
        EngineClient::new(self.channel().await).max_decoding_message_size(64 * 1024 * 1024)
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/<profile>/hop-ingest`, built first when missing.
pub fn ingest_binary() -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let compute = Path::new(env!("CARGO_BIN_EXE_hop-compute"));
    let dir = compute.parent().expect("the binary has a directory");
    let ingest = dir.join(format!("hop-ingest{}", std::env::consts::EXE_SUFFIX));
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !ingest.is_file() {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-p", "hop-ingest", "--bin", "hop-ingest"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p hop-ingest failed");
        assert!(ingest.is_file(), "{} is still missing", ingest.display());
    }
    ingest
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
