//! `deploy/emergency-rollback.sh` with stand-ins for `hop` and `kubectl` on its PATH: what it
//! runs, in which order, and its exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/emergency-rollback.sh")
}

/// A PATH folder with `sed`, `cat` and the given stand-ins (name, exit code); each stand-in appends
/// its arguments as one line to `calls.log`. The `kubectl` one prints a ConfigMap for `get`,
/// and fails `exec` when its exit code is not 0.
struct Bin {
    dir: tempfile::TempDir,
}

impl Bin {
    fn new(stand_ins: &[(&str, i32)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for tool in ["sed", "cat"] {
            std::os::unix::fs::symlink(which(tool), dir.path().join(tool)).unwrap();
        }
        for (name, code) in stand_ins {
            let log = dir.path().join("calls.log");
            let body = match *name {
                "kubectl" => format!(
                    "echo \"kubectl $*\" >> '{}'\n\
                     case \" $* \" in\n\
                     *' get configmap '*) printf 'stage = \"weighted\"\\ngreen_percent = 50' ;;\n\
                     *' exec '*) exit {code} ;;\n\
                     esac\n",
                    log.display()
                ),
                _ => format!("echo \"{name} $*\" >> '{}'\nexit {code}\n", log.display()),
            };
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/bash\n{body}")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self { dir }
    }

    /// Runs the script with `args` and this PATH only; returns its exit code, the calls and
    /// its stderr.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, Vec<String>, String) {
        let output = Command::new(which("bash"))
            .arg(script())
            .args(args)
            .env_clear()
            .env("PATH", self.dir.path())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(self.dir.path().join("calls.log")).unwrap_or_default();
        (
            output.status.code().unwrap(),
            calls.lines().map(str::to_owned).collect(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

fn which(program: &str) -> PathBuf {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{program} not found in /usr/bin or /bin"))
}

#[test]
fn usage_errors_exit_2() {
    let bin = Bin::new(&[("hop", 0)]);
    for args in [&[][..], &["--reason", "  "], &["--reason"], &["--bogus"]] {
        let (code, calls, stderr) = bin.run(args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(calls.is_empty(), "{args:?}: nothing runs");
        assert!(stderr.contains("Usage:"), "{args:?}: {stderr}");
    }
    let (code, _, stdout_or_err) = bin.run(&["--help"], &[]);
    assert_eq!(code, 0, "{stdout_or_err}");
}

#[test]
fn hop_mode_runs_hop_cutover_rollback() {
    let bin = Bin::new(&[("hop", 0), ("kubectl", 0)]);
    let (code, calls, stderr) = bin.run(
        &["--reason", "green is slow", "--router", "http://r:1"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        calls,
        ["hop cutover rollback --reason green is slow --router http://r:1"]
    );
    let failing = Bin::new(&[("hop", 1)]);
    let (code, _, stderr) = failing.run(&["--reason", "drill"], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("failed"), "{stderr}");
}

#[test]
fn kubectl_mode_patches_the_configmap_then_latches_in_the_pod() {
    let bin = Bin::new(&[("kubectl", 0)]);
    let (code, calls, stderr) = bin.run(&["--reason", "drill"], &[("HOP_NAMESPACE", "prod")]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        calls,
        [
            "kubectl --namespace prod get configmap hop-cutover -o jsonpath={.data.cutover\\.toml}",
            "kubectl --namespace prod patch configmap hop-cutover --type merge --patch \
             {\"data\":{\"cutover.toml\":\"stage = \\\"dual\\\"\\n\"}}",
            "kubectl --namespace prod exec deploy/hop-router -- hop --version",
            "kubectl --namespace prod exec deploy/hop-router -- hop cutover rollback --reason drill",
        ]
    );
    assert!(
        stderr.contains("    green_percent = 50"),
        "previous content shown: {stderr}"
    );
}

#[test]
fn kubectl_mode_without_hop_in_the_pod_is_partial() {
    let bin = Bin::new(&[("kubectl", 1)]);
    let (code, calls, stderr) = bin.run(&["--kubectl", "--reason", "drill"], &[]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(calls.len(), 3, "get, patch, the hop probe: {calls:?}");
    assert!(
        calls[1].contains(" patch configmap hop-cutover "),
        "{calls:?}"
    );
    assert!(stderr.contains("not latched"), "{stderr}");
}

#[test]
fn neither_tool_is_a_failure() {
    let (code, _, stderr) = Bin::new(&[]).run(&["--reason", "drill"], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("neither"), "{stderr}");
}
