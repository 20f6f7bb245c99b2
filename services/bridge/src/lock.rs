//! [`JobLock`]: the exclusive `flock` on `jobs/.bridge/<job>.lock` held while a bridge works on a
//! job, and the [`LockRecord`] written in it.
//!
//! The lock, not the file's folder, says who owns a job: a job file in `processing/` whose lock
//! can be taken belongs to a bridge that died, and is resumed. `flock` locks belong to the open
//! file and vanish with the process, so a crash can never leave a job locked. A lock taken on a
//! lock file that another bridge removed in the meantime would be worthless, so after locking the
//! open file is checked to still be the one at the path (same device and inode), else it is
//! opened again.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::BridgeError;
use crate::share::{Share, stem};

/// How often a lock file that keeps being replaced under us is tried before giving up for now.
const ATTEMPTS: usize = 3;

/// What the bridge that claimed a job wrote into its lock file, for whoever resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// When a bridge first saw the job file in `queue/`, milliseconds since the Unix epoch.
    pub first_seen_unix_ms: u64,
    /// When the job was claimed, milliseconds since the Unix epoch.
    pub claimed_unix_ms: u64,
    /// The claiming bridge's host name and process id (for operators).
    pub claimed_by: String,
}

impl LockRecord {
    /// A record, by this process, of a claim at `claimed` of a job first seen at `first_seen`.
    pub fn new(first_seen: SystemTime, claimed: SystemTime) -> Self {
        let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        Self {
            first_seen_unix_ms: unix_ms(first_seen),
            claimed_unix_ms: unix_ms(claimed),
            claimed_by: format!("{} pid {}", host.trim(), std::process::id()),
        }
    }

    /// A record of a claim now of a job first seen at `first_seen`.
    pub fn now(first_seen: SystemTime) -> Self {
        Self::new(first_seen, SystemTime::now())
    }

    /// [`LockRecord::first_seen_unix_ms`] as a time.
    pub fn first_seen(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.first_seen_unix_ms)
    }

    /// [`LockRecord::claimed_unix_ms`] as a time.
    pub fn claimed(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.claimed_unix_ms)
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// A held lock on one job (released when dropped).
#[derive(Debug)]
pub struct JobLock {
    file: File,
    path: PathBuf,
}

impl JobLock {
    /// Takes the lock of the job file `name` (`<job>.json`) without waiting; `None` when another
    /// bridge (or another task of this one) holds it.
    pub fn try_acquire(share: &Share, name: &str) -> Result<Option<Self>, BridgeError> {
        let path = share.locks.join(format!("{}.lock", stem(name)));
        for _ in 0..ATTEMPTS {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| BridgeError::share("open the lock file", &path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => {
                    return Err(BridgeError::share("lock", &path, e));
                }
            }
            let held = file
                .metadata()
                .map_err(|e| BridgeError::share("read", &path, e))?;
            let current = fs::metadata(&path).ok();
            if current.is_some_and(|m| m.dev() == held.dev() && m.ino() == held.ino()) {
                return Ok(Some(Self { file, path }));
            }
        }
        Ok(None)
    }

    /// The record the claiming bridge wrote, when there is a readable one.
    pub fn record(&mut self) -> Option<LockRecord> {
        let mut text = String::new();
        self.file.seek(SeekFrom::Start(0)).ok()?;
        self.file.read_to_string(&mut text).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replaces the record in the lock file.
    pub fn write_record(&mut self, record: &LockRecord) -> Result<(), BridgeError> {
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        let written = (|| {
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(&bytes)?;
            self.file.sync_data()
        })();
        written.map_err(|e| BridgeError::share("write", &self.path, e))
    }

    /// Removes the lock file while still holding the lock, then releases it.
    pub fn remove(self) -> Result<(), BridgeError> {
        crate::share::remove_if_present(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_records_survive() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        let mut first = JobLock::try_acquire(&share, "job_1.json").unwrap().unwrap();
        assert!(share.locks.join("job_1.lock").is_file());
        // A second open file description (another bridge, or another task) cannot take it.
        assert!(
            JobLock::try_acquire(&share, "job_1.json")
                .unwrap()
                .is_none()
        );
        assert!(
            JobLock::try_acquire(&share, "job_2.json")
                .unwrap()
                .is_some()
        );
        assert_eq!(first.record(), None);
        let record = LockRecord::now(UNIX_EPOCH + Duration::from_millis(1234));
        first.write_record(&record).unwrap();
        drop(first);

        let mut again = JobLock::try_acquire(&share, "job_1.json").unwrap().unwrap();
        assert_eq!(again.record(), Some(record.clone()));
        assert_eq!(again.record().unwrap().first_seen_unix_ms, 1234);
        again.remove().unwrap();
        assert!(!share.locks.join("job_1.lock").exists());
    }
}
