//! A tiny `hop.v1.Engine` whose `Describe` takes a while, and a server starter.

#![allow(dead_code, reason = "each test file uses a part")]

use std::sync::Arc;
use std::time::Duration;

use hop_proto::v1::engine_server::{Engine, EngineServer};
use hop_proto::v1::{DescribeRequest, EngineInfo, JobEvent, RunRequest};
use hop_runtime::{BoundServer, GrpcServices, ServiceConfig, Shutdown, serve_grpc};
use tokio::sync::Notify;
use tonic::codegen::tokio_stream;
use tonic::{Request, Response, Status};

pub struct SlowEngine {
    pub delay: Duration,
    pub started: Arc<Notify>,
}

#[tonic::async_trait]
impl Engine for SlowEngine {
    type RunStream = tokio_stream::Empty<Result<JobEvent, Status>>;

    async fn run(&self, _: Request<RunRequest>) -> Result<Response<Self::RunStream>, Status> {
        Ok(Response::new(tokio_stream::empty()))
    }

    async fn describe(&self, _: Request<DescribeRequest>) -> Result<Response<EngineInfo>, Status> {
        self.started.notify_one();
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(EngineInfo {
            engine: "test".into(),
            version: "0.0.0".into(),
            ..EngineInfo::default()
        }))
    }
}

/// Starts a server with a [`SlowEngine`] on 127.0.0.1:0.
pub async fn start(delay: Duration, grace: Duration) -> (BoundServer, Shutdown, Arc<Notify>) {
    let config = ServiceConfig {
        shutdown_grace: grace,
        ..ServiceConfig::default()
    };
    start_with(delay, &config).await
}

/// Starts a server with a [`SlowEngine`] and `config`.
pub async fn start_with(
    delay: Duration,
    config: &ServiceConfig,
) -> (BoundServer, Shutdown, Arc<Notify>) {
    let started = Arc::new(Notify::new());
    let engine = SlowEngine {
        delay,
        started: started.clone(),
    };
    let shutdown = Shutdown::new();
    let services = GrpcServices::new().add_service(EngineServer::new(engine));
    let server = serve_grpc(services, config, shutdown.clone())
        .await
        .expect("server starts");
    (server, shutdown, started)
}

pub async fn channel(server: &BoundServer) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", server.local_addr))
        .unwrap()
        .connect()
        .await
        .expect("connects")
}
