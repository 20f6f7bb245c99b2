//! [`JobLog`]: every job's record and numbered event history — the store, the live jobs of this
//! router, and the broadcast to their watchers.
//!
//! Every event goes through [`JobLog::emit`] (or [`JobLog::progress`]): it is numbered, stored
//! with the job's updated record in one transaction, then broadcast. Watchers read the stored
//! history first and then the broadcast, skipping what they already sent, so a watcher never
//! misses or repeats an event whichever way the two race.
//!
//! A final event whose write fails is retried ([`FINAL_WRITE_TRIES`]); if it still cannot be
//! stored it is published anyway (the client gets its answer), counted in
//! `hop_router_store_write_failures_total` and logged: the store still shows the job unfinished,
//! so a restart runs it again, and the deterministic search gives the same answer.
//!
//! **Several replicas.** The live jobs are the ones this replica holds the lease of (see
//! [`crate::store`]). A write refused because another replica holds the job now ends the local
//! run at once ([`LEASES_LOST_TOTAL`]); its watchers carry on from the store. A watcher of a job
//! this replica does not run follows the store every [`Replica::watch_poll`] until the job's
//! final event; once this replica is stopping, such a watcher ends with `REPLICA_STOPPING` and
//! the sequence to watch again from, so the client moves to a replica that stays.

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::Stream;
use hop_proto::FailureCode;
use hop_proto::v1::job_event::{Event, Failed};
use hop_proto::v1::{JobEvent, JobState, ValidationOutcome};
use hop_runtime::Shutdown;
use tokio::sync::{Mutex, MutexGuard, Notify, broadcast};
use tokio::task::AbortHandle;

use crate::error::RouterError;
use crate::record::{Failure, Job};
use crate::store::{Claim, Inserted, JobStore, Owner};

/// Live events buffered per job for slow watchers (they re-read the store when they lag).
const LIVE_BUFFER: usize = 256;
/// Tries of a final event's write before it is published unstored.
pub const FINAL_WRITE_TRIES: u32 = 5;
/// The pause before the first retry of a final write (doubling after each).
const FINAL_WRITE_BACKOFF: Duration = Duration::from_millis(100);

/// Jobs by primary side and outcome (`succeeded`, `failed`, `cancelled`).
pub const JOBS_TOTAL: &str = "hop_router_jobs_total";
/// Time from acceptance to the final state, by side.
pub const JOB_SECONDS: &str = "hop_router_job_seconds";
/// Jobs accepted and not yet final.
pub const JOBS_IN_FLIGHT: &str = "hop_router_jobs_in_flight";
/// Writes to the job store that failed, by what was written (`event`, `final`, `record`).
pub const STORE_WRITE_FAILURES_TOTAL: &str = "hop_router_store_write_failures_total";
/// Jobs this replica stopped running because another replica holds them now.
pub const LEASES_LOST_TOTAL: &str = "hop_router_leases_lost_total";

/// This router replica, as the log needs it.
#[derive(Debug, Clone)]
pub struct Replica {
    /// Whose leases this replica's jobs hold.
    pub owner: Owner,
    /// How often a watcher of a job another replica runs reads the store.
    pub watch_poll: Duration,
    /// Fires when the replica starts stopping.
    pub stopping: Shutdown,
}

/// A boxed stream of job events for `Watch`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, RouterError>> + Send>>;

/// A change to a job's record that goes with an event.
pub type Change<'a> = &'a (dyn Fn(&mut Job) + Send + Sync);

/// A job that is not final yet.
struct Live {
    job: Job,
    sequence: u64,
    tx: broadcast::Sender<JobEvent>,
    task: Option<AbortHandle>,
}

/// The live jobs, locked while a job is admitted or one of its events is written.
pub struct LiveJobs<'a>(MutexGuard<'a, HashMap<String, Live>>);

