//! [`Sightings`]: when each queue file was first seen, and whether it is ready to claim.
//!
//! A queue file is ready when it holds a JSON object (complete: see [`crate::decode`]), or when it
//! has stayed unchanged — same size, same modification time — for the `settle` time (it is then
//! claimed to be refused, with its text kept). A file is only read again when its size or
//! modification time changed, and never when it is over `max_job_file_bytes`.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::decode::{Decoded, decode};

/// What is known about one queue file.
#[derive(Debug, Clone)]
struct Sighting {
    first_seen: SystemTime,
    len: u64,
    modified: Option<SystemTime>,
    unchanged_since: Instant,
    complete: bool,
}

/// A queue file ready to be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The file name.
    pub name: String,
    /// When this bridge first saw it.
    pub first_seen: SystemTime,
}

/// The queue files seen so far.
#[derive(Debug)]
pub struct Sightings {
    seen: HashMap<String, Sighting>,
    settle: Duration,
    max_bytes: u64,
}

impl Sightings {
    /// No file seen yet.
    pub fn new(settle: Duration, max_bytes: u64) -> Self {
        Self {
            seen: HashMap::new(),
            settle,
            max_bytes,
        }
    }

    /// Updates from the names now in `queue` and returns those ready to claim, first seen first.
    pub fn update(&mut self, queue: &Path, names: &[String], now: Instant) -> Vec<Ready> {
        self.seen.retain(|name, _| names.contains(name));
        for name in names {
            let path = queue.join(name);
            let Ok(meta) = fs::metadata(&path) else {
                self.seen.remove(name);
                continue;
            };
            let (len, modified) = (meta.len(), meta.modified().ok());
            let known = self.seen.get(name);
            if known.is_some_and(|s| s.len == len && s.modified == modified) {
                continue;
            }
            let complete = len <= self.max_bytes
                && fs::read(&path).is_ok_and(|bytes| matches!(decode(&bytes), Decoded::Object(_)));
            let first_seen = known.map_or_else(SystemTime::now, |s| s.first_seen);
            self.seen.insert(
                name.clone(),
                Sighting {
                    first_seen,
                    len,
                    modified,
                    unchanged_since: now,
                    complete,
                },
            );
        }
        let mut ready: Vec<Ready> = self
            .seen
            .iter()
            .filter(|(_, s)| s.complete || now.duration_since(s.unchanged_since) >= self.settle)
            .map(|(name, s)| Ready {
                name: name.clone(),
                first_seen: s.first_seen,
            })
            .collect();
        ready.sort_by(|a, b| (a.first_seen, &a.name).cmp(&(b.first_seen, &b.name)));
        ready
    }

    /// Forgets `name` (claimed).
    pub fn forget(&mut self, name: &str) {
        self.seen.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn complete_files_at_once_others_after_settling() {
        let dir = tempfile::tempdir().unwrap();
        let queue = dir.path();
        let settle = Duration::from_secs(10);
        let mut sightings = Sightings::new(settle, 100);
        let t0 = Instant::now();
        fs::write(queue.join("a.json"), "{\"job_id\": \"a\"}").unwrap();
        let mut partial = fs::File::create(queue.join("b.json")).unwrap();
        partial.write_all(b"{\"job_id\": ").unwrap();
        fs::write(
            queue.join("big.json"),
            format!("{{\"x\": \"{}\"}}", "y".repeat(200)),
        )
        .unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = names(&["a.json", "b.json", "big.json"]);

        let ready = sightings.update(queue, &all, t0);
        assert_eq!(
            ready.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a.json"]
        );
        // Still unchanged but not settled.
        let ready = sightings.update(queue, &all, t0 + settle / 2);
        assert_eq!(ready.len(), 1);
        // The writer finishes b: complete at once, with its first sighting kept.
        let first_b = sightings.seen["b.json"].first_seen;
        partial.write_all(b"\"b\"}\r\n").unwrap();
        let ready = sightings.update(queue, &all, t0 + settle / 2);
        let b = ready
            .iter()
            .find(|r| r.name == "b.json")
            .expect("b is complete");
        assert_eq!(b.first_seen, first_b);
        // The oversized file is ready (to be refused) once it has settled.
        let ready = sightings.update(queue, &all, t0 + settle);
        assert!(ready.iter().any(|r| r.name == "big.json"));

        sightings.forget("a.json");
        fs::remove_file(queue.join("b.json")).unwrap();
        let ready = sightings.update(queue, &names(&["a.json", "big.json"]), t0 + settle);
        assert_eq!(
            ready.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["big.json", "a.json"],
            "a is seen anew (so after big) and is complete; b is gone"
        );
    }
}
