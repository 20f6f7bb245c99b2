//! [`Stack`]: the six services on loopback, each its own process, wired to each other — what
//! `hop up` and `hop demo` run, and what the end-to-end tests start (with the real `hop-*`
//! binaries).
//!
//! Start order and wiring (every service on `127.0.0.1:0`, addresses read from the ready lines):
//! ingest (input root = the share's `input/`) -> validator -> legacy (blue, same input root) ->
//! compute (green, fetches from ingest; same input root for its local fallback) -> router (blue, green, green weight) -> bridge (the share, the router). Each
//! service keeps its files in `<data_dir>/<service>`. With [`StackSecurity`] every service gets
//! the tokens folder, its own token and (optionally) its certificate; addresses are then
//! `https://`. [`Stack::kill`] and [`Stack::restart`]
//! (same addresses, same data) let tests kill a service mid-job.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hop_runtime::client::ClientSecurity;
use hop_runtime::process::spawn_service;
use hop_runtime::security::{CallerKind, TlsFiles, Token};

/// The services in start order.
pub const SERVICES: [&str; 6] = [
    "ingest",
    "validator",
    "legacy",
    "compute",
    "router",
    "bridge",
];

/// How long a service may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How a service process is started.
#[derive(Debug, Clone)]
pub enum Launcher {
    /// `<hop> service <name> ...`: this very binary in service mode (what `hop up` uses, so one
    /// `cargo run --bin hop` builds everything it needs).
    SelfExe(PathBuf),
    /// `<dir>/hop-<name> ...`: the service binaries (what the end-to-end tests use).
    Binaries(PathBuf),
}

impl Launcher {
    fn command(&self, service: &str) -> Command {
        match self {
            Launcher::SelfExe(hop) => {
                let mut command = Command::new(hop);
                command.args(["service", service]);
                command
            }
            Launcher::Binaries(dir) => {
                Command::new(dir.join(format!("hop-{service}{}", std::env::consts::EXE_SUFFIX)))
            }
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub launcher: Launcher,
    /// The share root (`input/`, `output/`, `jobs/...`).
    pub share: PathBuf,
    /// Parent of every service's data directory.
    pub data_dir: PathBuf,
    /// The router's green weight, 0 to 100.
    pub green_percent: u32,
    /// The services' log filter (their logs go to this process's stderr, or to files: see
    /// [`Stack::start_with_log_dir`]).
    pub log_filter: String,
    /// Extra `--set` settings per service, e.g. `("bridge", "poll_interval=50ms")`, or for all
    /// six with the service `common` (e.g. `("common", "otlp_endpoint=http://collector:4317")`);
    /// they come after the wiring, so they win.
    pub settings: Vec<(String, String)>,
    /// Caller tokens and mutual TLS; `None`: plaintext, callers not identified (loopback
    /// development, as most end-to-end tests run).
    pub security: Option<StackSecurity>,
}

/// The stack's caller identity and transport security.
#[derive(Debug, Clone)]
pub struct StackSecurity {
    /// The folder of the caller tokens (`bridge`, `client`, `service`, `admin`; see
    /// `hop_runtime::security::tokens::provision`): every service's `tokens_dir`; the router
    /// and compute send the `service` token, the bridge its `bridge` token.
    pub tokens_dir: PathBuf,
    /// The folder of the PEM files for mutual TLS: `ca.pem`, and `<name>.pem` with
    /// `<name>-key.pem` for each service and for `client` (the tests' and health checks' own
    /// certificate); `None`: plaintext on loopback.
    pub tls_dir: Option<PathBuf>,
}

impl StackSecurity {
    /// The TLS files of `name` (a service or `client`), when TLS is on.
    pub fn tls_files(&self, name: &str) -> Option<TlsFiles> {
        self.tls_dir.as_ref().map(|dir| TlsFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}-key.pem")),
            ca: dir.join("ca.pem"),
        })
    }

    /// How a caller of `kind` reaches the stack: the `client` certificate and that kind's
    /// token.
    pub fn client(&self, kind: CallerKind) -> Result<ClientSecurity, String> {
        let token = Token::read("tokens_dir", &self.tokens_dir.join(kind.name()))
            .map_err(|e| e.to_string())?;
        ClientSecurity::new(self.tls_files("client").as_ref(), Some(token))
            .map_err(|e| e.to_string())
    }

