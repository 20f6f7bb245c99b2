//! Test support (feature `testing`): start a real service binary on loopback port 0 with a
//! temporary data directory and learn where it listens from its `HOP_READY` line. Every service's
//! end-to-end tests use this one implementation.

mod otlp_collector;
pub mod pki;
pub mod postgres;

pub use otlp_collector::{Collector, ReceivedSpan};
pub use pki::{TestPki, tls_settings};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use crate::process::spawn_service;

/// How long a binary may take to print its `HOP_READY` line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running service binary; killed when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    pub grpc: SocketAddr,
    pub metrics: SocketAddr,
    /// Its `--data-dir`, removed when dropped.
    pub dir: tempfile::TempDir,
}

impl ServiceProcess {
    /// Starts `binary` with `--listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir <temp>`
    /// and `extra`, waits for its `HOP_READY` line and checks it names `service`.
    pub fn start(binary: &Path, service: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(["--log-filter", "warn"])
            .arg("--data-dir")
            .arg(dir.path())
            .args(extra)
            .env_remove("HOP_CONFIG")
            .stderr(Stdio::inherit());
        let (child, ready) =
            spawn_service(&mut command, service, READY_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        Self {
            child,
            grpc: ready.addr("grpc").expect("a grpc address"),
            metrics: ready.addr("metrics").expect("a metrics address"),
            dir,
        }
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The CPU time (user and system) the process has used so far, from `/proc` (Linux).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("/proc/<pid>/stat of a running service");
        // After the command name (in parentheses, possibly with spaces): utime and stime are the
        // 12th and 13th fields, in clock ticks (100 per second on Linux).
        let fields: Vec<u64> = stat[stat.rfind(')').expect("(comm)") + 2..]
            .split(' ')
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        Duration::from_millis((fields[11] + fields[12]) * 10)
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.uri())
            .expect("a valid URI")
            .connect()
            .await
            .expect("connects")
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "no exit within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Another package's binary `name`, found next to `anchor` (a binary of the package under test,
/// `env!("CARGO_BIN_EXE_...")`): Cargo only gives tests their own package's binaries.
/// `cargo test --workspace` builds every binary first; when it is missing (say
/// `cargo test -p one-package` on a clean target) it is built with `cargo build -p <package>` in
/// the same profile.
pub fn sibling_binary(anchor: &Path, package: &str, name: &str) -> PathBuf {
    binary_in(
        anchor.parent().expect("the binary has a directory"),
        package,
        name,
    )
}

/// The binary `name` of `package` in `dir` (a `target/<profile>` directory), built with
/// `cargo build -p <package>` in that profile when missing.
pub fn binary_in(dir: &Path, package: &str, name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !binary.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", package, "--bin", name]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p {package} failed");
        assert!(binary.is_file(), "{} is still missing", binary.display());
    }
    binary
}

/// The body of `GET /metrics` from the metrics endpoint at `addr`.
pub async fn scrape_metrics(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .expect("request sent");
    let mut body = String::new();
    stream
        .read_to_string(&mut body)
        .await
        .expect("response read");
    body
}

/// Asserts that the gRPC health service on `channel` reports SERVING for each of `services`
/// (`""` is the whole server).
pub async fn assert_serving(channel: Channel, services: &[&str]) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let mut health = HealthClient::new(channel);
    for service in services {
        let request = HealthCheckRequest {
            service: (*service).into(),
        };
        let reply = health
            .check(request)
            .await
            .expect("health answers")
            .into_inner();
        assert_eq!(
            reply.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
}

/// `Some(value)`, or `None` after printing `skipped: <why>` for a test whose outside program
/// (smbd, Helm, promtool, Prometheus, Docker, the HeavyDB peer) is missing here; panics instead
/// when `HOP_REQUIRE_EXTERNAL=1` (as `.ci/run` sets), so CI can never skip silently.
pub fn or_skip<T>(result: Result<T, String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(why) if std::env::var("HOP_REQUIRE_EXTERNAL").as_deref() == Ok("1") => {
            panic!("HOP_REQUIRE_EXTERNAL=1 but an outside program is unavailable: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}
