//! `hop-bench --share`: the production-shape job through the real share path — a job file
//! dropped in `jobs/queue/`, the six services on loopback (started from the release `hop` binary
//! beside this one, `hop service <name>`), until the completed JSON appears — with the time of
//! each hop. Every job has its own CSV (a different bootstrap), so ingest never answers from its
//! cache: each run pays the whole import.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use hop_cli::stack::{Launcher, Stack, StackConfig};
use hop_proto::v1::GetRequest;
use hop_proto::v1::jobs_client::JobsClient;

use crate::BenchArgs;
use crate::measure::{BoxError, line};

/// Seconds of a protobuf timestamp since the epoch.
fn epoch(t: &prost_types::Timestamp) -> f64 {
    t.seconds as f64 + f64::from(t.nanos) * 1e-9
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One job's timeline, seconds since the epoch (all clocks are this machine's).
#[derive(Debug, Default, Clone)]
struct Timeline {
    dropped: f64,
    accepted: f64,
    started: f64,
    engine_seconds: f64,
    finished: f64,
    completed: f64,
}

impl Timeline {
    fn hops(&self) -> [(&'static str, f64); 6] {
        [
            (
                "file appears -> accepted by router (bridge poll, claim, submit)",
                self.accepted - self.dropped,
            ),
            ("accepted -> engine started", self.started - self.accepted),
            ("engine: import/fetch + search", self.engine_seconds),
            (
                "engine done -> router final",
                self.finished - self.started - self.engine_seconds,
            ),
            (
                "router final -> completed JSON",
                self.completed - self.finished,
            ),
            (
                "total: file -> completed JSON",
                self.completed - self.dropped,
            ),
        ]
    }
}

/// Measures `jobs` share jobs on each side.
pub fn run(args: &BenchArgs, base: &hop_core::PnlMatrix) -> Result<(), BoxError> {
    let exe = std::env::current_exe()?;
    let hop = exe.with_file_name(format!("hop{}", std::env::consts::EXE_SUFFIX));
    if !hop.is_file() {
        return Err(format!(
            "{} is missing: build it first with `cargo build --release --bins`",
            hop.display()
        )
        .into());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    for (side, green_percent) in [("green", 100), ("blue", 0)] {
        let share = tempfile::tempdir()?;
        let data = tempfile::tempdir()?;
        let stack = Stack::start(StackConfig {
            launcher: Launcher::SelfExe(hop.clone()),
            share: share.path().canonicalize()?,
            data_dir: data.path().to_path_buf(),
            green_percent,
            log_filter: "warn".into(),
            settings: vec![("bridge".into(), "poll_interval=10ms".into())],
            security: None,
            replicas: Vec::new(),
        })?;
        let mut timelines = Vec::new();
        for i in 0..args.repeat.max(1) {
            let matrix =
                hop_core::synth::bootstrap(base, args.strategies, args.seed + 1 + i as u64);
            let name = format!("production_{i}.csv");
            std::fs::write(
                share.path().join("input").join(&name),
                hop_core::csv::write_csv(&matrix, true),
            )?;
            let job_id = format!("bench_{side}_{i}");
            let timeline =
                runtime.block_on(one_job(&stack, share.path(), &job_id, &name, args.k))?;
            timelines.push(timeline);
        }
        stack.shutdown(Duration::from_secs(10));
        println!(
            "# share path, {side} side (green weight {green_percent} %), {} jobs, median per hop",
            timelines.len()
        );
        for hop in 0..6 {
            let mut values: Vec<f64> = timelines.iter().map(|t| t.hops()[hop].1).collect();
            values.sort_by(f64::total_cmp);
            let name = timelines[0].hops()[hop].0;
            line(
                &format!("{side}: {name}"),
                format!("{:.1}", values[values.len() / 2] * 1e3),
                &format!(
                    "ms (min {:.1}, max {:.1})",
                    values[0] * 1e3,
                    values[values.len() - 1] * 1e3
                ),
            );
        }
    }
    Ok(())
}

/// Drops one job file (written under a temporary name and renamed, so it appears complete) and
/// follows it to its completed JSON.
async fn one_job(
    stack: &Stack,
    share: &Path,
    job_id: &str,
    csv: &str,
    k: usize,
) -> Result<Timeline, BoxError> {
    let jobs = share.join("jobs");
    let text = format!(
        "{{\"job_id\": \"{job_id}\", \"input_file\": \"{csv}\", \"portfolio_size\": {k}, \
         \"job_type\": \"complete_optimization\", \"timestamp\": \"2025-07-30 15:45:00\"}}\r\n"
    );
    let temp = jobs.join("queue").join(format!("{job_id}.tmp"));
    std::fs::write(&temp, text)?;
    let mut timeline = Timeline {
        dropped: now(),
        ..Timeline::default()
    };
    std::fs::rename(&temp, jobs.join("queue").join(format!("{job_id}.json")))?;
    let file = format!("{job_id}.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    while timeline.completed == 0.0 {
        if Instant::now() > deadline {
            return Err(format!("job {job_id} not answered within 120 s").into());
        }
        if jobs.join("completed").join(&file).exists() {
            timeline.completed = now();
        } else if jobs.join("failed").join(&file).exists() {
            let text = std::fs::read_to_string(jobs.join("failed").join(&file))?;
            return Err(format!("job {job_id} failed: {text}").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut client = JobsClient::connect(stack.uri("router"))
        .await?
        .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES);
    let record = client
        .get(GetRequest {
            job_id: job_id.to_owned(),
        })
        .await?
        .into_inner();
    let stamp = |t: &Option<prost_types::Timestamp>| t.as_ref().map_or(0.0, epoch);
    timeline.accepted = stamp(&record.created_at);
    timeline.started = stamp(&record.started_at);
    timeline.finished = stamp(&record.finished_at);
    timeline.engine_seconds = record.result.as_ref().map_or(0.0, |r| r.seconds);
    Ok(timeline)
}
