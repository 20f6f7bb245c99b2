//! The rolling-restart test's load: gRPC clients that submit and watch jobs back to back through
//! a channel balanced over both routers, and a share client that drops a job file at a steady
//! pace; what they saw, checked at the end.
//!
//! The clients behave as the bridge does (`hop_bridge::router`): a call that fails with a status
//! that may go away by itself (UNAVAILABLE, UNKNOWN, CANCELLED: a router or connection going
//! away) is retried with a capped backoff and counted as a retry; a broken or early-ended watch
//! is resumed from the last sequence seen. Any other status, or a call still failing after
//! [`CALL_DEADLINE`], is a failed client call.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hop_e2e::Cluster;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{
    GetRequest, JobEvent, JobRecord, JobSpec, JobState, SubmitRequest, WatchRequest,
};
use hop_runtime::client::{ClientSecurity, ServiceChannel};
use hop_runtime::security::CallerKind;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::{Code, Status};

/// The data of every job.
pub const FIXTURE: &str = "sensex_500x82.csv";
/// Evaluations per algorithm: a job of about a second (debug build) with the walk-forward.
const BUDGET: u64 = 20_000;
/// gRPC clients, each with one job in flight at a time.
const GRPC_CLIENTS: usize = 3;
/// How often a job file is dropped on the share.
const SHARE_EVERY: Duration = Duration::from_millis(300);
/// How often the share client looks for answers (the share latencies' resolution).
const SHARE_POLL: Duration = Duration::from_millis(20);
/// How long one call may keep failing with retryable statuses before it counts as failed.
const CALL_DEADLINE: Duration = Duration::from_secs(60);
/// How long a job may take from its submission to its final record.
const JOB_DEADLINE: Duration = Duration::from_secs(240);

type Client = JobsClient<ServiceChannel>;

/// One gRPC job as its client saw it.
struct GrpcJob {
    submitted: Instant,
    took: Duration,
    record: JobRecord,
    events: Vec<JobEvent>,
}

/// One share job: when its file was dropped and when its answer appeared.
struct ShareJob {
    id: String,
    dropped: Instant,
    answered: Option<(Instant, &'static str)>,
}

pub struct Load {
    router_uri: String,
    security: ClientSecurity,
    share: PathBuf,
    csv: String,
    /// Jobs answered so far (either kind).
    pub finished: AtomicU64,
    answered: Notify,
    stopping: AtomicBool,
    /// When the restarts began and ended.
    window: Mutex<(Option<Instant>, Option<Instant>)>,
    calls: AtomicU64,
    retried: Mutex<BTreeMap<String, u64>>,
    failures: Mutex<Vec<String>>,
    grpc: Mutex<Vec<(String, GrpcJob)>>,
    share_jobs: Mutex<Vec<ShareJob>>,
}

/// Job latencies (submission or drop to the final answer) by when the job was submitted.
#[derive(Default)]
pub struct Latencies {
    pub before: Vec<Duration>,
    pub during: Vec<Duration>,
}

impl Latencies {
    fn add(&mut self, when: Option<When>, took: Duration) {
        match when {
            Some(When::Before) => self.before.push(took),
            Some(When::During) => self.during.push(took),
            None => {}
        }
    }
}

#[derive(Clone, Copy)]
enum When {
    Before,
    During,
}

/// What the load saw, for the test's checks and figures.
pub struct Report {
    pub grpc_jobs: usize,
    pub share_jobs: usize,
    pub calls: u64,
    pub retried: u64,
    pub retry_reasons: String,
    pub restarted_jobs: usize,
    pub grpc_latencies: Latencies,
    pub share_latencies: Latencies,
    pub failures: Vec<String>,
}

impl Load {
    pub fn new(cluster: &Cluster) -> Self {
        let csv = cluster.share().join("input").join(FIXTURE);
        Self {
            router_uri: cluster.stack.uri("router"),
            security: cluster.caller(CallerKind::Client),
            share: cluster.share().to_path_buf(),
            csv: csv.display().to_string(),
            finished: AtomicU64::new(0),
            answered: Notify::new(),
            stopping: AtomicBool::new(false),
            window: Mutex::new((None, None)),
            calls: AtomicU64::new(0),
            retried: Mutex::new(BTreeMap::new()),
            failures: Mutex::new(Vec::new()),
            grpc: Mutex::new(Vec::new()),
            share_jobs: Mutex::new(Vec::new()),
        }
    }

