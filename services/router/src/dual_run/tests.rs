//! The dual-run rules end to end inside the router, with fake engines and a fake validator over
//! the real job log (SQLite in a temporary folder) and the real cut-over.

use std::sync::Mutex;

use futures::StreamExt;
use hop_proto::v1::job_event::Queued;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobEvent, JobOptions, JobResult};

use super::*;
use crate::admission::Admission;
use crate::cutover::{CutoverConfig, FileStore};
use crate::error::RouterError;
use crate::log::Replica;
use crate::record::Job;
use crate::store::SqliteStore;
use crate::store::contract::owner;

/// What a fake engine does with a job.
#[derive(Debug, Clone, Copy)]
enum Act {
    Finish,
    Fail(FailureCode),
    /// Finishes after this long.
    Slow(Duration),
}

struct FakeEngines {
    blue: Act,
    green: Act,
    /// (side, forwarded) of every run, in order.
    calls: Mutex<Vec<(Side, bool)>>,
}

#[async_trait::async_trait]
impl EngineRunner for FakeEngines {
    async fn run(&self, _spec: &JobSpec, side: Side, events: Option<&dyn RunEvents>) -> Outcome {
        self.calls.lock().unwrap().push((side, events.is_some()));
        let engine = format!("fake-{}", side.label());
        if let Some(events) = events
            && !events.started(side, &engine).await
        {
            return Outcome::Gone;
        }
        let act = if side == Side::Green {
            self.green
        } else {
            self.blue
        };
        match act {
            Act::Finish => {}
            Act::Fail(code) => return Outcome::failed(code, format!("{engine} failed")),
            Act::Slow(pause) => tokio::time::sleep(pause).await,
        }
        Outcome::Finished(JobResult {
            engine,
            best_fitness: 2.5,
            ..JobResult::default()
        })
    }
}

struct FakeValidator {
    matched: bool,
    /// (blue's engine, green's engine) of every comparison.
    calls: Mutex<Vec<(String, String)>>,
}

#[async_trait::async_trait]
impl Comparator for FakeValidator {
    async fn compare(
        &self,
        job_id: &str,
        blue: &JobResult,
        green: &JobResult,
    ) -> Option<CompareReply> {
        self.calls
            .lock()
            .unwrap()
            .push((blue.engine.clone(), green.engine.clone()));
        Some(CompareReply {
            job_id: job_id.into(),
            matched: self.matched,
            max_relative_difference: if self.matched { 0.0 } else { 0.25 },
            ..CompareReply::default()
        })
    }
}

struct Rig {
    dir: tempfile::TempDir,
    dual: Arc<DualRun>,
    admission: Arc<Admission>,
    engines: Arc<FakeEngines>,
    validator: Arc<FakeValidator>,
}

/// A router core in `dir` with the cut-over file `stage`, the fakes and `max_starts` 3.
async fn rig_in(dir: tempfile::TempDir, stage: &str, blue: Act, green: Act, matched: bool) -> Rig {
    let file = dir.path().join("cutover.toml");
    std::fs::write(&file, stage).unwrap();
    let config = CutoverConfig {
        file: Some(file),
        // Never enough samples to roll back: these tests read the window's figures.
        window: 20,
        min_samples: 20,
        ..CutoverConfig::default()
    };
    let store = FileStore::new(dir.path().join("cutover.json"));
    let cutover = Cutover::open(&config, Arc::new(store), 0).await.unwrap();
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite")).unwrap();
    let engines = Arc::new(FakeEngines {
        blue,
        green,
        calls: Mutex::new(Vec::new()),
    });
    let validator = Arc::new(FakeValidator {
        matched,
        calls: Mutex::new(Vec::new()),
    });
    let dual = Arc::new(DualRun {
        log: JobLog::new(
            Arc::new(store),
            Replica {
                // A new run of one replica per rig, as after a restart.
                owner: owner("router-0", &next_run(), Duration::from_secs(60)),
                watch_poll: Duration::from_millis(20),
                stopping: hop_runtime::Shutdown::new(),
            },
        ),
        cutover,
        engines: engines.clone(),
        comparator: Some(validator.clone()),
        slots: Semaphore::new(4),
        shadow_timeout: Duration::from_millis(300),
    });
    let admission = Admission::new(dual.clone(), 3);
    Rig {
        dir,
        dual,
        admission,
        engines,
        validator,
    }
}

/// A fresh incarnation name per rig.
fn next_run() -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "run{}",
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

async fn rig(stage: &str, blue: Act, green: Act, matched: bool) -> Rig {
    rig_in(tempfile::tempdir().unwrap(), stage, blue, green, matched).await
}

