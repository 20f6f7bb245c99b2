//! Where a local `hop up` can be found: `hop up` writes `<HOP_HOME>/local.json` (default
//! `~/.hop`) with its router address and its tokens folder, so `hop submit/watch/result` and
//! `hop cutover` need no flags on the same machine. And how this CLI calls a router: mutual TLS
//! when `HOP_TLS_CERT`, `HOP_TLS_KEY` and `HOP_TLS_CA` name its PEM files, and a caller token.

use std::path::{Path, PathBuf};

use hop_runtime::client::{ClientSecurity, ServiceChannel};
use hop_runtime::security::{CallerKind, TlsFiles, Token};
use serde::{Deserialize, Serialize};

use crate::CliError;

/// What `hop up` tells later commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalStack {
    /// `http://127.0.0.1:<port>` of the router.
    pub router: String,
    /// The share root.
    pub share: PathBuf,
    /// The `hop up` process.
    pub pid: u32,
    /// The router's admin token file (`hop cutover`); absent in files of older `hop up`s.
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
    /// The folder of the stack's caller tokens (one file per kind); absent in older files.
    #[serde(default)]
    pub tokens_dir: Option<PathBuf>,
}

/// `$HOP_HOME`, else `$HOME/.hop`, else `.hop`.
pub fn hop_home() -> PathBuf {
    if let Some(home) = std::env::var_os("HOP_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from(".hop"), |h| PathBuf::from(h).join(".hop"))
}

fn path() -> PathBuf {
    hop_home().join("local.json")
}

/// Records the running stack.
pub fn save(stack: &LocalStack) -> Result<(), CliError> {
    let path = path();
    let io = |source| CliError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let text = serde_json::to_string_pretty(stack).expect("serializable");
    std::fs::write(&path, text).map_err(io)
}

/// Forgets the stack (when `hop up` stops), if the file is still ours.
pub fn clear(pid: u32) {
    if load().is_some_and(|s| s.pid == pid) {
        let _ = std::fs::remove_file(path());
    }
}

/// The recorded stack, if any.
pub fn load() -> Option<LocalStack> {
    let text = std::fs::read_to_string(path()).ok()?;
    serde_json::from_str(&text).ok()
}

/// The router to talk to: `explicit` (flag or `HOP_ROUTER`), else the local `hop up`'s.
pub fn router(explicit: Option<&str>) -> Result<String, CliError> {
    if let Some(uri) = explicit {
        return Ok(uri.to_owned());
    }
    load().map(|s| s.router).ok_or_else(|| {
        CliError::Usage(format!(
            "no router given and no local `hop up` found in {}: start one with `hop up --share DIR` \
             or pass --router http://HOST:PORT",
            path().display()
        ))
    })
}

/// The local `hop up`'s token of `kind`, if there is one.
pub fn local_token_file(kind: CallerKind) -> Option<PathBuf> {
    load()?.tokens_dir.map(|dir| dir.join(kind.name()))
}

/// A channel to the router (`explicit`, flag or `HOP_ROUTER`, else the local `hop up`'s; a
/// comma-separated list is balanced over) whose calls carry `token`; mutual TLS when `HOP_TLS_CERT`, `HOP_TLS_KEY` and `HOP_TLS_CA` are set.
pub async fn router_channel(
    explicit: Option<&str>,
    token: Option<Token>,
) -> Result<ServiceChannel, CliError> {
    let uri = router(explicit)?;
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let tls = hop_runtime::ServiceConfig {
        tls_cert: var("HOP_TLS_CERT"),
        tls_key: var("HOP_TLS_KEY"),
        tls_ca: var("HOP_TLS_CA"),
        ..hop_runtime::ServiceConfig::default()
    };
    let files = TlsFiles::from_config(&tls)
        .map_err(|e| CliError::Usage(format!("HOP_TLS_CERT, HOP_TLS_KEY, HOP_TLS_CA: {e}")))?;
    let security =
        ClientSecurity::new(files.as_ref(), token).map_err(|e| CliError::Usage(e.to_string()))?;
    let unreachable = |e: tonic::transport::Error| CliError::Rpc {
        what: format!("cannot reach the router at {uri}"),
        message: e.to_string(),
    };
    if uri.contains(',') {
        // Several routers (`hop up --replicas router=N` records them all): balanced over them,
        // connected on the first call.
        return security.balanced_channel(&uri).map_err(unreachable);
    }
    security.connect(&uri).await.map_err(unreachable)
}

/// The token of `path` (a flag's file), else of the local `hop up`'s `kind` file, else none.
pub fn caller_token(path: Option<&Path>, kind: CallerKind) -> Result<Option<Token>, CliError> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => match local_token_file(kind) {
            Some(path) if path.exists() => path,
            _ => return Ok(None),
        },
    };
    Token::read("--token-file", &path)
        .map(Some)
        .map_err(|e| CliError::Usage(e.to_string()))
}
