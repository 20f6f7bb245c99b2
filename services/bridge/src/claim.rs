//! Claiming a job: from `jobs/queue/` (a new job) or `jobs/processing/` (a job whose bridge died).
//!
//! Order of a claim: take the job's lock ([`JobLock`]), write the [`LockRecord`], then
//! `rename(queue/X.json, processing/X.json)`. The rename is atomic, so when two bridges race for
//! one file exactly one wins; the loser finds the queue file gone and lets go. Because the lock is
//! taken *before* the file appears in `processing/`, no other bridge ever sees a job there whose
//! lock is free while its owner is alive.

use std::fs;
use std::io;
use std::time::SystemTime;

use crate::BridgeError;
use crate::lock::{JobLock, LockRecord};
use crate::share::Share;

/// A job this bridge now owns (until the claim is dropped).
#[derive(Debug)]
pub struct Claim {
    /// The job file's name, `<job>.json`, the same in every folder.
    pub name: String,
    /// The held lock.
    pub lock: JobLock,
    /// When the job was first seen and claimed.
    pub record: LockRecord,
    /// Whether the job was resumed from `processing/` (a bridge died working on it).
    pub resumed: bool,
}

/// Claims `queue/<name>`, first seen at `first_seen`. `None` when another bridge has it.
pub fn claim_queued(
    share: &Share,
    name: &str,
    first_seen: SystemTime,
) -> Result<Option<Claim>, BridgeError> {
    let Some(mut lock) = JobLock::try_acquire(share, name)? else {
        return Ok(None);
    };
    if share.processing.join(name).exists() {
        // A job of this name whose bridge died: finish that one first; the queue file is looked
        // at again once it is done.
        return adopt(share, name, lock).map(Some);
    }
    let record = LockRecord::now(first_seen);
    lock.write_record(&record)?;
    let from = share.queue.join(name);
    match fs::rename(&from, share.processing.join(name)) {
        Ok(()) => Ok(Some(Claim {
            name: name.to_owned(),
            lock,
            record,
            resumed: false,
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            lock.remove()?;
            Ok(None)
        }
        Err(e) => Err(BridgeError::share("move to processing", &from, e)),
    }
}

/// Resumes `processing/<name>` when no live bridge holds its lock. `None` otherwise.
pub fn resume(share: &Share, name: &str) -> Result<Option<Claim>, BridgeError> {
    let Some(lock) = JobLock::try_acquire(share, name)? else {
        return Ok(None);
    };
    if !share.processing.join(name).exists() {
        // Its owner finished it between our listing and our lock.
        lock.remove()?;
        return Ok(None);
    }
    adopt(share, name, lock).map(Some)
}

/// Takes over `processing/<name>` with `lock` held: the dead owner's record, or — when it left
/// none — one dated from the file's modification time (the end of its writing, which is before
/// its claim, so the run folder search of a resumed job never starts too late).
fn adopt(share: &Share, name: &str, mut lock: JobLock) -> Result<Claim, BridgeError> {
    let record = match lock.record() {
        Some(record) => record,
        None => {
            let path = share.processing.join(name);
            let written = fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(|e| BridgeError::share("read", &path, e))?;
            let record = LockRecord::new(written, written);
            lock.write_record(&record)?;
            record
        }
    };
    Ok(Claim {
        name: name.to_owned(),
        lock,
        record,
        resumed: true,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn one_winner_then_resume_after_the_owner_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        fs::write(share.queue.join("j.json"), "{}").unwrap();
        let seen = UNIX_EPOCH + Duration::from_secs(1_000);
        let claim = claim_queued(&share, "j.json", seen).unwrap().unwrap();
        assert!(!claim.resumed);
        assert_eq!(claim.record.first_seen(), seen);
        assert!(share.processing.join("j.json").is_file());
        assert!(!share.queue.join("j.json").exists());
        // The owner is alive: nobody else gets the job.
        assert!(resume(&share, "j.json").unwrap().is_none());
        fs::write(share.queue.join("j.json"), "{}").unwrap();
        assert!(claim_queued(&share, "j.json", seen).unwrap().is_none());
        fs::remove_file(share.queue.join("j.json")).unwrap();
        // The owner dies (its lock goes with it): the job is resumed with its record.
        drop(claim);
        let resumed = resume(&share, "j.json").unwrap().unwrap();
        assert!(resumed.resumed);
        assert_eq!(resumed.record.first_seen(), seen);
        drop(resumed);

        // A claim that lost the race to another bridge lets go and leaves no lock file.
        assert!(claim_queued(&share, "gone.json", seen).unwrap().is_none());
        assert!(!share.locks.join("gone.lock").exists());
        // Nothing in processing: nothing to resume, no lock file left.
        assert!(resume(&share, "none.json").unwrap().is_none());
        assert!(!share.locks.join("none.lock").exists());
    }

    #[test]
    fn a_dead_owner_without_a_record_is_dated_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        fs::write(share.processing.join("old.json"), "{}").unwrap();
        let claim = resume(&share, "old.json").unwrap().unwrap();
        let modified = fs::metadata(share.processing.join("old.json"))
            .unwrap()
            .modified()
            .unwrap();
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert_eq!(claim.record.first_seen_unix_ms, ms(modified));
        assert_eq!(claim.record.claimed_unix_ms, ms(modified));
    }
}
