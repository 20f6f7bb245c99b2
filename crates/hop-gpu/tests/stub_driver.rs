//! The probe against fake CUDA drivers: a libcuda that reports no device, one that reports zero
//! devices, and one so old that a symbol cudarc needs is missing (cudarc panics on that; the probe
//! must turn it into an error). Each scenario runs this test binary again in a child process with
//! `LD_LIBRARY_PATH` pointing at a stub `libcuda.so` built with the system C compiler (cudarc opens
//! the driver once per process; `LD_LIBRARY_PATH` is searched before the system's libraries, so the
//! stub wins even where a real driver is installed). Skipped when there is no C compiler.

use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD: &str = "HOP_GPU_STUB_CHILD";

const NO_DEVICE: &str = r#"
static const char* msg = "no CUDA-capable device is detected";
int cuInit(unsigned int flags) { (void)flags; return 100; }
int cuGetErrorString(int e, const char** s) { (void)e; *s = msg; return 0; }
int cuGetErrorName(int e, const char** s) { (void)e; *s = "CUDA_ERROR_NO_DEVICE"; return 0; }
"#;

const ZERO_DEVICES: &str = r#"
int cuInit(unsigned int flags) { (void)flags; return 0; }
int cuDeviceGetCount(int* count) { *count = 0; return 0; }
"#;

const MISSING_SYMBOL: &str = r#"
int cuInit(unsigned int flags) { (void)flags; return 0; }
"#;

/// Child side: probe and print the outcome on one line.
#[test]
fn child_probe() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    match hop_gpu::Gpu::probe() {
        Ok(info) => println!("PROBE ok {}", info.describe()),
        Err(e) => println!("PROBE err {e}"),
    }
}

fn build_stub(dir: &Path, source: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    let c = dir.join("stub.c");
    std::fs::write(&c, source).unwrap();
    Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.join("libcuda.so"))
        .arg(&c)
        .status()
        .is_ok_and(|s| s.success())
}

fn probe_with(dir: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_probe", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("LD_LIBRARY_PATH", dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed (a panic escaped?):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("PROBE ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no PROBE line in:\n{stdout}"))
        .to_owned()
}

#[test]
fn fake_drivers_are_errors_never_panics() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stub-libcuda");
    if !build_stub(&root.join("no-device"), NO_DEVICE) {
        println!("skipped: no C compiler to build a stub libcuda");
        return;
    }
    let got = probe_with(&root.join("no-device"));
    assert!(got.starts_with("err no CUDA device: "), "{got}");
    assert_eq!(
        got,
        "err no CUDA device: no CUDA-capable device is detected (CUDA_ERROR_NO_DEVICE)"
    );

    assert!(build_stub(&root.join("zero"), ZERO_DEVICES));
    let got = probe_with(&root.join("zero"));
    assert_eq!(got, "err no CUDA device: the driver reports 0 devices");

    assert!(build_stub(&root.join("old"), MISSING_SYMBOL));
    let got = probe_with(&root.join("old"));
    assert!(
        got.starts_with("err the CUDA library failed unexpectedly during opening the GPU: "),
        "{got}"
    );
    assert!(got.contains("cuDeviceGetCount"), "{got}");
}
