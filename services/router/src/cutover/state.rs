//! The cut-over state that survives restarts: the desired state in force, the safety latch, and
//! when they last changed. One router keeps it in `<data_dir>/router/cutover.json`, written
//! atomically (temporary file, fsync, rename, fsync of the folder), so a crash leaves the old or
//! the new state, never half of one; replicas sharing PostgreSQL keep the same JSON in
//! `hop_cutover` (see [`super::store`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::stage::Desired;
use crate::error::RouterError;

/// A latched rollback: traffic stays on blue until an operator resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latch {
    /// Why, e.g. `automatic rollback: green error rate 0.25 ... exceeds 0.05`.
    pub reason: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    /// The desired state in force.
    pub desired: Desired,
    /// The fingerprint of the source `desired` came from: the desired-state file's content
    /// (`file:<hash>`) or the configured weight (`config:<percent>`).
    pub source: String,
    /// True when `desired` is an operator's `SetWeight` over `source`: it holds until the source
    /// changes.
    pub overridden: bool,
    /// The safety latch, when set.
    pub latch: Option<Latch>,
    /// When any of the above last changed, in milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

/// Reads the state: `Ok(None)` when there is none yet, `Err` (with the reason) when it exists
/// but cannot be read or understood.
pub fn load(path: &Path) -> Result<Option<Persisted>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Writes the state atomically (creating the folder when missing). Callers serialize their
/// writes (the temporary file is named after `path` and this process).
pub fn save(path: &Path, state: &Persisted) -> Result<(), RouterError> {
    let failed = |e: std::io::Error| RouterError::state(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let text = serde_json::to_string_pretty(state).expect("the state serializes");
    hop_runtime::atomic_file::write_atomically(path, text.as_bytes()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::super::stage::Stage;
    use super::*;

    fn state() -> Persisted {
        Persisted {
            desired: Desired {
                stage: Stage::Weighted,
                green_percent: 10,
            },
            source: "config:10".into(),
            overridden: true,
            latch: Some(Latch {
                reason: "manual rollback: drill".into(),
                at_ms: 1_753_900_000_000,
            }),
            updated_at_ms: 1_753_900_000_001,
        }
    }

    #[test]
    fn round_trip_missing_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("router").join("cutover.json");
        assert_eq!(load(&path), Ok(None));
        save(&path, &state()).unwrap();
        assert_eq!(load(&path), Ok(Some(state())));
        let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file left behind");
        std::fs::write(&path, "{\"desired\":").unwrap();
        assert!(load(&path).unwrap_err().contains("EOF"));
    }

    #[test]
    fn unwritable_folder_is_a_state_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let error = save(&blocker.join("cutover.json"), &state()).unwrap_err();
        assert_eq!(error.code(), "CUTOVER_STATE_FAILED");
        assert!(error.to_string().contains("cutover.json"), "{error}");
    }
}
