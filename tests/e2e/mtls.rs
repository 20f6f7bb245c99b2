//! Mutual TLS and caller identity on every service (issue 13.1): each of the six real binaries
//! started on loopback port 0 with its certificate, the test CA and a tokens folder. For each
//! service, with the right token in every case so only the layer under test can refuse:
//! a call without a client certificate is refused, a certificate of another CA is refused, and
//! with the right certificate a call without a token is `UNAUTHENTICATED`, a token of a kind the
//! service does not accept is `PERMISSION_DENIED`, and the right kind is served. Health stays
//! open to any caller with a valid certificate (kubelet-style probes send no token). Finally one
//! job runs over the whole stack with TLS and tokens on every hop.

use std::time::Duration;

use arrow_flight::flight_service_client::FlightServiceClient;
use hop_e2e::{Cluster, binaries};
use hop_proto::v1::admin_client::AdminClient;
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::ingest_client::IngestClient;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::validator_client::ValidatorClient;
use hop_proto::v1::{
    CutoverStatusRequest, DescribeRequest, ImportRequest, JobState, ListComparisonsRequest,
    ListRequest,
};
use hop_runtime::client::{ClientSecurity, ServiceChannel};
use hop_runtime::security::{CallerKind, TlsFiles, Token};
use hop_runtime::testing::{ServiceProcess, TestPki, tls_settings};
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The CA, the tokens and the files every service of this test shares.
struct Setup {
    pki: TestPki,
    other: TestPki,
    tokens: tempfile::TempDir,
    input: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let tokens = tempfile::tempdir().expect("a tokens folder");
        hop_runtime::security::tokens::provision(tokens.path()).expect("tokens written");
        let input = tempfile::tempdir().expect("an input root");
        std::fs::write(
            input.path().join("small.csv"),
            "Date,Day,A,B\n2024-01-01,Monday,1.5,2\n2024-01-02,Tuesday,3,-1\n",
        )
        .expect("a CSV");
        Self {
            pki: TestPki::new("hop"),
            other: TestPki::new("other"),
            tokens,
            input,
        }
    }

    fn token(&self, kind: CallerKind) -> Token {
        Token::read("token", &self.tokens.path().join(kind.name())).expect("a token")
    }

    /// Starts `service` with TLS, the tokens folder and `extra` settings.
    fn start(&self, service: &str, extra: &[String]) -> ServiceProcess {
        let files = self.pki.issue(service);
        let mut settings = tls_settings(&files);
        settings.push(format!("tokens_dir={}", self.tokens.path().display()));
        settings.extend_from_slice(extra);
        let mut args = Vec::new();
        for setting in &settings {
            args.extend(["--set", setting.as_str()]);
        }
        let binary = binaries().join(format!("hop-{service}"));
        ServiceProcess::start(&binary, service, &args)
    }

    /// A channel with the test's `client` certificate (of `pki`) and `token`.
    async fn channel(
        &self,
        pki: &TestPki,
        server: &ServiceProcess,
        token: Option<Token>,
    ) -> Result<ServiceChannel, String> {
        let files = pki.issue("client");
        // The server is always verified against the right CA: only the client's side varies.
        let files = TlsFiles {
            ca: self.pki.ca(),
            ..files
        };
        ClientSecurity::new(Some(&files), token)
            .expect("client TLS")
            .connect(&format!("https://{}", server.grpc))
            .await
            .map_err(|e| e.to_string())
    }

    /// A channel without any client certificate (the server verified), with `token`.
    async fn anonymous_tls(
        &self,
        server: &ServiceProcess,
        token: &Token,
    ) -> Result<ServiceChannel, String> {
        let ca = std::fs::read(self.pki.ca()).expect("CA");
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        let channel = Endpoint::from_shared(format!("https://{}", server.grpc))
            .expect("a URI")
            .tls_config(tls)
            .expect("TLS")
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let security = ClientSecurity::new(None, Some(token.clone())).expect("a token");
        Ok(tonic::service::interceptor::InterceptedService::new(
            channel,
            security.outgoing(),
        ))
    }
}

