//! The run folder (SPEC 4): everything a finished job leaves on the share for the analyst.
//!
//! [`write_run_folder`] renders a [`RunResult`] into `output_root/run_YYYYMMDD_HHMMSS/`:
//!
//! | file | content |
//! |---|---|
//! | `optimization_summary_<ts>.txt` | legacy-style summary ([`text::summary_text`]) |
//! | `optimization_summary_<ts>.xlsx` | four sheets ([`xlsx::SHEETS`], [`xlsx`]) |
//! | `strategy_metrics.csv` | per-strategy metrics ([`text::strategy_metrics_csv`]) |
//! | `Best_Portfolio_Size<k>_<ts>.txt` | one per size ([`text::best_portfolio_text`]) |
//! | `equity_curves_Best_Portfolio_Size<k>_<ts>.png` | one per size ([`charts`]) |
//! | `drawdowns_Best_Portfolio_Size<k>_<ts>.png` | one per size ([`charts`]) |
//! | `error_log.txt` | [`RunInfo::errors`], one per line; empty when none |
//! | `results.json` | everything, machine-readable ([`json::ResultsDocument`]) |
//! | `inversion_report.md` | only when ULTA inverted a strategy ([`inversion_report`]) |
//! | `walk_forward.csv` | one row per walk-forward fold ([`walk_forward`]) |
//! | `walk_forward_equity_<ts>.png` | the folds' in-sample and out-of-sample equity ([`charts`]) |
//!
//! The walk-forward adds a section at the end of the summary and a `Walk-Forward` sheet unless
//! the job turned it off (the legacy files are then the same bytes as before it existed); the
//! CSV and the chart need at least one fold.
//!
//! **Folder name and uniqueness.** `<ts>` is the run's local timestamp as `YYYYMMDD_HHMMSS` and is
//! shared by the folder and every file in it. When `run_<ts>` already exists (two jobs in the same
//! second), the next second is used, then the next, until a free name is found, and the files
//! are named after the second actually used; so names keep the legacy pattern and stay unique per
//! job.
//!
//! **Atomicity.** Nothing is written under the final name: the files go into a hidden temporary
//! folder `output_root/.run_<ts>.partial-<pid>-<n>`, are flushed to disk (every file, then the
//! folder; the private `write_files` explains how the flushes overlap), and the folder is renamed
//! to `run_<ts>` at the end (one `rename`, atomic on one filesystem). A folder named `run_*` is
//! therefore always complete. On any error the temporary folder is removed and the error returned.
//! If the name was taken between the check and the rename (another writer), the files are
//! rendered again for the next second. A process killed mid-write can leave a `.run_*.partial-*`
//! folder behind; [`remove_stale_partials`] cleans those up.

pub mod charts;
pub mod json;
pub mod text;
pub mod walk_forward;
pub mod xlsx;

use std::fs;
use std::io::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, SystemTime};

use chrono::{NaiveDateTime, Timelike};
use hop_core::{RunResult, SizeResult};

pub use json::{BestSummary, ResultsDocument, read_results_json};
pub use text::inversion_report;

/// What the report needs to know about the job beyond the [`RunResult`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunInfo {
    pub job_id: Option<String>,
    /// The input file's display name (e.g. `Python_Multi_Consolidated_20250726_161921.csv`).
    pub input_file: String,
    /// Local time of the run; gives the folder's and files' `<ts>`.
    pub timestamp: NaiveDateTime,
    /// `blue` or `green` (only in `results.json`: analysts are not meant to notice the migration).
    pub side: Option<String>,
    /// `cpu`, `gpu`, `heavydb`, `embedded-sql`, ...
    pub engine: String,
    /// Lines for `error_log.txt` (warnings or a shadow side's failure, for instance).
    pub errors: Vec<String>,
    /// Step name -> seconds (`parse`, `metrics`, `search`, `report`, ...), in display order.
    pub timings: Vec<(String, f64)>,
}

