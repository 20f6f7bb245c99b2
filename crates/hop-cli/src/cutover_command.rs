//! `hop cutover status|set-weight|rollback|resume`: the router's `hop.v1.Admin` (the blue ->
//! green cut-over) from the command line.
//!
//! Every call sends the admin token as `authorization: Bearer <token>`. The token comes from
//! `--token-file` (or `HOP_ADMIN_TOKEN_FILE`), else from `HOP_ADMIN_TOKEN` (the token itself),
//! else from the local `hop up`'s `admin` token file. It is never printed. TLS: `HOP_TLS_CERT`,
//! `HOP_TLS_KEY` and `HOP_TLS_CA` (see [`crate::local::router_channel`]).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::{Args, Subcommand};
use hop_proto::v1::admin_client::AdminClient;
use hop_proto::v1::{
    CompareReply, CutoverStatus, CutoverStatusRequest, ResumeRequest, RollbackRequest,
    SetWeightRequest,
};
use hop_runtime::security::Token;
use serde_json::{Value, json};

use crate::CliError;
use crate::local::{self, LocalStack};

/// The environment variable holding the token itself.
pub const TOKEN_ENV: &str = "HOP_ADMIN_TOKEN";

#[derive(Debug, Args)]
pub struct CutoverArgs {
    #[command(subcommand)]
    pub command: CutoverCommand,
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Where the router is and how to prove the caller may change it.
#[derive(Debug, Clone, Default, Args)]
pub struct AdminArgs {
    /// The router, e.g. http://127.0.0.1:50050 (default: the local `hop up`'s).
    #[arg(long, env = "HOP_ROUTER", global = true)]
    pub router: Option<String>,
    /// A file whose content is the admin token (default: $HOP_ADMIN_TOKEN, else the local
    /// `hop up`'s token file).
    #[arg(long, env = "HOP_ADMIN_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CutoverCommand {
    /// Print the stage, the desired and effective green weight, the latch, the health window
    /// and the last mismatches.
    Status {
        /// Print the status as JSON (the proto's field names).
        #[arg(long)]
        json: bool,
    },
    /// Set the share of new jobs routed to green, 0 to 100 (refused while a rollback is
    /// latched; with a cut-over file, it holds until the file changes).
    SetWeight {
        /// Green's share of new jobs, percent.
        percent: u32,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Emergency: every new job to blue at once, latched until `hop cutover resume --ack`.
    Rollback {
        /// Why, for the audit log and the status.
        #[arg(long)]
        reason: String,
    },
    /// Release a latched rollback: traffic returns to the desired weight.
    Resume {
        /// Confirm that the cause of the rollback was dealt with (required by the router).
        #[arg(long)]
        ack: bool,
    },
}

impl CutoverCommand {
    /// The subcommand as typed.
    fn name(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::SetWeight { .. } => "set-weight",
            Self::Rollback { .. } => "rollback",
            Self::Resume { .. } => "resume",
        }
    }
}

/// Runs `hop cutover ...` and prints the router's answer.
pub async fn run(args: &CutoverArgs) -> Result<(), CliError> {
    let status = call(args).await?;
    match &args.command {
        CutoverCommand::Status { json: true } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&status_json(&status)).expect("serializable")
            );
        }
        CutoverCommand::Status { json: false } => print!("{}", render(&status)),
        CutoverCommand::SetWeight { percent, .. } => {
            println!("green weight set to {percent} %\n");
            print!("{}", render(&status));
        }
        CutoverCommand::Rollback { .. } => {
            println!("rolled back: every new job goes to blue until `hop cutover resume --ack`\n");
            print!("{}", render(&status));
        }
        CutoverCommand::Resume { .. } => {
            println!("resumed: traffic follows the desired weight again\n");
            print!("{}", render(&status));
        }
    }
    Ok(())
}

