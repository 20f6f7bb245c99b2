//! [`write_atomically`]: a file that readers see whole or not at all, and that survives a crash
//! once written — for the share's job files, the router's cut-over state and ingest's cache.
//!
//! The content goes to a hidden temporary file beside the target (a unique name per process and
//! call), is flushed and synced to disk, renamed over the target (atomic on one file system), and
//! then the folder is synced so that the rename itself is durable (best effort: not every
//! platform can sync a folder). On failure the temporary file is removed and the target is left
//! as it was.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `target` atomically with `write`, which fills a buffered writer.
pub fn write_atomically_with(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let written = (|| {
        let file = File::create(&temp)?;
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
}
