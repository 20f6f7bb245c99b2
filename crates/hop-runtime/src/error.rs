//! [`RuntimeError`]: every failure of the shared service plumbing, with a stable code.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Layer;

/// A failure while configuring, starting or running a service.
///
/// Each variant has a stable machine-readable [`code`](RuntimeError::code) (also sent to gRPC
/// clients in the `hop-error-code` metadata entry when converted to a [`tonic::Status`]).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A configuration value could not be used; names the key and the layer that supplied it.
    #[error("invalid configuration value for `{key}` from {layer}: {message}")]
    ConfigInvalid {
        /// Dotted key, e.g. `listen` or `flight.listen`.
        key: String,
        /// Where the bad value came from.
        layer: Layer,
        /// What was wrong with it.
        message: String,
    },
    /// The configuration file could not be read or is not valid TOML.
    #[error("cannot use configuration file {}: {message}", path.display())]
    ConfigFile {
        /// The file named by `--config` or `HOP_CONFIG`.
        path: PathBuf,
        /// The I/O or TOML syntax error.
        message: String,
    },
    /// A setting, or a combination of settings, the service refuses to start with: no TLS or no
    /// tokens beyond loopback, an unreadable certificate or token file, a missing input root.
    #[error("`{key}`: {message}")]
    Setting {
        /// The key or keys at fault, e.g. `tls_cert` or `input_root`.
        key: String,
        /// What is wrong and what to set.
        message: String,
    },
    /// A listener could not bind its address.
    #[error("cannot bind the {role} listener to {addr}: {source}")]
    Bind {
        /// `grpc` or `metrics`.
        role: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Logging could not be set up (e.g. a bad filter directive).
    #[error("cannot initialise telemetry: {0}")]
    Telemetry(String),
    /// The gRPC server stopped with an error.
    #[error("gRPC server failed: {0}")]
    Server(String),
    /// A token file could not be written (`hop up`'s provisioning).
    #[error("cannot write the token file {}: {source}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An input file was refused by [`crate::input_file`]: outside the root, not a regular file,
    /// over the size limit. Names the path as given and the rule; never the file's content.
    #[error("{0}")]
    InputRefused(String),
    /// An input file does not exist.
    #[error("{0}")]
    InputNotFound(String),
    /// An input file exists but could not be read (permissions, I/O).
    #[error("{0}")]
    InputUnreadable(String),
}

impl RuntimeError {
    /// The stable error code, e.g. `CONFIG_INVALID` or `BIND_FAILED`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ConfigInvalid { .. } => "CONFIG_INVALID",
            Self::ConfigFile { .. } => "CONFIG_FILE_UNUSABLE",
            Self::Setting { .. } => "SETTING_REFUSED",
            Self::Bind { .. } => "BIND_FAILED",
            Self::Telemetry(_) => "TELEMETRY_INIT_FAILED",
            Self::Server(_) => "SERVER_FAILED",
            Self::TokenFile { .. } => "TOKEN_FILE_UNWRITABLE",
            Self::InputRefused(_) => "INPUT_REFUSED",
            Self::InputNotFound(_) => "INPUT_NOT_FOUND",
            Self::InputUnreadable(_) => "INPUT_UNREADABLE",
        }
    }
}

impl From<RuntimeError> for tonic::Status {
    fn from(err: RuntimeError) -> Self {
        let code = match &err {
            RuntimeError::ConfigInvalid { .. }
            | RuntimeError::ConfigFile { .. }
            | RuntimeError::Setting { .. } => tonic::Code::FailedPrecondition,
            RuntimeError::Bind { .. } | RuntimeError::Server(_) => tonic::Code::Unavailable,
            RuntimeError::Telemetry(_)
            | RuntimeError::TokenFile { .. }
            | RuntimeError::InputUnreadable(_) => tonic::Code::Internal,
            RuntimeError::InputRefused(_) => tonic::Code::InvalidArgument,
            RuntimeError::InputNotFound(_) => tonic::Code::NotFound,
        };
        let mut status = tonic::Status::new(code, format!("{}: {err}", err.code()));
        status.metadata_mut().insert(
            "hop-error-code",
            tonic::metadata::MetadataValue::from_static(err.code()),
        );
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_code() {
        let err = RuntimeError::Server("boom".into());
        let status = tonic::Status::from(err);
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().starts_with("SERVER_FAILED: "));
        assert_eq!(
            status.metadata().get("hop-error-code").unwrap(),
            "SERVER_FAILED"
        );
    }
}