impl LiveJobs<'_> {
    /// Makes `job` live after its last stored event `sequence`, its task given by `start`.
    pub fn insert(&mut self, job: Job, sequence: u64, start: impl FnOnce() -> AbortHandle) {
        let task = Some(start());
        self.add(job, sequence, task);
    }

    /// Makes `job` live without a task (it is ended at once, e.g. cancelled).
    pub fn adopt(&mut self, job: Job, sequence: u64) {
        self.add(job, sequence, None);
    }

    fn add(&mut self, job: Job, sequence: u64, task: Option<AbortHandle>) {
        let (tx, _) = broadcast::channel(LIVE_BUFFER);
        metrics::gauge!(JOBS_IN_FLIGHT).increment(1.0);
        let live = Live {
            job,
            sequence,
            tx,
            task,
        };
        self.0.insert(live.job.id.clone(), live);
    }
}

/// Ends this replica's run of a job another replica holds now.
fn lose(live: &mut HashMap<String, Live>, job_id: &str) {
    let Some(mut entry) = live.remove(job_id) else {
        return;
    };
    if let Some(task) = entry.task.take() {
        task.abort();
    }
    metrics::gauge!(JOBS_IN_FLIGHT).decrement(1.0);
    metrics::counter!(LEASES_LOST_TOTAL).increment(1);
    tracing::warn!(
        job_id,
        "another router replica holds this job now: this replica stopped running it"
    );
}

/// Every job's record and history.
pub struct JobLog {
    store: Arc<dyn JobStore>,
    replica: Replica,
    live: Mutex<HashMap<String, Live>>,
    /// Final jobs whose shadow comparison this replica is still settling (their leases are
    /// renewed until it is stored).
    settling: std::sync::Mutex<HashSet<String>>,
    /// Woken when the last live job ends.
    idle: Notify,
}