/// Why the run folder could not be written. Every variant names the file (or folder) concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the run result cannot be reported: {0}")]
    InvalidResult(String),
    #[error("cannot create the run folder in {}: {source}", .path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {file}: {source}")]
    Write {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {file}: {source}")]
    Xlsx {
        file: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot draw {file}: {message}")]
    Chart { file: String, message: String },
    #[error("cannot write {file}: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("internal error while writing the run folder: {0}")]
    Internal(String),
    #[error(
        "no free run folder name in {} from run_{first} on after {tries} tries",
        .root.display()
    )]
    NoFreeName {
        root: PathBuf,
        first: String,
        tries: u32,
    },
}

impl ReportError {
    /// The file or folder the error is about, when there is one.
    pub fn file(&self) -> Option<String> {
        match self {
            ReportError::InvalidResult(_) | ReportError::Internal(_) => None,
            ReportError::Folder { path, .. } => Some(path.display().to_string()),
            ReportError::NoFreeName { root, .. } => Some(root.display().to_string()),
            ReportError::Write { file, .. }
            | ReportError::Xlsx { file, .. }
            | ReportError::Chart { file, .. }
            | ReportError::Json { file, .. } => Some(file.clone()),
        }
    }
}

/// How many successive seconds are tried for a free folder name before giving up.
const MAX_NAME_TRIES: u32 = 3600;

/// `YYYYMMDD_HHMMSS`.
pub fn run_id(timestamp: &NaiveDateTime) -> String {
    timestamp.format("%Y%m%d_%H%M%S").to_string()
}

/// `run_YYYYMMDD_HHMMSS`.
pub fn folder_name(run_id: &str) -> String {
    format!("run_{run_id}")
}

/// The file names of a run folder for `result` and `run_id`, sorted (as listed in `results.json`).
pub fn file_names(result: &RunResult, run_id: &str) -> Vec<String> {
    let mut names = vec![
        format!("optimization_summary_{run_id}.txt"),
        format!("optimization_summary_{run_id}.xlsx"),
        "strategy_metrics.csv".to_string(),
        "error_log.txt".to_string(),
        "results.json".to_string(),
    ];
    for size in &result.sizes {
        let k = size.portfolio_size;
        names.push(format!("Best_Portfolio_Size{k}_{run_id}.txt"));
        names.push(format!("equity_curves_Best_Portfolio_Size{k}_{run_id}.png"));
        names.push(format!("drawdowns_Best_Portfolio_Size{k}_{run_id}.png"));
    }
    if !result.inversions.is_empty() {
        names.push("inversion_report.md".to_string());
    }
    if walk_forward::has_folds(result) {
        names.push(walk_forward::CSV_NAME.to_string());
        names.push(walk_forward::chart_name(run_id));
    }
    names.sort();
    names
}

