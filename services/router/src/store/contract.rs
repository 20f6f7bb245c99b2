//! The behaviour every [`JobStore`] must have, as test bodies that each store's tests run
//! against a real instance.

use std::sync::Arc;
use std::time::Duration;

use hop_proto::v1::job_event::{Event, Finished, Queued};
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobEvent, JobResult, JobSpec, JobState, Side, ValidationOutcome};

use super::{Claim, Inserted, JobStore, Owner};
use crate::error::RouterError;
use crate::record::{Job, Validation};

/// A lease owner.
pub fn owner(replica: &str, incarnation: &str, ttl: Duration) -> Owner {
    Owner {
        replica: replica.into(),
        incarnation: incarnation.into(),
        ttl,
    }
}

/// The owner of the contract's jobs (a long lease).
pub fn holder() -> Owner {
    owner("r0", "run1", Duration::from_secs(600))
}

const STARTUP: Claim = Claim {
    own_previous: true,
    validations: true,
    limit: 100,
};
const PERIODIC: Claim = Claim {
    own_previous: false,
    validations: true,
    limit: 100,
};

pub fn job(id: &str) -> Job {
    let spec = JobSpec {
        job_id: id.into(),
        input: Some(Input::CsvPath(format!("{id}.csv"))),
        ..JobSpec::default()
    };
    Job::accepted(spec, Side::Blue, None)
}

fn event(id: &str, sequence: u64, event: Event) -> JobEvent {
    JobEvent {
        sequence,
        ..JobEvent::now(id, event)
    }
}

pub fn queued(id: &str) -> JobEvent {
    event(id, 1, Event::Queued(Queued {}))
}

fn ids(jobs: Vec<Job>) -> Vec<String> {
    jobs.into_iter().map(|j| j.id).collect()
}

/// Insert is idempotent; update, list, unfinished, events and the `Finished` result.
pub async fn records_and_events(store: &dyn JobStore) {
    let me = holder();
    assert!(matches!(
        store.insert(&job("a"), &queued("a"), &me).await.unwrap(),
        Inserted::New
    ));
    assert!(matches!(
        store.insert(&job("a"), &queued("a"), &me).await.unwrap(),
        Inserted::Existing(r) if r.id == "a"
    ));
    store.insert(&job("b"), &queued("b"), &me).await.unwrap();
    let mut done = job("a");
    done.state = JobState::Succeeded;
    done.starts = 2;
    done.result = Some(JobResult {
        best_fitness: 12.5,
        ..JobResult::default()
    });
    let finished = event(
        "a",
        2,
        Event::Finished(Finished {
            result: done.result.clone(),
        }),
    );
    store.update(&done, Some(&finished)).await.unwrap();
    assert_eq!(ids(store.list(10, None).await.unwrap()), ["b", "a"]);
    assert_eq!(ids(store.list(1, None).await.unwrap()), ["b"]);
    assert_eq!(
        ids(store.list(10, Some(JobState::Succeeded)).await.unwrap()),
        ["a"]
    );
    assert_eq!(store.last_sequence("a").await.unwrap(), 2);
    assert_eq!(store.last_sequence("zzz").await.unwrap(), 0);
    let a = store.get("a").await.unwrap().unwrap();
    assert_eq!(a, done, "the record round-trips");
    let events = store.events("a", 1).await.unwrap();
    assert_eq!(events.len(), 1);
    match &events[0].event {
        Some(Event::Finished(f)) => assert_eq!(f.result.as_ref().unwrap().best_fitness, 12.5),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.events("a", 0).await.unwrap().len(), 2);
    store
        .append(&event("b", 2, Event::Queued(Queued {})), 1)
        .await
        .unwrap();
    assert_eq!(store.last_sequence("b").await.unwrap(), 2);
    assert!(store.get("zzz").await.unwrap().is_none());
}

