//! The blue engine on HeavyDB, end to end: the real `hop-legacy` binary configured with
//! `backend = heavydb://..` runs a job against the conformance peer (pyheavydb's Thrift
//! processor on DuckDB) and gives the same result as with the embedded engine.

mod common;

use common::legacy;

use futures::StreamExt;
use hop_core::JobOptions;
use hop_heavydb::HeavyDbClient;
use hop_heavydb::testing::{PASSWORD, Peer};
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{DescribeRequest, JobResult, JobSpec, RunRequest};
use hop_runtime::testing::ServiceProcess;

const FIXTURE: &str = "sensex_500x82.csv";

/// Runs the fixture job (k = 10, budget 500) and returns its engine name and result.
async fn job(server: &ServiceProcess, job_id: &str) -> (String, JobResult) {
    let options = JobOptions {
        budget: Some(500),
        ulta: true,
        ..JobOptions::with_size(10)
    };
    let spec = JobSpec {
        job_id: job_id.into(),
        input: Some(Input::CsvPath(
            hop_core::fixtures::path(FIXTURE).display().to_string(),
        )),
        options: Some(hop_contract::options_to_proto(&options)),
        labels: Default::default(),
    };
    let (mut engine, mut result) = (String::new(), None);
    for event in common::events(server, spec).await {
        match event.event {
            Some(Event::Started(started)) => engine = started.engine,
            Some(Event::Finished(finished)) => result = finished.result,
            Some(Event::Failed(failed)) => panic!("job failed: {failed:?}"),
            _ => {}
        }
    }
    (engine, result.expect("a finished event"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_on_heavydb_matches_the_embedded_engine() {
    let Some(peer) = Peer::start(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("heavydb-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let backend = format!("backend={}", peer.url());
    let password = format!("password_file={}", password_file.display());
    let heavy = legacy(&["--set", &backend, "--set", &password]);
    let embedded = legacy(&[]);

    let info = EngineClient::new(heavy.channel().await)
        .describe(DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.engine, "heavydb");
    assert!(info.device.contains(&peer.url()), "{}", info.device);
    assert!(!info.device.contains(PASSWORD));

    let (engine, want) = job(&embedded, "blue-embedded").await;
    assert_eq!(engine, "embedded-sql");
    // Two jobs: the second reuses the first one's connection and session.
    for job_id in ["blue-heavy-1", "blue-heavy-2"] {
        let (engine, got) = job(&heavy, job_id).await;
        assert_eq!(engine, "heavydb");
        assert_eq!(got.algorithms.len(), want.algorithms.len());
        for (g, w) in got.algorithms.iter().zip(&want.algorithms) {
            assert_eq!(g.algorithm, w.algorithm);
            assert_eq!(g.portfolio, w.portfolio, "{}", g.algorithm);
            assert_eq!(g.fitness.to_bits(), w.fitness.to_bits(), "{}", g.algorithm);
            assert_eq!(g.evaluations, w.evaluations, "{}", g.algorithm);
        }
        // The metrics come from another SQL engine's sums (DuckDB's, here). Each engine is within
        // 1e-12 relative of the Rust reference (tested in hop-sql for SQLite), so within 2e-12 of
        // each other (the fixture's worst is 9.1e-13).
        assert_eq!(got.strategy_metrics.len(), want.strategy_metrics.len());
        let worst = common::worst_relative(
            got.strategy_metrics
                .iter()
                .zip(&want.strategy_metrics)
                .map(|(g, w)| (common::five(g), common::five(w))),
        );
        assert!(worst <= 2e-12, "worst relative difference {worst:e}");
        eprintln!("{job_id}: worst metric difference from the embedded engine {worst:e}");
    }
    // The jobs' tables were dropped on the server.
    let mut client = HeavyDbClient::connect(peer.config()).unwrap();
    let tables = client
        .sql_execute("SELECT table_name FROM information_schema.tables", true)
        .unwrap();
    assert_eq!(tables.n_rows(), 0, "{tables:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_heavydb_password_fails_the_job_clearly() {
    let Some(peer) = Peer::start(&[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("heavydb-password");
    std::fs::write(&password_file, "not-the-password").unwrap();
    let backend = format!("backend={}", peer.url());
    let password = format!("password_file={}", password_file.display());
    let heavy = legacy(&["--set", &backend, "--set", &password]);
    let spec = JobSpec {
        job_id: "blue-bad-login".into(),
        input: Some(Input::CsvPath(
            hop_core::fixtures::path(FIXTURE).display().to_string(),
        )),
        options: Some(hop_contract::options_to_proto(&JobOptions::with_size(10))),
        labels: Default::default(),
    };
    let mut client = EngineClient::new(heavy.channel().await);
    let mut stream = client
        .run(RunRequest { spec: Some(spec) })
        .await
        .expect("accepted")
        .into_inner();
    let mut failure = None;
    while let Some(event) = stream.next().await {
        if let Some(Event::Failed(failed)) = event.expect("no stream error").event {
            failure = Some(failed.message);
        }
    }
    let message = failure.expect("the job failed");
    assert!(message.contains("Authentication failure"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
}