/// Checks that every index in `result` points at something, so that rendering cannot panic.
pub fn check_result(result: &RunResult) -> Result<(), ReportError> {
    let bad = |m: String| Err(ReportError::InvalidResult(m));
    let n = result.strategy_names.len();
    if result.strategy_metrics.len() != n {
        return bad(format!(
            "{} strategy names but {} strategy metrics",
            n,
            result.strategy_metrics.len()
        ));
    }
    if result.sizes.is_empty() {
        return bad("no portfolio size was searched".into());
    }
    if result.best_size >= result.sizes.len() {
        return bad(format!(
            "best size index {} but {} sizes",
            result.best_size,
            result.sizes.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for size in &result.sizes {
        let k = size.portfolio_size;
        if !seen.insert(k) {
            return bad(format!("portfolio size {k} is listed twice"));
        }
        if size.best >= size.algorithms.len() {
            return bad(format!(
                "size {k}: best algorithm index {} but {} algorithms",
                size.best,
                size.algorithms.len()
            ));
        }
        for alg in &size.algorithms {
            if let Some(&i) = alg.portfolio.iter().find(|&&i| i as usize >= n) {
                return bad(format!(
                    "size {k}, {}: strategy index {i} but {n} strategies",
                    alg.algorithm
                ));
            }
        }
    }
    for inv in &result.inversions {
        if inv.index as usize >= n {
            return bad(format!(
                "inversion of strategy index {} but {n} strategies",
                inv.index
            ));
        }
    }
    Ok(())
}

/// Writes the run folder for `result` under `output_root` (created if missing) and returns its
/// path, `output_root/run_<ts>`. See the crate documentation for naming, uniqueness and atomicity.
pub fn write_run_folder(
    output_root: &Path,
    run: &RunInfo,
    result: &RunResult,
) -> Result<PathBuf, ReportError> {
    check_result(result)?;
    fs::create_dir_all(output_root).map_err(|source| ReportError::Folder {
        path: output_root.to_path_buf(),
        source,
    })?;
    let first = run.timestamp.with_nanosecond(0).unwrap_or(run.timestamp);
    let mut ts = first;
    let mut tries = 0;
    while tries < MAX_NAME_TRIES {
        let id = run_id(&ts);
        let target = output_root.join(folder_name(&id));
        if fs::symlink_metadata(&target).is_ok() {
            ts += chrono::TimeDelta::seconds(1);
            tries += 1;
            continue;
        }
        let temp = create_temp_dir(output_root, &id)?;
        if let Err(e) = write_files(&temp, &id, run, result) {
            let _ = fs::remove_dir_all(&temp);
            return Err(e);
        }
        match fs::rename(&temp, &target) {
            Ok(()) => {
                // Make the rename itself durable (best effort: not every filesystem allows it).
                if let Ok(dir) = fs::File::open(output_root) {
                    let _ = dir.sync_all();
                }
                return Ok(target);
            }
            Err(e) if name_taken(&e) => {
                // Another writer took the name since the check: render again for the next second.
                let _ = fs::remove_dir_all(&temp);
                ts += chrono::TimeDelta::seconds(1);
                tries += 1;
            }
            Err(source) => {
                let _ = fs::remove_dir_all(&temp);
                return Err(ReportError::Folder {
                    path: target,
                    source,
                });
            }
        }
    }
    Err(ReportError::NoFreeName {
        root: output_root.to_path_buf(),
        first: run_id(&first),
        tries,
    })
}

/// Whether a failed `rename` means that the target name exists (a non-empty folder there).
fn name_taken(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
    )
}

/// Creates `output_root/.run_<ts>.partial-<pid>-<n>`, a name no other writer uses.
fn create_temp_dir(output_root: &Path, run_id: &str) -> Result<PathBuf, ReportError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = output_root.join(format!(".run_{run_id}.partial-{}-{n}", std::process::id()));
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            // A leftover of an earlier process with the same pid: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(ReportError::Folder { path, source }),
        }
    }
}