/// Sends the command's request and returns the router's status.
async fn call(args: &CutoverArgs) -> Result<CutoverStatus, CliError> {
    let token = token(
        &args.admin,
        std::env::var(TOKEN_ENV).ok(),
        local::load().as_ref(),
    )?;
    let token = Token::new(&token)
        .ok_or_else(|| CliError::Usage("the admin token must be printable ASCII text".into()))?;
    let channel = local::router_channel(args.admin.router.as_deref(), Some(token)).await?;
    let mut client = AdminClient::new(channel);
    let reply = match &args.command {
        CutoverCommand::Status { .. } => client.cutover_status(CutoverStatusRequest {}).await,
        CutoverCommand::SetWeight { percent, reason } => {
            let request = SetWeightRequest {
                green_percent: *percent,
                reason: reason.clone(),
            };
            client.set_weight(request).await
        }
        CutoverCommand::Rollback { reason } => {
            let request = RollbackRequest {
                reason: reason.clone(),
            };
            client.rollback(request).await
        }
        CutoverCommand::Resume { ack } => {
            let request = ResumeRequest { acknowledge: *ack };
            client.resume(request).await
        }
    };
    reply
        .map(tonic::Response::into_inner)
        .map_err(|s| CliError::rpc(format!("cutover {}", args.command.name()), &s))
}

/// The token: `--token-file`, else `env_token` ($HOP_ADMIN_TOKEN), else the local stack's file.
fn token(
    args: &AdminArgs,
    env_token: Option<String>,
    local: Option<&LocalStack>,
) -> Result<String, CliError> {
    let from_file = |path: &Path| {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
            path: path.display().to_string(),
            source,
        })?;
        match text.trim() {
            "" => Err(CliError::Usage(format!(
                "the admin token file {} is empty",
                path.display()
            ))),
            token => Ok(token.to_owned()),
        }
    };
    if let Some(path) = &args.token_file {
        return from_file(path);
    }
    if let Some(token) = env_token.filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_owned());
    }
    match local.and_then(|stack| stack.admin_token_file.as_deref()) {
        Some(path) => from_file(path),
        None => Err(CliError::Usage(format!(
            "no admin token: pass --token-file PATH, set {TOKEN_ENV}, or use the local `hop up`"
        ))),
    }
}

