use std::time::{Duration, Instant};

use super::*;

const SECRET: &str = "TOP-SECRET-LINE,do-not-leak";

/// A root with `ok.csv`, a secret file beside it (outside the root) and a link to it inside.
fn setup() -> (tempfile::TempDir, PathBuf, InputFiles) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("input");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("ok.csv"), "Date,Day,A\n2024-01-01,Monday,1.5\n").unwrap();
    let secret = dir.path().join("secret.csv");
    fs::write(&secret, SECRET).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("link.csv")).unwrap();
    let files = InputFiles::new(Some(&root), 1000).unwrap();
    (dir, secret, files)
}

fn refusal(result: Result<PathBuf, RuntimeError>) -> String {
    let message = result.unwrap_err().to_string();
    assert!(!message.contains("TOP-SECRET"), "{message}");
    message
}

#[test]
fn files_under_the_root_are_read() {
    let (dir, _, files) = setup();
    let canonical = dir.path().join("input/ok.csv").canonicalize().unwrap();
    assert_eq!(files.resolve("ok.csv").unwrap(), canonical);
    let (path, bytes) = files.read(canonical.to_str().unwrap()).unwrap();
    assert_eq!(path, canonical);
    assert!(bytes.starts_with(b"Date,Day,A"));
}

#[test]
fn paths_outside_the_root_and_escaping_links_are_refused() {
    let (_dir, secret, files) = setup();
    let given = secret.display().to_string();
    let message = refusal(files.resolve(&given));
    assert!(message.contains("outside the input root"), "{message}");
    assert!(message.contains(&format!("{given:?}")), "{message}");
    let message = refusal(files.read(&given).map(|(p, _)| p));
    assert!(message.contains("outside the input root"), "{message}");

    let message = refusal(files.resolve("link.csv"));
    assert!(message.contains("outside the input root"), "{message}");
    assert!(
        matches!(
            files.resolve("../secret.csv"),
            Err(RuntimeError::InputRefused(_))
        ),
        "a relative path leaving the root"
    );
}

#[test]
fn devices_and_folders_are_refused_before_reading() {
    let files = InputFiles::new(None, 1000).unwrap();
    let started = Instant::now();
    let message = refusal(files.read("/dev/zero").map(|(p, _)| p));
    assert!(message.contains("not a regular file"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let message = refusal(files.resolve(dir.path().to_str().unwrap()));
    assert!(message.contains("not a regular file"), "{message}");
    // Confined to a root, /dev/zero is outside it first.
    let (_dir, _, confined) = setup();
    assert!(refusal(confined.resolve("/dev/zero")).contains("outside the input root"));
}

#[test]
fn oversize_files_are_refused_without_their_content() {
    let (dir, _, files) = setup();
    let big = dir.path().join("input/big.csv");
    fs::write(&big, format!("{SECRET}\n").repeat(100)).unwrap();
    let message = refusal(files.read("big.csv").map(|(p, _)| p));
    assert!(
        message.contains("over the limit of 1000 bytes (max_csv_bytes)"),
        "{message}"
    );
}

#[test]
fn missing_files_and_roots_are_named() {
    let (_dir, _, files) = setup();
    assert!(matches!(
        files.resolve("missing.csv"),
        Err(RuntimeError::InputNotFound(m)) if m.contains("\"missing.csv\"")
    ));
    assert!(matches!(
        files.resolve(" "),
        Err(RuntimeError::InputRefused(_))
    ));
    let err = InputFiles::new(Some(Path::new("/no/such/root")), 1).unwrap_err();
    assert!(err.to_string().contains("input_root"), "{err}");
}

#[test]
fn an_unconfined_service_stays_on_loopback() {
    let unconfined = InputFiles::new(None, 1).unwrap();
    assert!(
        unconfined
            .check_listen("127.0.0.1:0".parse().unwrap())
            .is_ok()
    );
    let err = unconfined
        .check_listen("0.0.0.0:50051".parse().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("set input_root"), "{err}");
    let (_dir, _, confined) = setup();
    assert!(
        confined
            .check_listen("0.0.0.0:50051".parse().unwrap())
            .is_ok()
    );
}
