//! `hop-samba` (`docker/build.sh --samba`) serving the share to an SMB client.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::net::{Net, VERSION, build_sh, must};

/// debootstrap (run as root) for the Samba image, smbclient to read through it.
pub fn tools() -> Result<(), String> {
    for (program, arg) in [("debootstrap", "--version"), ("smbclient", "--version")] {
        Command::new(program)
            .arg(arg)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    match String::from_utf8_lossy(&uid.stdout).trim() {
        "0" => Ok(()),
        _ => Err("debootstrap needs root".into()),
    }
}

/// `docker/build.sh --samba`, then hop-samba serving the share (as a guest share here): the
/// completed file of `job_id` read over SMB is the one on disk.
pub fn serves_the_share(net: &Net, job_id: &str) {
    let start = Instant::now();
    build_sh(&["--samba"]);
    eprintln!("samba image built in {:.1?}", start.elapsed());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let conf = dir.path().join("smb.conf");
    std::fs::write(
        &conf,
        "[global]\nserver role = standalone server\nmap to guest = Bad User\n\
         disable netbios = yes\n[optimizer_share]\npath = /srv/share\nguest ok = yes\n",
    )
    .expect("smb.conf");
    let container = net.container("samba");
    let conf = format!("{}:/etc/samba/smb.conf:ro", conf.display());
    let share = format!("{}:/srv/share", net.share().display());
    let image = format!("hop-samba:{VERSION}");
    must(&[
        "run",
        "-d",
        "--name",
        &container,
        "-p",
        "127.0.0.1::445",
        "-v",
        &conf,
        "-v",
        &share,
        &image,
    ]);
    let port = must(&["port", &container, "445/tcp"]);
    let port = port
        .rsplit(':')
        .next()
        .expect("a published port")
        .to_owned();
    let got = dir.path().join("over-smb.json");
    let command = format!("get jobs\\completed\\{job_id}.json {}", got.display());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("smbclient")
            .args([
                "-N",
                "-p",
                &port,
                "//127.0.0.1/optimizer_share",
                "-c",
                &command,
            ])
            .output()
            .expect("smbclient runs");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "smbclient never read the share: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let on_disk = net.share().join(format!("jobs/completed/{job_id}.json"));
    assert_eq!(
        std::fs::read(got).expect("the file read over SMB"),
        std::fs::read(on_disk).expect("the completed file")
    );
}
