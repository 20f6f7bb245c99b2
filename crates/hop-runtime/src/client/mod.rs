//! Outgoing gRPC channels: one configuration for every service-to-service call.
//!
//! HTTP/2 keepalive pings (also while idle) make a stream to a peer that vanished without a TCP
//! reset (a rescheduled pod, a lost node, a cut network) fail within [`KEEPALIVE_INTERVAL`] +
//! [`KEEPALIVE_TIMEOUT`] instead of hanging; the callers' "the peer went away" paths then take
//! over (the router re-runs the job, the bridge re-attaches).
//!
//! Every call carries the caller's trace context and, when configured ([`ClientSecurity`]), its
//! bearer token; with TLS configured every connection is mutual TLS (an `http://` address is
//! taken as `https://`). A service installs its [`ClientSecurity`] once at start
//! ([`crate::service_main`] does, from `tls_cert`, `tls_key`, `tls_ca` and `token_file`);
//! [`endpoint`], [`lazy_channel`], [`balanced_channel`] and [`connect`] use the installed one.
//!
//! [`balance`]: a channel over every replica behind one host name (a headless Service).

pub mod balance;

use std::sync::OnceLock;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, Error};

use crate::security::{TlsFiles, Token};
use crate::trace::InjectContext;
use crate::{RuntimeError, ServiceConfig};

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an HTTP/2 ping checks the peer.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a ping may go unanswered before the connection counts as dead.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel whose calls carry the caller's trace context and token.
pub type ServiceChannel = InterceptedService<Channel, Outgoing>;

static INSTALLED: OnceLock<ClientSecurity> = OnceLock::new();

/// How this process calls other services: TLS (CA + its own certificate) and its token.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    tls: Option<ClientTlsConfig>,
    token: Option<Token>,
}

impl ClientSecurity {
    /// From the TLS files (if any) and the token (if any).
    pub fn new(tls: Option<&TlsFiles>, token: Option<Token>) -> Result<Self, RuntimeError> {
        Ok(Self {
            tls: tls.map(TlsFiles::client).transpose()?,
            token,
        })
    }

    /// From a service's `tls_cert`, `tls_key`, `tls_ca` and `token_file`.
    pub fn from_config(config: &ServiceConfig) -> Result<Self, RuntimeError> {
        let token = config
            .token_file
            .as_deref()
            .map(|path| Token::read("token_file", path))
            .transpose()?;
        Self::new(TlsFiles::from_config(config)?.as_ref(), token)
    }

    /// Makes this the process's client security (the first install wins; later ones are
    /// ignored, as a process has one identity).
    pub fn install(self) {
        let _ = INSTALLED.set(self);
    }

    /// The installed security, or none (plaintext, no token).
    pub fn installed() -> &'static Self {
        static NONE: OnceLock<ClientSecurity> = OnceLock::new();
        INSTALLED
            .get()
            .unwrap_or_else(|| NONE.get_or_init(Self::default))
    }

    /// The endpoint for `uri` with the timeouts and keepalives above, and TLS when configured.
    pub fn endpoint(&self, uri: &str) -> Result<Endpoint, Error> {
        let uri = match (&self.tls, uri.strip_prefix("http://")) {
            (Some(_), Some(rest)) => format!("https://{rest}"),
            _ => uri.to_owned(),
        };
        let endpoint = Endpoint::from_shared(uri)?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        match &self.tls {
            Some(tls) => endpoint.tls_config(tls.clone()),
            None => Ok(endpoint),
        }
    }

    /// What every call through this security's channels carries.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing {
            bearer: self
                .token
                .as_ref()
                .and_then(|token| token.bearer().parse().ok())
                .map(|mut value: MetadataValue<Ascii>| {
                    value.set_sensitive(true);
                    value
                }),
        }
    }

    /// A channel to `uri` that connects on first use (and reconnects after a failure).
    pub fn lazy_channel(&self, uri: &str) -> Result<ServiceChannel, Error> {
        Ok(InterceptedService::new(
            self.endpoint(uri)?.connect_lazy(),
            self.outgoing(),
        ))
    }

    /// A channel to `uri`, connected now.
    pub async fn connect(&self, uri: &str) -> Result<ServiceChannel, Error> {
        let channel = self.endpoint(uri)?.connect().await?;
        Ok(InterceptedService::new(channel, self.outgoing()))
    }
}

/// [`ClientSecurity::endpoint`] of the installed security.
pub fn endpoint(uri: &str) -> Result<Endpoint, Error> {
    ClientSecurity::installed().endpoint(uri)
}

/// [`ClientSecurity::lazy_channel`] of the installed security.
pub fn lazy_channel(uri: &str) -> Result<ServiceChannel, Error> {
    ClientSecurity::installed().lazy_channel(uri)
}

/// [`ClientSecurity::balanced_channel`] of the installed security.
pub fn balanced_channel(uri: &str) -> Result<ServiceChannel, Error> {
    ClientSecurity::installed().balanced_channel(uri)
}

/// [`ClientSecurity::connect`] of the installed security.
pub async fn connect(uri: &str) -> Result<ServiceChannel, Error> {
    ClientSecurity::installed().connect(uri).await
}

/// Adds the trace context and the `authorization: Bearer` entry to each call; `Debug` does not
/// print the token.
#[derive(Clone, Default)]
pub struct Outgoing {
    bearer: Option<MetadataValue<Ascii>>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("token", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Interceptor for Outgoing {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request = InjectContext.call(request)?;
        if let Some(bearer) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
        }
        Ok(request)
    }
}
