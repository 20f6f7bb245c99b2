//! `hop demo`: the whole platform on this machine in one command — a share folder with a real
//! fixture in `input/`, the six services on loopback, a job file dropped the way the Windows
//! launcher writes it (one `echo` line at a time, CRLF), then the completed job file, a short
//! summary and the run folder's path (the last line of stdout).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;

use crate::CliError;
use crate::up_command::{StackArgs, absolute, start_healthy};

/// The real fixture copied into `input/` (500 strategies of the production data, 82 days).
const FIXTURE: &[u8] = include_bytes!("../../../fixtures/sensex_500x82.csv");
const FIXTURE_NAME: &str = "sensex_500x82.csv";
/// How often the share is polled, as the launcher does (it uses 3 s; the demo is impatient).
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The share folder to prepare and use.
    #[arg(long, default_value = "hop-demo/share")]
    pub share: PathBuf,
    /// Portfolio size of the demo job.
    #[arg(long, default_value_t = 35)]
    pub portfolio_size: u32,
    /// Give up waiting for the job after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub stack: StackArgs,
}

/// Runs `hop demo`.
pub async fn run(args: &DemoArgs) -> Result<(), CliError> {
    let share = absolute(args.share.clone())?;
    let input = share.join("input");
    std::fs::create_dir_all(&input).map_err(|e| write_error(&input, e))?;
    let csv = input.join(FIXTURE_NAME);
    std::fs::write(&csv, FIXTURE).map_err(|e| write_error(&csv, e))?;
    println!("share:  {}", share.display());
    println!("input:  {} (500 strategies x 82 days)", csv.display());

    let config = args.stack.config(share.clone(), 100)?;
    let green_percent = config.green_percent;
    let stack = start_healthy(config).await?;
    println!(
        "services: {} on loopback (green weight {} %)",
        stack
            .addresses()
            .iter()
            .map(|(name, grpc, _)| format!("{name} {grpc}"))
            .collect::<Vec<_>>()
            .join(", "),
        green_percent
    );

    let now = chrono::Local::now();
    let job_id = format!("job_{}_{}", std::process::id(), now.format("%Y%m%d_%H%M%S"));
    let job_file = share.join("jobs/queue").join(format!("{job_id}.json"));
    let started = Instant::now();
    write_like_launcher(
        &job_file,
        &job_file_lines(&job_id, args.portfolio_size, &now),
    )?;
    println!("job:    {} dropped", job_file.display());

    let outcome = wait_for_outcome(&share, &job_id, Duration::from_secs(args.timeout_secs)).await;
    let _ = tokio::task::spawn_blocking(move || stack.shutdown(Duration::from_secs(10))).await;
    let (path, completed) = outcome?;
    println!(
        "answer: {} after {:.2} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    summarize(&share, &job_id, &completed)
}

fn write_error(path: &Path, source: std::io::Error) -> CliError {
    CliError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// The job file's lines, as the launcher's `echo` lines write them.
fn job_file_lines(job_id: &str, size: u32, now: &chrono::DateTime<chrono::Local>) -> Vec<String> {
    // `%DATE% %TIME%` on an English Windows: `Wed 07/30/2025 15:45:00.12`.
    let timestamp = format!(
        "{}.{:02}",
        now.format("%a %m/%d/%Y %H:%M:%S"),
        now.timestamp_subsec_millis() / 10
    );
    let user = std::env::var("USER").unwrap_or_else(|_| "analyst".into());
    vec![
        "{".into(),
        format!("  \"job_id\": \"{job_id}\","),
        format!("  \"input_file\": \"{FIXTURE_NAME}\","),
        format!("  \"portfolio_size\": {size},"),
        "  \"job_type\": \"complete_optimization\",".into(),
        format!("  \"timestamp\": \"{timestamp}\","),
        format!(
            "  \"client_info\": {{\"computer_name\": \"hop-demo\", \"username\": \"{user}\", \
             \"drive_letter\": \"L:\"}},"
        ),
        "  \"execution_mode\": \"server_side_heavydb\",".into(),
        "  \"input_format\": \"csv_only\"".into(),
        "}".into(),
    ]
}

/// Appends the lines one at a time with CRLF, as `echo ... >> file` does: the file is visible
/// half-written, which the bridge must cope with.
fn write_like_launcher(path: &Path, lines: &[String]) -> Result<(), CliError> {
    for line in lines {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| write_error(path, e))?;
        file.write_all(format!("{line}\r\n").as_bytes())
            .map_err(|e| write_error(path, e))?;
    }
    Ok(())
}

/// Polls `jobs/completed/<id>.json`, then `jobs/failed/<id>.json`, like the launcher.
async fn wait_for_outcome(
    share: &Path,
    job_id: &str,
    timeout: Duration,
) -> Result<(PathBuf, Value), CliError> {
    let start = Instant::now();
    let name = format!("{job_id}.json");
    let mut last_percent = String::new();
    while start.elapsed() < timeout {
        for dir in ["completed", "failed"] {
            let path = share.join("jobs").join(dir).join(&name);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let value: Value = serde_json::from_str(&text).map_err(|e| {
                    CliError::Stack(format!("{} is not valid JSON: {e}", path.display()))
                })?;
                return Ok((path, value));
            }
        }
        let processing = share.join("jobs/processing").join(&name);
        let state = if processing.exists() {
            "processing"
        } else {
            "queued"
        };
        if state != last_percent {
            println!("status: {state}");
            last_percent = state.into();
        }
        tokio::time::sleep(POLL).await;
    }
    Err(CliError::Stack(format!(
        "job {job_id} did not finish within {timeout:?}; its file is still in the share's jobs/ folder"
    )))
}

/// Prints the completed file's key fields and the run folder (last line), or the error.
fn summarize(share: &Path, job_id: &str, completed: &Value) -> Result<(), CliError> {
    let field = |key: &str| {
        completed.get(key).map_or_else(String::new, |v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    if let Some(error) = completed.get("error") {
        return Err(CliError::JobFailed {
            job_id: job_id.to_owned(),
            state: "failed".into(),
            message: error.as_str().unwrap_or_default().to_owned(),
        });
    }
    println!("side:   {} (engine {})", field("side"), field("engine"));
    println!(
        "time:   {} s from job file to completed file",
        field("execution_time")
    );
    println!("result: {}", field("stdout").trim());
    let output_dir = field("output_dir");
    let folder_name = output_dir
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let folder = share.join("output").join(folder_name);
    if !folder.join("results.json").is_file() {
        return Err(CliError::Stack(format!(
            "the completed file names output_dir {output_dir:?} but {} has no results.json",
            folder.display()
        )));
    }
    println!("{}", folder.display());
    Ok(())
}
