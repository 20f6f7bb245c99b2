//! The encoding every store shares: a job as the wire record's bytes plus the columns the wire
//! lacks, events as stored (a `Finished` event without its result, which the record holds
//! once), and the SQL condition of a leased row.

use hop_proto::v1::job_event::{Event, Finished};
use hop_proto::v1::{JobEvent, JobRecord, JobState, ValidationOutcome};
use prost::Message;

use crate::record::{Job, spec_hash};

/// The SQL condition of the rows that hold a lease: unfinished, or succeeded with the comparison
/// pending when `validations` (an SQL boolean: a parameter such as `$4`, or a literal) holds.
pub fn leased(validations: &str) -> String {
    format!(
        "(state IN ({q}, {r}) OR ({validations} AND state = {s} AND validation = {p}))",
        q = JobState::Queued as i32,
        r = JobState::Running as i32,
        s = JobState::Succeeded as i32,
        p = ValidationOutcome::Pending as i32,
    )
}

/// A job's columns, encoded for a statement.
pub struct Encoded {
    pub job_id: String,
    pub state: i32,
    pub validation: i32,
    pub record: Vec<u8>,
    pub spec_hash: String,
    pub starts: u32,
    /// The generation the writer holds (the fence of its writes).
    pub generation: i64,
    /// When the job reached its final state, in ms since the Unix epoch; 0 while not final.
    pub finished_ms: i64,
}

impl Encoded {
    pub fn of(job: &Job) -> Self {
        Self {
            job_id: job.id.clone(),
            state: job.state as i32,
            validation: job.validation.outcome as i32,
            record: job.to_wire().encode_to_vec(),
            spec_hash: job.spec_hash.clone(),
            starts: job.starts,
            generation: i64::try_from(job.generation).unwrap_or(i64::MAX),
            finished_ms: job
                .finished_at
                .filter(|_| job.is_final())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

/// An event as stored: its job, sequence and bytes (a `Finished` event without its result).
pub fn stored_event(event: &JobEvent) -> (String, i64, Vec<u8>) {
    let mut stored = event.clone();
    if let Some(Event::Finished(finished)) = stored.event.as_mut() {
        finished.result = None;
    }
    (
        event.job_id.clone(),
        event.sequence as i64,
        stored.encode_to_vec(),
    )
}

/// The job of a stored row: the wire record's bytes, the spec hash (empty in stores written
/// before hashes were: then the stored spec's hash), the start count and the lease generation.
pub fn decode_job(bytes: &[u8], hash: String, starts: u32, generation: i64) -> Result<Job, String> {
    let record =
        JobRecord::decode(bytes).map_err(|e| format!("a stored job does not decode: {e}"))?;
    let hash = match (hash.is_empty(), &record.spec) {
        (true, Some(spec)) => spec_hash(spec),
        _ => hash,
    };
    Job::from_wire(record, hash, starts, generation.max(0) as u64)
        .map_err(|e| format!("a stored job is bad: {e}"))
}

/// The events of stored bytes, in the order given.
pub fn decode_events(blobs: &[Vec<u8>]) -> Result<Vec<JobEvent>, String> {
    blobs
        .iter()
        .map(|b| {
            JobEvent::decode(b.as_slice())
                .map_err(|e| format!("a stored event does not decode: {e}"))
        })
        .collect()
}

/// The `Finished` event ending `events`, whose result the caller puts back from the record.
pub fn final_finished(events: &mut [JobEvent]) -> Option<&mut Finished> {
    match events.last_mut().and_then(|e| e.event.as_mut()) {
        Some(Event::Finished(finished)) => Some(finished),
        _ => None,
    }
}
