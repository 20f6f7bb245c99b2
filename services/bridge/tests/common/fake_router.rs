//! An in-test `hop.v1.Jobs` server that runs jobs honestly in process (`hop_core`'s CSV parser,
//! `Prepared`, `CpuEvaluator`, `run_search`, `hop_contract::result_to_proto`).
//!
//! Submit is idempotent by job id and counts submits and runs per id. Jobs run on their own
//! threads, outside the server's runtime, and the job table lives in a shared [`RouterState`], so
//! a test can stop the server (its runtime and every connection die, like a killed process) and
//! start it again on the same address with the same jobs, like a router with durable records. A
//! test can hold a job before it starts ([`RouterState::hold`]) and let it go later.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::Stream;
use hop_contract::ResultSource;
use hop_core::RunResult;
use hop_core::eval::CpuEvaluator;
use hop_core::run::{Prepared, run_search};
use hop_proto::v1::job_event::{self, Event};
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_server::{Jobs, JobsServer};
use hop_proto::v1::{
    CancelRequest, GetRequest, JobEvent, JobRecord, JobSpec, JobState, ListReply, ListRequest,
    Side, SubmitReply, SubmitRequest, ValidationOutcome, WatchRequest,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// The job table and counters, shared by every incarnation of the server.
#[derive(Default)]
pub struct RouterState {
    jobs: Mutex<HashMap<String, FakeJob>>,
    submits: Mutex<HashMap<String, usize>>,
    runs: Mutex<HashMap<String, usize>>,
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

struct FakeJob {
    record: JobRecord,
    events: Vec<JobEvent>,
    changed: watch::Sender<usize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RouterState {
    /// How many times `job_id` was run (a job is run by its first Submit only).
    pub fn runs(&self, job_id: &str) -> usize {
        lock(&self.runs).get(job_id).copied().unwrap_or(0)
    }

    /// How many Submit calls named `job_id`.
    pub fn submits(&self, job_id: &str) -> usize {
        lock(&self.submits).get(job_id).copied().unwrap_or(0)
    }

    /// The job's spec as submitted.
    pub fn spec(&self, job_id: &str) -> Option<JobSpec> {
        lock(&self.jobs)
            .get(job_id)
            .and_then(|j| j.record.spec.clone())
    }

    /// Jobs named here do not start until [`release`](Self::release)d.
    pub fn hold(&self, job_id: &str) {
        lock(&self.held).insert(job_id.to_owned());
    }

    /// Lets a held job start.
    pub fn release(&self, job_id: &str) {
        lock(&self.held).remove(job_id);
        self.released.notify_all();
    }

    fn push(&self, job_id: &str, event: Event, update: impl FnOnce(&mut JobRecord)) {
        let mut jobs = lock(&self.jobs);
        let job = jobs.get_mut(job_id).expect("a known job");
        let sequence = job.events.len() as u64 + 1;
        let mut event = JobEvent::now(job_id, event);
        event.sequence = sequence;
        job.events.push(event);
        update(&mut job.record);
        job.changed.send_replace(job.events.len());
    }

    fn execute(self: Arc<Self>, job_id: String) {
        {
            let held = lock(&self.held);
            let _held = self
                .released
                .wait_while(held, |held| held.contains(&job_id))
                .unwrap_or_else(|e| e.into_inner());
        }
        let started = job_event::Started {
            side: Side::Green as i32,
            engine: "cpu".into(),
        };
        self.push(&job_id, Event::Started(started), |r| {
            r.state = JobState::Running as i32;
            r.engine = "cpu".into();
        });
        let spec = self.spec(&job_id).expect("a spec");
        let clock = Instant::now();
        match run(&spec) {
            Ok(run) => {
                let source = ResultSource {
                    job_id: &job_id,
                    side: Side::Green,
                    engine: "cpu",
                    seconds: clock.elapsed().as_secs_f64(),
                    run_folder: "",
                };
                let result = hop_contract::result_to_proto(&run, &source);
                let finished = job_event::Finished {
                    result: Some(result.clone()),
                };
                self.push(&job_id, Event::Finished(finished), |r| {
                    r.state = JobState::Succeeded as i32;
                    r.result = Some(result);
                    r.validation = ValidationOutcome::Matched as i32;
                });
            }
            Err((code, message)) => {
                let failed = job_event::Failed {
                    code: code.into(),
                    message: message.clone(),
                };
                self.push(&job_id, Event::Failed(failed), |r| {
                    r.state = JobState::Failed as i32;
                    r.error_code = Some(code.into());
                    r.error_message = message;
                });
            }
        }
    }
}

/// The job, as an engine would run it.
fn run(spec: &JobSpec) -> Result<RunResult, (&'static str, String)> {
    let options = hop_contract::options_from_proto(spec.options.as_ref())
        .map_err(|e| ("INVALID_OPTIONS", e.to_string()))?;
    let Some(Input::CsvPath(path)) = &spec.input else {
        return Err(("INVALID_INPUT", "the job names no CSV".into()));
    };
    let bytes = std::fs::read(path).map_err(|e| ("INVALID_INPUT", format!("{path}: {e}")))?;
    let matrix = hop_core::csv::parse_csv(&bytes).map_err(|e| {
        (
            "INVALID_INPUT",
            format!("The CSV file could not be read: {e}"),
        )
    })?;
    let prepared =
        Prepared::new(matrix, &options, None).map_err(|e| ("INVALID_OPTIONS", e.to_string()))?;
    let eval = CpuEvaluator::new(&prepared.problem);
    Ok(run_search(&prepared, &options, &eval, &|_| {}))
}

#[derive(Clone)]
struct Service(Arc<RouterState>);

type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Jobs for Service {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitReply>, Status> {
        let spec = request
            .into_inner()
            .spec
            .ok_or_else(|| Status::invalid_argument("no spec"))?;
        let job_id = spec.job_id.clone();
        *lock(&self.0.submits).entry(job_id.clone()).or_default() += 1;
        let duplicate = {
            let mut jobs = lock(&self.0.jobs);
            if jobs.contains_key(&job_id) {
                true
            } else {
                let record = JobRecord {
                    job_id: job_id.clone(),
                    state: JobState::Queued as i32,
                    side: Side::Green as i32,
                    spec: Some(spec),
                    ..JobRecord::default()
                };
                let mut queued = JobEvent::now(&job_id, Event::Queued(job_event::Queued {}));
                queued.sequence = 1;
                let job = FakeJob {
                    record,
                    events: vec![queued],
                    changed: watch::channel(1).0,
                };
                jobs.insert(job_id.clone(), job);
                false
            }
        };
        if !duplicate {
            *lock(&self.0.runs).entry(job_id.clone()).or_default() += 1;
            let state = self.0.clone();
            let id = job_id.clone();
            std::thread::spawn(move || state.execute(id));
        }
        Ok(Response::new(SubmitReply {
            job_id,
            side: Side::Green as i32,
            duplicate,
        }))
    }

    type WatchStream = EventStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<EventStream>, Status> {
        let WatchRequest {
            job_id,
            after_sequence,
        } = request.into_inner();
        let changed = lock(&self.0.jobs)
            .get(&job_id)
            .map(|j| j.changed.subscribe())
            .ok_or_else(|| Status::not_found(format!("no job {job_id}")))?;
        let state = self.0.clone();
        let stream = futures::stream::unfold(
            (state, job_id, after_sequence as usize, changed, false),
            |(state, job_id, next, mut changed, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let event = lock(&state.jobs)
                        .get(&job_id)
                        .and_then(|j| j.events.get(next).cloned());
                    if let Some(event) = event {
                        let last =
                            matches!(event.event, Some(Event::Finished(_) | Event::Failed(_)));
                        return Some((Ok(event), (state, job_id, next + 1, changed, last)));
                    }
                    changed.changed().await.ok()?;
                }
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<JobRecord>, Status> {
        let job_id = request.into_inner().job_id;
        lock(&self.0.jobs)
            .get(&job_id)
            .map(|j| Response::new(j.record.clone()))
            .ok_or_else(|| Status::not_found(format!("no job {job_id}")))
    }

    async fn list(&self, _: Request<ListRequest>) -> Result<Response<ListReply>, Status> {
        let jobs = lock(&self.0.jobs)
            .values()
            .map(|j| j.record.clone())
            .collect();
        Ok(Response::new(ListReply { jobs }))
    }

    async fn cancel(&self, request: Request<CancelRequest>) -> Result<Response<JobRecord>, Status> {
        let job_id = request.into_inner().job_id;
        let mut jobs = lock(&self.0.jobs);
        let job = jobs
            .get_mut(&job_id)
            .ok_or_else(|| Status::not_found(format!("no job {job_id}")))?;
        if matches!(job.record.state(), JobState::Queued | JobState::Running) {
            job.record.state = JobState::Cancelled as i32;
        }
        Ok(Response::new(job.record.clone()))
    }
}

/// One incarnation of the fake router: its own runtime on its own thread.
pub struct FakeRouter {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The job table (survives [`FakeRouter::stop`]).
    pub state: Arc<RouterState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRouter {
    /// A new router with an empty job table on a free loopback port.
    pub fn start() -> Self {
        Self::start_on(Arc::default(), "127.0.0.1:0".parse().unwrap())
    }

    /// A router over `state` listening on `addr` (the address of a stopped one, to restart it).
    pub fn start_on(state: Arc<RouterState>, addr: SocketAddr) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let service = Service(state.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let deadline = Instant::now() + Duration::from_secs(10);
                let listener = loop {
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(listener) => break listener,
                        Err(e) if Instant::now() < deadline => {
                            eprintln!("fake router: bind {addr}: {e}; retrying");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("fake router cannot bind {addr}: {e}"),
                    }
                };
                bound_tx.send(listener.local_addr().unwrap()).unwrap();
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                let server = tonic::transport::Server::builder()
                    .add_service(JobsServer::new(service).max_encoding_message_size(usize::MAX))
                    .serve_with_incoming(incoming);
                tokio::select! {
                    _ = server => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops every connection: clients see the router die.
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        let addr = bound_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("the fake router binds");
        Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Its URI, for the bridge's `router` key.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and drops its connections (the job table and running jobs survive).
    pub fn stop(mut self) -> (Arc<RouterState>, SocketAddr) {
        self.shut_down();
        (self.state.clone(), self.addr)
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeRouter {
    fn drop(&mut self) {
        self.shut_down();
    }
}
