//! Real Samba: smbd on loopback exporting the cluster's share; `smbclient` and `smbprotocol`
//! (Python, `tests/samba/slow_client.py`) are the Windows clients. Skipped when smbd, smbclient
//! or (for the slow writer) `$HOP_PYTHON` with smbprotocol is missing, unless
//! `HOP_REQUIRE_EXTERNAL=1`.

#[path = "../samba/smbd.rs"]
mod smbd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hop_core::JobOptions;
use hop_e2e::{Cluster, file_with_prefix, hop_run};
use serde_json::Value;
use smbd::{PASSWORD, Smbd};

const FIXTURE: &str = "sensex_500x82.csv";
const SIZE: usize = 10;
const BUDGET: u64 = 3000;
/// The bridge's `settle`, short so that the slow job file takes well over it to write.
const SETTLE: Duration = Duration::from_millis(1000);
/// The pause after each 64-byte chunk of the slow job file: below `SETTLE`, as a live writer's.
const CHUNK_PAUSE: &str = "0.3";
/// The share as the SMB clients name it; the bridge is told it means this share.
const UNC_ROOT: &str = r"\\127.0.0.1\optimizer_share";
const OUTCOME_TIMEOUT: Duration = Duration::from_secs(180);

/// The cluster (legacy side, as Windows users see it first) and smbd over its share, or `None`
/// (skipped) when Samba is not installed.
fn start() -> Option<(Cluster, Smbd)> {
    hop_runtime::testing::or_skip(smbd::available())?;
    let settle = format!("settle={}ms", SETTLE.as_millis());
    let unc = format!(r"unc_prefixes=['{UNC_ROOT}', '\\server\optimizer_share']");
    let cluster = Cluster::start(0, &[("bridge", &settle), ("bridge", &unc)]);
    let smbd = Smbd::start(cluster.share());
    eprintln!(
        "smbd ready (first `smbclient ls` OK) after {:?}",
        smbd.ready_after
    );
    Some((cluster, smbd))
}