/// The outcome of one call: `Ok(())` or its status code.
type Outcome = Result<(), Code>;

/// Every refusal and the success for one service, `call` being its RPC under test.
async fn check<F, Fut>(
    setup: &Setup,
    server: &ServiceProcess,
    allowed: CallerKind,
    denied: Option<CallerKind>,
    call: F,
) where
    F: Fn(ServiceChannel) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let right = setup.token(allowed);
    // No client certificate: the handshake or the first call fails; never served.
    if let Ok(channel) = setup.anonymous_tls(server, &right).await {
        let outcome = call(channel).await;
        assert!(
            matches!(
                outcome,
                Err(Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled)
            ),
            "a call without a client certificate was answered: {outcome:?}"
        );
    }
    // A certificate of another CA.
    if let Ok(channel) = setup
        .channel(&setup.other, server, Some(right.clone()))
        .await
    {
        let outcome = call(channel).await;
        assert!(
            matches!(
                outcome,
                Err(Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled)
            ),
            "a certificate of another CA was accepted: {outcome:?}"
        );
    }
    let channel = |token| setup.channel(&setup.pki, server, token);
    // Health is open to any certified caller.
    let mut health = HealthClient::new(channel(None).await.expect("connects"));
    health
        .check(HealthCheckRequest::default())
        .await
        .expect("health without a token");
    // No token, an unknown one, a kind not allowed, the right one.
    let outcome = call(channel(None).await.expect("connects")).await;
    assert_eq!(outcome, Err(Code::Unauthenticated), "without a token");
    let forged = Token::new("not-a-token-of-this-platform").expect("a token");
    let outcome = call(channel(Some(forged)).await.expect("connects")).await;
    assert_eq!(outcome, Err(Code::Unauthenticated), "an unknown token");
    if let Some(denied) = denied {
        let outcome = call(channel(Some(setup.token(denied))).await.expect("connects")).await;
        assert_eq!(outcome, Err(Code::PermissionDenied), "a {denied} token");
    }
    let outcome = call(channel(Some(right)).await.expect("connects")).await;
    assert_eq!(
        outcome,
        Ok(()),
        "the right certificate and a {allowed} token"
    );
}

