use std::sync::Arc;

use prost::Message;

use super::*;
use crate::store::contract::{self, job};
use crate::store::{Claim, JobStore};

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("jobs.sqlite")).unwrap()
}

#[tokio::test]
async fn keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::records_and_events(&open(&dir)).await;
    contract::leases(&open(&tempfile::tempdir().unwrap())).await;
    contract::one_winner(Arc::new(open(&tempfile::tempdir().unwrap()))).await;
    let shared = tempfile::tempdir().unwrap();
    contract::claims_never_overlap(
        (0..3)
            .map(|_| Arc::new(open(&shared)) as Arc<dyn JobStore>)
            .collect(),
    )
    .await;
    contract::retention(&open(&tempfile::tempdir().unwrap())).await;
    // Everything survives closing and opening again.
    let reopened = open(&dir);
    assert_eq!(reopened.list(10, None).await.unwrap().len(), 2);
    assert_eq!(reopened.get("a").await.unwrap().unwrap().starts, 2);
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
    // Its job has no lease (an expired one): the next router claims it.
    let claim = Claim {
        own_previous: false,
        validations: false,
        limit: 10,
    };
    let claimed = store.claim(&contract::holder(), claim).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].generation, 2);
}

#[test]
fn an_unusable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = SqliteStore::open(&file.join("jobs.sqlite")).unwrap_err();
    assert!(err.to_string().contains("jobs.sqlite"), "{err}");
}
