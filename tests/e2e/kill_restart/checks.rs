//! What is checked after one kill run: the job's outcome files, its run folder (and every other
//! run folder: complete and parseable), the share's queue, processing and claim folders, hidden
//! temporary files, and the router's record.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hop_proto::v1::{JobRecord, JobState};
use serde_json::Value;

/// The folders of the share the bridge moves job files through.
const JOB_DIRS: [&str; 4] = ["queue", "processing", "completed", "failed"];
const PNG_START: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_END: &[u8] = b"IEND\xaeB`\x82";

/// What one run found.
#[derive(Debug)]
pub struct Finding {
    /// Where the job file was when the victim died (`queue`, `processing`, `completed`, ...).
    pub phase: &'static str,
    /// `completed`, `failed` or `lost`.
    pub outcome: String,
    pub duplicate: bool,
    pub bad_folders: u32,
    /// Hidden files or folders the killed process left behind (its pid in their names).
    pub leftovers: Vec<String>,
    /// Broken promises.
    pub problems: Vec<String>,
    /// The best fitness in the job's `results.json`.
    fitness: Option<f64>,
}

impl Finding {
    pub fn new(phase: &'static str) -> Self {
        Self {
            phase,
            outcome: "lost".into(),
            duplicate: false,
            bad_folders: 0,
            leftovers: Vec::new(),
            problems: Vec::new(),
            fitness: None,
        }
    }

    pub fn lost(&mut self, after: Duration) {
        self.outcome = "lost".into();
        self.problems.push(format!(
            "lost: no completed or failed file {after:?} after the drop (killed in {})",
            self.phase
        ));
    }

    /// The router's settled record agrees with the share: one success with the folder's result.
    pub fn check_record(&mut self, record: &JobRecord, share: &Share, job_id: &str) {
        let succeeded = record.state() == JobState::Succeeded;
        if succeeded != (self.outcome == "completed") {
            self.problems.push(format!(
                "the router's record is {:?} but the share says {}",
                record.state(),
                self.outcome
            ));
        }
        if self.outcome == "failed" {
            let doc = share.outcome_doc("failed", job_id);
            self.problems
                .push(format!("failed (completed was expected): {}", doc["error"]));
        }
        let result = record.result.as_ref().map(|r| r.best_fitness.to_bits());
        if let Some(fitness) = self.fitness
            && result != Some(fitness.to_bits())
        {
            self.problems.push(format!(
                "the router's best fitness {result:?} is not the run folder's {fitness}"
            ));
        }
    }
}

/// The share of a cluster, as the checks see it.
pub struct Share {
    root: PathBuf,
}

impl Share {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn jobs(&self, dir: &str) -> PathBuf {
        self.root.join("jobs").join(dir)
    }

    fn outcome_doc(&self, dir: &str, job_id: &str) -> Value {
        let path = self.jobs(dir).join(format!("{job_id}.json"));
        let text = fs::read_to_string(&path).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Hidden entries (temporary files, partial run folders) of the folders the bridge writes.
    pub fn hidden_entries(&self) -> BTreeSet<String> {
        let dirs = JOB_DIRS.map(|d| format!("jobs/{d}"));
        let dirs = dirs.iter().map(String::as_str).chain(["output"]);
        dirs.flat_map(|dir| {
            names(&self.root.join(dir))
                .into_iter()
                .filter(|n| n.starts_with('.'))
                .map(move |n| format!("{dir}/{n}"))
        })
        .collect()
    }

    /// The folder holding the job's file now (`nowhere` between a rename and a write).
    pub fn phase(&self, job_id: &str) -> &'static str {
        let name = format!("{job_id}.json");
        ["completed", "failed", "processing", "queue"]
            .into_iter()
            .find(|dir| self.jobs(dir).join(&name).exists())
            .unwrap_or("nowhere")
    }

