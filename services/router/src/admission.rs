//! [`Admission`]: how jobs enter the router and come back after a restart.
//!
//! - **Submit**: the spec is checked, routed ([`Cutover::route`]), stored with its `Queued` event
//!   and started. A job's identity is its id *and* its spec's hash ([`crate::record::spec_hash`]):
//!   the same id with the same spec is the same job (its record, `duplicate`, never a second run);
//!   the same id with another input or other options is refused with a sentence for the analyst.
//! - **Claim** ([`Admission::claim`]): the unfinished jobs whose lease expired (their replica
//!   stopped or was cut off; at start-up also this replica's own earlier run's) are leased to this
//!   replica and started again on the side they were routed to — at most `max_starts` times in
//!   all, so a job that keeps taking its router down ends as failed (`ATTEMPTS_EXHAUSTED`)
//!   instead of crash-looping; and every succeeded job whose shadow comparison was interrupted is
//!   compared again. The `leases` task claims at start-up and then periodically.

use std::sync::Arc;

use hop_proto::FailureCode;
use hop_proto::v1::job_event::{Event, Queued};
use hop_proto::v1::{JobEvent, JobSpec, JobState};
use tracing::Instrument;

use crate::cutover::Cutover;
use crate::dual_run::DualRun;
use crate::error::RouterError;
use crate::log::{JobLog, LiveJobs};
use crate::record::Job;
use crate::store::{Claim, Inserted};

/// Longest accepted job id.
const MAX_JOB_ID_CHARS: usize = 200;
/// Most jobs one claim takes (the rest wait for the next).
const CLAIM_LIMIT: usize = 64;

/// Submissions by whether the id was already known (`true`, `false`, `conflict`).
pub const SUBMITS_TOTAL: &str = "hop_router_submits_total";

/// Job admission; share it as `Arc<Admission>`.
#[derive(Debug)]
pub struct Admission {
    log: Arc<JobLog>,
    dual: Arc<DualRun>,
    cutover: Arc<Cutover>,
    max_starts: u32,
}

impl Admission {
    /// Admission over `dual`'s log and cut-over; a job is started at most `max_starts` times.
    pub fn new(dual: Arc<DualRun>, max_starts: u32) -> Arc<Self> {
        metrics::describe_counter!(SUBMITS_TOTAL, "Submissions by duplicate");
        Arc::new(Self {
            log: dual.log.clone(),
            cutover: dual.cutover.clone(),
            dual,
            max_starts,
        })
    }

    /// Accepts a job: stores it (idempotent by id and spec) and starts it. Returns its record
    /// and whether it already existed.
    pub async fn submit(&self, spec: JobSpec) -> Result<(Job, bool), RouterError> {
        check_spec(&spec)?;
        let route = self.cutover.route(&spec.job_id);
        // Shadows are compared by the validator: without one, none runs.
        let shadow = route.shadow.filter(|_| self.dual.compares());
        let job = Job::accepted(spec, route.primary, shadow);
        let queued = JobEvent {
            sequence: 1,
            ..JobEvent::now(job.id.clone(), Event::Queued(Queued {}))
        };
        let mut live = self.log.lock().await;
        match self.log.insert(&job, &queued).await? {
            Inserted::Existing(existing) if existing.spec_hash != job.spec_hash => {
                metrics::counter!(SUBMITS_TOTAL, "duplicate" => "conflict").increment(1);
                tracing::warn!(job_id = job.id, "a job id was reused for a different job");
                Err(RouterError::Conflict(format!(
                    "job_id {:?} was already used for a different job (another input file or \
                     other options): give this job a new job_id and submit it again",
                    job.id
                )))
            }
            Inserted::Existing(existing) => {
                metrics::counter!(SUBMITS_TOTAL, "duplicate" => "true").increment(1);
                tracing::info!(
                    job_id = job.id,
                    "duplicate submission: the job already exists"
                );
                Ok((*existing, true))
            }
            Inserted::New => {
                metrics::counter!(SUBMITS_TOTAL, "duplicate" => "false").increment(1);
                tracing::info!(job_id = job.id, side = job.side.label(), "job accepted");
                self.start(&mut live, job.clone(), 1);
                Ok((job, false))
            }
        }
    }

