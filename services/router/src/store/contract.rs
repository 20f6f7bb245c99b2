//! The behaviour every [`JobStore`] must have, as test bodies that each store's tests run
//! against a real instance.

use std::sync::Arc;

use hop_proto::v1::job_event::{Event, Finished, Queued};
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobEvent, JobResult, JobSpec, JobState, Side, ValidationOutcome};

use super::{Inserted, JobStore};
use crate::record::{Job, Validation};

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
    assert!(matches!(
        store.insert(&job("a"), &queued("a")).await.unwrap(),
        Inserted::New
    ));
    assert!(matches!(
        store.insert(&job("a"), &queued("a")).await.unwrap(),
        Inserted::Existing(r) if r.id == "a"
    ));
    store.insert(&job("b"), &queued("b")).await.unwrap();
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
    assert_eq!(ids(store.unfinished().await.unwrap()), ["b"]);
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
        .append(&event("b", 2, Event::Queued(Queued {})))
        .await
        .unwrap();
    assert_eq!(store.last_sequence("b").await.unwrap(), 2);
    assert!(store.get("zzz").await.unwrap().is_none());
}

/// Succeeded jobs with a pending comparison are found, and only those.
pub async fn pending_validations(store: &dyn JobStore) {
    let mut shadowed = job("s");
    shadowed.shadow = Some(Side::Green);
    shadowed.validation = Validation::of(ValidationOutcome::Pending);
    store.insert(&shadowed, &queued("s")).await.unwrap();
    store.insert(&job("plain"), &queued("plain")).await.unwrap();
    assert!(
        store.pending_validations().await.unwrap().is_empty(),
        "still running"
    );
    shadowed.state = JobState::Succeeded;
    store.update(&shadowed, None).await.unwrap();
    let pending = store.pending_validations().await.unwrap();
    assert_eq!(ids(pending), ["s"]);
    shadowed.validation = Validation::of(ValidationOutcome::Matched);
    store.update(&shadowed, None).await.unwrap();
    assert!(store.pending_validations().await.unwrap().is_empty());
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
        store.insert(&job(id), &queued(id)).await.unwrap();
        store.update(&ended(id, ago), None).await.unwrap();
    }
    store
        .insert(&job("running"), &queued("running"))
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
            tokio::spawn(async move { store.insert(&job("race"), &queued("race")).await })
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