impl std::fmt::Debug for JobLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLog")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl JobLog {
    /// The log of `replica` over `store`.
    pub fn new(store: Arc<dyn JobStore>, replica: Replica) -> Arc<Self> {
        metrics::describe_counter!(JOBS_TOTAL, "Jobs by primary side and outcome");
        metrics::describe_histogram!(JOB_SECONDS, metrics::Unit::Seconds, "Job time in router");
        metrics::describe_gauge!(JOBS_IN_FLIGHT, "Jobs accepted and not final");
        metrics::describe_counter!(STORE_WRITE_FAILURES_TOTAL, "Failed job store writes");
        metrics::describe_counter!(LEASES_LOST_TOTAL, "Jobs taken over by another replica");
        metrics::gauge!(JOBS_IN_FLIGHT).set(0.0);
        metrics::counter!(LEASES_LOST_TOTAL).increment(0);
        for what in ["event", "final", "record"] {
            metrics::counter!(STORE_WRITE_FAILURES_TOTAL, "what" => what).increment(0);
        }
        Arc::new(Self {
            store,
            replica,
            live: Mutex::new(HashMap::new()),
            settling: std::sync::Mutex::new(HashSet::new()),
            idle: Notify::new(),
        })
    }

    /// This replica.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    fn settling(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.settling.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that this replica settles the comparison of a final job (claimed to revalidate).
    pub fn settles(&self, job_id: &str) {
        self.settling().insert(job_id.to_owned());
    }

    /// Leases `claim`'s jobs to this replica (see [`JobStore::claim`]).
    pub async fn claim(&self, claim: Claim) -> Result<Vec<Job>, RouterError> {
        self.store.claim(&self.replica.owner, claim).await
    }

    /// Renews the leases of the jobs this replica runs or settles; ends the local run of those
    /// whose lease is gone. Returns how many it renewed.
    pub async fn renew(&self) -> Result<usize, RouterError> {
        // Locked across the renewal: a job admitted meanwhile is stored, and renewed, first.
        let mut live = self.live.lock().await;
        let mut ids: Vec<String> = live.keys().cloned().collect();
        ids.extend(self.settling().iter().cloned());
        let renewed: HashSet<String> = self
            .store
            .renew(&self.replica.owner, &ids)
            .await?
            .into_iter()
            .collect();
        for id in ids.iter().filter(|id| !renewed.contains(*id)) {
            lose(&mut live, id);
            self.settling().remove(id);
        }
        if live.is_empty() {
            self.idle.notify_waiters();
        }
        Ok(renewed.len())
    }

    /// Waits until no job is live here, at most until `deadline`; true when none is.
    pub async fn wait_idle(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.live.lock().await.is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.live.lock().await.is_empty();
            }
        }
    }

    /// Stops every local run and hands the jobs over: their leases end now, so another replica
    /// claims them. Returns how many jobs were released.
    pub async fn hand_over(&self) -> Result<u64, RouterError> {
        let mut live = self.live.lock().await;
        for (_, mut entry) in live.drain() {
            if let Some(task) = entry.task.take() {
                task.abort();
            }
            metrics::gauge!(JOBS_IN_FLIGHT).decrement(1.0);
        }
        self.settling().clear();
        self.store.release(&self.replica.owner).await
    }

    /// The store behind the log.
    pub fn store(&self) -> &dyn JobStore {
        self.store.as_ref()
    }

    /// Locks the live jobs (admission holds this across the store insert and the start, so that
    /// no watcher sees a stored job that is neither live nor final).
    pub async fn lock(&self) -> LiveJobs<'_> {
        LiveJobs(self.live.lock().await)
    }

    /// Stores a new job with its `Queued` event; `Existing` when the id is known.
    pub async fn insert(&self, job: &Job, queued: &JobEvent) -> Result<Inserted, RouterError> {
        self.store.insert(job, queued, &self.replica.owner).await
    }

    /// Numbers, stores and broadcasts one event of a live job, applying `change` to its record.
    /// A final event (`Finished`, `Failed`) ends the job. Returns false when the job is not live
    /// (cancelled meanwhile).
    pub async fn emit(&self, job_id: &str, event: Event, change: Change<'_>) -> bool {
        let mut live = self.live.lock().await;
        let Some(entry) = live.get_mut(job_id) else {
            return false;
        };
        let mut job = entry.job.clone();
        change(&mut job);
        let mut event = JobEvent::now(job_id, event);
        event.sequence = entry.sequence + 1;
        let written = if job.is_final() {
            self.write_final(&job, &event).await
        } else {
            self.store.update(&job, Some(&event)).await
        };
        match written {
            Ok(()) => {}
            Err(RouterError::LeaseLost(_)) => {
                lose(&mut live, job_id);
                return false;
            }
            // Published anyway: see the module docs.
            Err(_) if job.is_final() => {}
            Err(e) => {
                // The event is not durable: do not publish it (a restart re-runs the job).
                metrics::counter!(STORE_WRITE_FAILURES_TOTAL, "what" => "event").increment(1);
                tracing::error!(job_id, error = %e, "cannot store a job event");
                return true;
            }
        }
        entry.sequence = event.sequence;
        entry.job = job;
        let _ = entry.tx.send(event);
        if entry.job.is_final() {
            let entry = live.remove(job_id).expect("present");
            if entry.job.validation.outcome == ValidationOutcome::Pending {
                self.settles(job_id);
            }
            finished_metrics(&entry.job);
            if live.is_empty() {
                self.idle.notify_waiters();
            }
        }
        true
    }

    /// Stores a final event, retrying; gives up (counted, logged) after [`FINAL_WRITE_TRIES`],
    /// at once when the lease is lost.
    async fn write_final(&self, job: &Job, event: &JobEvent) -> Result<(), RouterError> {
        let mut pause = FINAL_WRITE_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.store.update(job, Some(event)).await {
                Ok(()) => return Ok(()),
                Err(e @ RouterError::LeaseLost(_)) => return Err(e),
                Err(e) if attempt < FINAL_WRITE_TRIES => {
                    tracing::warn!(job_id = job.id, attempt, error = %e,
                        "cannot store a job's final event; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    metrics::counter!(STORE_WRITE_FAILURES_TOTAL, "what" => "final").increment(1);
                    tracing::error!(job_id = job.id, tries = FINAL_WRITE_TRIES, error = %e,
                        "the job's final event could not be stored: it is delivered to its \
                         watchers, and a router restart will run the job again");
                    return Err(e);
                }
            }
        }
    }

    /// Changes a job's record without an event: a live job's in memory and in the store, a
    /// final job's in the store only (e.g. the shadow's outcome after the job's final event).
    pub async fn annotate(&self, job_id: &str, change: Change<'_>) {
        let mut live = self.live.lock().await;
        let job = match live.get(job_id) {
            Some(entry) => Some(entry.job.clone()),
            None => match self.store.get(job_id).await {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!(job_id, error = %e, "cannot read a job to update it");
                    None
                }
            },
        };
        let Some(mut job) = job else {
            return;
        };
        change(&mut job);
        match self.store.update(&job, None).await {
            Ok(()) => {
                if job.validation.outcome != ValidationOutcome::Pending {
                    self.settling().remove(job_id);
                }
                if let Some(entry) = live.get_mut(job_id) {
                    entry.job = job;
                }
            }
            Err(RouterError::LeaseLost(_)) => {
                lose(&mut live, job_id);
                self.settling().remove(job_id);
            }
            Err(e) => {
                metrics::counter!(STORE_WRITE_FAILURES_TOTAL, "what" => "record").increment(1);
                tracing::error!(job_id, error = %e, "cannot update a job record");
            }
        }
    }

    /// Stores and broadcasts a progress event without touching the record.
    pub async fn progress(&self, job_id: &str, event: Event) {
        let mut live = self.live.lock().await;
        let Some(entry) = live.get_mut(job_id) else {
            return;
        };
        let mut event = JobEvent::now(job_id, event);
        event.sequence = entry.sequence + 1;
        match self.store.append(&event, entry.job.generation).await {
            Ok(()) => {
                entry.sequence = event.sequence;
                let _ = entry.tx.send(event);
            }
            Err(RouterError::LeaseLost(_)) => lose(&mut live, job_id),
            Err(e) => {
                metrics::counter!(STORE_WRITE_FAILURES_TOTAL, "what" => "event").increment(1);
                tracing::warn!(job_id, error = %e, "cannot store a progress event");
            }
        }
    }

    /// Ends a live job with `Failed{code, message}` in state `state`.
    pub async fn fail(&self, job_id: &str, state: JobState, code: FailureCode, message: String) {
        let failure = Failure {
            code,
            message: message.clone(),
        };
        let change = move |job: &mut Job| {
            job.state = state;
            job.finished_at = Some(SystemTime::now());
            job.failure = Some(failure.clone());
        };
        let event = Event::Failed(Failed {
            code: code.as_str().to_owned(),
            message,
        });
        self.emit(job_id, event, &change).await;
    }

    /// Ends an unfinished job as cancelled, whichever replica runs it: a local run's task is
    /// stopped (dropping its engine call, which cancels it on the engine); a job another replica
    /// runs is taken from it first (its next write is refused and its run stops). False when the
    /// job is final, unknown or already ending.
    pub async fn cancel(&self, job_id: &str, why: String) -> Result<bool, RouterError> {
        let task = self
            .live
            .lock()
            .await
            .get_mut(job_id)
            .map(|l| l.task.take());
        match task {
            Some(Some(task)) => task.abort(),
            Some(None) => return Ok(false),
            None => {
                let Some(job) = self.store.take(job_id, &self.replica.owner).await? else {
                    return Ok(false);
                };
                let sequence = self.store.last_sequence(job_id).await?;
                self.lock().await.adopt(job, sequence);
            }
        }
        self.fail(job_id, JobState::Cancelled, FailureCode::Cancelled, why)
            .await;
        Ok(true)
    }

    /// A job's record.
    pub async fn get(&self, job_id: &str) -> Result<Job, RouterError> {
        self.store
            .get(job_id)
            .await?
            .ok_or_else(|| RouterError::NotFound(job_id.to_owned()))
    }

    /// A job's events after `after_sequence`: the stored history, then live events until the
    /// final one.
    pub async fn watch(
        self: &Arc<Self>,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<EventStream, RouterError> {
        let receiver = self.live.lock().await.get(job_id).map(|l| l.tx.subscribe());
        let history = self.store.events(job_id, after_sequence).await?;
        // Not live here: the record says whether there is more to wait for.
        let ended = match &receiver {
            Some(_) => false,
            None => match self.store.get(job_id).await? {
                Some(job) => job.is_final(),
                None if history.is_empty() => {
                    return Err(RouterError::NotFound(job_id.to_owned()));
                }
                None => true,
            },
        };
        let state = Watcher {
            log: self.clone(),
            job_id: job_id.to_owned(),
            last: after_sequence,
            pending: history.into(),
            receiver,
            idle: false,
            ended,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, Watcher::next)))
    }
}

