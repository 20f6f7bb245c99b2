//! A private `smbd` on 127.0.0.1 exporting one folder as `optimizer_share`, and `smbclient` runs
//! against it. Config, state and logs live in a temporary directory; the server is stopped when
//! dropped. The config is `tests/samba/smb.conf`; the notes behind it are in
//! `/work/shared/notes/harnesses.md` section 1.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The SMB login and password the share accepts.
pub const USER: &str = "optimizer";
pub const PASSWORD: &str = "e2e-smb-pass-7c2a";

/// How long smbd may take to answer its first `smbclient ls`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// `Ok` when smbd, smbclient and pdbedit can be run here, else why not.
pub fn available() -> Result<(), String> {
    for program in ["smbd", "smbclient", "pdbedit"] {
        match Command::new(program).arg("--version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => return Err(format!("`{program} --version` failed: {}", out.status)),
            Err(e) => {
                return Err(format!(
                    "{program} is not installed ({e}): apt-get install samba smbclient"
                ));
            }
        }
    }
    Ok(())
}

/// A running smbd.
pub struct Smbd {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    /// From spawning smbd to its first successful `smbclient ls`.
    pub ready_after: Duration,
}

impl Smbd {
    /// Starts smbd exporting `share` on a free loopback port and waits until `smbclient ls`
    /// works. Panics, with smbd's log, when it does not come up.
    pub fn start(share: &Path) -> Self {
        let dir = tempfile::tempdir().expect("a temporary samba directory");
        let root = dir.path();
        for sub in [
            "lock", "state", "cache", "pid", "private", "ncalrpc", "binddns", "log",
        ] {
            std::fs::create_dir_all(root.join(sub)).expect("samba directories");
        }
        let unix_user = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
            .expect("a user name")
            .trim()
            .to_owned();
        std::fs::write(root.join("usermap"), format!("{unix_user} = {USER}\n")).expect("usermap");
        let port = free_port();
        let config = include_str!("smb.conf")
            .replace("@DIR@", &root.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@SHARE@", &share.display().to_string())
            .replace("@UNIX_USER@", &unix_user);
        let conf = root.join("smb.conf");
        std::fs::write(&conf, config).expect("smb.conf");
        // The password database entry is for the mapped (Unix) name.
        let mut pdbedit = Command::new("pdbedit");
        pdbedit
            .arg("-s")
            .arg(&conf)
            .args(["-a", "-u", &unix_user, "-t"]);
        run_with_input(&mut pdbedit, &format!("{PASSWORD}\n{PASSWORD}\n"));

        let console = std::fs::File::create(root.join("log/console.log")).expect("console log");
        let started = Instant::now();
        // `--foreground` alone: with `--no-process-group` its SIGTERM would hit this test too.
        let child = Command::new("smbd")
            .args(["--foreground", "-d1", "-s"])
            .arg(&conf)
            .arg("-l")
            .arg(root.join("log"))
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("console log"))
            .stderr(console)
            .spawn()
            .expect("smbd starts");
        let mut smbd = Self {
            child,
            dir,
            port,
            ready_after: Duration::ZERO,
        };
        smbd.ready_after = smbd.wait_ready(started);
        smbd
    }

    fn wait_ready(&mut self, started: Instant) -> Duration {
        loop {
            if let Some(status) = self.child.try_wait().expect("smbd status") {
                panic!("smbd exited with {status} before serving:\n{}", self.log());
            }
            let (ok, _) = self.try_client(Path::new("."), "ls");
            if ok {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "smbd did not serve `smbclient ls` within {READY_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// smbd's console and log file, for failure messages.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join("log").join(name));
        format!(
            "--- smbd console ---\n{}\n--- smbd.log ---\n{}",
            read("console.log").unwrap_or_default(),
            read("smbd.log").unwrap_or_default()
        )
    }

    /// `smbclient //127.0.0.1/optimizer_share -c <commands>` run in `local_dir`: whether every
    /// command succeeded, and its output.
    pub fn try_client(&self, local_dir: &Path, commands: &str) -> (bool, String) {
        let out = Command::new("smbclient")
            .arg("//127.0.0.1/optimizer_share")
            .args(["-p", &self.port.to_string()])
            .args(["-U", &format!("{USER}%{PASSWORD}")])
            .args(["-c", commands])
            .current_dir(local_dir)
            .stdin(Stdio::null())
            .output()
            .expect("smbclient runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Like [`Smbd::try_client`], but every command must succeed.
    pub fn client(&self, local_dir: &Path, commands: &str) -> String {
        let (ok, text) = self.try_client(local_dir, commands);
        assert!(
            ok,
            "smbclient -c {commands:?} failed:\n{text}\n{}",
            self.log()
        );
        text
    }

    /// This server's scratch directory (for files fetched over SMB).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("client").join(name);
        std::fs::create_dir_all(&path).expect("client scratch directory");
        path
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        // SIGTERM lets smbd stop its per-connection children (its own process group).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(command: &mut Command) -> Output {
    let out = command.output().expect("the command runs");
    assert!(out.status.success(), "{command:?} failed: {out:?}");
    out
}

fn run_with_input(command: &mut Command, input: &str) {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    let out = child.wait_with_output().expect("the command ends");
    assert!(out.status.success(), "{command:?} failed: {out:?}");
}
