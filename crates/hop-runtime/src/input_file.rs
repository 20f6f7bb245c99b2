//! [`InputFiles`]: the one rule for a client-named input file (a job's `csv_path`) that a service
//! reads: confined to a configured root and a size limit, checked before any byte is read.
//!
//! A path is canonicalized (symlinks resolved, relative paths taken under the root), must lie
//! under the canonical root, must be a regular file (not `/dev/zero`, a FIFO or a folder) and must
//! not be bigger than the limit (checked on the metadata, and again while reading, so a file that
//! grows meanwhile is refused too). Refusals name the path as the client wrote it and the rule it
//! broke; they never quote the file's content.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::RuntimeError;

/// Default size limit of an input file: 512 MiB (the production CSV is ~40 MB).
pub const DEFAULT_MAX_CSV_BYTES: u64 = 512 * 1024 * 1024;

/// Where input files may be read from, and how big they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFiles {
    root: Option<PathBuf>,
    max_bytes: u64,
}

impl InputFiles {
    /// Files under `root` (canonicalized here; it must exist) of at most `max_bytes`. `None`
    /// confines nothing but still requires regular files within the limit (loopback development;
    /// [`check_listen`](Self::check_listen) refuses it on other addresses).
    pub fn new(root: Option<&Path>, max_bytes: u64) -> Result<Self, RuntimeError> {
        let root = root
            .map(|root| {
                root.canonicalize().map_err(|e| RuntimeError::Setting {
                    key: "input_root".into(),
                    message: format!("{} cannot be used: {e}", root.display()),
                })
            })
            .transpose()?;
        Ok(Self { root, max_bytes })
    }

    /// Refuses to serve unconfined files on a non-loopback `listen`: only a loopback development
    /// service (`hop up`, tests) may read input files without an `input_root`.
    pub fn check_listen(&self, listen: std::net::SocketAddr) -> Result<(), RuntimeError> {
        if self.root.is_none() && !listen.ip().is_loopback() {
            return Err(RuntimeError::Setting {
                key: "input_root".into(),
                message: format!(
                    "the service listens on {listen}, beyond loopback, so the input files it \
                     reads must be confined: set input_root to the share's input folder"
                ),
            });
        }
        Ok(())
    }

    /// The canonical root, when files are confined to one.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The size limit in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The canonical path of the regular file `given` names, within the root and the limit.
    pub fn resolve(&self, given: &str) -> Result<PathBuf, RuntimeError> {
        let refused = |rule: String| RuntimeError::InputRefused(format!("{given:?} {rule}"));
        if given.trim().is_empty() {
            return Err(RuntimeError::InputRefused("the input path is empty".into()));
        }
        let requested = Path::new(given);
        let joined = match &self.root {
            Some(root) if requested.is_relative() => root.join(requested),
            _ => requested.to_path_buf(),
        };
        let canonical = joined
            .canonicalize()
            .map_err(|e| self.io_error(given, &e))?;
        if let Some(root) = &self.root
            && !canonical.starts_with(root)
        {
            return Err(refused(format!(
                "is outside the input root {} (links leading out of it included): copy the file \
                 into the input root",
                root.display()
            )));
        }
        let meta = fs::metadata(&canonical).map_err(|e| self.io_error(given, &e))?;
        if !meta.is_file() {
            return Err(refused(
                "is not a regular file (a folder, a device or a pipe): name a CSV file".into(),
            ));
        }
        self.check_size(given, meta.len())?;
        Ok(canonical)
    }

    /// [`resolve`](Self::resolve), then the file's bytes (never more than the limit).
    pub fn read(&self, given: &str) -> Result<(PathBuf, Vec<u8>), RuntimeError> {
        let path = self.resolve(given)?;
        let io = |e: io::Error| self.io_error(given, &e);
        let file = fs::File::open(&path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(RuntimeError::InputRefused(format!(
                "{given:?} is not a regular file: name a CSV file"
            )));
        }
        self.check_size(given, meta.len())?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        self.check_size(given, bytes.len() as u64)?;
        Ok((path, bytes))
    }

    fn check_size(&self, given: &str, size: u64) -> Result<(), RuntimeError> {
        if size > self.max_bytes {
            return Err(RuntimeError::InputRefused(format!(
                "{given:?} is {size} bytes, over the limit of {} bytes (max_csv_bytes)",
                self.max_bytes
            )));
        }
        Ok(())
    }

    fn io_error(&self, given: &str, e: &io::Error) -> RuntimeError {
        if e.kind() == io::ErrorKind::NotFound {
            RuntimeError::InputNotFound(format!("the input file {given:?} does not exist"))
        } else {
            RuntimeError::InputUnreadable(format!("cannot read the input file {given:?}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests;
