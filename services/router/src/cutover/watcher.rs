//! [`Cutover::watch`]: applies changes of the desired-state file without a restart.
//!
//! The file's *content* is compared, not its modification time: Kubernetes updates a mounted
//! ConfigMap by swapping a symlink, which leaves the mtime of the path the router reads
//! unchanged. An unreadable or invalid file keeps the last good state, says why once per
//! distinct problem (log and metric), and never stops the watcher.

use std::path::Path;
use std::sync::Arc;

use tokio::time::MissedTickBehavior;

use super::stage::Desired;
use super::store::Stored;
use super::window::HealthWindow;
use super::{Cutover, existing, now_ms, telemetry};

/// What one read of the desired-state file found.
#[derive(Debug)]
pub(super) enum FileRead {
    /// The file could not be read (why).
    Unreadable(String),
    /// The content's fingerprint and what it says (or why it is invalid).
    Read {
        fingerprint: String,
        desired: Result<Desired, String>,
    },
}

impl FileRead {
    /// Interprets the result of reading the file.
    pub(super) fn from_bytes(read: std::io::Result<Vec<u8>>) -> Self {
        match read {
            Err(e) => Self::Unreadable(e.to_string()),
            Ok(bytes) => Self::Read {
                fingerprint: format!("file:{:032x}", twox_hash::XxHash3_128::oneshot(&bytes)),
                desired: std::str::from_utf8(&bytes)
                    .map_err(|e| format!("the file is not UTF-8 text: {e}"))
                    .and_then(Desired::parse),
            },
        }
    }

    /// Equal for reads that need no new action: the same content, or the same error.
    pub(super) fn key(&self) -> String {
        match self {
            Self::Unreadable(reason) => format!("unreadable:{reason}"),
            Self::Read { fingerprint, .. } => fingerprint.clone(),
        }
    }

    /// Logs and counts a problem with the file (and sets the validity gauge either way).
    pub(super) fn report(&self, path: &Path) {
        let (outcome, reason) = match self {
            Self::Unreadable(reason) => ("unreadable", reason),
            Self::Read {
                desired: Err(reason),
                ..
            } => ("invalid", reason),
            Self::Read { desired: Ok(_), .. } => {
                metrics::gauge!(telemetry::FILE_VALID).set(1.0);
                return;
            }
        };
        metrics::gauge!(telemetry::FILE_VALID).set(0.0);
        metrics::counter!(telemetry::FILE_CHANGES_TOTAL, "outcome" => outcome).increment(1);
        tracing::warn!(file = %path.display(), outcome, reason,
            "the cutover file cannot be used; keeping the last good state");
    }
}

impl Cutover {
    /// Spawns the watcher of the desired-state file: its content is read every `cutover.poll`
    /// and a change is applied at once (an operator's `SetWeight` override ends with it). Ends
    /// at `shutdown`, or at once when no file is configured.
    pub fn watch(self: &Arc<Self>, shutdown: hop_runtime::Shutdown) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let Some(path) = this.config.file.clone() else {
                return;
            };
            let mut ticker = tokio::time::interval(this.config.poll);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.wait() => return,
                    _ = ticker.tick() => {
                        let read = FileRead::from_bytes(tokio::fs::read(&path).await);
                        this.apply_file(&path, read).await;
                    }
                }
            }
        })
    }

    /// Acts on one read of the file: nothing when it found what the last one did, or content
    /// in force already (back after a bad read, under an operator's override of this very
    /// content, or applied by another replica first).
    async fn apply_file(&self, path: &Path, read: FileRead) {
        let key = read.key();
        if self.lock().last_seen.as_ref() == Some(&key) {
            return;
        }
        read.report(path);
        if let FileRead::Read {
            fingerprint,
            desired: Ok(desired),
        } = read
        {
            let before = self.lock().state.clone();
            let apply = |stored: Stored, _: &HealthWindow| {
                let mut state = existing(stored)?;
                if state.source != fingerprint {
                    state.desired = desired;
                    state.source.clone_from(&fingerprint);
                    state.overridden = false;
                    state.updated_at_ms = now_ms();
                }
                Ok(state)
            };
            if self.update_anyway(None, &apply).await {
                metrics::counter!(telemetry::FILE_CHANGES_TOTAL, "outcome" => "applied")
                    .increment(1);
                tracing::info!(file = %path.display(), stage = desired.stage.as_str(),
                    green_percent = desired.green_percent,
                    from_stage = before.desired.stage.as_str(),
                    from_percent = before.desired.green_percent,
                    ended_override = before.overridden, latched = before.latch.is_some(),
                    "cutover file applied");
            }
        }
        self.lock().last_seen = Some(key);
    }
}
