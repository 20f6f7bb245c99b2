//! [`write_atomically`]: a file that readers see whole or not at all, and that survives a crash
//! once written — for the share's job files, the router's cut-over state and ingest's cache.
//!
//! The content goes to a hidden temporary file beside the target (created exclusively, under a
//! name unique per process and call), is flushed and synced to disk, renamed over the target (atomic on one file system), and
//! then the folder is synced so that the rename itself is durable (best effort: not every
//! platform can sync a folder). On failure the temporary file is removed and the target is left
//! as it was.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `target` atomically with `write`, which fills a buffered writer.
pub fn write_atomically_with(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (file, temp) = create_temporary(dir, &name)?;
    let written = (|| {
        let mut buffered = BufWriter::new(&file);
        write(&mut buffered)?;
        buffered.flush()?;
        drop(buffered);
        file.sync_all()?;
        std::fs::rename(&temp, target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    if let Ok(folder) = File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// A new temporary file beside `name` in `dir`, created exclusively: on a folder that several
/// hosts share (ingest's cache on a ReadWriteMany claim) two writers may have the same process
/// id, and neither may truncate the other's half-written file.
fn create_temporary(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomically(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with(target, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.json");
        write_atomically(&target, b"first").unwrap();
        write_atomically(&target, b"second").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        let failed = write_atomically_with(&target, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("the writer failed"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "the writer failed");
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"second",
            "target untouched"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"], "no temporary file left");
        let missing = dir.path().join("no-such-folder").join("x");
        assert!(write_atomically(&missing, b"x").is_err());
    }

    #[test]
    fn another_hosts_temporary_files_are_left_alone() {
        // A writer on another host of a shared folder, with this process's id, half-way through.
        let dir = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        let theirs: Vec<_> = (0..1000)
            .map(|n| dir.path().join(format!(".data.parquet.{pid}.{n}.tmp")))
            .collect();
        for path in &theirs {
            std::fs::write(path, b"theirs").unwrap();
        }
        let target = dir.path().join("data.parquet");
        write_atomically(&target, b"ours").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"ours");
        for path in &theirs {
            assert_eq!(
                std::fs::read(path).unwrap(),
                b"theirs",
                "{}",
                path.display()
            );
        }
    }
}
