//! A server on 127.0.0.1:0 answers health checks and lists its services through reflection.

mod common;

use std::time::Duration;

use hop_proto::v1::DescribeRequest;
use hop_proto::v1::engine_client::EngineClient;
use hop_runtime::{GrpcServices, ServiceConfig, Shutdown, serve_grpc};
use tonic::codegen::tokio_stream;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn health_reflection_and_service_answer() {
    let (server, shutdown, _) = common::start(Duration::ZERO, SECOND).await;
    assert_eq!(server.local_addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.local_addr.port(), 0);
    let channel = common::channel(&server).await;

    hop_runtime::testing::assert_serving(channel.clone(), &["", "hop.v1.Engine"]).await;
    let mut health = HealthClient::new(channel.clone());
    let unknown = health
        .check(HealthCheckRequest {
            service: "hop.v1.Nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let info = EngineClient::new(channel.clone())
        .describe(DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.engine, "test");

    let names = list_services(channel.clone()).await;
    for expected in [
        "hop.v1.Engine",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "hop.v1.Jobs"),
        "only hosted services: {names:?}"
    );
    assert!(has_file_for_symbol(channel, "hop.v1.Engine").await);

    shutdown.trigger();
    server.wait().await.unwrap();
}

#[tokio::test]
async fn second_bind_on_same_port_fails_with_code() {
    let (server, shutdown, _) = common::start(Duration::ZERO, SECOND).await;
    let config = ServiceConfig {
        listen: server.local_addr,
        ..ServiceConfig::default()
    };
    let err = serve_grpc(GrpcServices::new(), &config, Shutdown::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "BIND_FAILED");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::Unavailable);
    shutdown.trigger();
    server.wait().await.unwrap();
}

async fn reflect(channel: tonic::transport::Channel, request: MessageRequest) -> MessageResponse {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().expect("one reply");
    reply.message_response.expect("a response")
}

async fn list_services(channel: tonic::transport::Channel) -> Vec<String> {
    match reflect(channel, MessageRequest::ListServices(String::new())).await {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn has_file_for_symbol(channel: tonic::transport::Channel, symbol: &str) -> bool {
    match reflect(channel, MessageRequest::FileContainingSymbol(symbol.into())).await {
        MessageResponse::FileDescriptorResponse(files) => !files.file_descriptor_proto.is_empty(),
        _ => false,
    }
}
