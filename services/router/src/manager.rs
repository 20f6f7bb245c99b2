//! [`JobManager`]: the router's job logic behind the gRPC edge — accept, route, record, publish,
//! cancel and resume jobs. [`crate::runner`] drives each job on its engine.
//!
//! Every event of a job goes through [`JobManager::emit`]: it is numbered, stored with the
//! job's updated record in one transaction, then broadcast to live watchers. Watchers read the
//! stored history first and then the broadcast, skipping what they already sent, so a watcher
//! never misses or repeats an event whichever way the two race.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::Stream;
use hop_proto::v1::job_event::{Event, Failed, Queued};
use hop_proto::v1::validator_client::ValidatorClient;
use hop_proto::v1::{JobEvent, JobRecord, JobSpec, JobState, Side, ValidationOutcome};
use hop_runtime::trace::TracedChannel;
use tokio::sync::{Semaphore, broadcast};
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::config::RouterConfig;
use crate::cutover::Cutover;
use crate::error::RouterError;
use crate::store::{Inserted, JobStore};

/// Live events buffered per job for slow watchers (they re-read the store when they lag).
const LIVE_BUFFER: usize = 256;
/// Longest accepted job id.
const MAX_JOB_ID_CHARS: usize = 200;

/// Jobs by primary side and outcome (`succeeded`, `failed`, `cancelled`).
pub const JOBS_TOTAL: &str = "hop_router_jobs_total";
/// Time from acceptance to the final state, by side.
pub const JOB_SECONDS: &str = "hop_router_job_seconds";
/// Jobs accepted and not yet final.
pub const JOBS_IN_FLIGHT: &str = "hop_router_jobs_in_flight";
/// Submissions by whether the id was already known.
pub const SUBMITS_TOTAL: &str = "hop_router_submits_total";
/// Jobs re-run on blue after green failed as primary.
pub const FALLBACKS_TOTAL: &str = "hop_router_fallbacks_total";

/// A boxed stream of job events for `Watch`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, tonic::Status>> + Send>>;

/// A job that is not final yet.
struct Live {
    record: JobRecord,
    sequence: u64,
    tx: broadcast::Sender<JobEvent>,
    task: Option<AbortHandle>,
}

/// The router's jobs.
pub struct JobManager {
    pub(crate) config: RouterConfig,
    store: JobStore,
    live: Mutex<HashMap<String, Live>>,
    pub(crate) slots: Semaphore,
    /// Routing, the safety latch and the health window.
    pub(crate) cutover: Arc<Cutover>,
    /// The validator, when configured (without one, no shadow runs).
    pub(crate) validator: Option<ValidatorClient<TracedChannel>>,
}

impl std::fmt::Debug for JobManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobManager")
            .field("config", &self.config)
            .finish()
    }
}

/// A record change that goes with an event.
pub(crate) type Change<'a> = &'a dyn Fn(&mut JobRecord);

fn now() -> Option<prost_types::Timestamp> {
    Some(SystemTime::now().into())
}

fn side_label(side: Side) -> &'static str {
    match side {
        Side::Blue => "blue",
        Side::Green => "green",
        Side::Unspecified => "unspecified",
    }
}

fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded | JobState::Failed | JobState::Cancelled
    )
}

