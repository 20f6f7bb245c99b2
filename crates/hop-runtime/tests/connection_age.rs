//! `max_connection_age`: a call longer than the age runs to its end on the aged connection, and
//! the client's next calls go out on a new one (a call that meets the old connection closing
//! fails with `CANCELLED` and succeeds when sent again, as the router does with engines).

mod common;

use std::time::Duration;

use hop_proto::v1::DescribeRequest;
use hop_proto::v1::engine_client::EngineClient;
use hop_runtime::ServiceConfig;

#[tokio::test(flavor = "multi_thread")]
async fn calls_outlive_the_connection_age_and_later_calls_reconnect() {
    let config = ServiceConfig {
        max_connection_age: Duration::from_millis(200),
        ..ServiceConfig::default()
    };
    let (server, shutdown, _) = common::start_with(Duration::from_millis(800), &config).await;
    let channel = hop_runtime::client::ClientSecurity::default()
        .lazy_channel(&format!("http://{}", server.local_addr))
        .unwrap();
    let mut client = EngineClient::new(channel);
    for call in 0..4 {
        let mut tries = 0;
        let info = loop {
            tries += 1;
            match client.describe(DescribeRequest {}).await {
                Err(e) if e.code() == tonic::Code::Cancelled && tries < 3 => continue,
                other => break other.unwrap_or_else(|e| panic!("call {call}, try {tries}: {e}")),
            }
        };
        assert_eq!(info.into_inner().engine, "test");
    }
    shutdown.trigger();
    server.wait().await.unwrap();
}
