//! [`Job`]: the router's own record of a job, as the store keeps it. The wire's `JobRecord` is
//! made from it at the edge ([`Job::to_wire`]), so the stored record can carry what clients do
//! not see (the spec's hash, the number of starts) and the wire can change without the store.

use std::time::SystemTime;

use hop_proto::FailureCode;
use hop_proto::v1::{JobRecord, JobResult, JobSpec, JobState, Side, ValidationOutcome};
use prost::Message;

/// Why a job failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: FailureCode,
    /// A sentence a person can act on.
    pub message: String,
}

/// The comparison of a job's primary and shadow results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validation {
    pub outcome: ValidationOutcome,
    /// Largest relative difference the validator found.
    pub max_relative_difference: f64,
    /// Mismatching fields the validator found.
    pub mismatches: u32,
}

impl Validation {
    /// Nothing to compare (no shadow runs).
    pub const NONE: Self = Self::of(ValidationOutcome::Unspecified);

    /// An outcome without figures.
    pub const fn of(outcome: ValidationOutcome) -> Self {
        Self {
            outcome,
            max_relative_difference: 0.0,
            mismatches: 0,
        }
    }
}

/// One job as the router keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// The job as submitted.
    pub spec: JobSpec,
    /// [`spec_hash`] of `spec`: a resubmission under the same id must have the same one.
    pub spec_hash: String,
    pub state: JobState,
    /// The primary side (whose result is delivered).
    pub side: Side,
    /// The side that runs as a shadow, when one does.
    pub shadow: Option<Side>,
    /// The primary engine; empty until started.
    pub engine: String,
    /// The shadow's engine; empty until it finished.
    pub shadow_engine: String,
    pub created_at: SystemTime,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    /// The primary's result, when it succeeded.
    pub result: Option<JobResult>,
    /// Why it failed or was cancelled.
    pub failure: Option<Failure>,
    pub validation: Validation,
    /// How many times a router started the job (1 on acceptance, +1 at every resume).
    pub starts: u32,
    /// The lease generation this copy of the job was read or claimed at (1 on acceptance, +1
    /// at every claim): the store refuses writes from an older one (see the `store` module).
    pub generation: u64,
}

impl Job {
    /// A job just accepted, queued for `side` with an optional shadow.
    pub fn accepted(spec: JobSpec, side: Side, shadow: Option<Side>) -> Self {
        Self {
            id: spec.job_id.clone(),
            spec_hash: spec_hash(&spec),
            spec,
            state: JobState::Queued,
            side,
            shadow,
            engine: String::new(),
            shadow_engine: String::new(),
            created_at: SystemTime::now(),
            started_at: None,
            finished_at: None,
            result: None,
            failure: None,
            validation: match shadow {
                Some(_) => Validation::of(ValidationOutcome::Pending),
                None => Validation::NONE,
            },
            starts: 1,
            generation: 1,
        }
    }

    /// Whether the job reached a final state.
    pub fn is_final(&self) -> bool {
        is_final(self.state)
    }

    /// The wire's view of the job.
    pub fn to_wire(&self) -> JobRecord {
        let failure = self.failure.as_ref();
        JobRecord {
            job_id: self.id.clone(),
            state: self.state as i32,
            side: self.side as i32,
            engine: self.engine.clone(),
            created_at: Some(self.created_at.into()),
            started_at: self.started_at.map(Into::into),
            finished_at: self.finished_at.map(Into::into),
            result: self.result.clone(),
            error_code: failure.map(|f| f.code.as_str().to_owned()),
            error_message: failure.map(|f| f.message.clone()).unwrap_or_default(),
            spec: Some(self.spec.clone()),
            shadow_side: self.shadow.unwrap_or(Side::Unspecified) as i32,
            shadow_engine: self.shadow_engine.clone(),
            validation: self.validation.outcome as i32,
            validation_max_relative_difference: self.validation.max_relative_difference,
            validation_mismatches: self.validation.mismatches,
        }
    }

