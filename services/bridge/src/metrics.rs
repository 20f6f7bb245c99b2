//! The bridge's Prometheus metrics (served on `/metrics` by `hop-runtime`).
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `hop_bridge_jobs_total{outcome}` | counter | jobs ended: `completed`, `failed` (the optimizer could not complete it), `refused` (the job file was refused) |
//! | `hop_bridge_queue_depth` | gauge | job files in `jobs/queue/` at the last poll |
//! | `hop_bridge_processing` | gauge | job files in `jobs/processing/` at the last poll (every bridge's) |
//! | `hop_bridge_claim_seconds` | histogram | first sighting of a job file -> claimed |
//! | `hop_bridge_job_seconds` | histogram | first sighting -> completed or failed file written |

use std::time::SystemTime;

/// Counter of ended jobs, by outcome.
pub const JOBS_TOTAL: &str = "hop_bridge_jobs_total";
/// Gauge: job files waiting in the queue.
pub const QUEUE_DEPTH: &str = "hop_bridge_queue_depth";
/// Gauge: job files in processing.
pub const PROCESSING: &str = "hop_bridge_processing";
/// Histogram: first sighting -> claim.
pub const CLAIM_SECONDS: &str = "hop_bridge_claim_seconds";
/// Histogram: first sighting -> finished file written.
pub const JOB_SECONDS: &str = "hop_bridge_job_seconds";

/// Describes the metrics and sets every series to 0, so that they exist before the first job.
pub fn register() {
    metrics::describe_counter!(
        JOBS_TOTAL,
        "Jobs ended, by outcome (completed, failed, refused)"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Job files waiting in jobs/queue");
    metrics::describe_gauge!(PROCESSING, "Job files in jobs/processing");
    metrics::describe_histogram!(
        CLAIM_SECONDS,
        metrics::Unit::Seconds,
        "First sighting of a job file to its claim"
    );
    metrics::describe_histogram!(
        JOB_SECONDS,
        metrics::Unit::Seconds,
        "First sighting of a job file to its completed or failed file"
    );
    for outcome in ["completed", "failed", "refused"] {
        metrics::counter!(JOBS_TOTAL, "outcome" => outcome).absolute(0);
    }
    depths(0, 0);
}

/// Records the folder depths seen by a poll.
pub fn depths(queue: usize, processing: usize) {
    metrics::gauge!(QUEUE_DEPTH).set(queue as f64);
    metrics::gauge!(PROCESSING).set(processing as f64);
}

/// Records a claim of a job first seen at `first_seen`.
pub fn claimed(first_seen: SystemTime) {
    metrics::histogram!(CLAIM_SECONDS).record(seconds_since(first_seen));
}

/// Records a job that ended with `outcome` (`completed`, `failed` or `refused`).
pub fn ended(outcome: &'static str, first_seen: SystemTime) {
    metrics::counter!(JOBS_TOTAL, "outcome" => outcome).increment(1);
    metrics::histogram!(JOB_SECONDS).record(seconds_since(first_seen));
}

/// Seconds from `time` to now (0 when `time` is in the future).
pub fn seconds_since(time: SystemTime) -> f64 {
    SystemTime::now()
        .duration_since(time)
        .unwrap_or_default()
        .as_secs_f64()
}
