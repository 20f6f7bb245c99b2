//! One claimed job from its job file to its completed or failed file.
//!
//! 1. A resumed job whose completed or failed file already exists (its bridge died while cleaning
//!    up) is only cleaned up.
//! 2. The job file is read from `processing/`: too big, or not a JSON object -> failed (with its
//!    text kept); a refused field or `input_file` -> failed with the sentence; a job id that
//!    already has a finished file -> failed as `<job>.duplicate-<n>.json` (nothing overwritten).
//! 3. The job goes to the router ([`Router::run`]), bounded by `job_timeout` (from when this
//!    bridge started on it; a job that outlives it is cancelled on the router and failed).
//! 4. Success: the run folder (written, or reused after a crash), then the completed file. The
//!    router's failure: the failed file with its sentence.
//!
//! [`run`] returns an error only when the share could not be written; the job then stays in
//! `processing/` and is retried later.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hop_core::RunResult;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobRecord, JobSpec, JobState, ValidationOutcome};
use hop_report::RunInfo;
use serde_json::{Map, Value};

use crate::config::BridgeConfig;
use crate::decode::{Decoded, decode, text_of};
use crate::finish::{self, Ending};
use crate::router::{Router, sentence};
use crate::share::{Share, modified_since, read_prefix, stem};
use crate::{BridgeError, claim::Claim, input_path, job_file, metrics, run_folder};

/// What every job task shares.
#[derive(Debug)]
pub struct Context {
    /// The share's folders.
    pub share: Share,
    /// The router client.
    pub router: Router,
    /// The `[bridge]` settings.
    pub config: BridgeConfig,
    /// How the engines see `<share>/input` (`csv_root`, or the local canonical path).
    pub csv_root: String,
}

/// A claimed job file as read from the share, before the job runs.
enum Opened {
    /// It was finished before a restart and is now cleaned up.
    CleanedUp,
    /// A job to work on.
    Job(Box<Pending>),
}

/// What [`open`] read of a claimed job file.
struct Pending {
    claim: Claim,
    /// The file's first bytes (up to one more than the limit) and its length.
    bytes: Vec<u8>,
    len: u64,
    /// The finished file of an earlier job with this id, when there is one.
    finished: Option<std::path::PathBuf>,
    /// The name the finished file gets (never an earlier job's).
    target: String,
    /// The file's JSON object, or why it is not a job.
    fields: Result<Map<String, Value>, BridgeError>,
}

/// Runs `work` with the context on the blocking pool (share I/O never runs on the async worker
/// threads); a panic there leaves the job for a retry.
async fn on_share<T: Send + 'static>(
    ctx: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, BridgeError> + Send + 'static,
) -> Result<T, BridgeError> {
    let for_work = ctx.clone();
    tokio::task::spawn_blocking(move || work(&for_work))
        .await
        .map_err(|e| {
            BridgeError::share("work on", &ctx.share.processing, std::io::Error::other(e))
        })?
}

/// Works on `claim` to its end (see the module docs).
pub async fn run(ctx: Arc<Context>, claim: Claim) -> Result<(), BridgeError> {
    let pending = match on_share(&ctx, move |ctx| open(ctx, claim)).await? {
        Opened::CleanedUp => return Ok(()),
        Opened::Job(pending) => *pending,
    };
    let Pending {
        claim,
        bytes,
        len,
        finished,
        target,
        fields,
    } = pending;
    let job_id = stem(&claim.name).to_owned();
    let (original, ended, unreadable) = match fields {
        Err(not_a_job) => (finish::unreadable_original(&job_id), Err(not_a_job), true),
        Ok(fields) => {
            let ended = match &finished {
                Some(previous) => Err(BridgeError::Refused(reused_id(
                    &job_id, &ctx.share, previous,
                ))),
                None => process(&ctx, &claim, &fields).await,
            };
            (fields, ended, false)
        }
    };
    let (outcome, ending) = match ended {
        Ok(ending) if ending.error.is_none() => ("completed", ending),
        Ok(ending) => ("failed", ending),
        Err(e) => match e.outcome() {
            Some(outcome) => (outcome, Ending::failure(e.to_string())),
            None => return Err(e),
        },
    };
    let first_seen = claim.record.first_seen();
    let folder = ending.run_folder.clone();
    let (engine, side, validation, error) = (
        ending.engine.clone(),
        ending.side.clone(),
        ending.validation.clone(),
        ending.error.clone(),
    );
    on_share(&ctx, move |ctx| {
        let share = &ctx.share;
        let mut doc = finish::document(share, &original, first_seen, &ending);
        if unreadable {
            doc = finish::with_original_text(doc, &text_of(&bytes), len);
        }
        let dir = if ending.error.is_none() {
            &share.completed
        } else {
            &share.failed
        };
        finish::deliver(share, claim, dir, &target, &doc)
    })
    .await?;
    metrics::ended(outcome, first_seen);
    match &error {
        None => tracing::info!(job_id, folder = ?folder, engine, side, validation, "job completed"),
        Some(error) => tracing::info!(job_id, outcome, error, "job failed"),
    }
    Ok(())
}

