//! [`Poller`]: one look at the share (blocking file system work): resume the jobs of dead bridges
//! from `processing/`, then claim ready files from `queue/`, within the free capacity.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::claim::{Claim, claim_queued, resume};
use crate::share::{Share, list_job_files};
use crate::sightings::Sightings;
use crate::{BridgeError, metrics};

/// How long a job whose work failed on the share's disk waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// What one poll found and claimed.
#[derive(Debug, Default)]
pub struct Poll {
    /// The jobs claimed or resumed, to start.
    pub claims: Vec<Claim>,
    /// Job files in `queue/`.
    pub queue_depth: usize,
    /// Job files in `processing/`.
    pub processing_depth: usize,
    /// Jobs that could not be claimed (share errors), retried after [`RETRY_AFTER`].
    pub errors: Vec<(String, BridgeError)>,
}

/// The state kept between polls.
#[derive(Debug)]
pub struct Poller {
    sightings: Sightings,
    retry_at: HashMap<String, Instant>,
}

impl Poller {
    /// A poller that has seen nothing yet.
    pub fn new(sightings: Sightings) -> Self {
        Self {
            sightings,
            retry_at: HashMap::new(),
        }
    }

    /// Leaves job file `name` alone for [`RETRY_AFTER`].
    pub fn retry_later(&mut self, name: &str) {
        self.retry_at
            .insert(name.to_owned(), Instant::now() + RETRY_AFTER);
    }

    /// Polls `share`: resumes orphaned jobs, then claims ready queue files, at most `capacity` in
    /// all, skipping the `busy` names this bridge is working on. An error listing a folder means
    /// the share is not usable.
    pub fn poll(
        &mut self,
        share: &Share,
        busy: &HashSet<String>,
        capacity: usize,
    ) -> Result<Poll, BridgeError> {
        let now = Instant::now();
        self.retry_at.retain(|_, at| *at > now);
        let mut poll = Poll::default();
        let processing = list(&share.processing)?;
        poll.processing_depth = processing.len();
        for name in processing {
            if poll.claims.len() >= capacity {
                break;
            }
            if busy.contains(&name) || self.retry_at.contains_key(&name) {
                continue;
            }
            match resume(share, &name) {
                Ok(Some(claim)) => {
                    tracing::warn!(
                        job_file = name,
                        claimed_by = claim.record.claimed_by,
                        "resuming a job whose bridge stopped working on it"
                    );
                    poll.claims.push(claim);
                }
                Ok(None) => {}
                Err(e) => poll.errors.push((name, e)),
            }
        }
        let queue = list(&share.queue)?;
        poll.queue_depth = queue.len();
        for ready in self.sightings.update(&share.queue, &queue, now) {
            if poll.claims.len() >= capacity {
                break;
            }
            if busy.contains(&ready.name) || self.retry_at.contains_key(&ready.name) {
                continue;
            }
            match claim_queued(share, &ready.name, ready.first_seen) {
                Ok(Some(claim)) => {
                    if !claim.resumed {
                        metrics::claimed(ready.first_seen);
                        self.sightings.forget(&ready.name);
                    }
                    poll.claims.push(claim);
                }
                Ok(None) => {}
                Err(e) => poll.errors.push((ready.name, e)),
            }
        }
        for (name, _) in &poll.errors {
            self.retry_later(name);
        }
        Ok(poll)
    }
}

fn list(dir: &Path) -> Result<Vec<String>, BridgeError> {
    list_job_files(dir).map_err(|e| BridgeError::share("list", dir, e))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn claims_within_capacity_and_skips_busy_and_retrying_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        for name in ["a.json", "b.json", "c.json"] {
            fs::write(share.queue.join(name), "{}").unwrap();
        }
        fs::write(share.queue.join("partial.json"), "{").unwrap();
        let mut poller = Poller::new(Sightings::new(Duration::from_secs(60), 1024));
        let poll = poller.poll(&share, &HashSet::new(), 2).unwrap();
        assert_eq!(poll.queue_depth, 4);
        let names: Vec<_> = poll.claims.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names.len(), 2);
        drop(poll);
        // The two claims were dropped (as by a dead bridge): they are resumed from processing/,
        // except one that this bridge marks busy and one that waits for a retry.
        poller.retry_later(&names[1]);
        let busy = HashSet::from(["c.json".to_owned()]);
        let poll = poller.poll(&share, &busy, 10).unwrap();
        assert_eq!(poll.processing_depth, 2);
        let resumed: Vec<_> = poll
            .claims
            .iter()
            .map(|c| (c.name.clone(), c.resumed))
            .collect();
        assert_eq!(
            resumed,
            [(names[0].clone(), true)],
            "c is busy; partial.json has not settled"
        );
    }
}
