//! Shared by the end-to-end tests: a temporary share, the real `hop-bridge` binary, the fake
//! router ([`fake_router`]), and polling for files with a deadline (no sleeps as synchronization).

#![allow(dead_code, reason = "each test file uses a part")]

pub mod fake_router;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hop_core::eval::CpuEvaluator;
use hop_core::run::{Prepared, run_search};
use hop_core::{JobOptions, RunResult};
use hop_runtime::testing::ServiceProcess;
use serde_json::{Map, Value};

/// The fixture CSV every job reads (500 strategies x 82 days).
pub const FIXTURE: &str = "sensex_500x82.csv";
/// The evaluation budget of test jobs (fast).
pub const BUDGET: u64 = 500;
/// How long a test waits for a file the bridge should write.
pub const WAIT: Duration = Duration::from_secs(90);

/// A temporary share root with the fixture CSV in `input/` as `data.csv`.
pub struct TestShare {
    dir: tempfile::TempDir,
}

impl TestShare {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["input", "output", "jobs/queue"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        fs::copy(
            hop_core::fixtures::path(FIXTURE),
            dir.path().join("input/data.csv"),
        )
        .unwrap();
        Self { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `jobs/queue/<name>` at once.
    pub fn queue(&self, name: &str, bytes: impl AsRef<[u8]>) {
        fs::write(self.path("jobs/queue").join(name), bytes).unwrap();
    }

    /// `jobs/<folder>/<name>` parsed, once it exists (panics after [`WAIT`]).
    pub fn wait_for(&self, folder: &str, name: &str) -> Map<String, Value> {
        let path = self.path("jobs").join(folder).join(name);
        wait_until(&format!("{} to appear", path.display()), || path.is_file());
        read_json(&path)
    }

    /// The completed or failed file of `name`, whichever appears (panics after [`WAIT`]).
    pub fn wait_finished(&self, name: &str) -> (&'static str, Map<String, Value>) {
        let done = |folder| self.path("jobs").join(folder).join(name);
        wait_until(&format!("{name} to finish"), || {
            done("completed").is_file() || done("failed").is_file()
        });
        let folder = if done("completed").is_file() {
            "completed"
        } else {
            "failed"
        };
        (folder, read_json(&done(folder)))
    }

    /// The names in `relative`, sorted (empty when the folder is missing).
    pub fn list(&self, relative: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(relative))
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

    /// The run folders (`output/run_*`).
    pub fn run_folders(&self) -> Vec<String> {
        self.list("output")
            .into_iter()
            .filter(|n| n.starts_with("run_"))
            .collect()
    }

    /// Starts `hop-bridge` on this share against `router`, with a short settle and poll.
    pub fn bridge(&self, router: &str, extra: &[&str]) -> ServiceProcess {
        let share = format!("share={}", self.root().display());
        let router = format!("router={router}");
        let mut args = vec![
            "--set",
            &share,
            "--set",
            &router,
            "--set",
            "settle=300ms",
            "--set",
            "poll_interval=50ms",
        ];
        args.extend_from_slice(extra);
        ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_hop-bridge")), "bridge", &args)
    }
}

/// A job file in the legacy layout for `data.csv` (or `input_file`), size 10 and budget
/// [`BUDGET`], with `extra` fields (`, "seed": 7`) appended.
pub fn job_json(job_id: &str, input_file: &str, extra: &str) -> String {
    format!(
        "{{\n  \"job_id\": \"{job_id}\",\n  \"input_file\": \"{input_file}\",\n  \
         \"portfolio_size\": 10,\n  \"job_type\": \"complete_optimization\",\n  \
         \"timestamp\": \"Wed 07/30/2025 15:45:00.12\",\n  \"client_info\": {{\"computer_name\": \
         \"DESKTOP-1\", \"username\": \"analyst\", \"drive_letter\": \"L:\"}},\n  \
         \"budget\": {BUDGET}{extra}\n}}\n"
    )
}

/// Polls `done` every 20 ms until it holds; panics naming `what` after [`WAIT`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_json(path: &Path) -> Map<String, Value> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The job run in this process, as the router's engines would.
pub fn in_process(options: &JobOptions) -> RunResult {
    let prepared = Prepared::new(hop_core::fixtures::matrix(FIXTURE), options, None).unwrap();
    let eval = CpuEvaluator::new(&prepared.problem);
    run_search(&prepared, options, &eval, &|_| {})
}
