//! `hop up`: the six services on loopback in the foreground until Ctrl-C, and the health wait
//! that `hop demo` shares.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use hop_runtime::client::ClientSecurity;
use hop_runtime::security::CallerKind;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::CliError;
use crate::local::{self, LocalStack};
use crate::stack::{Launcher, Stack, StackConfig, StackSecurity};

/// How long the services may take to report SERVING.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long each service may take to drain on Ctrl-C.
const STOP_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// Where the services keep their files (one folder per service).
    #[arg(long, default_value = "hop-data")]
    pub data_dir: PathBuf,
    /// Share of jobs routed to green (hop-compute), 0 to 100; the rest go to blue (hop-legacy).
    /// Default: 0 for `hop up` (the legacy stage), 100 for `hop demo`.
    #[arg(long)]
    pub green_percent: Option<u32>,
    /// Log filter of the services (their logs go to stderr), e.g. `info`.
    #[arg(long, default_value = "warn")]
    pub log_filter: String,
    /// A setting for one service, `SERVICE.KEY=VALUE` (e.g. `bridge.poll_interval=50ms`), or
    /// for all six, `common.KEY=VALUE` (e.g. `common.otlp_endpoint=http://127.0.0.1:4317`);
    /// repeatable.
    #[arg(long = "set", value_name = "SERVICE.KEY=VALUE")]
    pub settings: Vec<String>,
    /// Several processes of one service, `SERVICE=N` (e.g. `router=2`, `compute=2`); several
    /// routers need a shared store (`--set router.postgres=postgresql://...`); repeatable.
    #[arg(long = "replicas", value_name = "SERVICE=N")]
    pub replicas: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The share folder (created with input/, output/ and jobs/ when missing).
    #[arg(long)]
    pub share: PathBuf,
    #[command(flatten)]
    pub stack: StackArgs,
}

impl StackArgs {
    /// The stack configuration for `share`, run by this very binary in service mode, with
    /// `green_percent` unless the flag gave one.
    pub fn config(&self, share: PathBuf, green_percent: u32) -> Result<StackConfig, CliError> {
        let hop = std::env::current_exe()
            .map_err(|e| CliError::Stack(format!("cannot find the hop binary: {e}")))?;
        let mut settings = Vec::new();
        for setting in &self.settings {
            let (service, key_value) = setting.split_once('.').ok_or_else(|| {
                CliError::Usage(format!(
                    "--set {setting}: write SERVICE.KEY=VALUE, e.g. bridge.poll_interval=50ms"
                ))
            })?;
            settings.push((service.to_owned(), key_value.to_owned()));
        }
        let mut replicas = Vec::new();
        for replica in &self.replicas {
            let parsed = replica
                .split_once('=')
                .and_then(|(service, n)| Some((service.to_owned(), n.parse::<usize>().ok()?)));
            let Some((service, n)) = parsed.filter(|(_, n)| *n >= 1) else {
                return Err(CliError::Usage(format!(
                    "--replicas {replica}: write SERVICE=N with N at least 1, e.g. router=2"
                )));
            };
            replicas.push((service, n));
        }
        Ok(StackConfig {
            launcher: Launcher::SelfExe(hop),
            share: absolute(share)?,
            data_dir: absolute(self.data_dir.clone())?,
            green_percent: self.green_percent.unwrap_or(green_percent),
            log_filter: self.log_filter.clone(),
            settings,
            security: None,
            replicas,
        })
    }
}

/// `path` made absolute (and created), since the services run with their own working directory
/// assumptions.
pub fn absolute(path: PathBuf) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(&path).map_err(|source| CliError::Write {
        path: path.display().to_string(),
        source,
    })?;
    std::fs::canonicalize(&path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Starts the stack and waits until every service reports SERVING.
pub async fn start_healthy(config: StackConfig) -> Result<Stack, CliError> {
    let stack = tokio::task::spawn_blocking(move || Stack::start(config))
        .await
        .map_err(|e| CliError::Stack(e.to_string()))?
        .map_err(CliError::Stack)?;
    let client = stack.client(CallerKind::Client).map_err(CliError::Stack)?;
    for (name, _, _) in stack.addresses() {
        wait_serving(name, &stack.uri(name), &client).await?;
    }
    Ok(stack)
}

async fn wait_serving(name: &str, uri: &str, client: &ClientSecurity) -> Result<(), CliError> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < HEALTHY_TIMEOUT {
        match client.connect(uri).await {
            Ok(channel) => {
                let request = HealthCheckRequest {
                    service: String::new(),
                };
                match HealthClient::new(channel).check(request).await {
                    Ok(reply) if reply.get_ref().status() == ServingStatus::Serving => {
                        return Ok(());
                    }
                    Ok(reply) => last = format!("{:?}", reply.get_ref().status()),
                    Err(status) => last = status.message().to_owned(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(CliError::Stack(format!(
        "{name} at {uri} is not healthy after {HEALTHY_TIMEOUT:?}: {last}"
    )))
}

/// Runs `hop up`.
pub async fn run(args: &UpArgs) -> Result<(), CliError> {
    let mut config = args.stack.config(args.share.clone(), 0)?;
    // Caller identity on this machine: fresh random tokens of every kind per `hop up` (the
    // `client` one for `hop submit`, the `admin` one for `hop cutover`). Plaintext on loopback.
    let tokens_dir = local::hop_home().join("tokens");
    hop_runtime::security::tokens::provision(&tokens_dir)
        .map_err(|e| CliError::Stack(e.to_string()))?;
    config.security = Some(StackSecurity {
        tokens_dir: tokens_dir.clone(),
        tls_dir: None,
    });
    let stack = start_healthy(config).await?;
    for (name, grpc, metrics) in stack.addresses() {
        println!("{name:<10} grpc={grpc} metrics=http://{metrics}/metrics");
    }
    let pid = std::process::id();
    local::save(&LocalStack {
        router: stack.uri("router"),
        share: stack.share().to_path_buf(),
        pid,
        admin_token_file: Some(tokens_dir.join(CallerKind::Admin.name())),
        tokens_dir: Some(tokens_dir),
    })?;
    println!("share      {}", stack.share().display());
    println!("ready");
    wait_for_stop().await;
    eprintln!("stopping the services...");
    local::clear(pid);
    let killed = tokio::task::spawn_blocking(move || stack.shutdown(STOP_GRACE))
        .await
        .map_err(|e| CliError::Stack(e.to_string()))?;
    if killed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Stack(format!(
            "these services did not stop within {STOP_GRACE:?} and were killed: {}",
            killed.join(", ")
        )))
    }
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    let shutdown = hop_runtime::Shutdown::new();
    shutdown.trigger_on_signals();
    shutdown.wait().await;
}
