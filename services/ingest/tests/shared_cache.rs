//! Two ingest replicas sharing one `cache_dir` (a ReadWriteMany claim in the chart): a dataset
//! imported through one is described and streamed by the other, and both importing the same CSV
//! at once leaves one whole dataset.

mod common;

use std::path::Path;

use common::{FIXTURE, Server, do_get, ticket};
use hop_core::fixtures::{assert_bit_identical, matrix, path};
use hop_proto::v1::{ImportRequest, StatRequest};

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_imported_on_one_replica_is_served_by_the_other() {
    let shared = tempfile::tempdir().unwrap();
    let cache_dir = format!("cache_dir={}", shared.path().display());
    let first = Server::start(&["--set", &cache_dir]);
    let second = Server::start(&["--set", &cache_dir]);
    let import = |csv: &Path| ImportRequest {
        csv_path: csv.display().to_string(),
    };

    let imported = first
        .ingest()
        .await
        .import(import(&path(FIXTURE)))
        .await
        .unwrap()
        .into_inner();
    let id = imported.dataset_id;
    let info = second
        .ingest()
        .await
        .stat(StatRequest {
            dataset_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.strategies, info.days), (2500, 82));
    let (all, _) = do_get(&mut second.flight().await, ticket(&id, None, None))
        .await
        .unwrap();
    assert_bit_identical(&all, &matrix(FIXTURE));

    // Both import another CSV at once: the same content under the same name, whoever wins.
    let small = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sensex_500x82.csv");
    let (mut a, mut b) = (first.ingest().await, second.ingest().await);
    let (one, two) = tokio::join!(a.import(import(&small)), b.import(import(&small)));
    let (one, two) = (one.unwrap().into_inner(), two.unwrap().into_inner());
    assert_eq!(one.dataset_id, two.dataset_id);
    let (from_first, _) = do_get(
        &mut first.flight().await,
        ticket(&one.dataset_id, None, None),
    )
    .await
    .unwrap();
    let (from_second, _) = do_get(
        &mut second.flight().await,
        ticket(&one.dataset_id, None, None),
    )
    .await
    .unwrap();
    assert_bit_identical(&from_first, &from_second);
    assert_eq!(from_first.n_strategies(), 500);

    // The replicas' own data folders hold no cache; the shared one holds both datasets alone.
    assert!(!first.dir.path().join("parquet").exists());
    let mut names: Vec<_> = std::fs::read_dir(shared.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected = Vec::new();
    for id in [&id, &one.dataset_id] {
        expected.extend([format!("{id}.json"), format!("{id}.parquet")]);
    }
    expected.sort();
    assert_eq!(names, expected);
}