/// A job file as `run_optimizer.bat` echoes it (CRLF, `%DATE% %TIME%`, the pushd drive letter),
/// plus a search budget so the debug build is quick. `input_file` is written as is: the
/// launcher echoes Windows paths with raw backslashes.
fn launcher_job(job_id: &str, input_file: &str) -> String {
    [
        "{".to_owned(),
        format!(r#"  "job_id": "{job_id}","#),
        format!(r#"  "input_file": "{input_file}","#),
        format!(r#"  "portfolio_size": {SIZE},"#),
        r#"  "job_type": "complete_optimization","#.to_owned(),
        r#"  "timestamp": "Tue 11/24/2026  7:49:16.12","#.to_owned(),
        r#"  "client_info": {"#.to_owned(),
        r#"    "computer_name": "DESKTOP-E2E","#.to_owned(),
        r#"    "username": "analyst","#.to_owned(),
        r#"    "drive_letter": "Z:""#.to_owned(),
        "  },".to_owned(),
        r#"  "execution_mode": "server_side","#.to_owned(),
        r#"  "input_format": "csv_only","#.to_owned(),
        format!(r#"  "budget": {BUDGET}"#),
        "}".to_owned(),
    ]
    .map(|line| line + "\r\n")
    .concat()
}

/// Submits like the launcher over SMB: the CSV (when given) to `input\`, the job file under a
/// `.tmp` name, then renamed to `.json`.
fn submit_with_smbclient(smbd: &Smbd, job_id: &str, input_file: &str, csv: bool) {
    let local = smbd.scratch(&format!("submit_{job_id}"));
    std::fs::write(
        local.join(format!("{job_id}.tmp")),
        launcher_job(job_id, input_file),
    )
    .expect("job file");
    let mut commands = String::new();
    if csv {
        std::fs::write(local.join(FIXTURE), hop_core::fixtures::bytes(FIXTURE)).expect("CSV");
        commands += &format!(r"put {FIXTURE} input\{FIXTURE}; ");
    }
    let queued = format!(r"jobs\queue\{job_id}");
    commands += &format!("put {job_id}.tmp {queued}.tmp; rename {queued}.tmp {queued}.json");
    smbd.client(&local, &commands);
}

/// Polls `jobs\completed\` then `jobs\failed\` over SMB with smbclient, as the launcher does
/// (every 100 ms here instead of 3 s); returns the folder and the file's JSON.
fn wait_with_smbclient(smbd: &Smbd, job_id: &str) -> (&'static str, Value) {
    let local = smbd.scratch(&format!("outcome_{job_id}"));
    let start = Instant::now();
    loop {
        let (_, output) = smbd.try_client(
            &local,
            &["completed", "failed"]
                .map(|dir| format!(r"get jobs\{dir}\{job_id}.json {dir}.json"))
                .join("; "),
        );
        for folder in ["completed", "failed"] {
            if let Ok(text) = std::fs::read_to_string(local.join(format!("{folder}.json"))) {
                let value = serde_json::from_str(&text).unwrap_or_else(|e| {
                    panic!("jobs\\{folder}\\{job_id}.json is JSON: {e}\n{text}")
                });
                return (folder, value);
            }
        }
        assert!(
            start.elapsed() < OUTCOME_TIMEOUT,
            "{job_id} not answered over SMB within {OUTCOME_TIMEOUT:?}; last smbclient said:\n\
             {output}\n{}",
            smbd.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fetches `output\<run>` over SMB and checks it against the folder on disk: the same names,
/// byte for byte. Returns the fetched copy.
fn fetch_run_folder(cluster: &Cluster, smbd: &Smbd, output_dir: &str) -> PathBuf {
    let name = output_dir
        .strip_prefix(r"output\")
        .unwrap_or_else(|| panic!("output_dir {output_dir:?} is not under output\\"));
    let local = smbd.scratch(name);
    smbd.client(&local, &format!(r"cd output\{name}; prompt OFF; mget *"));
    let on_disk = cluster.share().join("output").join(name);
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&local), names(&on_disk), "files over SMB vs on disk");
    for file in names(&on_disk) {
        let fetched = std::fs::read(local.join(&file)).expect("fetched file");
        let disk = std::fs::read(on_disk.join(&file)).expect("file on disk");
        assert!(
            fetched == disk,
            "{file} differs over SMB ({} vs {} bytes)",
            fetched.len(),
            disk.len()
        );
    }
    local
}

/// The SPEC 4 files, all sharing the run's timestamp.
fn assert_spec_files(folder: &Path) {
    let summary = file_with_prefix(folder, "optimization_summary_");
    let ts = summary
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("optimization_summary_"))
        .and_then(|n| n.strip_suffix(".txt").or_else(|| n.strip_suffix(".xlsx")))
        .expect("optimization_summary_<ts>.txt")
        .to_owned();
    for file in [
        format!("optimization_summary_{ts}.txt"),
        format!("optimization_summary_{ts}.xlsx"),
        "strategy_metrics.csv".to_owned(),
        format!("Best_Portfolio_Size{SIZE}_{ts}.txt"),
        format!("equity_curves_Best_Portfolio_Size{SIZE}_{ts}.png"),
        format!("drawdowns_Best_Portfolio_Size{SIZE}_{ts}.png"),
        "error_log.txt".to_owned(),
        "results.json".to_owned(),
    ] {
        assert!(
            folder.join(&file).is_file(),
            "{file} missing from the run folder"
        );
    }
}

/// The run's results equal `hop run`'s for the same CSV, options and seed.
fn assert_equals_hop_run(folder: &Path, csv: &Path) {
    let out = tempfile::tempdir().expect("a temporary folder");
    let options = JobOptions {
        budget: Some(BUDGET),
        ..JobOptions::with_size(SIZE)
    };
    let expected = hop_run(csv, &options, out.path());
    let doc = std::fs::read(folder.join("results.json")).expect("results.json");
    let doc = hop_report::read_results_json(&doc).expect("results.json parses");
    assert_eq!(doc.seed, 42);
    hop_e2e::assert_same_portfolios(&doc.result, &expected.result);
    let prefix = format!("Best_Portfolio_Size{SIZE}_");
    assert_eq!(
        std::fs::read_to_string(file_with_prefix(folder, &prefix)).expect("report"),
        std::fs::read_to_string(file_with_prefix(&expected.folder, &prefix)).expect("report"),
    );
}

/// The job's file is in `jobs/<outcome>/` only, once.
fn assert_only_in(cluster: &Cluster, job_id: &str, outcome: &str) {
    let jobs = cluster.share().join("jobs");
    for dir in ["queue", "processing", "completed", "failed"] {
        let mine: Vec<String> = std::fs::read_dir(jobs.join(dir))
            .expect("jobs folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(job_id))
            .collect();
        let want: Vec<String> = if dir == outcome {
            vec![format!("{job_id}.json")]
        } else {
            Vec::new()
        };
        assert_eq!(mine, want, "jobs/{dir}");
    }
}

/// The job completed exactly once: one completed file, nothing elsewhere, one run folder.
fn assert_completed_once(cluster: &Cluster, job_id: &str) {
    assert_only_in(cluster, job_id, "completed");
    let folders = cluster.run_folders(job_id);
    assert_eq!(folders.len(), 1, "run folders of {job_id}: {folders:?}");
}

#[test]
fn smbclient_job_completes_and_its_run_folder_reads_back_identical() {
    let Some((cluster, smbd)) = start() else {
        return;
    };
    let job_id = "job_424242_20261124_074916";
    let started = Instant::now();
    submit_with_smbclient(&smbd, job_id, FIXTURE, true);
    let (outcome, doc) = wait_with_smbclient(&smbd, job_id);
    eprintln!(
        "job over SMB (put CSV + job, poll jobs\\completed) took {:?}",
        started.elapsed()
    );
    assert_eq!(outcome, "completed", "{doc:#}");
    assert_eq!(doc["job_id"], job_id);
    assert_eq!(doc["timestamp"], "Tue 11/24/2026  7:49:16.12");
    assert_eq!(doc["client_info"]["drive_letter"], "Z:");
    assert_eq!(doc["return_code"], 0, "{doc:#}");
    assert_eq!(doc["side"], "blue", "{doc:#}");
    assert_completed_once(&cluster, job_id);

    let output_dir = doc["output_dir"].as_str().expect("output_dir");
    let fetched = fetch_run_folder(&cluster, &smbd, output_dir);
    assert_spec_files(&fetched);
    assert_equals_hop_run(&fetched, &hop_core::fixtures::path(FIXTURE));
}

/// `$HOP_PYTHON` (else `python3`) when it can import smbprotocol.
fn python() -> Result<PathBuf, String> {
    let python =
        std::env::var_os("HOP_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let out = Command::new(&python)
        .arg(slow_client())
        .arg("check")
        .output()
        .map_err(|e| format!("{} cannot be run ({e}): set HOP_PYTHON", python.display()))?;
    if out.status.success() {
        Ok(python)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn slow_client() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samba/slow_client.py")
}

/// Runs `slow_client.py <args>` against `smbd`; its JSON line.
fn run_slow_client(python: &Path, smbd: &Smbd, command: &str, args: &[&str]) -> Value {
    let out = Command::new(python)
        .arg(slow_client())
        .arg(command)
        .arg(smbd.port.to_string())
        .arg(PASSWORD)
        .args(args)
        .output()
        .expect("slow_client.py runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "slow_client.py {command} {args:?} failed:\n{stdout}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        smbd.log()
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn smbprotocol_slow_writes_are_run_once_when_whole() {
    let Some(python) = hop_runtime::testing::or_skip(python()) else {
        return;
    };
    let Some((cluster, smbd)) = start() else {
        return;
    };
    let job_id = "job_777_20261124_075000";
    let local = smbd.scratch("slow");
    let csv = local.join(FIXTURE);
    std::fs::write(&csv, hop_core::fixtures::bytes(FIXTURE)).expect("CSV");
    let input = format!(r"{UNC_ROOT}\input\{FIXTURE}");
    let job = local.join(format!("{job_id}.json"));
    std::fs::write(&job, launcher_job(job_id, &input)).expect("job file");

    let csv_remote = format!(r"input\{FIXTURE}");
    let wrote = run_slow_client(
        &python,
        &smbd,
        "put",
        &[csv.to_str().expect("path"), &csv_remote, "65536", "0.05"],
    );
    assert!(wrote["chunks"].as_u64().is_some_and(|c| c > 5), "{wrote}");
    let job_name = format!("{job_id}.json");
    let job_remote = format!(r"jobs\queue\{job_name}");
    let started = Instant::now();
    let wrote = run_slow_client(
        &python,
        &smbd,
        "put",
        &[
            job.to_str().expect("path"),
            &job_remote,
            "64",
            CHUNK_PAUSE,
            &job_name,
        ],
    );
    let seconds = wrote["seconds"].as_f64().expect("seconds");
    assert!(
        seconds > 1.5 * SETTLE.as_secs_f64(),
        "the job file took {seconds} s, not over 1.5 times settle: {wrote}"
    );
    let answer = run_slow_client(&python, &smbd, "wait", &[&job_name, "180"]);
    eprintln!(
        "slow job over SMB (write {seconds:.2} s, then run) took {:?}",
        started.elapsed()
    );
    assert_eq!(answer["folder"], "completed", "{answer}");
    let doc: Value = serde_json::from_str(answer["text"].as_str().expect("text")).expect("JSON");
    assert_eq!(doc["input_file"], input.as_str());
    assert_eq!(doc["return_code"], 0, "{doc:#}");
    assert_completed_once(&cluster, job_id);
    assert!(
        std::fs::read(cluster.share().join("input").join(FIXTURE)).expect("CSV on the share")
            == hop_core::fixtures::bytes(FIXTURE),
        "the slowly written CSV differs from the fixture"
    );
}

#[test]
fn missing_csv_fails_with_a_sentence_read_over_smb() {
    let Some((cluster, smbd)) = start() else {
        return;
    };
    let job_id = "job_31337_20261124_075100";
    submit_with_smbclient(&smbd, job_id, r"Z:\input\missing.csv", false);
    let (outcome, doc) = wait_with_smbclient(&smbd, job_id);
    assert_eq!(outcome, "failed", "{doc:#}");
    assert_eq!(doc["return_code"], 1, "{doc:#}");
    let error = doc["error"].as_str().expect("an error");
    eprintln!("error over SMB: {error}");
    for part in [
        // The path as the analyst wrote it: single backslashes, not a Rust debug string.
        r#"input_file "Z:\input\missing.csv" was not found"#,
        r"\\127.0.0.1\optimizer_share\input",
    ] {
        assert!(error.contains(part), "{error:?} lacks {part:?}");
    }
    assert!(error.ends_with('.'), "not a sentence: {error:?}");
    assert_eq!(doc["output_dir"], "", "{doc:#}");
    assert_only_in(&cluster, job_id, "failed");
    assert!(cluster.run_folders(job_id).is_empty());
}
