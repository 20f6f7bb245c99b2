//! [`TlsFiles`]: the PEM files of one service's mutual TLS (`tls_cert`, `tls_key`, `tls_ca`),
//! read into tonic's rustls server and client configurations.
//!
//! The server presents `tls_cert` and requires every client to present a certificate signed by
//! `tls_ca`; a client verifies the server against `tls_ca` and presents the same `tls_cert`
//! (one certificate per service, valid for both ends: cert-manager issues it with the
//! `server auth` and `client auth` usages). Files are read at start; a renewed certificate takes
//! a restart (the chart's pods restart on a rotation of their Secret's checksum or by
//! cert-manager's reloader of choice).

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::{RuntimeError, ServiceConfig};

/// The three PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// This service's certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The certificate authority that signs every service's and client's certificate.
    pub ca: PathBuf,
}

impl TlsFiles {
    /// The files `config` names: all three, or none (TLS off).
    pub fn from_config(config: &ServiceConfig) -> Result<Option<Self>, RuntimeError> {
        match (&config.tls_cert, &config.tls_key, &config.tls_ca) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => Ok(Some(Self {
                cert: cert.clone(),
                key: key.clone(),
                ca: ca.clone(),
            })),
            _ => Err(RuntimeError::Setting {
                key: "tls_cert, tls_key, tls_ca".into(),
                message: "set all three PEM files (this service's certificate, its key and the \
                          CA that signs every peer) or none"
                    .into(),
            }),
        }
    }

    /// The server side: this identity, client certificates required and verified against the
    /// CA.
    pub fn server(&self) -> Result<ServerTlsConfig, RuntimeError> {
        Ok(ServerTlsConfig::new()
            .identity(self.identity()?)
            .client_ca_root(self.ca()?)
            .client_auth_optional(false))
    }

    /// The client side: servers verified against the CA, this identity presented.
    pub fn client(&self) -> Result<ClientTlsConfig, RuntimeError> {
        Ok(ClientTlsConfig::new()
            .ca_certificate(self.ca()?)
            .identity(self.identity()?))
    }

    fn identity(&self) -> Result<Identity, RuntimeError> {
        Ok(Identity::from_pem(
            read("tls_cert", &self.cert)?,
            read("tls_key", &self.key)?,
        ))
    }

    fn ca(&self) -> Result<Certificate, RuntimeError> {
        Ok(Certificate::from_pem(read("tls_ca", &self.ca)?))
    }
}

/// A PEM file's bytes; the error names the key and the path, never the content.
fn read(key: &str, path: &Path) -> Result<Vec<u8>, RuntimeError> {
    let bytes = std::fs::read(path).map_err(|e| RuntimeError::Setting {
        key: key.into(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(RuntimeError::Setting {
            key: key.into(),
            message: format!("{} is not a PEM file", path.display()),
        });
    }
    Ok(bytes)
}