    /// The job of a stored wire record with what the wire does not carry; `Err` names what is
    /// missing.
    pub fn from_wire(
        record: JobRecord,
        spec_hash: String,
        starts: u32,
        generation: u64,
    ) -> Result<Self, String> {
        let time = |t: Option<prost_types::Timestamp>| {
            t.map(SystemTime::try_from)
                .transpose()
                .map_err(|e| format!("job {} has a bad time: {e}", record.job_id))
        };
        let failure = match &record.error_code {
            None => None,
            Some(code) => Some(Failure {
                code: FailureCode::from_wire(code),
                message: record.error_message.clone(),
            }),
        };
        let shadow = Some(record.shadow_side()).filter(|s| *s != Side::Unspecified);
        Ok(Self {
            state: record.state(),
            side: record.side(),
            shadow,
            validation: Validation {
                outcome: record.validation(),
                max_relative_difference: record.validation_max_relative_difference,
                mismatches: record.validation_mismatches,
            },
            created_at: time(record.created_at)?.unwrap_or(SystemTime::UNIX_EPOCH),
            started_at: time(record.started_at)?,
            finished_at: time(record.finished_at)?,
            spec: record
                .spec
                .ok_or_else(|| format!("job {} has no spec", record.job_id))?,
            id: record.job_id,
            engine: record.engine,
            shadow_engine: record.shadow_engine,
            result: record.result,
            failure,
            spec_hash,
            starts,
            generation,
        })
    }
}

/// Whether `state` is final.
pub fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded | JobState::Failed | JobState::Cancelled
    )
}

/// The identity of what a job computes: XXH3-128 (hex) of its input and options, encoded by
/// prost (deterministic for these messages: no maps). The id and the free-form labels (client
/// information, timestamps) are left out, so the share bridge's resubmission after a restart has
/// the same hash while another input or other options under a reused id do not.
pub fn spec_hash(spec: &JobSpec) -> String {
    let identity = JobSpec {
        job_id: String::new(),
        input: spec.input.clone(),
        options: spec.options.clone(),
        labels: Default::default(),
    };
    format!(
        "{:032x}",
        twox_hash::XxHash3_128::oneshot(&identity.encode_to_vec())
    )
}

#[cfg(test)]
mod tests {
    use hop_proto::v1::JobOptions;
    use hop_proto::v1::job_spec::Input;

    use super::*;

    fn spec(id: &str, csv: &str, size: u32) -> JobSpec {
        JobSpec {
            job_id: id.into(),
            input: Some(Input::CsvPath(csv.into())),
            options: Some(JobOptions {
                min_size: size,
                ..JobOptions::default()
            }),
            labels: [("username".to_owned(), id.to_owned())].into(),
        }
    }

    #[test]
    fn the_hash_is_the_input_and_options_only() {
        let a = spec_hash(&spec("a", "x.csv", 35));
        assert_eq!(a.len(), 32);
        assert_eq!(
            a,
            spec_hash(&spec("b", "x.csv", 35)),
            "id and labels excluded"
        );
        assert_ne!(a, spec_hash(&spec("a", "y.csv", 35)));
        assert_ne!(a, spec_hash(&spec("a", "x.csv", 36)));
    }

    #[test]
    fn the_wire_round_trip_keeps_everything() {
        let mut job = Job::accepted(spec("j", "x.csv", 10), Side::Green, Some(Side::Blue));
        job.state = JobState::Failed;
        job.failure = Some(Failure {
            code: FailureCode::EngineLost,
            message: "gone".into(),
        });
        job.started_at = Some(SystemTime::now());
        job.finished_at = Some(SystemTime::now());
        job.starts = 2;
        job.generation = 3;
        let back = Job::from_wire(job.to_wire(), job.spec_hash.clone(), 2, 3).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.validation.outcome, ValidationOutcome::Pending);
        let mut no_spec = job.to_wire();
        no_spec.spec = None;
        assert!(
            Job::from_wire(no_spec, String::new(), 1, 1)
                .unwrap_err()
                .contains("no spec")
        );
    }
}
