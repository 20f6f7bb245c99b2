//! Test support (feature `testing`): the conformance peer `tests/heavydb_peer/peer.py`
//! (pyheavydb's generated `Heavy.Processor` on DuckDB) as a child process.
//!
//! The Python comes from `$HOP_HEAVYDB_PYTHON` (set by `.ci/run`), else `python3`; it must
//! import `heavydb`, `thrift`, `duckdb` and `numpy`. When it cannot, [`Peer::start`] prints
//! `skipped: <why>` and returns `None`, unless `HOP_REQUIRE_EXTERNAL=1`: then it panics.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::config::{HeavyDbConfig, Password};

/// The peer's user and database.
pub const USER: &str = "admin";
pub const DATABASE: &str = "heavyai";
/// The peer's password (tests only).
pub const PASSWORD: &str = "peer-test-password";

/// How long the peer may take to listen (Python imports take 1-2 s).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The peer script.
pub fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/heavydb_peer/peer.py")
}

/// The Python that runs the peer, or why there is none.
pub fn python() -> Result<String, String> {
    let python = std::env::var("HOP_HEAVYDB_PYTHON").unwrap_or_else(|_| "python3".into());
    let check = Command::new(&python)
        .args(["-c", "import heavydb, thrift, duckdb, numpy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if check.status.success() {
        Ok(python)
    } else {
        let stderr = String::from_utf8_lossy(&check.stderr);
        let last = stderr.lines().last().unwrap_or("");
        Err(format!(
            "{python} cannot import heavydb, thrift, duckdb and numpy ({last}); \
             pip install pyheavydb thrift duckdb importlib_metadata, or set HOP_HEAVYDB_PYTHON"
        ))
    }
}

/// A running peer; killed when dropped.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    python: String,
    pub port: u16,
}

impl Peer {
    /// Starts a peer on a free port with `extra` arguments, or skips (see the module).
    pub fn start(extra: &[&str]) -> Option<Peer> {
        hop_runtime::testing::or_skip(python().and_then(|python| Self::spawn(python, 0, extra)))
    }

    fn spawn(python: String, port: u16, extra: &[&str]) -> Result<Peer, String> {
        let mut child = Command::new(&python)
            .arg(peer_script())
            .args([
                "--port",
                &port.to_string(),
                "--user",
                USER,
                "--dbname",
                DATABASE,
            ])
            .args(extra)
            .env("HOP_HEAVYDB_PEER_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the peer with {python}: {e}"))?;
        let stdout = child.stdout.take().ok_or("the peer has no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("HEAVYDB_PEER_PORT=") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => Ok(Peer {
                child,
                python,
                port,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err("the peer did not print its port".into())
            }
        }
    }

    /// Kills the peer (every connection drops, every session is lost).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the peer and starts a fresh one on the same port.
    pub fn restart(&mut self, extra: &[&str]) {
        self.kill();
        let fresh = Self::spawn(self.python.clone(), self.port, extra)
            .unwrap_or_else(|e| panic!("restarting the peer: {e}"));
        *self = fresh;
    }

    /// The peer's URL, `heavydb://admin@127.0.0.1:<port>/heavyai`.
    pub fn url(&self) -> String {
        format!("heavydb://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// A client configuration for the peer with the right password.
    pub fn config(&self) -> HeavyDbConfig {
        HeavyDbConfig::from_url(&self.url(), Password::new(PASSWORD))
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}