/// Leases: an unexpired lease is not claimed (except by the same replica's next run at
/// start-up), an expired one is, once; every claim or take fences the earlier holder's writes;
/// renewals, releases and pending comparisons.
pub async fn leases(store: &dyn JobStore) {
    let first = holder();
    store.insert(&job("j"), &queued("j"), &first).await.unwrap();
    let other = owner("r1", "run1", Duration::from_secs(600));
    assert!(store.claim(&other, STARTUP).await.unwrap().is_empty());
    assert!(
        store.claim(&first, STARTUP).await.unwrap().is_empty(),
        "a run never claims from itself"
    );
    // The same replica restarted takes its job back at once, at a new generation.
    let second = owner("r0", "run2", Duration::from_secs(600));
    assert!(store.claim(&second, PERIODIC).await.unwrap().is_empty());
    let claimed = store.claim(&second, STARTUP).await.unwrap();
    assert_eq!(ids(claimed.clone()), ["j"]);
    assert_eq!(claimed[0].generation, 2);
    // The first run's copy is fenced off; the second run's writes go through.
    let stale = job("j");
    let progress = |sequence| event("j", sequence, Event::Queued(Queued {}));
    assert!(matches!(
        store.update(&stale, Some(&progress(2))).await,
        Err(RouterError::LeaseLost(id)) if id == "j"
    ));
    assert!(matches!(
        store.append(&progress(2), 1).await,
        Err(RouterError::LeaseLost(_))
    ));
    assert_eq!(
        store.last_sequence("j").await.unwrap(),
        1,
        "nothing written"
    );
    store.append(&progress(2), 2).await.unwrap();
    let mut running = claimed[0].clone();
    running.state = JobState::Running;
    store.update(&running, Some(&progress(3))).await.unwrap();
    // Renewals extend only the caller's own leases.
    let both = ["j".to_owned(), "unknown".to_owned()];
    assert!(store.renew(&first, &both).await.unwrap().is_empty());
    assert_eq!(store.renew(&second, &both).await.unwrap(), ["j"]);
    // An expired lease is claimed by any replica, once.
    let brief = owner("r2", "run1", Duration::ZERO);
    store.insert(&job("k"), &queued("k"), &brief).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken_over = store.claim(&other, PERIODIC).await.unwrap();
    assert_eq!(ids(taken_over), ["k"]);
    assert!(store.claim(&first, PERIODIC).await.unwrap().is_empty());
    // A take (to cancel) fences the holder whatever its lease; final jobs are not taken.
    let cancelling = store.take("j", &other).await.unwrap().unwrap();
    assert_eq!(cancelling.generation, 3);
    assert!(matches!(
        store.update(&running, None).await,
        Err(RouterError::LeaseLost(_))
    ));
    assert!(store.take("unknown", &other).await.unwrap().is_none());
    // A release hands the jobs over at once, and its start does not count.
    assert_eq!(store.release(&other).await.unwrap(), 2);
    let handed = store.claim(&first, PERIODIC).await.unwrap();
    let mut handed_ids = ids(handed.clone());
    handed_ids.sort();
    assert_eq!(handed_ids, ["j", "k"]);
    assert!(handed.iter().all(|j| j.starts == 0), "{handed:?}");
    // A succeeded job with its comparison pending is claimed only to be compared.
    let mut shadowed = job("s");
    shadowed.shadow = Some(Side::Green);
    shadowed.validation = Validation::of(ValidationOutcome::Pending);
    store.insert(&shadowed, &queued("s"), &brief).await.unwrap();
    shadowed.state = JobState::Succeeded;
    store.update(&shadowed, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let no_validator = Claim {
        validations: false,
        ..PERIODIC
    };
    assert!(store.claim(&other, no_validator).await.unwrap().is_empty());
    let to_compare = store.claim(&other, PERIODIC).await.unwrap();
    assert_eq!(ids(to_compare.clone()), ["s"]);
    assert!(
        store.take("s", &first).await.unwrap().is_none(),
        "a final job cannot be taken"
    );
    let mut compared = to_compare[0].clone();
    compared.validation = Validation::of(ValidationOutcome::Matched);
    store.update(&compared, None).await.unwrap();
    assert!(
        store
            .renew(&other, &["s".to_owned()])
            .await
            .unwrap()
            .is_empty(),
        "settled: no lease left"
    );
}

/// Replicas claiming expired jobs at the same time never claim one job twice, and together
/// claim them all.
pub async fn claims_never_overlap(replicas: Vec<Arc<dyn JobStore>>) {
    let brief = owner("gone", "run1", Duration::ZERO);
    let jobs: Vec<String> = (0..40).map(|i| format!("c{i:02}")).collect();
    for id in &jobs {
        replicas[0]
            .insert(&job(id), &queued(id), &brief)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let claimers: Vec<_> = replicas
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            let me = owner(&format!("r{i}"), "run1", Duration::from_secs(600));
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claim = Claim {
                        limit: 3,
                        ..PERIODIC
                    };
                    let got = ids(store.claim(&me, claim).await.unwrap());
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    all.sort();
    assert_eq!(all, jobs, "each job claimed exactly once");
}

/// Retention removes jobs that ended before the cutoff, with their events, and nothing else.
pub async fn retention(store: &dyn JobStore) {
    let day = std::time::Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    let ended = |id: &str, ago: std::time::Duration| {
        let mut job = job(id);
        job.state = JobState::Failed;
        job.finished_at = Some(now - ago);
        job
    };
    for (id, ago) in [("old", 10 * day), ("recent", day)] {
        store
            .insert(&job(id), &queued(id), &holder())
            .await
            .unwrap();
        store.update(&ended(id, ago), None).await.unwrap();
    }
    store
        .insert(&job("running"), &queued("running"), &holder())
        .await
        .unwrap();
    let cutoff = now - 5 * day;
    let cutoff_ms = cutoff
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(store.size_bytes().await.unwrap() > 0);
    assert_eq!(store.purge_finished_before(cutoff_ms).await.unwrap(), 1);
    assert!(store.get("old").await.unwrap().is_none());
    assert!(store.events("old", 0).await.unwrap().is_empty());
    let mut left = ids(store.list(10, None).await.unwrap());
    left.sort();
    assert_eq!(left, ["recent", "running"]);
    assert_eq!(store.purge_finished_before(cutoff_ms).await.unwrap(), 0);
}

/// Of many concurrent inserts of one id exactly one is new, and one event is stored.
pub async fn one_winner(store: Arc<dyn JobStore>) {
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(
                async move { store.insert(&job("race"), &queued("race"), &holder()).await },
            )
        })
        .collect();
    let mut new = 0;
    for racer in racers {
        if matches!(racer.await.unwrap().unwrap(), Inserted::New) {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    assert_eq!(store.events("race", 0).await.unwrap().len(), 1);
}
