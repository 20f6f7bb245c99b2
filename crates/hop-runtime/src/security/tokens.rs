//! Caller identity by bearer token: one token per [`CallerKind`], each read from its own file.
//!
//! A server reads the accepted tokens from `tokens_dir` (one file per kind, named for it:
//! `bridge`, `client`, `service`, `admin`; a Kubernetes Secret mounted as a folder fits); a
//! caller sends the one of its own `token_file` as `authorization: Bearer <token>`. Tokens are
//! compared in constant time and never printed (`Debug` redacts them).

use std::fmt;
use std::path::Path;

use crate::RuntimeError;

/// Who calls: the kinds of client the policy tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerKind {
    /// The share bridge (submits the analysts' jobs).
    Bridge,
    /// Internal clients: the `hop` CLI, scripts.
    Client,
    /// Service to service: router -> engines and validator, engines -> ingest.
    Service,
    /// Operators: `hop cutover`, `deploy/emergency-rollback.sh`.
    Admin,
}

impl CallerKind {
    /// Every kind, in the order of their file names.
    pub const ALL: [Self; 4] = [Self::Bridge, Self::Client, Self::Service, Self::Admin];

    /// The kind's name: its file name in `tokens_dir` and its label in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bridge => "bridge",
            Self::Client => "client",
            Self::Service => "service",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for CallerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret token; `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Token {
    /// The trimmed content of `path` (one token per file, a trailing line break allowed); `key`
    /// names the setting in errors. The content never appears in an error.
    pub fn read(key: &str, path: &Path) -> Result<Self, RuntimeError> {
        let invalid = |message: String| RuntimeError::Setting {
            key: key.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        Self::new(text.trim()).ok_or_else(|| {
            invalid(format!(
                "{} holds no usable token: write one line of printable ASCII (e.g. 32 random \
                 hex characters) into it",
                path.display()
            ))
        })
    }

    /// A token from its text: printable ASCII without spaces (it goes in an HTTP header).
    pub fn new(text: &str) -> Option<Self> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| Self(text.to_owned()))
    }

    /// The `authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Equality whose time depends on the lengths only, not on where the bytes differ.
    fn matches(&self, sent: &[u8]) -> bool {
        let mine = self.0.as_bytes();
        let mut difference = mine.len() ^ sent.len();
        for i in 0..mine.len().max(sent.len()) {
            let x = mine.get(i).copied().unwrap_or(0);
            let y = sent.get(i).copied().unwrap_or(0);
            difference |= usize::from(x ^ y);
        }
        difference == 0
    }
}

/// The tokens a server accepts, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    by_kind: Vec<(CallerKind, Token)>,
}

impl Tokens {
    /// Reads `<dir>/<kind>` for every kind present; a kind without its file is not accepted. At
    /// least one must be there.
    pub fn read_dir(dir: &Path) -> Result<Self, RuntimeError> {
        let mut tokens = Self::default();
        for kind in CallerKind::ALL {
            let path = dir.join(kind.name());
            if path.exists() {
                tokens.add(kind, Token::read("tokens_dir", &path)?);
            }
        }
        if tokens.by_kind.is_empty() {
            return Err(RuntimeError::Setting {
                key: "tokens_dir".into(),
                message: format!(
                    "{} holds none of the token files {}",
                    dir.display(),
                    CallerKind::ALL.map(CallerKind::name).join(", ")
                ),
            });
        }
        Ok(tokens)
    }

    /// Accepts `token` as a caller of `kind` too.
    pub fn add(&mut self, kind: CallerKind, token: Token) {
        self.by_kind.push((kind, token));
    }

    /// The accepted tokens with their kinds.
    pub fn iter(&self) -> impl Iterator<Item = (CallerKind, &Token)> {
        self.by_kind.iter().map(|(kind, token)| (*kind, token))
    }

    /// The kind whose token is `sent` (every token is compared, so the time does not tell which
    /// one matched).
    pub fn identify(&self, sent: &str) -> Option<CallerKind> {
        let mut found = None;
        for (kind, token) in &self.by_kind {
            if token.matches(sent.as_bytes()) && found.is_none() {
                found = Some(*kind);
            }
        }
        found
    }
}

/// Writes a fresh random token (32 bytes of `/dev/urandom`, as hex) for every kind into `dir`
/// (created when missing), each file readable by its owner only: the tokens of a platform that
/// `hop up` or a test starts.
pub fn provision(dir: &Path) -> Result<(), RuntimeError> {
    for kind in CallerKind::ALL {
        let path = dir.join(kind.name());
        write_random(dir, &path).map_err(|source| RuntimeError::TokenFile { path, source })?;
    }
    Ok(())
}

fn write_random(dir: &Path, path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An older file keeps its mode through `open`: narrow it first.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_per_kind_and_identified() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bridge"), "bridge-token-1\n").unwrap();
        std::fs::write(dir.path().join("admin"), "admin-token-2").unwrap();
        let tokens = Tokens::read_dir(dir.path()).unwrap();
        assert_eq!(tokens.identify("bridge-token-1"), Some(CallerKind::Bridge));
        assert_eq!(tokens.identify("admin-token-2"), Some(CallerKind::Admin));
        assert_eq!(tokens.identify("admin-token-"), None);
        assert_eq!(tokens.identify(""), None);
        assert!(!format!("{tokens:?}").contains("token-1"));

        std::fs::write(dir.path().join("client"), " \n").unwrap();
        let err = Tokens::read_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no usable token"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = Tokens::read_dir(empty.path()).unwrap_err().to_string();
        assert!(err.contains("holds none of the token files"), "{err}");
    }

    #[test]
    fn constant_time_equality() {
        let token = Token::new("abc").unwrap();
        assert!(token.matches(b"abc"));
        assert!(!token.matches(b"abd"));
        assert!(!token.matches(b"abcd"));
        assert!(!token.matches(b""));
        assert!(Token::new("").is_none() && Token::new("a b").is_none());
    }

    #[test]
    fn a_bad_token_file_is_named_but_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "two words").unwrap();
        let err = Token::read("token_file", &path).unwrap_err().to_string();
        assert!(
            err.contains("token_file") && !err.contains("two words"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod provision_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn provisioned_tokens_are_random_hex_for_the_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("tokens");
        provision(&home).unwrap();
        let admin = home.join("admin");
        let first = std::fs::read_to_string(&admin).unwrap();
        assert_eq!(first.len(), 64);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&admin), 0o600);
        std::fs::set_permissions(&admin, std::fs::Permissions::from_mode(0o644)).unwrap();
        provision(&home).unwrap();
        assert_eq!(mode(&admin), 0o600, "an older file is narrowed");
        assert_ne!(std::fs::read_to_string(&admin).unwrap(), first);
        let tokens = Tokens::read_dir(&home).unwrap();
        assert_eq!(tokens.iter().count(), 4);
        let bridge = std::fs::read_to_string(home.join("bridge")).unwrap();
        assert_eq!(tokens.identify(&bridge), Some(CallerKind::Bridge));
    }
}
