//! The words every service shares beside the generated messages: the failure codes a job can end
//! with ([`FailureCode`]), the label of a side ([`v1::Side::label`](crate::v1::Side::label)), and
//! the message-size limits of every channel ([`limits`]).

/// Why a job failed: the `code` of a `JobEvent.Failed` and of `JobRecord.error_code`, sent as
/// its stable text ([`FailureCode::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The job's options are invalid (the message names the option).
    InvalidOptions,
    /// The job's input (its CSV) is invalid or cannot be read (the message names the row,
    /// column or path).
    InvalidInput,
    /// The job names a dataset id ingest does not have.
    DatasetNotFound,
    /// A service the engine depends on (ingest, a database) could not be reached.
    Unavailable,
    /// The engine cannot run jobs as configured (no GPU for `engine = "gpu"`, no engine
    /// configured for a side).
    EngineUnavailable,
    /// The engine refused the `Run` call itself.
    EngineRefused,
    /// The engine went away mid-job more often than the router retries.
    EngineLost,
    /// The job was cancelled (by a client, or its caller went away).
    Cancelled,
    /// A shadow run took longer than the router's `shadow_timeout`.
    ShadowTimeout,
    /// The job was started more often than the router allows (each start crashed or was
    /// interrupted).
    AttemptsExhausted,
    /// Anything else: a defect, or a code this version does not know.
    Internal,
}

impl FailureCode {
    /// Every code, in declaration order.
    pub const ALL: [FailureCode; 11] = [
        Self::InvalidOptions,
        Self::InvalidInput,
        Self::DatasetNotFound,
        Self::Unavailable,
        Self::EngineUnavailable,
        Self::EngineRefused,
        Self::EngineLost,
        Self::Cancelled,
        Self::ShadowTimeout,
        Self::AttemptsExhausted,
        Self::Internal,
    ];

    /// The stable text on the wire, e.g. `INVALID_INPUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidOptions => "INVALID_OPTIONS",
            Self::InvalidInput => "INVALID_INPUT",
            Self::DatasetNotFound => "DATASET_NOT_FOUND",
            Self::Unavailable => "UNAVAILABLE",
            Self::EngineUnavailable => "ENGINE_UNAVAILABLE",
            Self::EngineRefused => "ENGINE_REFUSED",
            Self::EngineLost => "ENGINE_LOST",
            Self::Cancelled => "CANCELLED",
            Self::ShadowTimeout => "SHADOW_TIMEOUT",
            Self::AttemptsExhausted => "ATTEMPTS_EXHAUSTED",
            Self::Internal => "INTERNAL",
        }
    }

    /// The code whose text is `text`; `None` for a text this version does not know.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// The code of a text received from another service: an unknown text (a newer peer) reads as
    /// [`FailureCode::Internal`].
    pub fn from_wire(text: &str) -> Self {
        Self::parse(text).unwrap_or(Self::Internal)
    }

    /// Whether the failure is the job's own (its input or options): the same on either side, so
    /// it never counts against an engine and is never retried elsewhere.
    pub fn is_the_jobs_fault(self) -> bool {
        matches!(
            self,
            Self::InvalidInput | Self::InvalidOptions | Self::DatasetNotFound
        )
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl crate::v1::Side {
    /// `blue`, `green` or `unspecified`: the one label of a side in logs, metrics and files.
    pub fn label(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
            Self::Unspecified => "unspecified",
        }
    }
}

/// Message-size limits, one place for every channel.
pub mod limits {
    /// Largest `hop.v1` message any service sends or accepts: job results (a production result
    /// is a few MiB), records carrying them, and the validator's requests carrying two.
    pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
    /// Largest Arrow Flight message (a batch of a few thousand strategies is well under it).
    pub const MAX_FLIGHT_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::Side;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_internal() {
        for code in FailureCode::ALL {
            assert_eq!(FailureCode::parse(code.as_str()), Some(code));
            assert_eq!(code.to_string(), code.as_str());
        }
        assert_eq!(FailureCode::parse("NEW_IN_V2"), None);
        assert_eq!(FailureCode::from_wire("NEW_IN_V2"), FailureCode::Internal);
        let own: Vec<_> = FailureCode::ALL
            .into_iter()
            .filter(|c| c.is_the_jobs_fault())
            .collect();
        assert_eq!(
            own,
            [
                FailureCode::InvalidOptions,
                FailureCode::InvalidInput,
                FailureCode::DatasetNotFound
            ]
        );
    }

    #[test]
    fn side_labels() {
        assert_eq!(Side::Blue.label(), "blue");
        assert_eq!(Side::Green.label(), "green");
        assert_eq!(Side::Unspecified.label(), "unspecified");
    }
}