impl JobManager {
    /// A manager over `store`; call [`JobManager::resume`] to restart unfinished jobs.
    pub fn new(
        config: RouterConfig,
        store: JobStore,
        cutover: Arc<Cutover>,
    ) -> Result<Arc<Self>, RouterError> {
        metrics::describe_counter!(JOBS_TOTAL, "Jobs by primary side and outcome");
        metrics::describe_histogram!(JOB_SECONDS, metrics::Unit::Seconds, "Job time in router");
        metrics::describe_gauge!(JOBS_IN_FLIGHT, "Jobs accepted and not final");
        metrics::describe_counter!(SUBMITS_TOTAL, "Submissions by duplicate");
        metrics::describe_counter!(FALLBACKS_TOTAL, "Jobs re-run on blue after green failed");
        metrics::gauge!(JOBS_IN_FLIGHT).set(0.0);
        metrics::counter!(FALLBACKS_TOTAL).increment(0);
        let validator = match &config.validator {
            None => None,
            Some(uri) => Some(
                ValidatorClient::new(hop_runtime::client::lazy_channel(uri).map_err(|e| {
                    RouterError::InvalidRequest(format!(
                        "validator address {uri:?} is not a URI: {e}"
                    ))
                })?)
                .max_encoding_message_size(crate::runner::MAX_MESSAGE_BYTES)
                .max_decoding_message_size(crate::runner::MAX_MESSAGE_BYTES),
            ),
        };
        Ok(Arc::new(Self {
            slots: Semaphore::new(config.max_parallel_jobs),
            config,
            store,
            live: Mutex::new(HashMap::new()),
            cutover,
            validator,
        }))
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts a job: stores it (idempotent by id) and starts it. Returns its record and whether
    /// it already existed.
    pub fn submit(self: &Arc<Self>, spec: JobSpec) -> Result<(JobRecord, bool), RouterError> {
        check_spec(&spec)?;
        let job_id = spec.job_id.clone();
        let route = self.cutover.route(&job_id);
        let side = route.primary;
        // Shadows are compared by the validator: without one, none runs.
        let shadow = route.shadow.filter(|_| self.validator.is_some());
        let record = JobRecord {
            job_id: job_id.clone(),
            state: JobState::Queued as i32,
            side: side as i32,
            created_at: now(),
            spec: Some(spec.clone()),
            shadow_side: shadow.map_or(Side::Unspecified, |s| s) as i32,
            validation: if shadow.is_some() {
                ValidationOutcome::Pending
            } else {
                ValidationOutcome::Unspecified
            } as i32,
            ..JobRecord::default()
        };
        let queued = JobEvent {
            sequence: 1,
            ..JobEvent::now(job_id.clone(), Event::Queued(Queued {}))
        };
        let mut live = self.live();
        match self.store.insert(&record, &queued)? {
            Inserted::Existing(existing) => {
                metrics::counter!(SUBMITS_TOTAL, "duplicate" => "true").increment(1);
                tracing::info!(job_id, "duplicate submission: the job already exists");
                Ok((*existing, true))
            }
            Inserted::New => {
                metrics::counter!(SUBMITS_TOTAL, "duplicate" => "false").increment(1);
                metrics::gauge!(JOBS_IN_FLIGHT).increment(1.0);
                tracing::info!(job_id, side = side_label(side), "job accepted");
                self.start(&mut live, record.clone(), 1, spec);
                Ok((record, false))
            }
        }
    }

    /// Registers a live job and spawns its runner (under the live lock, so that no watcher sees
    /// a stored job that is neither live nor final).
    fn start(
        self: &Arc<Self>,
        live: &mut HashMap<String, Live>,
        record: JobRecord,
        sequence: u64,
        spec: JobSpec,
    ) {
        let job_id = record.job_id.clone();
        let side = record.side();
        let shadow = Some(record.shadow_side()).filter(|s| *s != Side::Unspecified);
        let (tx, _) = broadcast::channel(LIVE_BUFFER);
        // Child of the Submit request's span (the caller's trace); a root after a restart.
        let span = tracing::info_span!("router.job", job_id = %job_id, side = crate::runner::side_name(side));
        let task =
            tokio::spawn(crate::runner::drive(self.clone(), spec, side, shadow).instrument(span));
        live.insert(
            job_id,
            Live {
                record,
                sequence,
                tx,
                task: Some(task.abort_handle()),
            },
        );
    }

    /// Restarts every job the store holds as queued or running (after a router restart). Each
    /// runs again on the side it was routed to.
    pub fn resume(self: &Arc<Self>) -> Result<usize, RouterError> {
        let unfinished = self.store.unfinished()?;
        let mut live = self.live();
        for record in &unfinished {
            let Some(spec) = record.spec.clone() else {
                continue;
            };
            let sequence = self.store.last_sequence(&record.job_id)?;
            tracing::info!(job_id = record.job_id, "resuming a job after a restart");
            metrics::gauge!(JOBS_IN_FLIGHT).increment(1.0);
            self.start(&mut live, record.clone(), sequence, spec);
        }
        Ok(unfinished.len())
    }

    /// Numbers, stores and broadcasts one event of a live job, applying `change` to its record.
    /// A final event (`Finished`, `Failed`) ends the job. Returns false when the job is not live
    /// (cancelled meanwhile).
    pub(crate) fn emit(&self, job_id: &str, event: Event, change: Change<'_>) -> bool {
        let mut live = self.live();
        let Some(entry) = live.get_mut(job_id) else {
            return false;
        };
        let mut record = entry.record.clone();
        change(&mut record);
        let mut event = JobEvent::now(job_id, event);
        event.sequence = entry.sequence + 1;
        if let Err(e) = self.store.update(&record, &event) {
            // The event is not durable: do not publish it (a restart re-runs the job).
            tracing::error!(job_id, error = %e, "cannot store a job event");
            return true;
        }
        entry.sequence = event.sequence;
        entry.record = record;
        let _ = entry.tx.send(event);
        let state = entry.record.state();
        if is_final(state) {
            let entry = live.remove(job_id).expect("present");
            finished_metrics(&entry.record);
        }
        true
    }

    /// Changes a live job's record without an event (e.g. the side after a fallback).
    pub(crate) fn annotate_live(&self, job_id: &str, change: Change<'_>) {
        let mut live = self.live();
        if let Some(entry) = live.get_mut(job_id) {
            let mut record = entry.record.clone();
            change(&mut record);
            match self.store.update_record(&record) {
                Ok(()) => entry.record = record,
                Err(e) => tracing::error!(job_id, error = %e, "cannot update a job record"),
            }
        }
    }

    /// Changes a job's stored record without an event (the shadow's outcome, after the job's
    /// final event).
    pub(crate) fn annotate(&self, job_id: &str, change: Change<'_>) {
        let _live = self.live();
        match self.store.get(job_id) {
            Ok(Some(mut record)) => {
                change(&mut record);
                if let Err(e) = self.store.update_record(&record) {
                    tracing::error!(job_id, error = %e, "cannot record the shadow outcome");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(job_id, error = %e, "cannot record the shadow outcome"),
        }
    }

    /// Counts a re-run on blue after green failed as primary.
    pub(crate) fn count_fallback(&self) {
        metrics::counter!(FALLBACKS_TOTAL).increment(1);
    }

    /// Stores a progress event without touching the record.
    pub(crate) fn progress(&self, job_id: &str, event: Event) {
        let mut live = self.live();
        let Some(entry) = live.get_mut(job_id) else {
            return;
        };
        let mut event = JobEvent::now(job_id, event);
        event.sequence = entry.sequence + 1;
        match self.store.append(&event) {
            Ok(()) => {
                entry.sequence = event.sequence;
                let _ = entry.tx.send(event);
            }
            Err(e) => tracing::warn!(job_id, error = %e, "cannot store a progress event"),
        }
    }

    /// Ends a live job with `Failed{code, message}` in state `state`.
    pub(crate) fn fail(&self, job_id: &str, state: JobState, code: &str, message: String) {
        let change = |r: &mut JobRecord| {
            r.state = state as i32;
            r.finished_at = now();
            r.error_code = Some(code.to_owned());
            r.error_message = message.clone();
        };
        let event = Event::Failed(Failed {
            code: code.to_owned(),
            message: message.clone(),
        });
        self.emit(job_id, event, &change);
    }

    /// A job's record.
    pub fn get(&self, job_id: &str) -> Result<JobRecord, RouterError> {
        self.store
            .get(job_id)?
            .ok_or_else(|| RouterError::NotFound(job_id.to_owned()))
    }

    /// Up to `limit` records (0: 100), newest first.
    pub fn list(&self, limit: u32, state: Option<JobState>) -> Result<Vec<JobRecord>, RouterError> {
        let limit = if limit == 0 { 100 } else { limit as usize };
        self.store.list(limit, state)
    }

    /// Cancels a live job (its engine call is dropped, which cancels it on the engine) and
    /// returns its record; a final job is returned unchanged.
    pub fn cancel(&self, job_id: &str, reason: &str) -> Result<JobRecord, RouterError> {
        let task = self.live().get_mut(job_id).and_then(|l| l.task.take());
        if let Some(task) = task {
            task.abort();
            let why = if reason.is_empty() {
                "the job was cancelled".to_owned()
            } else {
                format!("the job was cancelled: {reason}")
            };
            tracing::info!(job_id, reason, "job cancelled");
            self.fail(job_id, JobState::Cancelled, "CANCELLED", why);
        }
        self.get(job_id)
    }

    /// A job's events after `after_sequence`: the stored history, then live events until the
    /// final one.
    pub fn watch(
        self: &Arc<Self>,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<EventStream, RouterError> {
        let receiver = self.live().get(job_id).map(|l| l.tx.subscribe());
        let history = self.store.events(job_id, after_sequence)?;
        if history.is_empty() && receiver.is_none() && self.store.get(job_id)?.is_none() {
            return Err(RouterError::NotFound(job_id.to_owned()));
        }
        let manager = self.clone();
        let job_id = job_id.to_owned();
        let stream = event_stream(manager, job_id, after_sequence, history, receiver);
        Ok(Box::pin(stream))
    }
}

/// History first, then live events, each sequence once, until a final event.
fn event_stream(
    manager: Arc<JobManager>,
    job_id: String,
    after_sequence: u64,
    history: Vec<JobEvent>,
    receiver: Option<broadcast::Receiver<JobEvent>>,
) -> impl Stream<Item = Result<JobEvent, tonic::Status>> + Send {
    struct State {
        manager: Arc<JobManager>,
        job_id: String,
        last: u64,
        pending: std::collections::VecDeque<JobEvent>,
        receiver: Option<broadcast::Receiver<JobEvent>>,
        done: bool,
    }
    let state = State {
        manager,
        job_id,
        last: after_sequence,
        pending: history.into(),
        receiver,
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            if let Some(event) = s.pending.pop_front() {
                if event.sequence <= s.last {
                    continue;
                }
                s.last = event.sequence;
                s.done = matches!(event.event, Some(Event::Finished(_) | Event::Failed(_)));
                return Some((Ok(event), s));
            }
            let receiver = s.receiver.as_mut()?;
            match receiver.recv().await {
                Ok(event) => s.pending.push_back(event),
                Err(broadcast::error::RecvError::Lagged(_))
                | Err(broadcast::error::RecvError::Closed) => {
                    // Fell behind, or the job ended: what was missed is in the store.
                    let closed = receiver.is_empty() && s.manager.live().get(&s.job_id).is_none();
                    match s.manager.store.events(&s.job_id, s.last) {
                        Ok(events) => s.pending.extend(events),
                        Err(e) => return Some((Err(e.into()), State { done: true, ..s })),
                    }
                    if closed {
                        s.receiver = None;
                    }
                }
            }
        }
    })
}

fn finished_metrics(record: &JobRecord) {
    let outcome = match record.state() {
        JobState::Succeeded => "succeeded",
        JobState::Cancelled => "cancelled",
        _ => "failed",
    };
    let side = side_label(record.side());
    metrics::counter!(JOBS_TOTAL, "side" => side, "outcome" => outcome).increment(1);
    metrics::gauge!(JOBS_IN_FLIGHT).decrement(1.0);
    if let (Some(created), Some(finished)) = (&record.created_at, &record.finished_at) {
        let seconds = (finished.seconds - created.seconds) as f64
            + f64::from(finished.nanos - created.nanos) * 1e-9;
        metrics::histogram!(JOB_SECONDS, "side" => side).record(seconds.max(0.0));
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
