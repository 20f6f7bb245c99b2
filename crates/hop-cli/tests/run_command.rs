//! `hop run` as an analyst uses it: the real binary, a real CSV, a run folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hop"))
        .args(args)
        .output()
        .expect("run hop")
}

fn last_line(out: &Output) -> PathBuf {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    PathBuf::from(stdout.lines().last().expect("some output"))
}

/// results.json with what legitimately differs between two runs removed.
fn stable_results(folder: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(folder.join("results.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for key in ["seconds", "timings", "run_id", "timestamp", "files"] {
                    map.remove(key);
                }
                map.values_mut().for_each(scrub);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut v);
    v
}

fn only_file_starting(folder: &Path, prefix: &str) -> Vec<u8> {
    let entry = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}* in {}", folder.display()));
    std::fs::read(entry).unwrap()
}

#[test]
fn same_seed_twice_gives_the_same_reports() {
    let out = tempfile::tempdir().unwrap();
    let csv = hop_core::fixtures::path("sensex_500x82.csv");
    let args = [
        "run",
        "--csv",
        csv.to_str().unwrap(),
        "--portfolio-size",
        "12",
        "--budget",
        "3000",
        "--seed",
        "99",
        "--out",
        out.path().to_str().unwrap(),
        "--quiet",
    ];
    let first = hop(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = hop(&args);
    assert!(second.status.success());
    let (a, b) = (last_line(&first), last_line(&second));
    assert_ne!(a, b, "each job gets its own run folder");
    for folder in [&a, &b] {
        assert!(folder.is_dir() && folder.starts_with(out.path()));
        assert!(
            folder
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("run_")
        );
    }
    assert_eq!(
        only_file_starting(&a, "Best_Portfolio_Size12_"),
        only_file_starting(&b, "Best_Portfolio_Size12_")
    );
    assert_eq!(
        only_file_starting(&a, "strategy_metrics.csv"),
        only_file_starting(&b, "strategy_metrics.csv")
    );
    assert_eq!(stable_results(&a), stable_results(&b));
    let stdout = String::from_utf8(first.stdout).unwrap();
    assert!(stdout.contains("best: size 12"), "{stdout}");
}

#[test]
fn bad_input_exits_2_with_a_clear_message_and_no_run_folder() {
    let out = tempfile::tempdir().unwrap();
    let bad = out.path().join("bad.csv");
    std::fs::write(&bad, "Date,Day,A,B\n2024-01-02,Tuesday,1.5,oops\n").unwrap();
    let result = hop(&[
        "run",
        "--csv",
        bad.to_str().unwrap(),
        "--portfolio-size",
        "1",
        "--out",
        out.path().join("runs").to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(
        stderr.contains("bad.csv")
            && stderr.contains("line 2")
            && stderr.contains("\"B\"")
            && stderr.contains("oops"),
        "{stderr}"
    );
    assert!(
        !out.path().join("runs").exists(),
        "nothing that looks like a run was written"
    );

    let missing = hop(&["run", "--csv", "/nonexistent/x.csv"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/x.csv"));

    let csv = hop_core::fixtures::path("sensex_500x82.csv");
    let too_big = hop(&[
        "run",
        "--csv",
        csv.to_str().unwrap(),
        "--portfolio-size",
        "600",
        "--out",
        out.path().join("runs").to_str().unwrap(),
    ]);
    assert_eq!(too_big.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&too_big.stderr).contains("larger than the 500 strategies"));
    assert!(!out.path().join("runs").exists());
}

#[test]
fn a_sweep_writes_one_best_portfolio_file_per_size() {
    let out = tempfile::tempdir().unwrap();
    let csv = hop_core::fixtures::path("sensex_500x82.csv");
    let result = hop(&[
        "run",
        "--csv",
        csv.to_str().unwrap(),
        "--min-size",
        "10",
        "--max-size",
        "11",
        "--algorithms",
        "SA,GA",
        "--budget",
        "1000",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let folder = last_line(&result);
    only_file_starting(&folder, "Best_Portfolio_Size10_");
    only_file_starting(&folder, "Best_Portfolio_Size11_");
    only_file_starting(&folder, "equity_curves_Best_Portfolio_Size11_");
    assert!(String::from_utf8_lossy(&result.stderr).contains("progress: size 11 SA"));
}

/// `--engine gpu` without a usable GPU fails with the reason and writes nothing; `auto` falls
/// back to the CPU and says so; `cpu` is the CPU. On a GPU machine, `gpu` runs and reports it.
#[test]
fn engine_selection() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let csv = "../../fixtures/sensex_500x82.csv";
    let common = [
        "run",
        "--csv",
        csv,
        "--portfolio-size",
        "10",
        "--budget",
        "300",
    ];
    let with = |engine: &str| {
        let mut args = common.to_vec();
        args.extend(["--out", &out_arg, "--engine", engine]);
        hop(&args)
    };
    let gpu = with("gpu");
    let stderr = String::from_utf8_lossy(&gpu.stderr).into_owned();
    let gpu_usable = gpu.status.success();
    if gpu_usable {
        let results = std::fs::read_to_string(last_line(&gpu).join("results.json")).unwrap();
        assert!(results.contains("\"engine\": \"gpu\""), "{results}");
    } else {
        assert_eq!(gpu.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("no usable GPU"), "{stderr}");
        assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    }
    let auto = with("auto");
    assert!(auto.status.success());
    let stderr = String::from_utf8_lossy(&auto.stderr).into_owned();
    let expected = if gpu_usable {
        "engine: gpu"
    } else {
        "engine: cpu"
    };
    assert!(stderr.contains(expected), "{stderr}");
    let cpu = with("cpu");
    assert!(cpu.status.success());
    let results = std::fs::read_to_string(last_line(&cpu).join("results.json")).unwrap();
    assert!(results.contains("\"engine\": \"cpu\""), "{results}");
}