    /// Starts the clients.
    pub fn start(self: Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut workers: Vec<JoinHandle<()>> = (0..GRPC_CLIENTS)
            .map(|i| tokio::spawn(self.clone().grpc_client(i)))
            .collect();
        workers.push(tokio::spawn(self.clone().share_client()));
        workers
    }

    pub fn mark_restarts_begin(&self) {
        self.window.lock().unwrap().0 = Some(Instant::now());
    }

    pub fn mark_restarts_end(&self) {
        self.window.lock().unwrap().1 = Some(Instant::now());
    }

    /// Waits until `count` jobs were answered in all, at most `limit` (then fails the test).
    pub async fn wait_finished(&self, count: u64, limit: Duration, what: &str) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let answered = self.answered.notified();
            if self.finished.load(Ordering::SeqCst) >= count {
                return;
            }
            let failures = self.failures.lock().unwrap().clone();
            assert!(
                failures.is_empty(),
                "while waiting for {what}: {failures:#?}"
            );
            if tokio::time::timeout_at(deadline, answered).await.is_err() {
                panic!("{what}: fewer than {count} jobs answered within {limit:?}");
            }
        }
    }

    fn fail(&self, failure: String) {
        self.failures.lock().unwrap().push(failure);
        self.answered.notify_waiters();
    }

    fn answered_one(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
        self.answered.notify_waiters();
    }

    /// One call, retried while it fails with a status that may go away by itself.
    async fn call<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let deadline = Instant::now() + CALL_DEADLINE;
        let mut pause = Duration::from_millis(50);
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            match call().await {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(status) if retryable(&status) && Instant::now() < deadline => {
                    self.count_retry(format!("{what} {:?}", status.code()));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(status) => return Err(format!("{what}: {status:?}")),
            }
        }
    }

    /// Counts one retry under `reason`.
    fn count_retry(&self, reason: String) {
        *self.retried.lock().unwrap().entry(reason).or_default() += 1;
    }

    fn spec(&self, job_id: &str) -> JobSpec {
        JobSpec {
            job_id: job_id.to_owned(),
            input: Some(Input::CsvPath(self.csv.clone())),
            options: Some(hop_proto::v1::JobOptions {
                min_size: 10,
                budget: Some(BUDGET),
                ..Default::default()
            }),
            labels: Default::default(),
        }
    }

    async fn grpc_client(self: Arc<Self>, client: usize) {
        let channel = self
            .security
            .balanced_channel(&self.router_uri)
            .expect("a channel over both routers");
        let jobs = JobsClient::new(channel)
            .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES);
        let mut n = 0;
        while !self.stopping.load(Ordering::SeqCst) {
            let job_id = format!("grpc-{client}-{n}");
            n += 1;
            let submitted = Instant::now();
            match self.run_job(&jobs, &job_id).await {
                Ok((record, events)) => {
                    let job = GrpcJob {
                        submitted,
                        took: submitted.elapsed(),
                        record,
                        events,
                    };
                    self.grpc.lock().unwrap().push((job_id, job));
                    self.answered_one();
                }
                Err(e) => self.fail(format!("{job_id}: {e}")),
            }
        }
    }

    /// Submit, watch to the final event (resuming after breaks), Get.
    async fn run_job(
        &self,
        jobs: &Client,
        job_id: &str,
    ) -> Result<(JobRecord, Vec<JobEvent>), String> {
        let spec = self.spec(job_id);
        self.call("Submit", || {
            let (mut jobs, spec) = (jobs.clone(), spec.clone());
            async move { jobs.submit(SubmitRequest { spec: Some(spec) }).await }
        })
        .await?;
        let deadline = Instant::now() + JOB_DEADLINE;
        let mut events: Vec<JobEvent> = Vec::new();
        'watch: while Instant::now() < deadline {
            let after_sequence = events.last().map_or(0, |e| e.sequence);
            let mut stream = self
                .call("Watch", || {
                    let mut jobs = jobs.clone();
                    let request = WatchRequest {
                        job_id: job_id.to_owned(),
                        after_sequence,
                    };
                    async move { jobs.watch(request).await }
                })
                .await?;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(event) => {
                        let last =
                            matches!(event.event, Some(Event::Finished(_) | Event::Failed(_)));
                        events.push(event);
                        if last {
                            break 'watch;
                        }
                    }
                    Err(status) if retryable(&status) => {
                        self.count_retry(format!("Watch stream {:?}", status.code()));
                        continue 'watch;
                    }
                    Err(status) => return Err(format!("Watch stream: {status:?}")),
                }
            }
            self.count_retry("Watch ended early".into());
        }
        let record = self
            .call("Get", || {
                let mut jobs = jobs.clone();
                let request = GetRequest {
                    job_id: job_id.to_owned(),
                };
                async move { jobs.get(request).await }
            })
            .await?;
        Ok((record, events))
    }

    async fn share_client(self: Arc<Self>) {
        let mut n = 0;
        let mut ticks = tokio::time::interval(SHARE_POLL);
        let mut last_drop: Option<Instant> = None;
        loop {
            ticks.tick().await;
            self.check_share_answers();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if last_drop.is_some_and(|at| at.elapsed() < SHARE_EVERY) {
                continue;
            }
            last_drop = Some(Instant::now());
            let id = format!("share-{n}");
            n += 1;
            self.drop_job_file(&id);
            self.share_jobs.lock().unwrap().push(ShareJob {
                id,
                dropped: Instant::now(),
                answered: None,
            });
        }
    }

    /// Writes `jobs/queue/<id>.json` whole (written aside, then renamed in).
    fn drop_job_file(&self, id: &str) {
        let json = format!(
            "{{\r\n  \"job_id\": \"{id}\",\r\n  \"input_file\": \"{FIXTURE}\",\r\n  \
             \"portfolio_size\": 10,\r\n  \"job_type\": \"complete_optimization\",\r\n  \
             \"timestamp\": \"2026-12-07 10:00:00\",\r\n  \"budget\": {BUDGET}\r\n}}\r\n"
        );
        let aside = self.share.join("jobs").join(format!(".{id}.writing"));
        std::fs::write(&aside, json).expect("job file written");
        let queued = self.share.join("jobs/queue").join(format!("{id}.json"));
        std::fs::rename(aside, queued).expect("job file queued");
    }

    /// Notes the share jobs whose answer appeared (in `jobs/completed/` or `jobs/failed/`).
    fn check_share_answers(&self) {
        let mut answered = 0;
        for job in self.share_jobs.lock().unwrap().iter_mut() {
            if job.answered.is_some() {
                continue;
            }
            for folder in ["completed", "failed"] {
                let file = self
                    .share
                    .join("jobs")
                    .join(folder)
                    .join(format!("{}.json", job.id));
                if file.exists() {
                    job.answered = Some((Instant::now(), folder));
                    answered += 1;
                    break;
                }
            }
        }
        for _ in 0..answered {
            self.answered_one();
        }
    }

    /// Stops the clients (each finishes its job in hand), waits for every share answer and
    /// checks what every job's client saw.
    pub async fn stop(&self, workers: Vec<JoinHandle<()>>, cluster: &Cluster) -> Report {
        self.stopping.store(true, Ordering::SeqCst);
        for worker in workers {
            worker.await.expect("a load client ended cleanly");
        }
        let deadline = Instant::now() + JOB_DEADLINE;
        loop {
            self.check_share_answers();
            let pending = self
                .share_jobs
                .lock()
                .unwrap()
                .iter()
                .filter(|j| j.answered.is_none())
                .count();
            if pending == 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (begin, end) = *self.window.lock().unwrap();
        let when = |at: Instant| match (begin, end) {
            (Some(b), _) if at < b => Some(When::Before),
            (Some(_), Some(e)) if at > e => None,
            (Some(_), _) => Some(When::During),
            (None, _) => Some(When::Before),
        };
        let mut failures = self.failures.lock().unwrap().clone();
        let grpc = self.grpc.lock().unwrap();
        let reference = grpc
            .first()
            .and_then(|(_, job)| job.record.result.as_ref())
            .map(|r| r.best_fitness.to_bits());
        let mut restarted_jobs = 0;
        let mut grpc_latencies = Latencies::default();
        for (id, job) in grpc.iter() {
            failures.extend(grpc_problems(id, job, reference));
            let started = job
                .events
                .iter()
                .filter(|e| matches!(e.event, Some(Event::Started(_))))
                .count();
            if started > 1 {
                restarted_jobs += 1;
            }
            grpc_latencies.add(when(job.submitted), job.took);
        }
        let share_jobs = self.share_jobs.lock().unwrap();
        let mut share_latencies = Latencies::default();
        for job in share_jobs.iter() {
            match job.answered {
                None => failures.push(format!("{}: no answer on the share (lost)", job.id)),
                Some((_, "failed")) => {
                    failures.push(format!("{}: answered in jobs/failed", job.id))
                }
                Some((at, _)) => share_latencies.add(when(job.dropped), at - job.dropped),
            }
            let folders = cluster.run_folders(&job.id).len();
            if job.answered.is_some() && folders != 1 {
                failures.push(format!("{}: {folders} run folders (one expected)", job.id));
            }
        }
        let retried = self.retried.lock().unwrap();
        Report {
            grpc_jobs: grpc.len(),
            share_jobs: share_jobs.len(),
            calls: self.calls.load(Ordering::Relaxed),
            retried: retried.values().sum(),
            retry_reasons: format!("{retried:?}"),
            restarted_jobs,
            grpc_latencies,
            share_latencies,
            failures,
        }
    }
}

