//! [`Share`]: the folders of the share (SPEC 3) and the file operations the protocol needs.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::BridgeError;

/// The extension of job files; every other name in `jobs/queue/` is ignored.
pub const JOB_EXTENSION: &str = ".json";

/// Clock slack when a file's modification time is compared with a claim time.
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// The share's folders. Every path is absolute; `input` is canonical (symlinks resolved).
#[derive(Debug, Clone)]
pub struct Share {
    /// The share root.
    pub root: PathBuf,
    /// `input/`, canonical: a job's CSV must resolve to a file below it.
    pub input: PathBuf,
    /// `output/`: the run folders.
    pub output: PathBuf,
    /// `jobs/queue/`: new job files.
    pub queue: PathBuf,
    /// `jobs/processing/`: claimed job files.
    pub processing: PathBuf,
    /// `jobs/completed/`: finished job files.
    pub completed: PathBuf,
    /// `jobs/failed/`: refused and failed job files.
    pub failed: PathBuf,
    /// `jobs/.bridge/`: one lock file per job being worked on (hidden from Windows users by
    /// Samba's default `hide dot files`).
    pub locks: PathBuf,
}

impl Share {
    /// Checks that `root` is a directory and creates the protocol's folders in it when missing.
    pub fn open(root: &Path) -> Result<Self, BridgeError> {
        let config = |message: String| BridgeError::Config(message);
        let meta = fs::metadata(root).map_err(|e| {
            config(format!(
                "share {} cannot be used: {e} (set `share` to the share's root folder)",
                root.display()
            ))
        })?;
        if !meta.is_dir() {
            return Err(config(format!(
                "share {} is not a directory (set `share` to the share's root folder)",
                root.display()
            )));
        }
        let root = root
            .canonicalize()
            .map_err(|e| config(format!("share {}: {e}", root.display())))?;
        let jobs = root.join("jobs");
        let share = Self {
            input: root.join("input"),
            output: root.join("output"),
            queue: jobs.join("queue"),
            processing: jobs.join("processing"),
            completed: jobs.join("completed"),
            failed: jobs.join("failed"),
            locks: jobs.join(".bridge"),
            root,
        };
        for dir in [
            &share.input,
            &share.output,
            &share.queue,
            &share.processing,
            &share.completed,
            &share.failed,
            &share.locks,
        ] {
            fs::create_dir_all(dir).map_err(|e| {
                config(format!(
                    "share: cannot create the folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let input = share
            .input
            .canonicalize()
            .map_err(|e| config(format!("share: {}: {e}", share.input.display())))?;
        Ok(Self { input, ..share })
    }

    /// Whether a finished (completed or failed) job file named `name` exists.
    pub fn finished_file(&self, name: &str) -> Option<PathBuf> {
        [&self.completed, &self.failed]
            .into_iter()
            .map(|dir| dir.join(name))
            .find(|path| path.exists())
    }
}

/// Whether `path` exists and was modified at or after `since` (less a little clock slack).
pub fn modified_since(path: &Path, since: SystemTime) -> bool {
    let since = since.checked_sub(CLOCK_SLACK).unwrap_or(since);
    fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= since)
}

/// The first `limit` bytes of `path` and its whole length.
pub fn read_prefix(path: &Path, limit: u64) -> Result<(Vec<u8>, u64), BridgeError> {
    let read = (|| {
        let file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        let mut bytes = Vec::new();
        file.take(limit).read_to_end(&mut bytes)?;
        Ok((bytes, len))
    })();
    read.map_err(|e| BridgeError::share("read", path, e))
}

/// The job file names (`*.json`, not hidden, regular files) in `dir`, sorted.
pub fn list_job_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || !name.ends_with(JOB_EXTENSION) || name == JOB_EXTENSION {
            continue;
        }
        if entry.file_type()?.is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The job file name's stem: `job_1.json` -> `job_1`.
pub fn stem(name: &str) -> &str {
    name.strip_suffix(JOB_EXTENSION).unwrap_or(name)
}

/// Writes `bytes` to `dir/name` atomically ([`hop_runtime::atomic_file`]): a reader — the
/// Windows launcher polling the share — sees the whole file or none.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), BridgeError> {
    let target = dir.join(name);
    hop_runtime::atomic_file::write_atomically(&target, bytes)
        .map_err(|e| BridgeError::share("write", &target, e))
}

/// Removes `path`; a file that is already gone is not an error.
pub fn remove_if_present(path: &Path) -> Result<(), BridgeError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BridgeError::share("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_the_folders_and_lists_job_files() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        for sub in [
            "input",
            "output",
            "jobs/queue",
            "jobs/processing",
            "jobs/failed",
        ] {
            assert!(dir.path().join(sub).is_dir(), "{sub}");
        }
        for name in ["b.json", "a.json", "x.tmp", ".hidden.json", ".json"] {
            fs::write(share.queue.join(name), "{}").unwrap();
        }
        fs::create_dir(share.queue.join("dir.json")).unwrap();
        assert_eq!(list_job_files(&share.queue).unwrap(), ["a.json", "b.json"]);

        write_atomically(&share.completed, "a.json", b"{\"x\": 1}").unwrap();
        assert_eq!(
            fs::read(share.completed.join("a.json")).unwrap(),
            b"{\"x\": 1}"
        );
        assert_eq!(
            fs::read_dir(&share.completed).unwrap().count(),
            1,
            "no temp file left"
        );
        assert_eq!(
            share.finished_file("a.json"),
            Some(share.completed.join("a.json"))
        );
        assert_eq!(share.finished_file("b.json"), None);
    }

    #[test]
    fn open_refuses_a_missing_share_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Share::open(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be used"), "{err}");
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let err = Share::open(&file).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
