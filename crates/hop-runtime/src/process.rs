//! Starting a service as a child process and learning where it listens from its ready line —
//! for launchers (`hop up`) and end-to-end tests alike.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::ready::{Ready, parse_ready_line};

/// Spawns `command` with stdout piped, waits up to `timeout` for its `HOP_READY` line and checks
/// that it names `service`. The rest of stdout is drained in the background; stderr (the logs) is
/// left as configured on `command`. On failure the child is killed and the error says why.
pub fn spawn_service(
    command: &mut Command,
    service: &str,
    timeout: Duration,
) -> Result<(Child, Ready), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(format!("{program}: no stdout pipe"));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(ready) = parse_ready_line(&line) {
                let _ = tx.send(ready);
            }
        }
    });
    let ready = match rx.recv_timeout(timeout) {
        Ok(ready) => ready,
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            return Err(format!(
                "{program} ({service}) printed no HOP_READY line within {timeout:?} ({status})"
            ));
        }
    };
    if ready.service != service {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "{program} announced service {:?}, expected {service:?}",
            ready.service
        ));
    }
    Ok((child, ready))
}