    /// The `--set` settings of service `name`.
    fn settings(&self, name: &str) -> Vec<String> {
        let mut settings = vec![format!("tokens_dir={}", self.tokens_dir.display())];
        let sends = match name {
            "router" | "compute" => Some(CallerKind::Service),
            "bridge" => Some(CallerKind::Bridge),
            _ => None,
        };
        if let Some(kind) = sends {
            let file = self.tokens_dir.join(kind.name());
            settings.push(format!("token_file={}", file.display()));
        }
        if let Some(files) = self.tls_files(name) {
            settings.push(format!("tls_cert={}", files.cert.display()));
            settings.push(format!("tls_key={}", files.key.display()));
            settings.push(format!("tls_ca={}", files.ca.display()));
        }
        settings
    }
}

/// One running service.
#[derive(Debug)]
struct Running {
    name: &'static str,
    child: Child,
    grpc: SocketAddr,
    metrics: SocketAddr,
    args: Vec<String>,
}

/// The running services; they are killed when this is dropped (call [`Stack::shutdown`] for a
/// graceful stop).
#[derive(Debug)]
pub struct Stack {
    config: StackConfig,
    running: Vec<Running>,
    /// Where the services' logs go: `<dir>/<service>.log`, or this process's stderr.
    log_dir: Option<PathBuf>,
}

impl Stack {
    /// Starts the six services in order. On failure, the ones already started are stopped.
    pub fn start(config: StackConfig) -> Result<Self, String> {
        Self::launch(config, None)
    }

    /// As [`Stack::start`], with each service's logs (its stderr) appended to
    /// `<log_dir>/<service>.log` (a restarted service appends to the same file).
    pub fn start_with_log_dir(config: StackConfig, log_dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(log_dir)
            .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
        Self::launch(config, Some(log_dir.to_path_buf()))
    }

    fn launch(config: StackConfig, log_dir: Option<PathBuf>) -> Result<Self, String> {
        // The engines' and ingest's input root: it must exist before they start.
        let input = config.share.join("input");
        std::fs::create_dir_all(&input)
            .map_err(|e| format!("cannot create {}: {e}", input.display()))?;
        let mut stack = Self {
            config,
            running: Vec::new(),
            log_dir,
        };
        for name in SERVICES {
            let args = stack.args(name);
            let (child, grpc, metrics) = stack.spawn(name, &args, None)?;
            stack.running.push(Running {
                name,
                child,
                grpc,
                metrics,
                args,
            });
        }
        Ok(stack)
    }

    /// The arguments of `name` given the services started before it.
    fn args(&self, name: &str) -> Vec<String> {
        let data = self.config.data_dir.join(name);
        let mut args = vec![
            "--data-dir".to_owned(),
            data.display().to_string(),
            "--log-filter".to_owned(),
            self.config.log_filter.clone(),
        ];
        let mut set = |key: &str, value: String| {
            args.push("--set".into());
            args.push(format!("{key}={value}"));
        };
        let share = self.config.share.display().to_string();
        let input = self.config.share.join("input").display().to_string();
        match name {
            "ingest" | "legacy" => set("input_root", input),
            "compute" => {
                set("ingest", self.uri("ingest"));
                set("input_root", input);
            }
            "router" => {
                set("blue", self.uri("legacy"));
                set("green", self.uri("compute"));
                set("validator", self.uri("validator"));
                set("green_percent", self.config.green_percent.to_string());
            }
            "bridge" => {
                set("share", share);
                set("router", self.uri("router"));
            }
            _ => {}
        }
        if let Some(security) = &self.config.security {
            for setting in security.settings(name) {
                args.push("--set".into());
                args.push(setting);
            }
        }
        for (service, setting) in &self.config.settings {
            if service == name || service == "common" {
                args.push("--set".into());
                args.push(setting.clone());
            }
        }
        args
    }