/// Reads a claimed job file: cleans up one finished before a restart, else reads its first bytes
/// and decides where its finished file goes.
fn open(ctx: &Context, claim: Claim) -> Result<Opened, BridgeError> {
    let share = &ctx.share;
    let finished = share.finished_file(&claim.name);
    if let Some(done) = &finished
        && claim.resumed
        && modified_since(done, claim.record.claimed())
    {
        // Written for this claim by a bridge that died before cleaning up. A finished file met
        // by a fresh claim, or older than the claim, is an earlier job's: a reused id.
        tracing::info!(
            job_file = claim.name,
            "the job was finished before a restart; cleaning up"
        );
        finish::clean_up(share, claim)?;
        return Ok(Opened::CleanedUp);
    }
    let path = share.processing.join(&claim.name);
    let max = ctx.config.max_job_file_bytes;
    let (bytes, len) = read_prefix(&path, max.saturating_add(1))?;
    // Never overwrite an earlier job's finished file.
    let target = match &finished {
        Some(_) => finish::duplicate_name(share, stem(&claim.name)),
        None => claim.name.clone(),
    };
    let fields = examine(ctx, &bytes, len);
    Ok(Opened::Job(Box::new(Pending {
        claim,
        bytes,
        len,
        finished,
        target,
        fields,
    })))
}

/// The job file's JSON object, or the refusal of a file that is not one. `bytes` are the file's
/// first bytes (up to one more than the limit), `len` its length.
fn examine(ctx: &Context, bytes: &[u8], len: u64) -> Result<Map<String, Value>, BridgeError> {
    let max = ctx.config.max_job_file_bytes;
    let reason = if len > max {
        format!("it is {len} bytes, more than the {max} bytes a job file may have")
    } else {
        match decode(bytes) {
            Decoded::Object(fields) => return Ok(fields),
            Decoded::NotAnObject(reason) => reason,
        }
    };
    Err(BridgeError::Refused(format!(
        "The job file could not be read as a job: {reason}. It stayed like this for {}, so it \
         was set aside: write it again as one JSON object with job_id, input_file, \
         portfolio_size, job_type and timestamp.",
        human(ctx.config.settle)
    )))
}

/// Validates the job, runs it on the router and writes its run folder.
async fn process(
    ctx: &Arc<Context>,
    claim: &Claim,
    fields: &Map<String, Value>,
) -> Result<Ending, BridgeError> {
    let job = job_file::parse(&claim.name, fields)?;
    let input_file = job.input_file.clone();
    let csv = on_share(ctx, move |ctx| {
        input_path::resolve(&input_file, &ctx.share, &ctx.config.unc_prefixes)
    })
    .await?;
    let csv_path = format!("{}/{}", ctx.csv_root.trim_end_matches('/'), csv.relative);
    let spec = JobSpec {
        job_id: job.job_id.clone(),
        input: Some(Input::CsvPath(csv_path.clone())),
        options: Some(hop_contract::options_to_proto(&job.options)),
        labels: job.labels,
    };
    tracing::info!(job_id = job.job_id, csv = %csv.local.display(), resumed = claim.resumed,
        sizes = ?job.options.sizes(), "job claimed");
    let timeout = ctx.config.job_timeout;
    let record = match tokio::time::timeout(timeout, ctx.router.run(spec)).await {
        Ok(record) => record?,
        Err(_) => {
            ctx.router
                .cancel(&job.job_id, "the share bridge's job_timeout passed")
                .await;
            return Err(BridgeError::Failed(format!(
                "The optimizer did not finish the job within {}, so it was stopped: submit it \
                 again later or with a smaller budget, and tell the optimizer's operators if \
                 this keeps happening.",
                human(timeout)
            )));
        }
    };
    let mut ending = Ending {
        engine: record.engine.clone(),
        side: record.side().label().to_owned(),
        validation: validation_name(record.validation()).to_owned(),
        ..Ending::default()
    };
    if record.state() != JobState::Succeeded {
        let unc_root = ctx
            .config
            .unc_prefixes
            .first()
            .map_or(crate::config::DEFAULT_UNC_PREFIX, String::as_str);
        let windows = format!("{unc_root}\\input\\{}", csv.relative.replace('/', "\\"));
        // Refusals from ingest and the engines name the server's path of the CSV; the analyst
        // knows it by the share's.
        ending.error = Some(failure_sentence(&record).replace(&csv_path, &windows));
        return Ok(ending);
    }
    let result = parse_result(&record)?;
    let info = RunInfo {
        job_id: Some(job.job_id),
        input_file: csv.name,
        timestamp: chrono::Local::now().naive_local(),
        side: (!ending.side.is_empty()).then(|| ending.side.clone()),
        engine: ending.engine.clone(),
        errors: Vec::new(),
        timings: vec![
            (
                "queue".into(),
                seconds_between(claim.record.first_seen(), claim.record.claimed()),
            ),
            (
                "engine".into(),
                record.result.as_ref().map_or(0.0, |r| r.seconds),
            ),
        ],
    };
    let output = ctx.share.output.clone();
    let claimed = claim.record.claimed();
    let folder = tokio::task::spawn_blocking(move || {
        let folder = run_folder::write_or_reuse(&output, &info, &result, claimed)?;
        Ok::<_, BridgeError>((folder, summary(&result)))
    })
    .await
    .map_err(|e| BridgeError::Failed(format!("The run folder writer stopped: {e}.")))?;
    let (folder, summary) = folder?;
    ending.stdout = format!(
        "{summary} Run folder: {}",
        finish::windows_output_dir(&ctx.share, &folder)
    );
    ending.run_folder = Some(folder);
    Ok(ending)
}