/// Removes `.run_*.partial-*` folders under `output_root` older than `min_age` (left by a process
/// that died mid-write). Returns how many were removed.
pub fn remove_stale_partials(output_root: &Path, min_age: Duration) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(output_root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(".run_") && name.contains(".partial-")) {
            continue;
        }
        let modified = entry.metadata()?.modified()?;
        if now.duration_since(modified).unwrap_or_default() >= min_age {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Renders every file into `dir` (the temporary folder) and flushes each one to disk.
///
/// **Concurrency.** The files are independent, so they are rendered as separate tasks on rayon's
/// pool: the workbook (the critical path: more than half of the CPU time for 25,544 strategies,
/// 55-60 ms on the dev VM) in the scope's own body so that it starts at once, the CSV,
/// `results.json`, each chart and the small text files as spawned tasks that the other workers
/// take (together they finish well before the workbook on two cores). Every task writes only its
/// own files and the bytes of each file depend only on `run` and `result`, so the output is the
/// same whatever the interleaving, and on a one-thread pool too (the tasks then run one after
/// another); when several tasks fail, the error of the first task in the fixed order below is
/// returned.
///
/// **Durability.** Each file is flushed with `fsync` (`File::sync_all`) before the folder is
/// renamed to its final name, as before; what changed is *when*. On ext4 an `fsync` waits for a
/// journal commit: on the 2-core dev VM the 11 files of a one-size run took 8 ms to sync one
/// after another when the disk was quiet, but 40-50 ms while other processes (builds) were
/// writing to the same filesystem, and they used to be synced that way on the rendering threads.
/// Now each finished file is handed to its own short-lived I/O thread ([`Flusher`]) that syncs it
/// while rendering goes on; concurrent `fsync`s share journal commits (the same 11 files: 6 ms
/// quiet, 8-12 ms busy), only the workbook's own sync is left after the last byte is written, and
/// the rayon workers never block on the disk. The folder itself is synced once at the end, after
/// every file's data is on disk, so that its entries are durable before the rename;
/// `write_run_folder` then renames it and syncs the parent. Syncing only the directories would not
/// do: that does not flush the files' data, and a crash could leave a complete-looking `run_*`
/// folder with empty or partial files.
fn write_files(
    dir: &Path,
    run_id: &str,
    run: &RunInfo,
    result: &RunResult,
) -> Result<(), ReportError> {
    std::thread::scope(|io| {
        let flusher = Flusher::new(io, dir);
        let failures = Failures::default();
        rayon::scope(|s| {
            let (flusher, failures) = (&flusher, &failures);
            s.spawn(move |_| failures.run(0, || write_texts(flusher, run_id, run, result)));
            s.spawn(move |_| failures.run(1, || write_csv(flusher, result)));
            s.spawn(move |_| failures.run(2, || write_json(flusher, run_id, run, result)));
            if walk_forward::has_folds(result) {
                s.spawn(move |_| failures.run(3, || write_walk_forward(flusher, run_id, result)));
            }
            let mut task = 4;
            for size in &result.sizes {
                for kind in [charts::ChartKind::Equity, charts::ChartKind::Drawdown] {
                    s.spawn(move |_| {
                        failures.run(task, || write_chart(flusher, run_id, size, kind, result))
                    });
                    task += 1;
                }
            }
            failures.run(task, || write_workbook(flusher, run_id, run, result));
        });
        let rendered = failures.first();
        let flushed = flusher.wait();
        rendered.and(flushed)?;
        // Best effort, as for the parent after the rename: not every filesystem syncs a directory.
        if let Ok(folder) = fs::File::open(dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    })
}

/// The first (in task order) error of the rendering tasks; a panicking task counts as an error,
/// so that the temporary folder is still removed.
#[derive(Default)]
struct Failures(Mutex<Vec<(usize, ReportError)>>);

impl Failures {
    fn run(&self, task: usize, f: impl FnOnce() -> Result<(), ReportError>) {
        let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
            Err(ReportError::Internal(format!(
                "rendering task {task} panicked"
            )))
        });
        if let Err(e) = outcome {
            lock(&self.0).push((task, e));
        }
    }

    fn first(self) -> Result<(), ReportError> {
        let failures = self.0.into_inner().unwrap_or_else(PoisonError::into_inner);
        match failures.into_iter().min_by_key(|(task, _)| *task) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Flushes finished files to disk on I/O threads of a [`std::thread::scope`], one per file, so
/// that `fsync`s overlap each other and the rendering (see [`write_files`]).
struct Flusher<'scope, 'env> {
    io: &'scope Scope<'scope, 'env>,
    dir: &'env Path,
    pending: Mutex<Vec<(String, ScopedJoinHandle<'scope, io::Result<()>>)>>,
}

impl<'scope, 'env> Flusher<'scope, 'env> {
    fn new(io: &'scope Scope<'scope, 'env>, dir: &'env Path) -> Self {
        Flusher {
            io,
            dir,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Creates `dir/name` for writing.
    fn create(&self, name: &str) -> Result<fs::File, ReportError> {
        fs::File::create(self.dir.join(name)).map_err(|source| write_error(name, source))
    }

    /// Writes `bytes` to `dir/name` and starts flushing it.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), ReportError> {
        let mut file = self.create(name)?;
        file.write_all(bytes)
            .map_err(|source| write_error(name, source))?;
        self.sync(name, file)
    }

    /// Starts flushing `file` (`dir/name`, fully written) on an I/O thread; syncs it right here
    /// if no thread can be started.
    fn sync(&self, name: &str, file: fs::File) -> Result<(), ReportError> {
        let spawned = std::thread::Builder::new()
            .name("hop-report-fsync".into())
            .spawn_scoped(self.io, move || file.sync_all());
        match spawned {
            Ok(handle) => {
                lock(&self.pending).push((name.to_string(), handle));
                Ok(())
            }
            // The closure (and the file with it) is gone: sync through a new handle.
            Err(_) => fs::File::open(self.dir.join(name))
                .and_then(|f| f.sync_all())
                .map_err(|source| write_error(name, source)),
        }
    }

    /// Opens the already written `dir/name` (a chart, written by plotters) and starts flushing it.
    fn sync_path(&self, name: &str) -> Result<(), ReportError> {
        let file =
            fs::File::open(self.dir.join(name)).map_err(|source| write_error(name, source))?;
        self.sync(name, file)
    }

    /// Waits for every flush; the first failure by file name, if any.
    fn wait(self) -> Result<(), ReportError> {
        let mut pending = self
            .pending
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        let mut outcome = Ok(());
        for (name, handle) in pending {
            let flushed = match handle.join() {
                Ok(flushed) => flushed.map_err(|source| write_error(&name, source)),
                Err(_) => Err(ReportError::Internal(format!(
                    "the thread flushing {name} panicked"
                ))),
            };
            outcome = outcome.and(flushed);
        }
        outcome
    }
}

fn write_error(name: &str, source: io::Error) -> ReportError {
    ReportError::Write {
        file: name.to_string(),
        source,
    }
}

/// `optimization_summary_<ts>.xlsx`, through a buffer (the zip writer makes many small writes).
fn write_workbook(
    flusher: &Flusher<'_, '_>,
    run_id: &str,
    run: &RunInfo,
    result: &RunResult,
) -> Result<(), ReportError> {
    let name = format!("optimization_summary_{run_id}.xlsx");
    let file = flusher.create(&name)?;
    let mut out = io::BufWriter::with_capacity(xlsx::WRITE_BUFFER, &file);
    xlsx::write_xlsx_to(&mut out, flusher.dir, run, run_id, result).map_err(|source| {
        ReportError::Xlsx {
            file: name.clone(),
            source,
        }
    })?;
    out.flush().map_err(|source| write_error(&name, source))?;
    drop(out);
    flusher.sync(&name, file)
}

fn write_chart(
    flusher: &Flusher<'_, '_>,
    run_id: &str,
    size: &SizeResult,
    kind: charts::ChartKind,
    result: &RunResult,
) -> Result<(), ReportError> {
    let k = size.portfolio_size;
    let alg = size.best().algorithm.as_str();
    let (prefix, title) = match kind {
        charts::ChartKind::Equity => ("equity_curves", "Equity Curve"),
        charts::ChartKind::Drawdown => ("drawdowns", "Drawdown"),
    };
    let name = format!("{prefix}_Best_Portfolio_Size{k}_{run_id}.png");
    let title = format!("{title} - Best Portfolio (Size {k}, {alg})");
    charts::draw_chart(
        &flusher.dir.join(&name),
        kind,
        &title,
        &result.dates,
        &size.best_daily,
    )
    .map_err(|message| ReportError::Chart {
        file: name.clone(),
        message,
    })?;
    flusher.sync_path(&name)
}

/// The small text files: the summary, one Best_Portfolio file per size, the error log and the
/// inversion report.
fn write_texts(
    flusher: &Flusher<'_, '_>,
    run_id: &str,
    run: &RunInfo,
    result: &RunResult,
) -> Result<(), ReportError> {
    let mut summary = text::summary_text(run, run_id, result);
    if walk_forward::shown(result) {
        summary.push_str(&walk_forward::summary_section(result));
    }
    flusher.write(
        &format!("optimization_summary_{run_id}.txt"),
        summary.as_bytes(),
    )?;
    for size in &result.sizes {
        let name = format!("Best_Portfolio_Size{}_{run_id}.txt", size.portfolio_size);
        flusher.write(&name, text::best_portfolio_text(result, size).as_bytes())?;
    }
    flusher.write(
        "error_log.txt",
        text::error_log_text(&run.errors).as_bytes(),
    )?;
    if !result.inversions.is_empty() {
        flusher.write("inversion_report.md", inversion_report(result).as_bytes())?;
    }
    Ok(())
}

/// `walk_forward.csv` and the walk-forward chart.
fn write_walk_forward(
    flusher: &Flusher<'_, '_>,
    run_id: &str,
    result: &RunResult,
) -> Result<(), ReportError> {
    flusher.write(
        walk_forward::CSV_NAME,
        walk_forward::csv_text(result).as_bytes(),
    )?;
    let name = walk_forward::chart_name(run_id);
    let wf = &result.walk_forward;
    let folds: Vec<charts::FoldSeries<'_>> = wf
        .folds
        .iter()
        .map(|f| charts::FoldSeries {
            start: f.train.start,
            train_days: f.train.days(),
            daily: &f.daily,
        })
        .collect();
    let title = format!(
        "Walk-Forward - In-Sample vs Out-of-Sample Equity ({} {} folds)",
        wf.folds.len(),
        wf.mode.as_str()
    );
    charts::draw_walk_forward(&flusher.dir.join(&name), &title, &result.dates, &folds).map_err(
        |message| ReportError::Chart {
            file: name.clone(),
            message,
        },
    )?;
    flusher.sync_path(&name)
}

fn write_csv(flusher: &Flusher<'_, '_>, result: &RunResult) -> Result<(), ReportError> {
    flusher.write(
        "strategy_metrics.csv",
        text::strategy_metrics_csv(result).as_bytes(),
    )
}

fn write_json(
    flusher: &Flusher<'_, '_>,
    run_id: &str,
    run: &RunInfo,
    result: &RunResult,
) -> Result<(), ReportError> {
    let doc = results_document(run, run_id, result);
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|source| ReportError::Json {
        file: "results.json".to_string(),
        source,
    })?;
    bytes.push(b'\n');
    flusher.write("results.json", &bytes)
}

/// The `results.json` document of a run (borrowing `run` and `result`).
pub fn results_document<'a>(
    run: &'a RunInfo,
    run_id: &'a str,
    result: &'a RunResult,
) -> ResultsDocument<'a> {
    use std::borrow::Cow;
    ResultsDocument {
        format_version: json::FORMAT_VERSION,
        job_id: run.job_id.as_deref().map(Cow::Borrowed),
        run_id: Cow::Borrowed(run_id),
        timestamp: Cow::Owned(run.timestamp.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        input_file: Cow::Borrowed(&run.input_file),
        side: run.side.as_deref().map(Cow::Borrowed),
        engine: Cow::Borrowed(&run.engine),
        seed: result.options.seed,
        options: Cow::Borrowed(&result.options),
        timings: Cow::Borrowed(&run.timings),
        errors: Cow::Borrowed(&run.errors),
        files: file_names(result, run_id),
        best: BestSummary::of(result),
        result: Cow::Borrowed(result),
    }
}
