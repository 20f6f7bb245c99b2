//! [`serve_grpc`]: a tonic server on the configured address with `grpc.health.v1`, reflection
//! (v1 and v1alpha) and graceful shutdown, behind mutual TLS (when configured) and the caller
//! check of [`crate::security`] on every request. Connections older than `max_connection_age` are
//! asked to reconnect (their calls in flight finish), so balanced clients re-spread.

mod abortable_io;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use tonic::body::Body;
use tonic::codegen::http;
use tonic::codegen::tokio_stream::StreamExt;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::security::{CallerKind, ServerSecurity, Token, Tokens};
use crate::{RuntimeError, ServiceConfig, Shutdown};
use abortable_io::AbortableStream;

/// How long aborted connections get to close once the grace has expired.
const ABORT_WAIT: Duration = Duration::from_secs(1);

/// The gRPC services one server hosts, with the names that health and reflection announce.
#[derive(Debug, Default)]
pub struct GrpcServices {
    routes: Routes,
    names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    extra_tokens: Tokens,
}

impl GrpcServices {
    /// No services yet; reflection knows the `hop.v1` descriptors.
    pub fn new() -> Self {
        Self {
            descriptor_sets: vec![hop_proto::FILE_DESCRIPTOR_SET],
            ..Self::default()
        }
    }

    /// Adds a generated tonic server (e.g. `EngineServer::new(engine)`).
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tonic::codegen::Service<
                http::Request<Body>,
                Response = http::Response<Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// Adds an encoded `FileDescriptorSet` for reflection (services not in `hop.v1`, e.g. Flight).
    pub fn add_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptor_sets.push(encoded);
        self
    }

    /// Accepts `token` as a caller of `kind` besides those of `tokens_dir` (a service's own
    /// compatibility key, e.g. the router's `cutover.admin_token_file`).
    pub fn accept_token(mut self, kind: CallerKind, token: Token) -> Self {
        self.extra_tokens.add(kind, token);
        self
    }

    /// The names of the added services.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }
}

/// A running server: where it listens, its health reporter, and its task.
#[derive(Debug)]
pub struct BoundServer {
    /// The bound address (the real port when the configured one was 0).
    pub local_addr: SocketAddr,
    /// Sets per-service health (e.g. NOT_SERVING while a dependency is down).
    pub health: HealthReporter,
    /// The plaintext health-only listener's address, when `health_listen` is set.
    pub health_addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<Result<(), RuntimeError>>,
}

impl BoundServer {
    /// Waits until the server has stopped (after shutdown and draining).
    pub async fn wait(self) -> Result<(), RuntimeError> {
        self.task
            .await
            .map_err(|e| RuntimeError::Server(format!("server task failed: {e}")))?
    }
}

/// Binds `config.listen` and serves `services` plus health and reflection until `shutdown`
/// fires. Returns once bound, with the real address; the server runs on a spawned task.
///
/// On shutdown every health status turns NOT_SERVING, the listener closes (new connections are
/// refused), and in-flight RPCs get up to `config.shutdown_grace` to finish before the remaining
/// connections are dropped.
pub async fn serve_grpc(
    services: GrpcServices,
    config: &ServiceConfig,
    shutdown: Shutdown,
) -> Result<BoundServer, RuntimeError> {
    let security = ServerSecurity::from_config(config, &services.extra_tokens)?;
    let tls = security.tls.is_some();
    let bind_error = |source| RuntimeError::Bind {
        role: "grpc",
        addr: config.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;

    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for set in &services.descriptor_sets {
            builder = builder.register_encoded_file_descriptor_set(set);
        }
        for name in &services.names {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    let reflection_error = |e| RuntimeError::Server(format!("reflection descriptors: {e}"));
    let reflection_v1 = reflection().build_v1().map_err(reflection_error)?;
    let reflection_v1alpha = reflection().build_v1alpha().map_err(reflection_error)?;

    let mut names: Vec<&str> = vec![""];
    names.extend(&services.names);
    set_all(&health, &names, ServingStatus::Serving).await;

    let stop = Shutdown::new();
    let health_addr = match config.health_listen {
        Some(addr) => Some(serve_health_only(addr, health_service.clone(), stop.clone()).await?),
        None => None,
    };
    let routes = services
        .routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    let abort = Shutdown::new();
    let abort_connections = abort.clone();
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(move |conn| conn.map(|s| AbortableStream::new(s, abort_connections.clone())));
    let stop_signal = stop.clone();
    let mut builder = tonic::transport::Server::builder();
    if !config.max_connection_age.is_zero() {
        builder = builder.max_connection_age(config.max_connection_age);
    }
    if let Some(tls_config) = security.tls {
        builder = builder
            .tls_config(tls_config)
            .map_err(|e| RuntimeError::Server(format!("TLS configuration: {e}")))?;
    }
    let server = builder
        .trace_fn(crate::trace::server_span)
        .layer(security.authorize)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move { stop_signal.wait().await });

    let grace = config.shutdown_grace;
    let reporter = health.clone();
    let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
    let task = tokio::spawn(async move {
        let mut server = std::pin::pin!(server);
        let server_error = |e: tonic::transport::Error| RuntimeError::Server(e.to_string());
        tokio::select! {
            result = &mut server => result.map_err(server_error),
            () = shutdown.wait() => {
                tracing::info!(%local_addr, grace = ?grace, "gRPC server draining");
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                set_all(&reporter, &names, ServingStatus::NotServing).await;
                stop.trigger();
                drain(server, grace, &abort).await.map_err(server_error)
            }
        }
    });
    tracing::info!(%local_addr, tls, services = ?services.names, "gRPC server listening");
    Ok(BoundServer {
        local_addr,
        health,
        health_addr,
        task,
    })
}

/// Serves `health` alone, in plaintext, on `addr` until `stop` fires: what a kubelet's gRPC probe
/// (which cannot do TLS) reaches. It tells whether the service serves, nothing else.
async fn serve_health_only<S>(
    addr: SocketAddr,
    health: S,
    stop: Shutdown,
) -> Result<SocketAddr, RuntimeError>
where
    S: tonic::codegen::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let bind_error = |source| RuntimeError::Bind {
        role: "health",
        addr,
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let server = tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
            stop.wait().await;
        });
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "the health-only listener stopped");
        }
    });
    tracing::info!(%local_addr, "plaintext gRPC health listener (probes only)");
    Ok(local_addr)
}

async fn drain<F>(
    mut server: std::pin::Pin<&mut F>,
    grace: Duration,
    abort: &Shutdown,
) -> Result<(), tonic::transport::Error>
where
    F: Future<Output = Result<(), tonic::transport::Error>>,
{
    match tokio::time::timeout(grace, &mut server).await {
        Ok(result) => {
            tracing::info!("gRPC server stopped");
            result
        }
        Err(_) => {
            tracing::warn!(grace = ?grace, "in-flight RPCs outlived the shutdown grace; aborting");
            abort.trigger();
            match tokio::time::timeout(ABORT_WAIT, server).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    }
}

async fn set_all(reporter: &HealthReporter, names: &[&str], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}