/// One `Watch` stream's state: history first, then live events (or, for a job this replica does
/// not run, the store's), each sequence once, until a final event.
struct Watcher {
    log: Arc<JobLog>,
    job_id: String,
    last: u64,
    pending: VecDeque<JobEvent>,
    receiver: Option<broadcast::Receiver<JobEvent>>,
    /// The last read of the store found nothing new.
    idle: bool,
    /// The job was final when the watch began: the history is all there is.
    ended: bool,
    done: bool,
}

impl Watcher {
    async fn next(mut self) -> Option<(Result<JobEvent, RouterError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                if event.sequence <= self.last {
                    continue;
                }
                self.last = event.sequence;
                self.done = matches!(event.event, Some(Event::Finished(_) | Event::Failed(_)));
                return Some((Ok(event), self));
            }
            let Some(receiver) = self.receiver.as_mut() else {
                if self.ended {
                    return None;
                }
                if let Err(e) = self.follow_store().await {
                    self.done = true;
                    return Some((Err(e), self));
                }
                continue;
            };
            match receiver.recv().await {
                Ok(event) => self.pending.push_back(event),
                Err(
                    broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed,
                ) => {
                    // Fell behind, or the job ended: what was missed is in the store.
                    let closed = receiver.is_empty()
                        && self.log.live.lock().await.get(&self.job_id).is_none();
                    match self.log.store.events(&self.job_id, self.last).await {
                        Ok(events) => self.pending.extend(events),
                        Err(e) => {
                            self.done = true;
                            return Some((Err(e), self));
                        }
                    }
                    if closed {
                        self.receiver = None;
                    }
                }
            }
        }
    }

    /// Reads what the store has after the last event sent, pausing first when the last read
    /// found nothing; starts listening when the job became live here meanwhile. Fails when this
    /// replica is stopping, naming where to watch again from.
    async fn follow_store(&mut self) -> Result<(), RouterError> {
        let log = &self.log;
        if log.replica.stopping.is_triggered() {
            return Err(RouterError::Stopping {
                job_id: self.job_id.clone(),
                after_sequence: self.last,
            });
        }
        if self.idle {
            tokio::select! {
                () = tokio::time::sleep(log.replica.watch_poll) => {}
                () = log.replica.stopping.wait() => {}
            }
        }
        // Subscribed before the read: an event written after it is heard, not missed.
        self.receiver = log
            .live
            .lock()
            .await
            .get(&self.job_id)
            .map(|l| l.tx.subscribe());
        let events = log.store.events(&self.job_id, self.last).await?;
        self.idle = events.iter().all(|e| e.sequence <= self.last);
        self.pending.extend(events);
        Ok(())
    }
}

fn finished_metrics(job: &Job) {
    let outcome = match job.state {
        JobState::Succeeded => "succeeded",
        JobState::Cancelled => "cancelled",
        _ => "failed",
    };
    let side = job.side.label();
    metrics::counter!(JOBS_TOTAL, "side" => side, "outcome" => outcome).increment(1);
    metrics::gauge!(JOBS_IN_FLIGHT).decrement(1.0);
    if let Some(finished) = job.finished_at {
        let seconds = finished
            .duration_since(job.created_at)
            .unwrap_or_default()
            .as_secs_f64();
        metrics::histogram!(JOB_SECONDS, "side" => side).record(seconds);
    }
}
