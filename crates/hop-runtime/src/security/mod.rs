//! Transport security and caller identity for every gRPC and Flight hop, configured once here
//! (common keys of [`ServiceConfig`]) and applied by [`crate::serve_grpc`] and
//! [`crate::client`]:
//!
//! - [`tls`]: mutual TLS from PEM files (`tls_cert`, `tls_key`, `tls_ca`).
//! - [`tokens`]: bearer tokens per [`CallerKind`] (`tokens_dir` on servers, `token_file` on
//!   callers).
//! - [`policy`]: which kinds may call which gRPC service (the one table).
//! - [`layer`]: the tower layer that applies the policy to every request.
//!
//! [`exposure`] is the rule for where a server may listen with what: without TLS only on
//! loopback (unless `insecure_plaintext`), without tokens only on loopback.

pub mod layer;
pub mod policy;
pub mod tls;
pub mod tokens;

use std::net::SocketAddr;

pub use layer::{Authorize, Caller};
pub use tls::TlsFiles;
pub use tokens::{CallerKind, Token, Tokens};

use crate::{RuntimeError, ServiceConfig};

/// What a server listening on `listen` with (or without) TLS and tokens must say at start: a
/// refusal, or warnings to log. A pure function of the settings.
pub fn exposure(
    listen: SocketAddr,
    tls: bool,
    tokens: bool,
    insecure_plaintext: bool,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    if listen.ip().is_loopback() {
        if !tls {
            warnings.push(format!("plaintext gRPC on loopback {listen} (development)"));
        }
        if !tokens {
            warnings.push(
                "no tokens_dir: callers are not identified and calls without a token are \
                 served (development on loopback only; hop.v1.Admin still wants the admin token)"
                    .into(),
            );
        }
        return Ok(warnings);
    }
    if !tls {
        if !insecure_plaintext {
            return Err(format!(
                "the service would listen on {listen}, beyond loopback, without TLS: set \
                 tls_cert, tls_key and tls_ca (insecure_plaintext = true overrides this for \
                 debugging only)"
            ));
        }
        warnings.push(format!(
            "insecure_plaintext: plaintext gRPC on {listen}, beyond loopback; anyone on the \
             network can read and forge these calls"
        ));
    }
    if !tokens {
        return Err(format!(
            "the service would listen on {listen}, beyond loopback, without caller tokens: set \
             tokens_dir to the folder of the token files (bridge, client, service, admin)"
        ));
    }
    Ok(warnings)
}

/// A server's security: TLS (if configured) and the authorization layer.
#[derive(Debug)]
pub struct ServerSecurity {
    /// The rustls server configuration, when TLS is on.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    /// The caller check.
    pub authorize: Authorize,
}

impl ServerSecurity {
    /// Reads `config`'s TLS files and `tokens_dir`, adds `extra` tokens (a service's own
    /// compatibility keys, e.g. the router's `cutover.admin_token_file`), and applies
    /// [`exposure`] (logging its warnings).
    pub fn from_config(config: &ServiceConfig, extra: &Tokens) -> Result<Self, RuntimeError> {
        let tls = TlsFiles::from_config(config)?
            .map(|files| files.server())
            .transpose()?;
        let mut tokens = match &config.tokens_dir {
            Some(dir) => Tokens::read_dir(dir)?,
            None => Tokens::default(),
        };
        let enforcing = config.tokens_dir.is_some();
        for (kind, token) in extra.iter() {
            tokens.add(kind, token.clone());
        }
        let warnings = exposure(
            config.listen,
            tls.is_some(),
            enforcing,
            config.insecure_plaintext,
        )
        .map_err(|message| RuntimeError::Setting {
            key: "listen".into(),
            message,
        })?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        Ok(Self {
            tls,
            authorize: Authorize::new(tokens, enforcing),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_go_without_tls_and_tokens() {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        assert_eq!(exposure(loopback, true, true, false), Ok(vec![]));
        assert_eq!(exposure(loopback, false, false, false).unwrap().len(), 2);
        assert_eq!(exposure(any, true, true, false), Ok(vec![]));
        let err = exposure(any, false, true, false).unwrap_err();
        assert!(err.contains("without TLS: set tls_cert"), "{err}");
        let warned = exposure(any, false, true, true).unwrap();
        assert!(warned[0].contains("insecure_plaintext"), "{warned:?}");
        let err = exposure(any, true, false, false).unwrap_err();
        assert!(err.contains("set tokens_dir"), "{err}");
        assert!(exposure(any, false, false, true).is_err());
    }
}
