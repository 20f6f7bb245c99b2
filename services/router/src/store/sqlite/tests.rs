use hop_proto::v1::job_event::{Finished, Queued};
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobResult, JobSpec, Side};

use super::*;

fn job(id: &str) -> Job {
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

fn queued(id: &str) -> JobEvent {
    event(id, 1, Event::Queued(Queued {}))
}

#[tokio::test]
async fn insert_is_idempotent_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.sqlite");
    {
        let store = SqliteStore::open(&path).unwrap();
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
    }
    let store = SqliteStore::open(&path).unwrap();
    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(store.unfinished().await.unwrap()), ["b"]);
    assert_eq!(ids(store.list(10, None).await.unwrap()), ["b", "a"]);
    assert_eq!(
        store
            .list(10, Some(JobState::Succeeded))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.last_sequence("a").await.unwrap(), 2);
    let a = store.get("a").await.unwrap().unwrap();
    assert_eq!(a.starts, 2);
    assert_eq!(a.spec_hash, job("a").spec_hash);
    let events = store.events("a", 1).await.unwrap();
    assert_eq!(events.len(), 1);
    match &events[0].event {
        Some(Event::Finished(f)) => assert_eq!(f.result.as_ref().unwrap().best_fitness, 12.5),
        other => panic!("{other:?}"),
    }
    assert!(store.get("zzz").await.unwrap().is_none());
}

#[tokio::test]
async fn pending_validations_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite")).unwrap();
    let mut shadowed = job("s");
    shadowed.shadow = Some(Side::Green);
    shadowed.validation = crate::record::Validation::of(ValidationOutcome::Pending);
    store.insert(&shadowed, &queued("s")).await.unwrap();
    store.insert(&job("plain"), &queued("plain")).await.unwrap();
    assert!(
        store.pending_validations().await.unwrap().is_empty(),
        "still running"
    );
    shadowed.state = JobState::Succeeded;
    store.update(&shadowed, None).await.unwrap();
    let pending = store.pending_validations().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].shadow, Some(Side::Green));
    shadowed.validation = crate::record::Validation::of(ValidationOutcome::Matched);
    store.update(&shadowed, None).await.unwrap();
    assert!(store.pending_validations().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_store_of_the_first_version_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.sqlite");
    let old = job("old");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute(
            "INSERT INTO jobs (job_id, state, record) VALUES (?1, ?2, ?3)",
            params![old.id, old.state as i32, old.to_wire().encode_to_vec()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let read = store.get("old").await.unwrap().unwrap();
    assert_eq!(read.spec_hash, old.spec_hash, "the hash of the stored spec");
    assert_eq!(read.starts, 1);
    assert_eq!(store.unfinished().await.unwrap().len(), 1);
}

#[test]
fn an_unusable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = SqliteStore::open(&file.join("jobs.sqlite")).unwrap_err();
    assert!(err.to_string().contains("jobs.sqlite"), "{err}");
}
