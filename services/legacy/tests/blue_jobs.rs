//! The blue engine through its real binary: a job's portfolios and fitness are the bits of the
//! shared search in this process, its per-strategy metrics (from SQL) agree with the Rust ones to
//! 1e-12 relative, and refusals say what to do.

mod common;

use common::legacy;

use hop_core::JobOptions;
use hop_core::eval::CpuEvaluator;
use hop_core::metrics::all_strategy_metrics;
use hop_core::run::{Prepared, run_search};
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{DescribeRequest, JobEvent, JobSpec, Side};
use hop_runtime::testing::ServiceProcess;

const FIXTURE: &str = "sensex_500x82.csv";

fn options() -> JobOptions {
    JobOptions {
        budget: Some(1500),
        ulta: true,
        ..JobOptions::with_size(10)
    }
}

async fn run(server: &ServiceProcess, input: Input) -> Vec<JobEvent> {
    let spec = JobSpec {
        job_id: "blue-1".into(),
        input: Some(input),
        options: Some(hop_contract::options_to_proto(&options())),
        labels: Default::default(),
    };
    common::events(server, spec).await
}

async fn check_job(server: &ServiceProcess) {
    let csv = hop_core::fixtures::path(FIXTURE).display().to_string();
    let events = run(server, Input::CsvPath(csv)).await;
    let Some(Event::Started(started)) = &events[0].event else {
        panic!("{events:?}")
    };
    assert_eq!(started.side(), Side::Blue);
    assert_eq!(started.engine, "embedded-sql");
    let Some(Event::Finished(finished)) = &events.last().unwrap().event else {
        panic!("{:?}", events.last())
    };
    let result = finished.result.as_ref().unwrap();
    assert_eq!(result.side(), Side::Blue);

    let options = options();
    let prepared = Prepared::new(hop_core::fixtures::matrix(FIXTURE), &options, None).unwrap();
    let eval = CpuEvaluator::new(&prepared.problem);
    let expected = run_search(&prepared, &options, &eval, &|_| {});
    assert!(
        !expected.inversions.is_empty(),
        "ULTA inverted some strategies"
    );
    let want: Vec<_> = expected.sizes.iter().flat_map(|s| &s.algorithms).collect();
    assert_eq!(result.algorithms.len(), want.len());
    for (got, want) in result.algorithms.iter().zip(want) {
        assert_eq!(got.portfolio, want.portfolio, "{}", got.algorithm);
        assert_eq!(
            got.fitness.to_bits(),
            want.fitness.to_bits(),
            "{}",
            got.algorithm
        );
        assert_eq!(got.evaluations, want.evaluations);
    }
    // The SQL metrics are those of the matrix after ULTA.
    let rust = all_strategy_metrics(&prepared.matrix);
    assert_eq!(result.strategy_metrics.len(), rust.len());
    let worst = common::worst_relative(result.strategy_metrics.iter().zip(&rust).map(
        |(sql, rust)| {
            let rust = [
                rust.roi,
                rust.max_drawdown,
                rust.win_percentage,
                rust.profit_factor,
                rust.expectancy,
            ];
            (common::five(sql), rust)
        },
    ));
    assert!(worst <= 1e-12, "worst relative difference {worst:e}");
    let back: hop_core::RunResult = serde_json::from_str(&result.result_json).unwrap();
    assert_eq!(back.inversions, expected.inversions);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_in_memory_and_in_a_database_file() {
    let memory = legacy(&[]);
    check_job(&memory).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blue.sqlite");
    let set = format!("database={}", file.display());
    let filed = legacy(&["--set", &set]);
    check_job(&filed).await;
    // The job's tables were dropped when it ended.
    let tables = hop_sql::SqliteBackend::open(&file).unwrap();
    let mut tables = tables;
    let rows = hop_sql::SqlBackend::query(
        &mut tables,
        "SELECT name FROM sqlite_master WHERE type = 'table'",
    )
    .unwrap();
    assert_eq!(rows.n_rows(), 0, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_and_refusals() {
    let server = legacy(&[]);
    let mut client = EngineClient::new(server.channel().await);
    let info = client
        .describe(DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.side(), Side::Blue);
    assert_eq!(info.engine, "embedded-sql");
    assert!(info.device.contains("SQLite"), "{}", info.device);

    let failure = |events: &[JobEvent]| match &events.last().unwrap().event {
        Some(Event::Failed(f)) => (f.code.clone(), f.message.clone()),
        other => panic!("{other:?}"),
    };
    let (code, message) = failure(&run(&server, Input::DatasetId("abc".into())).await);
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("csv_path"), "{message}");
    let (code, message) = failure(&run(&server, Input::CsvPath("/nonexistent/x.csv".into())).await);
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("/nonexistent/x.csv"), "{message}");
}
