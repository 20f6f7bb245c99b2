//! Jobs end to end through the real binaries: via ingest (Import + Flight) and via a local parse,
//! each checked bit for bit against `hop_core::run::run_search` in this process (the determinism
//! promise), and the event order Started, Progress..., Finished.

mod common;

use std::time::{Duration, Instant};

use common::{Server, auto_engine, kinds};
use futures::StreamExt;
use hop_core::eval::CpuEvaluator;
use hop_core::run::{Prepared, run_search};
use hop_core::{JobOptions, RunResult};
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobEvent, JobResult, JobSpec, RunRequest, Side};

const FIXTURE: &str = "sensex_500x82.csv";
const BUDGET: u64 = 2000;

fn options() -> JobOptions {
    JobOptions {
        budget: Some(BUDGET),
        ..JobOptions::with_size(10)
    }
}

fn spec(job_id: &str, input: Input) -> JobSpec {
    JobSpec {
        job_id: job_id.into(),
        input: Some(input),
        options: Some(hop_contract::options_to_proto(&options())),
        labels: Default::default(),
    }
}

fn csv() -> String {
    hop_core::fixtures::path(FIXTURE).display().to_string()
}

/// The same job in this process.
fn expected() -> RunResult {
    let options = options();
    let prepared = Prepared::new(hop_core::fixtures::matrix(FIXTURE), &options, None).unwrap();
    let eval = CpuEvaluator::new(&prepared.problem);
    run_search(&prepared, &options, &eval, &|_| {})
}

/// Checks the event order and sequence numbers, and returns the result.
fn finished(job_id: &str, events: &[JobEvent]) -> JobResult {
    let kinds = kinds(events);
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
    assert!(
        kinds[1..kinds.len() - 1].iter().all(|k| *k == "progress"),
        "{kinds:?}"
    );
    assert!(kinds.len() > 2, "some progress: {kinds:?}");
    // At most one progress per algorithm per 5 %, plus the first: 8 algorithms x 21.
    assert!(kinds.len() <= 2 + 8 * 21, "{} events", kinds.len());
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.job_id, job_id);
        assert_eq!(event.sequence, i as u64 + 1);
        assert!(event.time.is_some());
    }
    let Some(Event::Started(started)) = &events[0].event else {
        unreachable!()
    };
    assert_eq!(started.engine, auto_engine());
    assert_eq!(started.side(), Side::Green);
    let mut last_percent = 0.0;
    for event in &events[1..events.len() - 1] {
        let Some(Event::Progress(p)) = &event.event else {
            unreachable!()
        };
        assert_eq!(p.portfolio_size, 10);
        assert!((0.0..=100.0).contains(&p.percent) && p.percent >= last_percent);
        last_percent = p.percent;
        assert!(p.evaluations <= BUDGET);
    }
    match &events.last().unwrap().event {
        Some(Event::Finished(f)) => f.result.clone().expect("a result"),
        _ => unreachable!(),
    }
}

fn assert_matches(result: &JobResult, expected: &RunResult) {
    assert_eq!(result.engine, auto_engine());
    assert_eq!(result.side(), Side::Green);
    assert_eq!(result.seed, 42);
    let domain: Vec<_> = expected.sizes.iter().flat_map(|s| &s.algorithms).collect();
    assert_eq!(result.algorithms.len(), 8);
    assert_eq!(result.algorithms.len(), domain.len());
    for (got, want) in result.algorithms.iter().zip(domain) {
        assert_eq!(got.algorithm, want.algorithm.as_str());
        assert_eq!(got.portfolio_size, 10);
        assert_eq!(got.portfolio, want.portfolio, "{}", got.algorithm);
        assert_eq!(
            got.fitness.to_bits(),
            want.fitness.to_bits(),
            "{}: {} vs {}",
            got.algorithm,
            got.fitness,
            want.fitness
        );
        assert_eq!(got.evaluations, want.evaluations);
        assert_eq!(got.roi.to_bits(), want.metrics.total_roi.to_bits());
    }
    assert_eq!(
        result.best_fitness.to_bits(),
        expected.best().fitness.to_bits()
    );
    assert_eq!(result.best_algorithm, expected.best().algorithm.as_str());
    assert_eq!(result.best_size, 10);
    assert_eq!(result.strategy_metrics.len(), 500);
    let back: RunResult = serde_json::from_str(&result.result_json).unwrap();
    assert_eq!(back.best().portfolio, expected.best().portfolio);
    assert_eq!(back.strategy_names, expected.strategy_names);
}

#[tokio::test(flavor = "multi_thread")]
async fn through_ingest_import_and_flight() {
    let ingest = Server::ingest();
    let compute = Server::compute_with_ingest(&ingest);
    let events = compute.run(spec("via-ingest", Input::CsvPath(csv()))).await;
    let result = finished("via-ingest", &events);
    let expected = expected();
    assert_matches(&result, &expected);

    // The dataset is now in ingest's cache: a job by dataset id gives the same bits.
    let id = hop_columnar::dataset_id(&hop_core::fixtures::bytes(FIXTURE));
    let events = compute.run(spec("by-id", Input::DatasetId(id))).await;
    assert_matches(&finished("by-id", &events), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_parse_without_ingest() {
    let compute = Server::compute(&[]);
    let events = compute.run(spec("local", Input::CsvPath(csv()))).await;
    assert_matches(&finished("local", &events), &expected());
}

/// A client that goes away mid-search frees the engine at once: the search stops after the batch
/// in hand (its budget here would keep a core busy for many minutes) and the job counts as
/// cancelled.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_stream_stops_the_search() {
    let compute = Server::compute(&[]);
    let mut endless = spec("dropped", Input::CsvPath(csv()));
    endless.options.as_mut().expect("options").budget = Some(5_000_000_000);
    let mut stream = compute
        .engine()
        .await
        .run(RunRequest {
            spec: Some(endless),
        })
        .await
        .expect("Run is accepted")
        .into_inner();
    // Started, then two seconds of CPU: the search is running.
    while let Some(event) = stream.next().await {
        if matches!(event.expect("event").event, Some(Event::Started(_))) {
            break;
        }
    }
    let before = compute.cpu_time();
    let waiting = Instant::now();
    while compute.cpu_time() < before + Duration::from_secs(2) {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "the search never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stream);
    let dropped = Instant::now();
    loop {
        let metrics = hop_runtime::testing::scrape_metrics(compute.metrics).await;
        let cancelled = metrics.lines().any(|line| {
            line.starts_with("hop_engine_jobs_total{")
                && line.contains("outcome=\"cancelled\"")
                && line.ends_with(" 1")
        });
        if cancelled {
            break;
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(20),
            "the search went on after its client left:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "the search stopped {:?} after its client left",
        dropped.elapsed()
    );
}
