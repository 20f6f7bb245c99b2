//! Where the HeavyDB server is and how to log in: a `heavydb://user@host:6274/db` URL plus a
//! password that never appears in `Debug` output or error messages.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::error::HeavyDbError;

/// HeavyDB's binary Thrift port (TCP, buffered transport, binary protocol).
pub const DEFAULT_PORT: u16 = 6274;
/// The database a URL without a path names.
pub const DEFAULT_DATABASE: &str = "heavyai";
/// How long opening the TCP connection may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call (sending the request and reading the whole answer) may take.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// A password; `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// Reads the password from a file: its content without the trailing line break.
    pub fn from_file(path: &Path) -> Result<Self, HeavyDbError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            HeavyDbError::Config(format!(
                "cannot read the password file {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One HeavyDB server, user and database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeavyDbConfig {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub password: Password,
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
}

impl HeavyDbConfig {
    /// Parses `heavydb://user@host[:port][/database]` (port 6274 and database `heavyai` when
    /// left out). A password in the URL is refused (without quoting it): give it separately.
    pub fn from_url(url: &str, password: Password) -> Result<Self, HeavyDbError> {
        let invalid = |why: &str| {
            HeavyDbError::Config(format!(
                "{why}: the backend URL must look like heavydb://user@host:6274/database"
            ))
        };
        let rest = url
            .strip_prefix("heavydb://")
            .ok_or_else(|| invalid("not a heavydb:// URL"))?;
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| invalid("no user@ in the URL"))?;
        if user.contains(':') {
            return Err(invalid(
                "the URL holds a password (give it in password_file or the environment)",
            ));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port = port
                    .parse()
                    .map_err(|_| invalid("the port is not a number"))?;
                (host, port)
            }
            _ => (hostport, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if user.is_empty() || host.is_empty() {
            return Err(invalid("empty user or host"));
        }
        let database = database.trim_end_matches('/');
        Ok(Self {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
            database: if database.is_empty() {
                DEFAULT_DATABASE.to_owned()
            } else {
                database.to_owned()
            },
            password,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        })
    }

    /// `host:port`, for connecting and for messages.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without the password (for logs).
    pub fn url(&self) -> String {
        format!("heavydb://{}@{}/{}", self.user, self.addr(), self.database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_refuse_passwords() {
        let c = HeavyDbConfig::from_url(
            "heavydb://admin@db.example:7000/prod",
            Password::new("s3cret"),
        )
        .unwrap();
        assert_eq!(
            (c.user.as_str(), c.port, c.database.as_str()),
            ("admin", 7000, "prod")
        );
        assert_eq!(c.url(), "heavydb://admin@db.example:7000/prod");
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = HeavyDbConfig::from_url("heavydb://u@[::1]", Password::new("x")).unwrap();
        assert_eq!(
            (c.addr().as_str(), c.database.as_str()),
            ("[::1]:6274", "heavyai")
        );
        let e =
            HeavyDbConfig::from_url("heavydb://u:hunter2@h/db", Password::new("x")).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        for bad in [
            "postgres://u@h/db",
            "heavydb://h:6274/db",
            "heavydb://u@h:port/db",
        ] {
            assert!(
                HeavyDbConfig::from_url(bad, Password::new("x")).is_err(),
                "{bad}"
            );
        }
    }
}
