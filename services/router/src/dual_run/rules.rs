//! The dual-run rules as pure functions: when green's failure sends a job to blue, and which
//! green sample a finished job gives the cut-over window. No I/O; [`super::DualRun`] applies them.

use std::time::Duration;

use hop_proto::FailureCode;
use hop_proto::v1::{CompareReply, Side};

use crate::cutover::GreenSample;

/// How one side's run of a job ended, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The engine's result arrived.
    Finished,
    /// The engine failed the job (or could not be used), with this code.
    Failed(FailureCode),
    /// The job stopped being live (cancelled) while the run was forwarded.
    Gone,
}

/// One side's run of a job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub side: Side,
    pub ended: Ended,
    pub took: Duration,
}

impl Run {
    fn green_failed(&self) -> bool {
        self.side == Side::Green
            && matches!(self.ended, Ended::Failed(code) if !code.is_the_jobs_fault())
    }

    fn green_finished(&self) -> bool {
        self.side == Side::Green && self.ended == Ended::Finished
    }
}

/// Whether the primary's run sends the job to blue: green was primary and failed for a reason
/// that is not the job's own (its input or options fail the same way on either side).
pub fn falls_back(primary: &Run) -> bool {
    primary.green_failed()
}

/// The one sample green's part in a job gives the window, if any:
/// - green failed as primary (the job fell back to blue): a failure, whatever the shadow did;
/// - green ran as the shadow: a failure when it failed through its own fault, else its time with
///   the comparison (when the primary succeeded and the validator compared);
/// - green was primary and succeeded: its time, with the comparison when a blue shadow finished;
/// - otherwise (the job's own fault, a cancellation, blue alone): none.
pub fn green_sample(
    primary: &Run,
    shadow: Option<&Run>,
    comparison: Option<&CompareReply>,
) -> Option<GreenSample> {
    let failure = |run: &Run| GreenSample {
        seconds: run.took.as_secs_f64(),
        failed: true,
        comparison: None,
    };
    let success = |run: &Run, comparison: Option<&CompareReply>| GreenSample {
        seconds: run.took.as_secs_f64(),
        failed: false,
        comparison: comparison.cloned(),
    };
    if primary.green_failed() {
        return Some(failure(primary));
    }
    match shadow {
        Some(shadow) if shadow.side == Side::Green => match shadow.ended {
            Ended::Finished => Some(success(shadow, comparison)),
            _ if shadow.green_failed() => Some(failure(shadow)),
            _ => primary.green_finished().then(|| success(primary, None)),
        },
        Some(shadow) if shadow.ended == Ended::Finished => primary
            .green_finished()
            .then(|| success(primary, comparison)),
        _ => primary.green_finished().then(|| success(primary, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREEN_DOWN: Ended = Ended::Failed(FailureCode::Unavailable);
    const BAD_CSV: Ended = Ended::Failed(FailureCode::InvalidInput);

    fn run(side: Side, ended: Ended, ms: u64) -> Run {
        Run {
            side,
            ended,
            took: Duration::from_millis(ms),
        }
    }

    fn reply(matched: bool) -> CompareReply {
        CompareReply {
            matched,
            max_relative_difference: if matched { 0.0 } else { 0.5 },
            ..CompareReply::default()
        }
    }

    fn sample(ms: u64, failed: bool, comparison: Option<CompareReply>) -> Option<GreenSample> {
        Some(GreenSample {
            seconds: ms as f64 / 1000.0,
            failed,
            comparison,
        })
    }

    #[test]
    fn only_greens_own_failures_as_primary_fall_back() {
        assert!(falls_back(&run(Side::Green, GREEN_DOWN, 1)));
        assert!(falls_back(&run(
            Side::Green,
            Ended::Failed(FailureCode::EngineLost),
            1
        )));
        assert!(!falls_back(&run(Side::Green, BAD_CSV, 1)));
        assert!(!falls_back(&run(Side::Green, Ended::Finished, 1)));
        assert!(!falls_back(&run(Side::Green, Ended::Gone, 1)));
        assert!(!falls_back(&run(Side::Blue, GREEN_DOWN, 1)));
    }

    #[test]
    fn green_primary_without_shadow() {
        let ok = run(Side::Green, Ended::Finished, 120);
        assert_eq!(green_sample(&ok, None, None), sample(120, false, None));
        let down = run(Side::Green, GREEN_DOWN, 30);
        assert_eq!(green_sample(&down, None, None), sample(30, true, None));
        let blue_shadow = run(Side::Blue, Ended::Finished, 900);
        assert_eq!(
            green_sample(&down, Some(&blue_shadow), Some(&reply(true))),
            sample(30, true, None),
            "a fallback counts green's failure, whatever the shadow did"
        );
        assert_eq!(
            green_sample(&run(Side::Green, BAD_CSV, 5), None, None),
            None
        );
        assert_eq!(
            green_sample(&run(Side::Green, Ended::Gone, 5), None, None),
            None
        );
    }

    #[test]
    fn green_primary_with_a_blue_shadow() {
        let ok = run(Side::Green, Ended::Finished, 100);
        let blue = run(Side::Blue, Ended::Finished, 800);
        assert_eq!(
            green_sample(&ok, Some(&blue), Some(&reply(false))),
            sample(100, false, Some(reply(false))),
            "green's time, blue's comparison"
        );
        assert_eq!(
            green_sample(&ok, Some(&blue), None),
            sample(100, false, None),
            "the validator failed"
        );
        let blue_failed = run(Side::Blue, GREEN_DOWN, 800);
        assert_eq!(
            green_sample(&ok, Some(&blue_failed), None),
            sample(100, false, None)
        );
        let refused = run(Side::Green, BAD_CSV, 5);
        assert_eq!(
            green_sample(&refused, Some(&blue), None),
            None,
            "the job's own fault says nothing about green"
        );
    }

    #[test]
    fn green_as_the_shadow() {
        let blue = run(Side::Blue, Ended::Finished, 900);
        let green = run(Side::Green, Ended::Finished, 150);
        assert_eq!(
            green_sample(&blue, Some(&green), Some(&reply(true))),
            sample(150, false, Some(reply(true)))
        );
        let blue_failed = run(Side::Blue, BAD_CSV, 900);
        assert_eq!(
            green_sample(&blue_failed, Some(&green), None),
            sample(150, false, None),
            "green finished although blue refused: its time, nothing to compare"
        );
        let timed_out = run(
            Side::Green,
            Ended::Failed(FailureCode::ShadowTimeout),
            300_000,
        );
        assert_eq!(
            green_sample(&blue, Some(&timed_out), None),
            sample(300_000, true, None)
        );
        let refused = run(Side::Green, BAD_CSV, 5);
        assert_eq!(green_sample(&blue, Some(&refused), None), None);
        assert_eq!(green_sample(&blue, None, None), None, "blue alone");
    }
}
