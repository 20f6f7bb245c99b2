//! [`Authorize`]: the tower layer every gRPC server runs its requests through: the caller's
//! bearer token is identified and [`policy::decide`](super::policy::decide) says whether the
//! request is served. Refusals are `UNAUTHENTICATED` or `PERMISSION_DENIED` with a sentence that
//! names the service and the kinds it accepts, never the token; a served request carries its
//! [`Caller`] in its extensions.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;

use super::policy::{self, Decision, Presented};
use super::tokens::{CallerKind, Tokens};

/// The identified caller of a served request (absent for anonymous development calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub CallerKind);

/// The layer: the accepted tokens, and whether callers without one are refused.
#[derive(Debug, Clone)]
pub struct Authorize {
    tokens: Arc<Tokens>,
    enforcing: bool,
}

impl Authorize {
    /// Checks callers against `tokens`; `enforcing` false serves callers without a token
    /// (development on loopback), except on `hop.v1.Admin`.
    pub fn new(tokens: Tokens, enforcing: bool) -> Self {
        Self {
            tokens: Arc::new(tokens),
            enforcing,
        }
    }

    fn decide<B>(&self, request: &http::Request<B>) -> Decision {
        let sent = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let presented = match sent {
            None => Presented::Nothing,
            Some(token) => self
                .tokens
                .identify(token.trim())
                .map_or(Presented::Unknown, Presented::Kind),
        };
        policy::decide(request.uri().path(), presented, self.enforcing)
    }
}

impl<S> tower::Layer<S> for Authorize {
    type Service = Authorized<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorized {
            inner,
            authorize: self.clone(),
        }
    }
}

/// A service behind [`Authorize`].
#[derive(Debug, Clone)]
pub struct Authorized<S> {
    inner: S,
    authorize: Authorize,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Authorized<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let status = match self.authorize.decide(&request) {
            Decision::Allow(caller) => {
                if let Some(kind) = caller {
                    request.extensions_mut().insert(Caller(kind));
                }
                return Box::pin(self.inner.call(request));
            }
            Decision::Unauthenticated => {
                tracing::warn!(rpc = %path, "call refused: no caller token, or an unknown one");
                tonic::Status::unauthenticated(format!(
                    "{service} wants to know who calls: send `authorization: Bearer <token>` \
                     with the token of a caller it accepts ({}); the token sent, if any, is not \
                     one this server knows",
                    kinds(service)
                ))
            }
            Decision::Denied(kind) => {
                tracing::warn!(rpc = %path, caller = %kind, "call refused: caller kind not allowed");
                tonic::Status::permission_denied(format!(
                    "a caller of kind {kind} may not call {service}: it accepts {}",
                    kinds(service)
                ))
            }
        };
        Box::pin(std::future::ready(Ok(status.into_http())))
    }
}

/// The kinds `service` accepts, for a refusal's sentence.
fn kinds(service: &str) -> String {
    policy::allowed(service)
        .unwrap_or(&CallerKind::ALL)
        .iter()
        .map(|kind| kind.name())
        .collect::<Vec<_>>()
        .join(", ")
}
