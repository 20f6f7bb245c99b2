//! The job's run folder under `output/`: written once, or found again after a crash.
//!
//! A bridge can die after `hop_report::write_run_folder` renamed the folder into place but before
//! the completed file was written. The bridge that resumes the job must not write a second folder,
//! so before writing it looks for `output/run_*/results.json` whose `job_id` is this job's. Only
//! folders modified since shortly before the job's claim are read (a run folder is written after
//! its claim), which keeps the search to the few folders of the last minutes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hop_core::RunResult;
use hop_report::{ReportError, RunInfo};
use serde::Deserialize;

use crate::BridgeError;
use crate::share::modified_since;

/// The run folder of `info.job_id` under `output`: an existing one modified since `claimed`, or
/// a new one written from `result`. Blocking.
pub fn write_or_reuse(
    output: &Path,
    info: &RunInfo,
    result: &RunResult,
    claimed: SystemTime,
) -> Result<PathBuf, BridgeError> {
    let job_id = info.job_id.as_deref().unwrap_or_default();
    if let Some(existing) = find(output, job_id, claimed) {
        tracing::info!(job_id, folder = %existing.display(),
            "the run folder was already written before a restart; reusing it");
        return Ok(existing);
    }
    hop_report::write_run_folder(output, info, result).map_err(|e| match e {
        // The share's disk (full, gone, no permission): worth another try later.
        ReportError::Folder { .. } | ReportError::Write { .. } | ReportError::NoFreeName { .. } => {
            BridgeError::Report(e)
        }
        other => BridgeError::Failed(format!(
            "The results could not be written to a run folder: {other}. Please tell the \
             optimizer's operators."
        )),
    })
}

/// The `run_*` folder under `output` modified since `claimed` whose `results.json` belongs to
/// `job_id`, if any.
pub fn find(output: &Path, job_id: &str, claimed: SystemTime) -> Option<PathBuf> {
    #[derive(Deserialize)]
    struct JobIdOnly {
        job_id: Option<String>,
    }
    let mut candidates: Vec<PathBuf> = fs::read_dir(output)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("run_"))
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && modified_since(path, claimed))
        .collect();
    candidates.sort();
    candidates.into_iter().find(|folder| {
        fs::read(folder.join("results.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<JobIdOnly>(&bytes).ok())
            .is_some_and(|doc| doc.job_id.as_deref() == Some(job_id))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn folder(output: &Path, name: &str, job_id: &str) {
        let dir = output.join(name);
        fs::create_dir_all(&dir).unwrap();
        let doc = format!("{{\"format_version\": 1, \"job_id\": \"{job_id}\", \"result\": {{}}}}");
        fs::write(dir.join("results.json"), doc).unwrap();
    }

    #[test]
    fn finds_the_jobs_folder_modified_since_the_claim() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path();
        let before = SystemTime::now() - Duration::from_secs(60);
        folder(output, "run_20250730_154500", "other");
        folder(output, "run_20250730_154501", "job_1");
        folder(output, ".run_20250730_154502.partial-1-0", "job_2");
        assert_eq!(
            find(output, "job_1", before),
            Some(output.join("run_20250730_154501"))
        );
        assert_eq!(
            find(output, "job_2", before),
            None,
            "partial folders are not run folders"
        );
        assert_eq!(find(output, "job_3", before), None);
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(find(output, "job_1", later), None, "older than the claim");
        assert_eq!(find(&output.join("missing"), "job_1", before), None);
    }
}
