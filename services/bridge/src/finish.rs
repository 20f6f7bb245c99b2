//! The end of a job on the share: the completed or failed job file, then the clean-up.
//!
//! Order: write `jobs/completed/X.json` (or `jobs/failed/X.json`) atomically, then remove
//! `jobs/processing/X.json`, then the lock file. A crash between the steps is repaired by the
//! bridge that resumes the job: it finds the finished file and only cleans up.
//!
//! The finished file holds the job file's fields in their order, then `execution_time` (seconds
//! from the job file's first sighting), `completion_timestamp` (local ISO-8601), `return_code`
//! (0 or 1), `stdout`, `stderr`, on failure `error`, and this project's `output_dir` (the run
//! folder as the Windows user sees it, `output\run_<ts>`), `output_path` (the same on the server),
//! `engine`, `side` and `validation`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::BridgeError;
use crate::claim::Claim;
use crate::metrics::seconds_since;
use crate::share::{Share, remove_if_present, write_atomically};

/// How a job ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ending {
    /// The sentence for the analyst when the job failed or was refused; `None` on success.
    pub error: Option<String>,
    /// A short human summary of the result (empty on failure).
    pub stdout: String,
    /// The run folder (absolute), on success.
    pub run_folder: Option<PathBuf>,
    /// The primary engine, when the job reached one.
    pub engine: String,
    /// `blue` or `green`, when the job reached a side.
    pub side: String,
    /// The blue/green comparison: `none`, `pending`, `matched`, `mismatched`, `shadow_failed`.
    pub validation: String,
}

impl Ending {
    /// A job that ended with `error` before reaching an engine.
    pub fn failure(error: String) -> Self {
        Self {
            error: Some(error),
            validation: "none".into(),
            ..Self::default()
        }
    }
}

/// The finished file of a job whose file held `original`, first seen at `first_seen`.
pub fn document(
    share: &Share,
    original: &Map<String, Value>,
    first_seen: SystemTime,
    ending: &Ending,
) -> Map<String, Value> {
    let mut doc = original.clone();
    let seconds = (seconds_since(first_seen) * 1000.0).round() / 1000.0;
    doc.insert("execution_time".into(), json!(seconds));
    let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.6f");
    doc.insert("completion_timestamp".into(), json!(now.to_string()));
    doc.insert(
        "return_code".into(),
        json!(i32::from(ending.error.is_some())),
    );
    doc.insert("stdout".into(), json!(ending.stdout));
    doc.insert(
        "stderr".into(),
        json!(ending.error.clone().unwrap_or_default()),
    );
    if let Some(error) = &ending.error {
        doc.insert("error".into(), json!(error));
    }
    let (output_dir, output_path) = match &ending.run_folder {
        Some(folder) => (
            windows_output_dir(share, folder),
            folder.display().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    doc.insert("output_dir".into(), json!(output_dir));
    doc.insert("output_path".into(), json!(output_path));
    doc.insert("engine".into(), json!(ending.engine));
    doc.insert("side".into(), json!(ending.side));
    doc.insert("validation".into(), json!(ending.validation));
    doc
}

/// The fields standing in for a job file that is not a job: `job_id` (from the file name), and
/// (added after the rest by [`with_original_text`]) its text.
pub fn unreadable_original(job_id: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("job_id".into(), json!(job_id));
    map
}

/// `doc` plus `original_text` (the text read: the whole file when it is within
/// `max_job_file_bytes`, else its first bytes) and `original_bytes` (the file's length), so that
/// nothing of an unreadable job file is lost.
pub fn with_original_text(
    mut doc: Map<String, Value>,
    text: &str,
    bytes: u64,
) -> Map<String, Value> {
    doc.insert("original_text".into(), json!(text));
    doc.insert("original_bytes".into(), json!(bytes));
    doc
}

/// `output\run_<ts>`: the run folder relative to the share root, with Windows separators.
pub fn windows_output_dir(share: &Share, folder: &Path) -> String {
    let relative = folder.strip_prefix(&share.root).unwrap_or(folder);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("\\")
}

/// Writes `doc` as `dir/file_name`, then removes the claim's processing file and lock.
pub fn deliver(
    share: &Share,
    claim: Claim,
    dir: &Path,
    file_name: &str,
    doc: &Map<String, Value>,
) -> Result<(), BridgeError> {
    let mut bytes = serde_json::to_vec_pretty(doc).unwrap_or_default();
    bytes.push(b'\n');
    write_atomically(dir, file_name, &bytes)?;
    clean_up(share, claim)
}

/// Removes the claim's processing file, then its lock file (the lock is released last).
pub fn clean_up(share: &Share, claim: Claim) -> Result<(), BridgeError> {
    remove_if_present(&share.processing.join(&claim.name))?;
    claim.lock.remove()
}

/// A name in `jobs/failed/` for a job whose id was already used: `<job>.duplicate-<n>.json`, the
/// first that is free, so that no finished file is overwritten.
pub fn duplicate_name(share: &Share, stem: &str) -> String {
    (1..)
        .map(|n| format!("{stem}.duplicate-{n}.json"))
        .find(|name| !share.failed.join(name).exists())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::claim::claim_queued;

    #[test]
    fn completed_file_keeps_the_fields_in_order_and_adds_ours() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        let original: Map<String, Value> =
            serde_json::from_str(r#"{"job_id": "j", "zeta": 1, "alpha": {"b": 1, "a": 2}}"#)
                .unwrap();
        let ending = Ending {
            error: None,
            stdout: "Best".into(),
            run_folder: Some(share.output.join("run_20250730_154501")),
            engine: "cpu".into(),
            side: "green".into(),
            validation: "matched".into(),
        };
        let doc = document(&share, &original, SystemTime::now(), &ending);
        let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "job_id",
                "zeta",
                "alpha",
                "execution_time",
                "completion_timestamp",
                "return_code",
                "stdout",
                "stderr",
                "output_dir",
                "output_path",
                "engine",
                "side",
                "validation"
            ]
        );
        assert_eq!(doc["output_dir"], r"output\run_20250730_154501");
        assert_eq!(doc["return_code"], 0);
        assert_eq!(
            doc["alpha"].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["b", "a"]
        );

        let failed = document(
            &share,
            &original,
            SystemTime::now(),
            &Ending::failure("No.".into()),
        );
        assert_eq!(failed["return_code"], 1);
        assert_eq!(failed["error"], "No.");
        assert_eq!(failed["stderr"], "No.");
        assert_eq!(failed["output_dir"], "");
        assert_eq!(failed["validation"], "none");
    }

    #[test]
    fn deliver_writes_then_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        fs::write(share.queue.join("j.json"), "{}").unwrap();
        let claim = claim_queued(&share, "j.json", SystemTime::now())
            .unwrap()
            .unwrap();
        let doc = unreadable_original("j");
        let doc = with_original_text(doc, "not json", 8);
        assert_eq!(doc["original_text"], "not json");
        deliver(&share, claim, &share.failed, "j.json", &doc).unwrap();
        let written: Map<String, Value> =
            serde_json::from_slice(&fs::read(share.failed.join("j.json")).unwrap()).unwrap();
        assert_eq!(written, doc);
        assert!(!share.processing.join("j.json").exists());
        assert!(!share.locks.join("j.lock").exists());
        fs::write(share.failed.join("k.duplicate-1.json"), "{}").unwrap();
        assert_eq!(duplicate_name(&share, "k"), "k.duplicate-2.json");
    }
}