    /// Polls for the job's completed or failed file until `deadline`, like the launcher.
    pub fn wait_outcome(&self, job_id: &str, deadline: Instant) -> Option<&'static str> {
        let name = format!("{job_id}.json");
        loop {
            let found = ["completed", "failed"]
                .into_iter()
                .find(|dir| self.jobs(dir).join(&name).exists());
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything on the share after the job's outcome file appeared.
    pub fn check(
        &self,
        job_id: &str,
        finding: &mut Finding,
        victim: &str,
        victim_pid: u32,
        hidden_before: &BTreeSet<String>,
    ) {
        self.check_outcome_files(job_id, finding);
        self.check_drained(finding);
        self.check_folders(job_id, finding);
        for entry in self.hidden_entries().difference(hidden_before) {
            if victim == "bridge" && entry.contains(&format!("-{victim_pid}-")) {
                finding
                    .leftovers
                    .push(format!("{entry} (left by the killed bridge)"));
            } else {
                finding.problems.push(format!("left on the share: {entry}"));
            }
        }
    }

    /// Exactly one of `completed/<job>.json` and `failed/<job>.json`, no `<job>.duplicate-*`.
    fn check_outcome_files(&self, job_id: &str, finding: &mut Finding) {
        let name = format!("{job_id}.json");
        let both = ["completed", "failed"]
            .iter()
            .all(|dir| self.jobs(dir).join(&name).exists());
        let duplicates: Vec<String> = ["completed", "failed"]
            .iter()
            .flat_map(|dir| names(&self.jobs(dir)))
            .filter(|n| n.starts_with(&format!("{job_id}.duplicate-")))
            .collect();
        if both || !duplicates.is_empty() {
            finding.duplicate = true;
            finding.problems.push(format!(
                "run twice: completed and failed both present: {both}, duplicates: {duplicates:?}"
            ));
        }
    }

    /// `queue/`, `processing/` and the claim folder `.bridge/` empty (they empty right after the
    /// outcome file is written: wait a little).
    fn check_drained(&self, finding: &mut Finding) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let left = loop {
            let left: Vec<String> = ["queue", "processing", ".bridge"]
                .iter()
                .flat_map(|dir| {
                    names(&self.jobs(dir))
                        .into_iter()
                        .map(move |n| format!("{dir}/{n}"))
                })
                .collect();
            if left.is_empty() || Instant::now() >= deadline {
                break left;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !left.is_empty() {
            finding
                .problems
                .push(format!("left in the job folders: {left:?}"));
        }
    }

    /// Every `run_*` folder complete; the job has one (completed) or none (failed), and the
    /// completed file points at it.
    fn check_folders(&self, job_id: &str, finding: &mut Finding) {
        let output = self.root.join("output");
        let mut mine = Vec::new();
        for name in names(&output).into_iter().filter(|n| n.starts_with("run_")) {
            match check_folder(&output.join(&name)) {
                Ok((id, fitness)) if id.as_deref() == Some(job_id) => {
                    mine.push(output.join(&name));
                    finding.fitness = Some(fitness);
                }
                Ok(_) => {}
                Err(e) => {
                    finding.bad_folders += 1;
                    finding.problems.push(format!("output/{name}: {e}"));
                }
            }
        }
        let expected = usize::from(finding.outcome == "completed");
        if mine.len() > 1 {
            finding.duplicate = true;
        }
        if mine.len() != expected {
            finding.problems.push(format!(
                "{} run folder(s) for a {} job: {mine:?}",
                mine.len(),
                finding.outcome
            ));
        }
        if finding.outcome == "completed" {
            let doc = self.outcome_doc("completed", job_id);
            let path = mine.first().map(|p| p.display().to_string());
            if doc["return_code"] != 0 || doc["output_path"].as_str() != path.as_deref() {
                finding.problems.push(format!(
                    "the completed file does not point at the run folder {path:?}: {doc:#}"
                ));
            }
        }
    }
}

/// A run folder's job id and best fitness, once every file listed in its `results.json` is
/// there, nothing else is, and each file is whole.
fn check_folder(folder: &Path) -> Result<(Option<String>, f64), String> {
    let bytes = fs::read(folder.join("results.json")).map_err(|e| format!("results.json: {e}"))?;
    let doc = hop_report::read_results_json(&bytes).map_err(|e| format!("results.json: {e}"))?;
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned());
    if name != Some(format!("run_{}", doc.run_id)) {
        return Err(format!("named {name:?} but its run id is {}", doc.run_id));
    }
    let expected = hop_report::file_names(&doc.result, &doc.run_id);
    let present = names(folder);
    if doc.files != expected || present != expected {
        return Err(format!(
            "files {present:?}, listed {:?}, expected {expected:?}",
            doc.files
        ));
    }
    for file in &expected {
        let bytes = fs::read(folder.join(file)).map_err(|e| format!("{file}: {e}"))?;
        check_file(file, &bytes).map_err(|e| format!("{file}: {e}"))?;
    }
    Ok((doc.job_id.map(|id| id.into_owned()), doc.best.fitness))
}

/// A whole file of its kind: PNG signature to `IEND`, a zip with its end record, text.
fn check_file(name: &str, bytes: &[u8]) -> Result<(), String> {
    let ext = name.rsplit('.').next().unwrap_or_default();
    let whole = match ext {
        "png" => bytes.starts_with(PNG_START) && bytes.ends_with(PNG_END),
        "xlsx" => {
            let tail = &bytes[bytes.len().saturating_sub(22 + 65_535)..];
            bytes.starts_with(b"PK\x03\x04") && tail.windows(4).any(|w| w == b"PK\x05\x06")
        }
        "csv" => std::str::from_utf8(bytes).is_ok_and(|t| {
            let header = if name == "walk_forward.csv" {
                "fold,train_start,"
            } else {
                ",ROI,Max Drawdown"
            };
            t.starts_with(header) && t.lines().count() > 1
        }),
        "json" => true,
        _ => std::str::from_utf8(bytes).is_ok_and(|t| name == "error_log.txt" || !t.is_empty()),
    };
    if whole {
        Ok(())
    } else {
        Err(format!("truncated or unreadable ({} bytes)", bytes.len()))
    }
}

/// The entry names of `dir`, sorted (none when it cannot be read).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder check passes a real run folder and catches a truncated chart, a truncated
    /// workbook and a missing file.
    #[test]
    fn half_written_run_folders_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("sensex_500x82.csv");
        fs::write(&csv, hop_core::fixtures::bytes("sensex_500x82.csv")).unwrap();
        let options = hop_core::JobOptions {
            budget: Some(300),
            ..hop_core::JobOptions::with_size(10)
        };
        let folder = hop_e2e::hop_run(&csv, &options, &dir.path().join("output")).folder;
        assert!(check_folder(&folder).is_ok(), "{:?}", check_folder(&folder));
        for ext in [".png", ".xlsx", ".txt"] {
            let name = names(&folder)
                .into_iter()
                .find(|n| n.ends_with(ext))
                .unwrap();
            let path = folder.join(name);
            let whole = fs::read(&path).unwrap();
            let cut = if ext == ".txt" { 0 } else { whole.len() / 2 };
            fs::write(&path, &whole[..cut]).unwrap();
            assert!(check_folder(&folder).is_err(), "{} cut", path.display());
            fs::write(&path, whole).unwrap();
        }
        fs::remove_file(folder.join("strategy_metrics.csv")).unwrap();
        assert!(check_folder(&folder).unwrap_err().contains("files"));
    }
}