fn code<T>(result: Result<T, tonic::Status>) -> Outcome {
    result.map(|_| ()).map_err(|status| {
        eprintln!("{:?}: {}", status.code(), status.message());
        status.code()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_wants_a_certificate_and_a_token_of_an_allowed_kind() {
    let setup = Setup::new();
    let input = setup.input.path().canonicalize().expect("input root");
    let root = format!("input_root={}", input.display());

    let ingest = setup.start("ingest", std::slice::from_ref(&root));
    let csv = input.join("small.csv").display().to_string();
    check(
        &setup,
        &ingest,
        CallerKind::Service,
        Some(CallerKind::Bridge),
        |channel| {
            let csv = csv.clone();
            async move {
                code(
                    IngestClient::new(channel)
                        .import(ImportRequest { csv_path: csv })
                        .await,
                )
            }
        },
    )
    .await;
    check(
        &setup,
        &ingest,
        CallerKind::Client,
        Some(CallerKind::Admin),
        |channel| async move {
            code(
                FlightServiceClient::new(channel)
                    .list_flights(arrow_flight::Criteria::default())
                    .await,
            )
        },
    )
    .await;

    let validator = setup.start("validator", &[]);
    check(
        &setup,
        &validator,
        CallerKind::Admin,
        Some(CallerKind::Client),
        |channel| async move {
            code(
                ValidatorClient::new(channel)
                    .list_comparisons(ListComparisonsRequest::default())
                    .await,
            )
        },
    )
    .await;

    let describe = |channel| async move {
        code(
            EngineClient::new(channel)
                .describe(DescribeRequest {})
                .await,
        )
    };
    let legacy = setup.start("legacy", std::slice::from_ref(&root));
    check(
        &setup,
        &legacy,
        CallerKind::Service,
        Some(CallerKind::Client),
        describe,
    )
    .await;
    let compute = setup.start("compute", &[root.clone(), "engine=cpu".into()]);
    check(
        &setup,
        &compute,
        CallerKind::Service,
        Some(CallerKind::Bridge),
        describe,
    )
    .await;

    let router = setup.start(
        "router",
        &[
            format!("blue=https://{}", legacy.grpc),
            format!("green=https://{}", compute.grpc),
        ],
    );
    check(
        &setup,
        &router,
        CallerKind::Bridge,
        Some(CallerKind::Service),
        |channel| async move { code(JobsClient::new(channel).list(ListRequest::default()).await) },
    )
    .await;
    check(
        &setup,
        &router,
        CallerKind::Admin,
        Some(CallerKind::Client),
        |channel| async move {
            code(
                AdminClient::new(channel)
                    .cutover_status(CutoverStatusRequest {})
                    .await,
            )
        },
    )
    .await;

    // The bridge serves health only: its TLS is what there is to refuse.
    let share = tempfile::tempdir().expect("a share");
    let bridge = setup.start(
        "bridge",
        &[
            format!("share={}", share.path().display()),
            format!("router=https://{}", router.grpc),
        ],
    );
    let bridge_token = setup.token(CallerKind::Bridge);
    if let Ok(channel) = setup.anonymous_tls(&bridge, &bridge_token).await {
        assert!(
            health(channel).await.is_err(),
            "the bridge answered a caller without a certificate"
        );
    }
    if let Ok(channel) = setup.channel(&setup.other, &bridge, None).await {
        assert!(
            health(channel).await.is_err(),
            "the bridge answered a certificate of another CA"
        );
    }
    let channel = setup
        .channel(&setup.pki, &bridge, None)
        .await
        .expect("connects");
    health(channel).await.expect("bridge health");
}

/// One `grpc.health.v1` check over `channel`.
async fn health(channel: ServiceChannel) -> Outcome {
    code(
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await,
    )
}

#[test]
fn a_service_beyond_loopback_refuses_to_start_without_tls_or_tokens() {
    let binary = binaries().join("hop-validator");
    let data = tempfile::tempdir().expect("a data directory");
    let run = |extra: &[&str]| {
        let mut child = std::process::Command::new(&binary)
            .args(["--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data.path())
            .args(extra)
            .env_remove("HOP_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("still running beyond loopback with {extra:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(!status.success(), "started with {extra:?}");
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
            .expect("stderr read");
        stderr
    };
    let stderr = run(&[]);
    assert!(stderr.contains("without TLS: set tls_cert"), "{stderr}");
    let stderr = run(&["--set", "insecure_plaintext=true"]);
    assert!(stderr.contains("set tokens_dir"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_runs_over_the_whole_stack_with_tls_and_tokens() {
    let cluster = Cluster::start_secure(50, None, &[], "info");
    cluster.put_fixture("sensex_500x82.csv");
    let fields = [
        ("input_file", "\"sensex_500x82.csv\""),
        ("portfolio_size", "10"),
        ("job_type", "\"complete_optimization\""),
        ("timestamp", "\"2025-07-30 15:45:00\""),
        ("budget", "300"),
    ];
    cluster.drop_job("job_mtls_share", &fields);
    let (outcome, doc) = cluster.wait_outcome("job_mtls_share", Duration::from_secs(120));
    assert_eq!(outcome, "completed", "{doc}");
    // An internal client over mutual TLS with its token, on both sides.
    for id in ["job_mtls_1", "job_mtls_2", "job_mtls_3"] {
        cluster.submit_small(id).await;
        let record = cluster.settled(id).await;
        assert_eq!(record.state(), JobState::Succeeded, "{record:?}");
    }
    // Nothing in the logs about refused calls: every hop identified itself.
    for (path, text) in cluster.logs() {
        assert!(!text.contains("call refused"), "{}: {text}", path.display());
        assert!(
            !text.contains("plaintext gRPC"),
            "{}: {text}",
            path.display()
        );
    }
}