    /// Makes `job` live and spawns its driver.
    fn start(&self, live: &mut LiveJobs<'_>, job: Job, sequence: u64) {
        // Child of the Submit request's span (the caller's trace); a root after a restart.
        let span = tracing::info_span!("router.job", job_id = %job.id, side = job.side.label());
        let run = self
            .dual
            .clone()
            .drive(job.spec.clone(), job.side, job.shadow)
            .instrument(span);
        live.insert(job, sequence, || tokio::spawn(run).abort_handle());
    }

    /// Claims the jobs whose lease expired (at `startup` also this replica's earlier run's) and
    /// restarts each (bounded by `max_starts`), or compares it again when only its comparison was
    /// interrupted; returns how many jobs it claimed. A job that cannot be restarted is logged
    /// and left to its lease, which expires and is claimed again.
    pub async fn claim(&self, startup: bool) -> Result<usize, RouterError> {
        let claimed = self
            .log
            .claim(Claim {
                own_previous: startup,
                validations: self.dual.compares(),
                limit: CLAIM_LIMIT,
            })
            .await?;
        let count = claimed.len();
        for job in claimed {
            let job_id = job.id.clone();
            if let Err(e) = self.restart(job).await {
                tracing::error!(job_id, error = %e, "cannot restart a claimed job");
            }
        }
        Ok(count)
    }

    /// Restarts one claimed job.
    async fn restart(&self, mut job: Job) -> Result<(), RouterError> {
        if job.is_final() {
            self.log.settles(&job.id);
            tokio::spawn(self.dual.clone().revalidate(job));
            return Ok(());
        }
        let store = self.log.store();
        let sequence = store.last_sequence(&job.id).await?;
        let mut live = self.log.lock().await;
        if job.starts >= self.max_starts {
            tracing::error!(
                job_id = job.id,
                starts = job.starts,
                "a job was started the most times allowed without finishing: failing it"
            );
            let message = format!(
                "the job was started {} times and each time the optimizer stopped before it \
                 finished, so it is not started again: tell the optimizer's operators (the \
                 router's log names the job), then submit it under a new job_id",
                job.starts
            );
            let (log, id) = (self.log.clone(), job.id.clone());
            live.insert(job, sequence, || {
                tokio::spawn(async move {
                    log.fail(
                        &id,
                        JobState::Failed,
                        FailureCode::AttemptsExhausted,
                        message,
                    )
                    .await;
                })
                .abort_handle()
            });
            return Ok(());
        }
        job.starts += 1;
        store.update(&job, None).await?;
        tracing::info!(
            job_id = job.id,
            start = job.starts,
            "resuming a job (its router stopped or handed it over)"
        );
        self.start(&mut live, job, sequence);
        Ok(())
    }

    /// Cancels an unfinished job (whichever replica runs it) and returns its record; a final job
    /// is returned unchanged.
    pub async fn cancel(&self, job_id: &str, reason: &str) -> Result<Job, RouterError> {
        let why = if reason.is_empty() {
            "the job was cancelled".to_owned()
        } else {
            format!("the job was cancelled: {reason}")
        };
        if self.log.cancel(job_id, why).await? {
            tracing::info!(job_id, reason, "job cancelled");
        }
        self.log.get(job_id).await
    }
}

/// Refuses specs the router cannot store or route.
fn check_spec(spec: &JobSpec) -> Result<(), RouterError> {
    let id = &spec.job_id;
    if id.trim().is_empty() {
        return Err(RouterError::InvalidRequest(
            "JobSpec.job_id is empty: give the job a unique id".into(),
        ));
    }
    if id.chars().count() > MAX_JOB_ID_CHARS || id.chars().any(char::is_control) {
        return Err(RouterError::InvalidRequest(format!(
            "JobSpec.job_id {id:?} must be at most {MAX_JOB_ID_CHARS} characters without control \
             characters"
        )));
    }
    if spec.input.is_none() {
        return Err(RouterError::InvalidRequest(format!(
            "job {id} names no input: set csv_path or dataset_id"
        )));
    }
    Ok(())
}
