//! The Docker side of the containers test: `docker` itself, `docker/build.sh`, and [`Net`], the
//! private network with the six service containers and the share they mount, each serving mutual
//! TLS with a certificate of a test CA and identifying its callers by tokens made for the run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hop_proto::v1::jobs_client::JobsClient;
use hop_runtime::client::{ClientSecurity, ServiceChannel};
use hop_runtime::security::{CallerKind, TlsFiles, Token};
use hop_runtime::testing::TestPki;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the share is mounted in every container that reads job CSVs or the queue.
const SHARE: &str = "/mnt/optimizer_share";
/// Where every container finds the test CA's PEM files and the caller tokens.
const TLS: &str = "/etc/hop/tls";
const TOKENS: &str = "/etc/hop/tokens";
/// Start order; each waits for the ones before it.
pub use hop_cli::stack::SERVICES;

/// Runs `docker args`; its stdout, or an error with its stderr.
fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub fn must(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Docker and objcopy (build.sh strips the binaries) are here.
pub fn tools() -> Result<(), String> {
    docker(&["info", "--format", "{{.ServerVersion}}"])?;
    Command::new("objcopy")
        .arg("--version")
        .output()
        .map_err(|e| format!("objcopy: {e}"))
        .map(drop)
}

/// Runs `docker/build.sh --profile <this test's profile> extra...` (with this test's target
/// directory); its stdout, after asserting it succeeded.
pub fn build_sh(extra: &[&str]) -> String {
    let bins = hop_e2e::binaries();
    let profile = bins.file_name().expect("target/<profile>");
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/build.sh"))
        .arg("--profile")
        .arg(profile)
        .args(extra)
        .env("CARGO_TARGET_DIR", bins.parent().expect("target/"))
        .output()
        .expect("docker/build.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "docker/build.sh {extra:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds every image from the binaries of this test's profile; prints build.sh's size table.
pub fn build_images() {
    let start = Instant::now();
    let stdout = build_sh(&[]);
    eprintln!("images built in {:.1?}:\n{stdout}", start.elapsed());
    for service in SERVICES {
        let image = format!("hop-{service}:{VERSION}");
        let user = must(&["image", "inspect", "-f", "{{.Config.User}}", &image]);
        assert_eq!(user, "10001:10001", "{image} runs as non-root user 10001");
    }
    // The router image carries `hop` for `hop cutover ...` in the pod (the emergency rollback).
    let router = format!("hop-router:{VERSION}");
    let version = must(&[
        "run",
        "--rm",
        "--entrypoint",
        "/usr/local/bin/hop",
        &router,
        "--version",
    ]);
    assert!(
        version.starts_with("hop "),
        "`hop --version` in {router}: {version}"
    );
}

/// The private network and the containers on it; all removed on drop, even after a panic.
pub struct Net {
    pub name: String,
    /// The first three octets of the network's /24 (fixed addresses survive a reconnect).
    subnet: String,
    share: tempfile::TempDir,
    /// A certificate per service (named for its network alias) and one for the test.
    pki: TestPki,
    /// The caller tokens of every kind.
    tokens: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for service in SERVICES {
                let logs = Command::new("docker")
                    .args(["logs", "--tail", "30", &self.container(service)])
                    .output();
                if let Ok(logs) = logs {
                    eprintln!(
                        "--- {service}:\n{}{}",
                        String::from_utf8_lossy(&logs.stdout),
                        String::from_utf8_lossy(&logs.stderr)
                    );
                }
            }
        }
        for service in SERVICES.iter().chain(&["samba"]) {
            let _ = docker(&["rm", "-f", &self.container(service)]);
        }
        let _ = docker(&["network", "rm", &self.name]);
    }
}

impl Net {
    /// A network with a unique name and a free 10.x.y.0/24 of its own, and an empty share.
    pub fn create() -> Self {
        let share = tempfile::tempdir().expect("a temporary share");
        for dir in [
            "",
            "input",
            "output",
            "jobs",
            "jobs/queue",
            "jobs/processing",
            "jobs/completed",
            "jobs/failed",
        ] {
            let path = share.path().join(dir);
            std::fs::create_dir_all(&path).expect("share folder");
            // The containers run as user 10001.
            set_mode(&path, 0o777);
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        // Real mutual TLS and caller tokens, made for this run, readable by the containers' user.
        let pki = TestPki::new("containers");
        for service in SERVICES.iter().chain(&["client"]) {
            pki.issue(service);
        }
        let tokens = tempfile::tempdir().expect("a tokens folder");
        hop_runtime::security::tokens::provision(tokens.path()).expect("tokens written");
        for dir in [pki.dir(), tokens.path()] {
            set_mode(dir, 0o755);
            for entry in std::fs::read_dir(dir).expect("a folder") {
                set_mode(&entry.expect("an entry").path(), 0o644);
            }
        }
        let name = format!("hop-e2e-{}-{nanos}", std::process::id());
        let mut errors = Vec::new();
        for attempt in 0..8 {
            let n = nanos / 1000 + attempt * 7919;
            let subnet = format!("10.{}.{}", 100 + n % 100, (n / 100) % 250);
            let cidr = format!("--subnet={subnet}.0/24");
            match docker(&["network", "create", &cidr, &name]) {
                Ok(_) => {
                    return Self {
                        name,
                        subnet,
                        share,
                        pki,
                        tokens,
                    };
                }
                Err(e) => errors.push(e),
            }
        }
        panic!("no private network could be created: {errors:?}");
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}", self.name)
    }

    pub fn ip(&self, service: &str) -> String {
        let index = SERVICES
            .iter()
            .position(|s| *s == service)
            .expect("a service");
        format!("{}.{}", self.subnet, 10 + index)
    }

    pub fn share(&self) -> &Path {
        self.share.path()
    }

    /// `docker run` of one service: reachable by its service name, settings pointing at the
    /// others by name (green weight 100: compute runs every job), the share where it needs it,
    /// the router's gRPC port published on loopback.
    pub fn run(&self, service: &str) {
        let container = self.container(service);
        let ip = self.ip(service);
        let mount = format!("{}:{SHARE}", self.share().display());
        let image = format!("hop-{service}:{VERSION}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &container,
            "--network",
            &self.name,
            "--ip",
            &ip,
            "--network-alias",
            service,
        ];
        if matches!(service, "ingest" | "legacy" | "bridge") {
            args.extend(["-v", &mount]);
        }
        let tls_mount = format!("{}:{TLS}:ro", self.pki.dir().display());
        let tokens_mount = format!("{}:{TOKENS}:ro", self.tokens.path().display());
        args.extend(["-v", &tls_mount, "-v", &tokens_mount]);
        if service == "router" {
            args.extend(["-p", "127.0.0.1::50051"]);
        }
        args.extend([&image, "--log-filter", "warn"]);
        let mut settings: Vec<String> = match service {
            "ingest" => vec![format!("input_root={SHARE}")],
            "legacy" => vec![format!("input_root={SHARE}/input")],
            "compute" => vec![
                "ingest=https://ingest:50051".into(),
                format!("token_file={TOKENS}/service"),
            ],
            "router" => vec![
                "blue=https://legacy:50051".into(),
                "green=https://compute:50051".into(),
                "validator=https://validator:50051".into(),
                "green_percent=100".into(),
                format!("token_file={TOKENS}/service"),
            ],
            "bridge" => vec![
                format!("share={SHARE}"),
                "router=https://router:50051".into(),
                "poll_interval=20ms".into(),
                format!("token_file={TOKENS}/bridge"),
            ],
            _ => vec![],
        };
        // Mutual TLS with the service's own certificate, every caller identified.
        settings.extend([
            format!("tls_cert={TLS}/{service}.pem"),
            format!("tls_key={TLS}/{service}-key.pem"),
            format!("tls_ca={TLS}/ca.pem"),
            format!("tokens_dir={TOKENS}"),
        ]);
        for setting in &settings {
            args.extend(["--set", setting]);
        }
        must(&args);
    }

    /// Waits until the container has printed its `count`-th `HOP_READY` line (one per start).
    pub fn wait_ready(&self, service: &str, count: usize) {
        let container = self.container(service);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let logs = Command::new("docker")
                .args(["logs", &container])
                .output()
                .expect("docker logs");
            let stdout = String::from_utf8_lossy(&logs.stdout);
            if stdout
                .lines()
                .filter(|l| l.starts_with("HOP_READY"))
                .count()
                >= count
            {
                return;
            }
            let running = must(&["inspect", "-f", "{{.State.Running}}", &container]);
            assert!(
                running == "true" && Instant::now() < deadline,
                "{container} not ready (running: {running}):\n{stdout}\n{}",
                String::from_utf8_lossy(&logs.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A `hop.v1.Jobs` client of the router through its published port (which a restart may
    /// change): mutual TLS with the test's certificate, the `client` token.
    pub async fn jobs(&self) -> JobsClient<ServiceChannel> {
        let port = must(&["port", &self.container("router"), "50051/tcp"]);
        let addr = port.lines().next().expect("a published port");
        let files = TlsFiles {
            cert: self.pki.dir().join("client.pem"),
            key: self.pki.dir().join("client-key.pem"),
            ca: self.pki.ca(),
        };
        let token = Token::read("token", &self.tokens.path().join(CallerKind::Client.name()))
            .expect("the client token");
        let channel = ClientSecurity::new(Some(&files), Some(token))
            .expect("client TLS")
            .connect(&format!("https://{addr}"))
            .await
            .expect("the router answers");
        JobsClient::new(channel).max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
    }

    /// Writes `jobs/queue/<job_id>.json` at once (a temporary name, then a rename).
    pub fn drop_job(&self, job_id: &str, fields: &str) {
        let text = format!("{{\"job_id\": \"{job_id}\", {fields}}}\r\n");
        let queue = self.share().join("jobs/queue");
        let temp = queue.join(format!("{job_id}.tmp"));
        std::fs::write(&temp, text).expect("job file written");
        set_mode(&temp, 0o666);
        std::fs::rename(&temp, queue.join(format!("{job_id}.json"))).expect("job file renamed");
    }

    pub fn put_fixture(&self, name: &str) -> PathBuf {
        let path = self.share().join("input").join(name);
        std::fs::write(&path, hop_core::fixtures::bytes(name)).expect("fixture copied");
        path
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