/// What is wrong with a gRPC job: not succeeded, not exactly one `Finished`, a gap or repeat in
/// its event sequence, or a result other than every other run's of the same spec.
fn grpc_problems(id: &str, job: &GrpcJob, reference: Option<u64>) -> Vec<String> {
    let mut problems = Vec::new();
    if job.record.state() != JobState::Succeeded {
        problems.push(format!(
            "{id}: {:?}: {}",
            job.record.state(),
            job.record.error_message
        ));
    }
    let finished = job
        .events
        .iter()
        .filter(|e| matches!(e.event, Some(Event::Finished(_))))
        .count();
    if finished != 1 {
        problems.push(format!("{id}: {finished} Finished events"));
    }
    let sequences: Vec<u64> = job.events.iter().map(|e| e.sequence).collect();
    if sequences
        .iter()
        .enumerate()
        .any(|(i, s)| *s != i as u64 + 1)
    {
        problems.push(format!("{id}: event sequence {sequences:?}"));
    }
    let bits = job.record.result.as_ref().map(|r| r.best_fitness.to_bits());
    if bits != reference {
        problems.push(format!(
            "{id}: best fitness bits {bits:?}, other runs {reference:?}"
        ));
    }
    problems
}

/// Whether a status may go away by itself (a router or a connection going away).
fn retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled
    )
}

/// The median and the 99th percentile.
pub fn percentiles(latencies: &[Duration]) -> (Duration, Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (at(0.5), at(0.99))
}
