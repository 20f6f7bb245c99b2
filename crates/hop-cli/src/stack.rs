//! [`Stack`]: the six services on loopback, each its own process, wired to each other — what
//! `hop up` and `hop demo` run, and what the end-to-end tests start (with the real `hop-*`
//! binaries).
//!
//! Start order and wiring (every service on `127.0.0.1:0`, addresses read from the ready lines):
//! ingest (input root = the share's `input/`) -> validator -> legacy (blue, same input root) ->
//! compute (green, fetches from ingest; same input root for its local fallback) -> router (blue, green, green weight) -> bridge (the share, the router). Each
//! service keeps its files in `<data_dir>/<service>`. With [`StackSecurity`] every service gets
//! the tokens folder, its own token and (optionally) its certificate; addresses are then
//! `https://`. [`Stack::kill`], [`Stack::stop`] and [`Stack::restart`] (same addresses, same
//! data) let tests kill or stop a service mid-job.
//!
//! Replicas ([`StackConfig::replicas`]): a service started `n > 1` times has instances
//! `<service>-0` ... `<service>-<n-1>`, each with its own data directory and log file, and its
//! clients get every instance's address in one comma-separated list (balanced over, as a
//! headless Service's addresses are in Kubernetes). Router replicas are named after their
//! instance (`replica=router-0`) and need a shared store: a `postgres` setting.

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
    /// How many processes of a service to start, e.g. `("router", 2)`; 1 for a service not
    /// listed.
    pub replicas: Vec<(String, usize)>,
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
    /// The service.
    name: &'static str,
    /// The instance: the service's name, or `<service>-<i>` for one of several replicas.
    instance: String,
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
            let count = stack.replicas(name);
            for i in 0..count {
                let instance = match count {
                    1 => name.to_owned(),
                    _ => format!("{name}-{i}"),
                };
                let args = stack.args(name, &instance, count > 1);
                let (child, grpc, metrics) = stack.spawn(name, &instance, &args, None)?;
                stack.running.push(Running {
                    name,
                    instance,
                    child,
                    grpc,
                    metrics,
                    args,
                });
            }
        }
        Ok(stack)
    }

    /// How many processes of `service` the configuration asks for.
    fn replicas(&self, service: &str) -> usize {
        self.config
            .replicas
            .iter()
            .find(|(s, _)| s == service)
            .map_or(1, |(_, n)| (*n).max(1))
    }

    /// The arguments of `instance` of service `name` given the services started before it.
    fn args(&self, name: &str, instance: &str, replicated: bool) -> Vec<String> {
        let data = self.config.data_dir.join(instance);
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
                if replicated {
                    set("replica", instance.to_owned());
                }
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
        instance: &str,
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
                let path = dir.join(format!("{instance}.log"));
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
                .ok_or_else(|| format!("{instance} announced no {which} address"))
        };
        Ok((child, addr("grpc")?, addr("metrics")?))
    }

    /// An instance by name (a service with one instance is its own instance).
    fn find(&self, instance: &str) -> Option<&Running> {
        self.running.iter().find(|r| r.instance == instance)
    }

    /// Every instance's name, in start order.
    pub fn instances(&self) -> Vec<String> {
        self.running.iter().map(|r| r.instance.clone()).collect()
    }

    /// `http://<grpc address>` of a started instance, `https://` with TLS; for a service with
    /// several instances, every instance's, comma-separated (empty when not started).
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
        self.running
            .iter()
            .filter(|r| r.instance == name || r.name == name)
            .map(|r| format!("{scheme}://{}", r.grpc))
            .collect::<Vec<_>>()
            .join(",")
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

    /// Every instance with its addresses, in start order.
    pub fn addresses(&self) -> Vec<(&str, SocketAddr, SocketAddr)> {
        self.running
            .iter()
            .map(|r| (r.instance.as_str(), r.grpc, r.metrics))
            .collect()
    }

    /// The process id of a started service.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.find(name).map(|r| r.child.id())
    }

    /// Kills an instance at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, instance: &str) {
        if let Some(r) = self.running.iter_mut().find(|r| r.instance == instance) {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }

    /// Stops an instance as Kubernetes does: SIGTERM, then SIGKILL after `grace`. True when it
    /// exited by itself.
    pub fn stop(&mut self, instance: &str, grace: Duration) -> bool {
        self.running
            .iter_mut()
            .find(|r| r.instance == instance)
            .is_some_and(|r| terminate(&mut r.child, grace))
    }

    /// Starts a killed or stopped (or still running: it is killed first) instance again with
    /// the same arguments, addresses and data directory.
    pub fn restart(&mut self, instance: &str) -> Result<(), String> {
        self.kill(instance);
        let index = self
            .running
            .iter()
            .position(|r| r.instance == instance)
            .ok_or_else(|| format!("{instance} is not part of this stack"))?;
        let r = &self.running[index];
        let (child, grpc, metrics) =
            self.spawn(r.name, instance, &r.args, Some((r.grpc, r.metrics)))?;
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
