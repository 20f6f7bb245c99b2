//! The contracts as bytes on the wire: message round trips, the reflection descriptor set, and a
//! real in-process gRPC call through the generated client and server.

use std::pin::Pin;

use hop_proto::FILE_DESCRIPTOR_SET;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::engine_server::{Engine, EngineServer};
use hop_proto::v1::job_event::{Event, Failed, Finished, Progress, Queued, Started};
use hop_proto::v1::{
    AlgorithmSummary, DescribeRequest, EngineInfo, JobEvent, JobOptions, JobResult, JobSpec,
    RunRequest, Side, StrategyMetrics, job_spec,
};
use prost::Message;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

fn result(job_id: &str) -> JobResult {
    JobResult {
        job_id: job_id.into(),
        side: Side::Green as i32,
        engine: "cpu".into(),
        seed: 42,
        best_fitness: -1.82604746746997,
        best_algorithm: "GA".into(),
        best_size: 35,
        algorithms: vec![AlgorithmSummary {
            algorithm: "GA".into(),
            portfolio_size: 3,
            portfolio: vec![0, 1, 2],
            fitness: -1.84874227869528,
            evaluations: 10_000,
            seconds: 0.25,
            roi: 1234.5,
            max_drawdown: 678.9,
            win_percentage: 0.5,
            profit_factor: f64::INFINITY,
            roi_drawdown_ratio: 1.818,
        }],
        strategy_metrics: vec![StrategyMetrics {
            roi: -10.0,
            max_drawdown: 20.0,
            win_percentage: 0.25,
            profit_factor: f64::INFINITY,
            expectancy: -0.125,
        }],
        result_json: r#"{"evaluator":"cpu"}"#.into(),
        run_folder: "output/run_20250730_154500".into(),
        seconds: 1.5,
        walk_forward: None,
        selection: None,
    }
}

#[test]
fn job_events_round_trip_with_every_variant() {
    let events = [
        Event::Queued(Queued {}),
        Event::Started(Started {
            side: Side::Blue as i32,
            engine: "embedded-sql".into(),
        }),
        Event::Progress(Progress {
            portfolio_size: 35,
            algorithm: "SA".into(),
            percent: 12.5,
            best_fitness: Some(30.5),
            evaluations: 4096,
        }),
        Event::Finished(Finished {
            result: Some(result("job_1")),
        }),
        Event::Failed(Failed {
            code: "INVALID_INPUT".into(),
            message: "Row 3, column \"S1\": \"abc\" is not a number.".into(),
        }),
    ];
    for (i, event) in events.into_iter().enumerate() {
        let mut sent = JobEvent::now("job_1", event);
        sent.sequence = i as u64 + 1;
        let back = JobEvent::decode(sent.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, sent);
        assert!(back.time.is_some());
    }

    let spec = JobSpec {
        job_id: "job_1".into(),
        input: Some(job_spec::Input::DatasetId("abc123".into())),
        options: Some(JobOptions {
            min_size: 10,
            algorithms: vec!["GA".into(), "RS".into()],
            seed: Some(0),
            metric: "less max dd".into(),
            penalty_weight: Some(0.0),
            ..Default::default()
        }),
        labels: [("username".to_string(), "analyst".to_string())].into(),
    };
    let back = JobSpec::decode(spec.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back, spec);
    // `optional` keeps an explicit zero apart from "unset".
    let options = back.options.unwrap();
    assert_eq!(
        (options.seed, options.penalty_weight, options.budget),
        (Some(0), Some(0.0), None)
    );

    let sent = result("job_2");
    let back = JobResult::decode(sent.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back, sent);
    assert_eq!(back.side(), Side::Green);
    assert!(back.strategy_metrics[0].profit_factor.is_infinite());
}

#[test]
fn descriptor_set_names_every_service_with_docs() {
    let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let mut services: Vec<String> = fds
        .file
        .iter()
        .flat_map(|f| {
            f.service
                .iter()
                .map(move |s| format!("{}.{}", f.package(), s.name()))
        })
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "hop.v1.Admin",
            "hop.v1.Engine",
            "hop.v1.Ingest",
            "hop.v1.Jobs",
            "hop.v1.Validator"
        ]
    );
    // Imports travel with it (reflection clients resolve them), and so do the comments.
    let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
    assert!(
        names.contains(&"google/protobuf/timestamp.proto"),
        "{names:?}"
    );
    let common = fds
        .file
        .iter()
        .find(|f| f.name() == "hop/v1/common.proto")
        .unwrap();
    assert!(
        common
            .source_code_info
            .as_ref()
            .is_some_and(|i| !i.location.is_empty())
    );
}

/// A trivial engine: describes itself and streams `started` then `finished`.
struct FakeEngine;

#[tonic::async_trait]
impl Engine for FakeEngine {
    type RunStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<Self::RunStream>, Status> {
        let spec = request
            .into_inner()
            .spec
            .ok_or_else(|| Status::invalid_argument("no spec"))?;
        let events = vec![
            Ok(JobEvent::now(
                &spec.job_id,
                Event::Started(Started {
                    side: Side::Green as i32,
                    engine: "cpu".into(),
                }),
            )),
            Ok(JobEvent::now(
                &spec.job_id,
                Event::Finished(Finished {
                    result: Some(result(&spec.job_id)),
                }),
            )),
        ];
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn describe(&self, _: Request<DescribeRequest>) -> Result<Response<EngineInfo>, Status> {
        Ok(Response::new(EngineInfo {
            side: Side::Green as i32,
            engine: "cpu".into(),
            device: "cpu: 2 threads".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }))
    }
}

#[tokio::test]
async fn engine_round_trip_over_grpc() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EngineServer::new(FakeEngine))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let mut client = EngineClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let info = client
        .describe(DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.side(), Side::Green);
    assert_eq!(info.device, "cpu: 2 threads");

    let spec = JobSpec {
        job_id: "job_rt".into(),
        input: Some(job_spec::Input::CsvPath("input/x.csv".into())),
        ..Default::default()
    };
    let mut stream = client
        .run(RunRequest { spec: Some(spec) })
        .await
        .unwrap()
        .into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.job_id == "job_rt"));
    assert!(matches!(&events[0].event, Some(Event::Started(s)) if s.engine == "cpu"));
    match &events[1].event {
        Some(Event::Finished(Finished { result: Some(r) })) => assert_eq!(*r, result("job_rt")),
        other => panic!("expected a finished event, got {other:?}"),
    }

    // A missing spec is the server's error, carried as a gRPC status.
    let status = client.run(RunRequest { spec: None }).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    server.abort();
}
