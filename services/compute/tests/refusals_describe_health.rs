//! Failed jobs (bad options, bad CSV, no GPU, no ingest), a missing spec, Describe and health.

mod common;

use common::{Server, auto_engine, failure, kinds};
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{DescribeRequest, JobOptions, JobSpec, RunRequest, Side};
use hop_runtime::testing::assert_serving;

fn csv() -> String {
    hop_core::fixtures::path("sensex_500x82.csv")
        .display()
        .to_string()
}

fn spec(input: Input, options: JobOptions) -> JobSpec {
    JobSpec {
        job_id: "bad".into(),
        input: Some(input),
        options: Some(options),
        labels: Default::default(),
    }
}

fn small() -> JobOptions {
    JobOptions {
        min_size: 5,
        budget: Some(100),
        algorithms: vec!["HC".into()],
        ..JobOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_jobs_fail_as_events() {
    let compute = Server::compute(&[]);

    let unknown = JobOptions {
        algorithms: vec!["GA".into(), "FOO".into()],
        ..small()
    };
    let events = compute.run(spec(Input::CsvPath(csv()), unknown)).await;
    assert_eq!(kinds(&events), ["started", "failed"]);
    let (code, message) = failure(&events);
    assert_eq!(code, "INVALID_OPTIONS");
    assert!(
        message.contains("algorithms") && message.contains("FOO"),
        "{message}"
    );

    let too_big = JobOptions {
        min_size: 501,
        ..small()
    };
    let (code, message) = failure(&compute.run(spec(Input::CsvPath(csv()), too_big)).await);
    assert_eq!(code, "INVALID_OPTIONS");
    assert!(message.contains("501"), "{message}");

    let bad = compute.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Date,Day,S1,S2\n2024-01-01,Monday,1.0,2.0\n2024-01-02,Tuesday,3.0,abc\n",
    )
    .unwrap();
    let events = compute
        .run(spec(Input::CsvPath(bad.display().to_string()), small()))
        .await;
    assert_eq!(kinds(&events), ["started", "failed"]);
    let (code, message) = failure(&events);
    assert_eq!(code, "INVALID_INPUT");
    assert!(
        message.contains("line 3") && message.contains("abc"),
        "{message}"
    );

    let (code, message) = failure(
        &compute
            .run(spec(Input::CsvPath("/no/such/file.csv".into()), small()))
            .await,
    );
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("/no/such/file.csv"), "{message}");

    // A dataset id needs an ingest service, and none is configured.
    let (code, _) = failure(
        &compute
            .run(spec(Input::DatasetId("abc".into()), small()))
            .await,
    );
    assert_eq!(code, "UNAVAILABLE");

    // The RPC itself only fails for a missing spec.
    let status = compute
        .engine()
        .await
        .run(RunRequest { spec: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_ingest_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let set = format!("ingest=http://127.0.0.1:{port}");
    let compute = Server::compute(&["--set", &set]);
    let (code, message) = failure(&compute.run(spec(Input::CsvPath(csv()), small())).await);
    assert_eq!(code, "UNAVAILABLE");
    assert!(message.contains("ingest"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gpu_engine_fails_clearly() {
    let reason = match hop_gpu::Gpu::probe() {
        Ok(info) => {
            println!("skipped: a GPU is usable here ({})", info.describe());
            return;
        }
        Err(e) => e.to_string(),
    };
    let compute = Server::compute(&["--set", "engine=gpu"]);
    let events = compute.run(spec(Input::CsvPath(csv()), small())).await;
    assert_eq!(kinds(&events), ["started", "failed"]);
    let (code, message) = failure(&events);
    assert_eq!(code, "ENGINE_UNAVAILABLE");
    // The probe's own reason, e.g. "no usable GPU: the CUDA driver library (libcuda) is not
    // installed or not on the library path".
    assert_eq!(
        message,
        format!("{}: {reason}", hop_compute::engine::NO_GPU)
    );
    let status = compute
        .engine()
        .await
        .describe(DescribeRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), message);
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_says_cpu_and_health_is_serving() {
    for extra in [&[][..], &["--set", "engine=cpu"][..]] {
        let compute = Server::compute(extra);
        let info = compute
            .engine()
            .await
            .describe(DescribeRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(info.side(), Side::Green);
        let engine = if extra.is_empty() {
            auto_engine()
        } else {
            "cpu"
        };
        assert_eq!(info.engine, engine);
        assert!(
            info.device.starts_with(&format!("{engine}: ")),
            "{}",
            info.device
        );
        if extra.is_empty() && engine == "cpu" {
            // auto says why it is on the CPU.
            assert!(
                info.device.contains("(engine = auto: no usable GPU: "),
                "{}",
                info.device
            );
        }
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));

        assert_serving(compute.channel().await, &["", "hop.v1.Engine"]).await;
    }
}