/// A proto timestamp as RFC 3339 UTC, `None` when unset (generic over the timestamp type, which
/// comes from `prost-types`).
fn time<T: Clone>(timestamp: Option<&T>) -> Option<String>
where
    SystemTime: TryFrom<T>,
{
    let time = SystemTime::try_from(timestamp?.clone()).ok()?;
    Some(
        chrono::DateTime::<chrono::Utc>::from(time)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

/// [`time`] for people: `-` when unset.
fn shown<T: Clone>(timestamp: Option<&T>) -> String
where
    SystemTime: TryFrom<T>,
{
    time(timestamp).unwrap_or_else(|| "-".to_owned())
}

/// The status for people.
fn render(status: &CutoverStatus) -> String {
    let mut text = format!(
        "stage:        {}\ngreen weight: desired {} %, effective {} %\n",
        status.stage, status.desired_green_percent, status.effective_green_percent
    );
    if status.latched {
        text += &format!(
            "latched:      YES since {}: {}\n",
            shown(status.latched_at.as_ref()),
            status.latch_reason
        );
    } else {
        text += "latched:      no\n";
    }
    text += &format!(
        "window:       {} green jobs, error rate {:.4}, p95 runtime {:.3} s, max relative \
         difference {}, {} mismatches\nupdated:      {}\n",
        status.window_samples,
        status.window_error_rate,
        status.window_p95_runtime_seconds,
        status.window_max_relative_difference,
        status.window_mismatches,
        shown(status.updated_at.as_ref()),
    );
    if !status.recent_mismatches.is_empty() {
        text += "recent mismatches (newest first):\n";
        for c in &status.recent_mismatches {
            let first = c.mismatches.first().map_or_else(String::new, |m| {
                format!(", first {}: blue {} green {}", m.field, m.blue, m.green)
            });
            text += &format!(
                "  {}  {}  max relative difference {}, {} of {} fields differ{first}\n",
                shown(c.compared_at.as_ref()),
                c.job_id,
                c.max_relative_difference,
                c.mismatches.len(),
                c.fields_compared
            );
        }
    }
    text
}

/// A double as proto3 JSON does: a number, or "Infinity", "-Infinity", "NaN".
fn number(value: f64) -> Value {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(value)
    }
}

fn comparison_json(c: &CompareReply) -> Value {
    let mismatches: Vec<Value> = c
        .mismatches
        .iter()
        .map(|m| {
            json!({
                "field": m.field,
                "blue": m.blue,
                "green": m.green,
                "relative_difference": number(m.relative_difference),
            })
        })
        .collect();
    json!({
        "job_id": c.job_id,
        "matched": c.matched,
        "max_relative_difference": number(c.max_relative_difference),
        "mismatches": mismatches,
        "tolerance": number(c.tolerance),
        "fields_compared": c.fields_compared,
        "compared_at": time(c.compared_at.as_ref()),
    })
}

/// The status as JSON, with the proto's field names.
fn status_json(status: &CutoverStatus) -> Value {
    json!({
        "stage": status.stage,
        "desired_green_percent": status.desired_green_percent,
        "effective_green_percent": status.effective_green_percent,
        "latched": status.latched,
        "latch_reason": status.latch_reason,
        "latched_at": time(status.latched_at.as_ref()),
        "window_samples": status.window_samples,
        "window_error_rate": number(status.window_error_rate),
        "window_p95_runtime_seconds": number(status.window_p95_runtime_seconds),
        "window_max_relative_difference": number(status.window_max_relative_difference),
        "window_mismatches": status.window_mismatches,
        "recent_mismatches": status.recent_mismatches.iter().map(comparison_json).collect::<Vec<_>>(),
        "updated_at": time(status.updated_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hop_proto::v1::Mismatch;
    use hop_router::cutover::{Cutover, CutoverConfig, FileStore};
    use hop_runtime::security::CallerKind;
    use hop_runtime::{ServiceConfig, Shutdown};

    use super::*;

    #[test]
    fn the_token_comes_from_the_flag_then_the_env_then_the_local_stack() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flag-token");
        std::fs::write(&file, "from-flag\n").unwrap();
        let local_file = dir.path().join("local-token");
        std::fs::write(&local_file, "from-local").unwrap();
        let stack = LocalStack {
            router: "http://127.0.0.1:1".into(),
            share: dir.path().to_path_buf(),
            pid: 1,
            admin_token_file: Some(local_file),
            tokens_dir: None,
        };
        let flag = AdminArgs {
            token_file: Some(file.clone()),
            ..AdminArgs::default()
        };
        let none = AdminArgs::default();
        let env = || Some(" from-env ".to_owned());
        assert_eq!(token(&flag, env(), Some(&stack)).unwrap(), "from-flag");
        assert_eq!(token(&none, env(), Some(&stack)).unwrap(), "from-env");
        assert_eq!(
            token(&none, Some(String::new()), Some(&stack)).unwrap(),
            "from-local"
        );
        let error = token(&none, None, None).unwrap_err();
        assert!(
            error.to_string().contains(TOKEN_ENV) && error.exit_code() == 2,
            "{error}"
        );
        std::fs::write(&file, " ").unwrap();
        assert!(
            token(&flag, None, None)
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );
        let missing = AdminArgs {
            token_file: Some(dir.path().join("missing")),
            ..AdminArgs::default()
        };
        assert!(matches!(
            token(&missing, env(), None),
            Err(CliError::Read { .. })
        ));
    }

    fn latched_status() -> CutoverStatus {
        let at = Some(std::time::SystemTime::UNIX_EPOCH.into());
        CutoverStatus {
            stage: "weighted".into(),
            desired_green_percent: 50,
            effective_green_percent: 0,
            latched: true,
            latch_reason: "automatic rollback: green error rate 0.8 over the last 5 jobs \
                           exceeds 0.05"
                .into(),
            latched_at: at,
            window_samples: 5,
            window_error_rate: 0.8,
            window_p95_runtime_seconds: 1.25,
            window_max_relative_difference: f64::INFINITY,
            window_mismatches: 1,
            recent_mismatches: vec![CompareReply {
                job_id: "job_7".into(),
                matched: false,
                max_relative_difference: f64::INFINITY,
                mismatches: vec![Mismatch {
                    field: "GA.portfolio".into(),
                    blue: "[1, 5]".into(),
                    green: "[1, 6]".into(),
                    relative_difference: f64::INFINITY,
                }],
                tolerance: 1e-5,
                fields_compared: 40,
                compared_at: at,
            }],
            updated_at: at,
        }
    }

    #[test]
    fn status_for_people() {
        let text = render(&latched_status());
        for expected in [
            "stage:        weighted",
            "desired 50 %, effective 0 %",
            "latched:      YES since 1970-01-01T00:00:00.000Z: automatic rollback: green error rate",
            "5 green jobs, error rate 0.8000, p95 runtime 1.250 s",
            "  1970-01-01T00:00:00.000Z  job_7  max relative difference inf, 1 of 40 fields \
             differ, first GA.portfolio: blue [1, 5] green [1, 6]",
        ] {
            assert!(text.contains(expected), "{expected:?} not in\n{text}");
        }
        let idle = render(&CutoverStatus::default());
        assert!(
            idle.contains("latched:      no") && idle.contains("updated:      -"),
            "{idle}"
        );
        assert!(!idle.contains("recent mismatches"));
    }

    #[test]
    fn status_as_json() {
        let value = status_json(&latched_status());
        assert_eq!(value["stage"], "weighted");
        assert_eq!(value["effective_green_percent"], 0);
        assert_eq!(value["latched"], true);
        assert_eq!(value["latched_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(value["window_max_relative_difference"], "Infinity");
        assert_eq!(value["recent_mismatches"][0]["job_id"], "job_7");
        assert_eq!(value["recent_mismatches"][0]["tolerance"], 1e-5);
        assert_eq!(
            value["recent_mismatches"][0]["mismatches"][0]["field"],
            "GA.portfolio"
        );
        assert_eq!(
            status_json(&CutoverStatus::default())["latched_at"],
            Value::Null
        );
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::NEG_INFINITY), "-Infinity");
    }

    /// An Admin server over a fresh cut-over at 50 % green, with `token`.
    async fn admin(dir: &Path, token: &str) -> (String, Shutdown) {
        let store = Arc::new(FileStore::new(dir.join("cutover.json")));
        let cutover = Cutover::open(&CutoverConfig::default(), store, 50)
            .await
            .unwrap();
        let services = hop_runtime::GrpcServices::new()
            .accept_token(CallerKind::Admin, Token::new(token).unwrap())
            .add_service(hop_router::admin_service::admin_server(Arc::clone(
                &cutover,
            )));
        let shutdown = Shutdown::new();
        let server = hop_runtime::serve_grpc(services, &ServiceConfig::default(), shutdown.clone())
            .await
            .unwrap();
        (format!("http://{}", server.local_addr), shutdown)
    }

    #[tokio::test]
    async fn commands_against_a_real_admin_service() {
        let dir = tempfile::tempdir().unwrap();
        let (router, shutdown) = admin(dir.path(), "s3cret").await;
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "s3cret").unwrap();
        let run = |command: CutoverCommand, token_file: &Path| CutoverArgs {
            command,
            admin: AdminArgs {
                router: Some(router.clone()),
                token_file: Some(token_file.to_path_buf()),
            },
        };
        let status = call(&run(CutoverCommand::Status { json: false }, &token_file))
            .await
            .unwrap();
        assert_eq!(
            (status.stage.as_str(), status.effective_green_percent),
            ("weighted", 50)
        );

        let wrong = dir.path().join("wrong");
        std::fs::write(&wrong, "guess").unwrap();
        let refused = call(&run(CutoverCommand::Status { json: false }, &wrong))
            .await
            .unwrap_err();
        let refused = refused.to_string();
        assert!(refused.starts_with("cutover status: ") && refused.contains("Unauthenticated"));

        let rollback = CutoverCommand::Rollback {
            reason: "drill".into(),
        };
        let status = call(&run(rollback, &token_file)).await.unwrap();
        assert!(status.latched && status.latch_reason == "manual rollback: drill");
        let weight = CutoverCommand::SetWeight {
            percent: 90,
            reason: String::new(),
        };
        let refused = call(&run(weight, &token_file)).await.unwrap_err();
        assert!(
            refused.to_string().contains("FailedPrecondition"),
            "{refused}"
        );
        let refused = call(&run(CutoverCommand::Resume { ack: false }, &token_file))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("--ack"), "{refused}");
        let status = call(&run(CutoverCommand::Resume { ack: true }, &token_file))
            .await
            .unwrap();
        assert_eq!(
            (status.latched, status.effective_green_percent),
            (false, 50)
        );
        let weight = CutoverCommand::SetWeight {
            percent: 90,
            reason: "next step".into(),
        };
        assert_eq!(
            call(&run(weight, &token_file))
                .await
                .unwrap()
                .effective_green_percent,
            90
        );
        shutdown.trigger();
    }
}