/// The `RunResult` in the record's `result_json`.
fn parse_result(record: &JobRecord) -> Result<RunResult, BridgeError> {
    let json = record.result.as_ref().map(|r| r.result_json.as_str());
    serde_json::from_str::<RunResult>(json.unwrap_or_default()).map_err(|e| {
        BridgeError::Failed(format!(
            "The optimizer finished the job but its result could not be read ({e}); please tell \
             the optimizer's operators."
        ))
    })
}

/// "Best portfolio: size 35, algorithm GA, fitness 1.234567."
fn summary(result: &RunResult) -> String {
    let best = result.best();
    format!(
        "Best portfolio: size {}, algorithm {}, fitness {:.6}.",
        best.portfolio_size,
        best.algorithm.as_str(),
        best.fitness
    )
}

fn failure_sentence(record: &JobRecord) -> String {
    let code = record.error_code.as_deref().unwrap_or("");
    match (record.state(), record.error_message.trim()) {
        (JobState::Cancelled, "") => "The job was cancelled on the optimizer.".into(),
        (JobState::Cancelled, why) => {
            format!("The job was cancelled on the optimizer: {}", sentence(why))
        }
        (_, "") => format!(
            "The optimizer could not complete the job ({code}) and gave no reason; please tell \
             the optimizer's operators."
        ),
        (_, why) => sentence(why),
    }
}

fn reused_id(job_id: &str, share: &Share, previous: &Path) -> String {
    let folder = if previous.starts_with(&share.completed) {
        "completed"
    } else {
        "failed"
    };
    format!(
        "job_id {job_id:?} was already used by an earlier job (see jobs\\{folder}\\{job_id}.json): \
         give every job a new job_id and submit the job again."
    )
}

fn validation_name(outcome: ValidationOutcome) -> &'static str {
    match outcome {
        ValidationOutcome::Unspecified => "none",
        ValidationOutcome::Pending => "pending",
        ValidationOutcome::Matched => "matched",
        ValidationOutcome::Mismatched => "mismatched",
        ValidationOutcome::ShadowFailed => "shadow_failed",
    }
}

fn seconds_between(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from).unwrap_or_default().as_secs_f64()
}

/// "10 minutes", "30 seconds", "300 ms".
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if duration.subsec_nanos() != 0 {
        format!("{} ms", duration.as_millis())
    } else if secs >= 60 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human(Duration::from_secs(60)), "1 minute");
        assert_eq!(human(Duration::from_secs(10)), "10 seconds");
        assert_eq!(human(Duration::from_millis(300)), "300 ms");
    }

    #[test]
    fn router_failures_become_sentences() {
        let mut record = JobRecord {
            state: JobState::Failed as i32,
            error_code: Some("INVALID_INPUT".into()),
            error_message: "x.csv line 3, column B: \"abc\" is not a number".into(),
            ..JobRecord::default()
        };
        assert_eq!(
            failure_sentence(&record),
            "x.csv line 3, column B: \"abc\" is not a number."
        );
        record.error_message.clear();
        assert!(failure_sentence(&record).contains("(INVALID_INPUT) and gave no reason"));
        record.state = JobState::Cancelled as i32;
        assert_eq!(
            failure_sentence(&record),
            "The job was cancelled on the optimizer."
        );
        assert_eq!(
            validation_name(ValidationOutcome::ShadowFailed),
            "shadow_failed"
        );
    }
}
