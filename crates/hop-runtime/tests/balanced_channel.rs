//! A balanced channel over two real servers on 127.0.0.1 (their addresses from an injected
//! resolver): requests reach both; with one stopped and gone from the resolver, every request
//! succeeds on the other. With TLS, each endpoint verifies the certificate against the host name.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hop_runtime::client::balance::Resolve;
use hop_runtime::client::{ClientSecurity, ServiceChannel};
use hop_runtime::testing::pki::TestPki;
use hop_runtime::{BoundServer, GrpcServices, ServiceConfig, Shutdown, serve_grpc};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as Wire;
use tonic_health::pb::health_client::HealthClient;

const REFRESH: Duration = Duration::from_millis(50);
const DEADLINE: Duration = Duration::from_secs(20);

/// The addresses the test says the service has.
#[derive(Clone, Default)]
struct Listed(Arc<Mutex<Vec<SocketAddr>>>);

impl Listed {
    fn set(&self, addrs: Vec<SocketAddr>) {
        *self.0.lock().unwrap() = addrs;
    }
}

impl Resolve for Listed {
    async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// A server whose health service `who` is SERVING (`first`) or NOT_SERVING (the other), so an
/// answer tells which server gave it.
async fn start(first: bool, config: ServiceConfig) -> (BoundServer, Shutdown) {
    let shutdown = Shutdown::new();
    let server = serve_grpc(GrpcServices::new(), &config, shutdown.clone())
        .await
        .expect("server starts");
    let status = if first {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    server.health.set_service_status("who", status).await;
    (server, shutdown)
}

/// Which server answered: `Ok(true)` the first, `Ok(false)` the second.
async fn who(channel: &ServiceChannel) -> Result<bool, tonic::Status> {
    let answer = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "who".into(),
        })
        .await?;
    Ok(answer.into_inner().status == Wire::Serving as i32)
}

/// Calls until both servers have answered (within [`DEADLINE`]).
async fn reach_both(channel: &ServiceChannel) {
    let (mut first, mut second) = (0, 0);
    let start = Instant::now();
    while first == 0 || second == 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "only {first} + {second} answers"
        );
        if who(channel).await.expect("both servers answer") {
            first += 1;
        } else {
            second += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_spread_over_both_and_survive_one_stopping() {
    let (a, stop_a) = start(true, ServiceConfig::default()).await;
    let (b, _stop_b) = start(false, ServiceConfig::default()).await;
    let listed = Listed::default();
    listed.set(vec![a.local_addr, b.local_addr]);
    let channel = ClientSecurity::default()
        .balanced_channel_with("http://engines.test:1", listed.clone(), REFRESH)
        .unwrap();

    reach_both(&channel).await;

    stop_a.trigger();
    a.wait().await.unwrap();
    listed.set(vec![b.local_addr]);
    // Once the resolver has dropped the stopped one, 30 requests in a row succeed on the other.
    let start = Instant::now();
    let mut in_a_row = 0;
    while in_a_row < 30 {
        assert!(
            start.elapsed() < DEADLINE,
            "requests still fail or reach the stopped server"
        );
        match who(&channel).await {
            Ok(false) => in_a_row += 1,
            Ok(true) => panic!("the stopped server answered"),
            Err(_) => in_a_row = 0,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_endpoints_verify_the_host_name_not_the_address() {
    let pki = TestPki::new("balance");
    let server_files = pki.issue("compute");
    let config = ServiceConfig {
        tls_cert: Some(server_files.cert.clone()),
        tls_key: Some(server_files.key.clone()),
        tls_ca: Some(server_files.ca.clone()),
        ..ServiceConfig::default()
    };
    let (server, _stop) = start(true, config).await;
    let client = ClientSecurity::new(Some(&pki.issue("router")), None).unwrap();
    let listed = Listed::default();
    listed.set(vec![server.local_addr]);
    let port = server.local_addr.port();

    let named = client
        .balanced_channel_with(&format!("http://compute:{port}"), listed.clone(), REFRESH)
        .unwrap();
    let start = Instant::now();
    while let Err(e) = who(&named).await {
        assert!(
            start.elapsed() < DEADLINE,
            "the certificate's name fails: {e}"
        );
    }

    // The certificate is valid for 127.0.0.1 too, so only the name can make this one fail.
    let other = client
        .balanced_channel_with(&format!("http://elsewhere:{port}"), listed, REFRESH)
        .unwrap();
    who(&other)
        .await
        .expect_err("a name the certificate lacks is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_resolves_to_nothing_fails_calls_instead_of_holding_them() {
    let channel = ClientSecurity::default()
        .balanced_channel("http://no-such-host.invalid:50051")
        .unwrap();
    let answer = tokio::time::timeout(DEADLINE, who(&channel))
        .await
        .expect("the call ends");
    assert!(answer.is_err(), "{answer:?}");
}

/// A comma-separated address (replicas on one host) balances over every address listed.
#[tokio::test(flavor = "multi_thread")]
async fn a_listed_address_reaches_every_replica() {
    let (a, _stop_a) = start(true, ServiceConfig::default()).await;
    let (b, _stop_b) = start(false, ServiceConfig::default()).await;
    let uri = format!("http://{}, http://{}", a.local_addr, b.local_addr);
    let channel = ClientSecurity::default().balanced_channel(&uri).unwrap();
    reach_both(&channel).await;
}