    fn spawn(
        &self,
        name: &str,
        args: &[String],
        at: Option<(SocketAddr, SocketAddr)>,
    ) -> Result<(Child, SocketAddr, SocketAddr), String> {
        let (grpc, metrics) = at.map_or_else(
            || ("127.0.0.1:0".to_owned(), "127.0.0.1:0".to_owned()),
            |(g, m)| (g.to_string(), m.to_string()),
        );
        let stderr = match &self.log_dir {
            None => Stdio::inherit(),
            Some(dir) => {
                let path = dir.join(format!("{name}.log"));
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?
                    .into()
            }
        };
        let mut command = self.config.launcher.command(name);
        command
            .args(["--listen", &grpc, "--metrics-listen", &metrics])
            .args(args)
            .env_remove("HOP_CONFIG")
            .stdin(Stdio::null())
            .stderr(stderr);
        let (child, ready) = spawn_service(&mut command, name, READY_TIMEOUT)?;
        let addr = |which: &str| {
            ready
                .addr(which)
                .ok_or_else(|| format!("{name} announced no {which} address"))
        };
        Ok((child, addr("grpc")?, addr("metrics")?))
    }

    fn find(&self, name: &str) -> Option<&Running> {
        self.running.iter().find(|r| r.name == name)
    }

    /// `http://<grpc address>` of a started service, `https://` with TLS (empty when not
    /// started).
    pub fn uri(&self, name: &str) -> String {
        let scheme = match self
            .config
            .security
            .as_ref()
            .and_then(|s| s.tls_dir.as_ref())
        {
            Some(_) => "https",
            None => "http",
        };
        self.find(name)
            .map(|r| format!("{scheme}://{}", r.grpc))
            .unwrap_or_default()
    }

    /// The stack's security, if on.
    pub fn security(&self) -> Option<&StackSecurity> {
        self.config.security.as_ref()
    }

    /// How a caller of `kind` reaches the stack (plaintext without a token when security is
    /// off).
    pub fn client(&self, kind: CallerKind) -> Result<ClientSecurity, String> {
        match &self.config.security {
            Some(security) => security.client(kind),
            None => Ok(ClientSecurity::default()),
        }
    }

    /// The gRPC address of a started service.
    pub fn grpc(&self, name: &str) -> Option<SocketAddr> {
        self.find(name).map(|r| r.grpc)
    }

    /// The `/metrics` address of a started service.
    pub fn metrics(&self, name: &str) -> Option<SocketAddr> {
        self.find(name).map(|r| r.metrics)
    }

    /// Every service with its addresses, in start order.
    pub fn addresses(&self) -> Vec<(&'static str, SocketAddr, SocketAddr)> {
        self.running
            .iter()
            .map(|r| (r.name, r.grpc, r.metrics))
            .collect()
    }

    /// The process id of a started service.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.find(name).map(|r| r.child.id())
    }

    /// Kills a service at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, name: &str) {
        if let Some(r) = self.running.iter_mut().find(|r| r.name == name) {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }

    /// Starts a killed (or still running: it is killed first) service again with the same
    /// arguments, addresses and data directory.
    pub fn restart(&mut self, name: &str) -> Result<(), String> {
        self.kill(name);
        let index = self
            .running
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| format!("{name} is not part of this stack"))?;
        let r = &self.running[index];
        let (child, grpc, metrics) = self.spawn(name, &r.args, Some((r.grpc, r.metrics)))?;
        let r = &mut self.running[index];
        r.child = child;
        r.grpc = grpc;
        r.metrics = metrics;
        Ok(())
    }

    /// Stops every service with SIGTERM, in reverse start order, waiting up to `grace` for each
    /// (then SIGKILL). Returns the services that had to be killed.
    pub fn shutdown(mut self, grace: Duration) -> Vec<&'static str> {
        let mut killed = Vec::new();
        while let Some(mut r) = self.running.pop() {
            if !terminate(&mut r.child, grace) {
                killed.push(r.name);
            }
        }
        killed
    }

    /// The share root.
    pub fn share(&self) -> &Path {
        &self.config.share
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for r in &mut self.running {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// SIGTERM (through `kill`, as the workspace has no unsafe code), then waits up to `grace`;
/// SIGKILL after that. True when the process exited by itself.
fn terminate(child: &mut Child, grace: Duration) -> bool {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}