fn spec(id: &str) -> JobSpec {
    JobSpec {
        job_id: id.into(),
        input: Some(Input::CsvPath("x.csv".into())),
        options: Some(JobOptions {
            min_size: 10,
            ..JobOptions::default()
        }),
        ..JobSpec::default()
    }
}

/// A job id the sticky hash sends to green at `percent` (or to blue when `green` is false).
fn id_on(green: bool, percent: u32) -> String {
    (0..)
        .map(|i| format!("job-{i}"))
        .find(|id| (crate::routing::side_for(id, percent) == Side::Green) == green)
        .unwrap()
}

impl Rig {
    /// Submits `id` and waits for its final event; then for its comparison to settle.
    async fn run(&self, id: &str) -> Job {
        let (_, duplicate) = self.admission.submit(spec(id)).await.unwrap();
        assert!(!duplicate);
        self.finished(id).await
    }

    async fn finished(&self, id: &str) -> Job {
        let mut events = self.dual.log.watch(id, 0).await.unwrap();
        while events.next().await.is_some() {}
        self.settled(id).await
    }

    /// The record once its validation is no longer pending.
    async fn settled(&self, id: &str) -> Job {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let job = self.dual.log.get(id).await.unwrap();
            if job.is_final() && job.validation.outcome != ValidationOutcome::Pending {
                return job;
            }
            assert!(Instant::now() < deadline, "never settled: {job:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn calls(&self) -> Vec<(Side, bool)> {
        self.engines.calls.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn dual_stage_blue_answers_and_green_shadows_and_is_compared() {
    let rig = rig("stage = \"dual\"\n", Act::Finish, Act::Finish, true).await;
    let job = rig.run("j1").await;
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!((job.side, job.shadow), (Side::Blue, Some(Side::Green)));
    assert_eq!(job.result.unwrap().engine, "fake-blue");
    assert_eq!(job.validation.outcome, ValidationOutcome::Matched);
    assert_eq!(job.shadow_engine, "fake-green");
    let mut calls = rig.calls();
    calls.sort_by_key(|(side, _)| *side as i32);
    assert_eq!(
        calls,
        [(Side::Blue, true), (Side::Green, false)],
        "only the primary forwards"
    );
    assert_eq!(
        *rig.validator.calls.lock().unwrap(),
        [("fake-blue".to_owned(), "fake-green".to_owned())]
    );
    let status = rig.dual.cutover.status();
    assert_eq!((status.window_samples, status.window_error_rate), (1, 0.0));
}

#[tokio::test]
async fn green_failing_as_primary_falls_back_to_blue_and_counts() {
    let rig = rig(
        "stage = \"green\"\n",
        Act::Finish,
        Act::Fail(FailureCode::Unavailable),
        true,
    )
    .await;
    let job = rig.run("j2").await;
    assert_eq!(job.state, JobState::Succeeded, "the client is served");
    assert_eq!((job.side, job.shadow), (Side::Blue, None));
    assert_eq!(job.result.unwrap().engine, "fake-blue");
    assert_eq!(job.validation, Validation::NONE);
    assert_eq!(rig.calls(), [(Side::Green, true), (Side::Blue, true)]);
    let status = rig.dual.cutover.status();
    assert_eq!((status.window_samples, status.window_error_rate), (1, 1.0));
}

#[tokio::test]
async fn a_refusal_of_the_jobs_own_input_ends_it_on_green() {
    let rig = rig(
        "stage = \"green\"\n",
        Act::Finish,
        Act::Fail(FailureCode::InvalidInput),
        true,
    )
    .await;
    let job = rig.run("j3").await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.failure.unwrap().code, FailureCode::InvalidInput);
    assert_eq!(rig.calls(), [(Side::Green, true)], "no blue re-run");
    assert_eq!(
        rig.dual.cutover.status().window_samples,
        0,
        "not green's fault"
    );
}

#[tokio::test]
async fn weighted_green_primary_with_a_blue_shadow_flags_a_mismatch() {
    let rig = rig(
        "stage = \"weighted\"\ngreen_percent = 50\n",
        Act::Finish,
        Act::Finish,
        false,
    )
    .await;
    let id = id_on(true, 50);
    let job = rig.run(&id).await;
    assert_eq!((job.side, job.shadow), (Side::Green, Some(Side::Blue)));
    assert_eq!(job.validation.outcome, ValidationOutcome::Mismatched);
    assert_eq!(job.validation.max_relative_difference, 0.25);
    assert_eq!(
        *rig.validator.calls.lock().unwrap(),
        [("fake-blue".to_owned(), "fake-green".to_owned())],
        "blue and green in their places whichever was primary"
    );
    let status = rig.dual.cutover.status();
    assert_eq!((status.window_samples, status.window_mismatches), (1, 1));
}

#[tokio::test]
async fn a_slow_shadow_never_delays_the_client_and_counts_as_failed() {
    let rig = rig(
        "stage = \"dual\"\n",
        Act::Finish,
        Act::Slow(Duration::from_secs(5)),
        true,
    )
    .await;
    let started = Instant::now();
    rig.admission.submit(spec("j5")).await.unwrap();
    let mut events = rig.dual.log.watch("j5", 0).await.unwrap();
    while events.next().await.is_some() {}
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "the client's answer waited for the shadow: {:?}",
        started.elapsed()
    );
    let job = rig.settled("j5").await;
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.validation.outcome, ValidationOutcome::ShadowFailed);
    let status = rig.dual.cutover.status();
    assert_eq!((status.window_samples, status.window_error_rate), (1, 1.0));
}

#[tokio::test]
async fn the_same_id_is_the_same_job_only_with_the_same_spec() {
    let rig = rig("stage = \"legacy\"\n", Act::Finish, Act::Finish, true).await;
    rig.run("j6").await;
    let (again, duplicate) = rig.admission.submit(spec("j6")).await.unwrap();
    assert!(duplicate);
    assert_eq!(again.state, JobState::Succeeded);
    let mut other = spec("j6");
    other.input = Some(Input::CsvPath("y.csv".into()));
    let refused = rig.admission.submit(other).await.unwrap_err();
    assert!(matches!(refused, RouterError::Conflict(_)), "{refused:?}");
    assert!(refused.to_string().contains("give this job a new job_id"));
    assert_eq!(rig.calls().len(), 1, "never run twice");
}

#[tokio::test]
async fn a_restart_resumes_a_job_a_bounded_number_of_times() {
    let rig = rig("stage = \"legacy\"\n", Act::Finish, Act::Finish, true).await;
    let store = rig.dual.log.store();
    let queued = |id: &str| JobEvent {
        sequence: 1,
        ..JobEvent::now(id, Event::Queued(Queued {}))
    };
    // Stored by this replica's earlier run, whose leases have not expired.
    let earlier = owner("router-0", "earlier", Duration::from_secs(60));
    let mut crashed_once = Job::accepted(spec("again"), Side::Blue, None);
    crashed_once.state = JobState::Running;
    store
        .insert(&crashed_once, &queued("again"), &earlier)
        .await
        .unwrap();
    let mut crash_loop = Job::accepted(spec("loop"), Side::Blue, None);
    crash_loop.starts = 3;
    store
        .insert(&crash_loop, &queued("loop"), &earlier)
        .await
        .unwrap();

    assert_eq!(rig.admission.claim(false).await.unwrap(), 0, "unexpired");
    assert_eq!(rig.admission.claim(true).await.unwrap(), 2);
    let again = rig.finished("again").await;
    assert_eq!(again.state, JobState::Succeeded);
    assert_eq!(again.starts, 2);
    let looped = rig.finished("loop").await;
    assert_eq!(looped.state, JobState::Failed);
    let failure = looped.failure.unwrap();
    assert_eq!(failure.code, FailureCode::AttemptsExhausted);
    assert!(
        failure.message.contains("started 3 times"),
        "{}",
        failure.message
    );
    assert_eq!(
        rig.calls(),
        [(Side::Blue, true)],
        "the crash loop is not run"
    );
}

#[tokio::test]
async fn an_interrupted_comparison_is_made_after_a_restart() {
    let rig = rig("stage = \"dual\"\n", Act::Finish, Act::Finish, true).await;
    let mut answered = Job::accepted(spec("j8"), Side::Blue, Some(Side::Green));
    answered.state = JobState::Succeeded;
    answered.result = Some(JobResult {
        engine: "fake-blue".into(),
        ..JobResult::default()
    });
    let queued = JobEvent {
        sequence: 1,
        ..JobEvent::now("j8", Event::Queued(Queued {}))
    };
    let earlier = owner("router-0", "earlier", Duration::from_secs(60));
    rig.dual
        .log
        .store()
        .insert(&answered, &queued, &earlier)
        .await
        .unwrap();
    // A second router core over the same folder, as after a restart.
    let Rig { dir, .. } = rig;
    let restarted = rig_in(dir, "stage = \"dual\"\n", Act::Finish, Act::Finish, true).await;
    assert_eq!(
        restarted.admission.claim(true).await.unwrap(),
        1,
        "claimed to be compared"
    );
    let job = restarted.settled("j8").await;
    assert_eq!(job.validation.outcome, ValidationOutcome::Matched);
    assert_eq!(job.shadow_engine, "fake-green");
    assert_eq!(
        restarted.calls(),
        [(Side::Green, false)],
        "only the shadow ran"
    );
}
