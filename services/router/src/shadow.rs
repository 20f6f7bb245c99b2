//! The end of a dual run: the shadow side's outcome, compared with the primary's result by the
//! validator, recorded on the job (`validation*`, `shadow_engine`) and fed to the cut-over window
//! as one green sample (green's own run, whichever side green was). Nothing here reaches the
//! client: the primary's answer was delivered before.

use std::time::Duration;

use hop_proto::v1::{CompareRequest, JobRecord, JobResult, Side, ValidationOutcome};

use crate::cutover::GreenSample;
use crate::manager::JobManager;
use crate::runner::{Outcome, is_green_fault, side_name};

/// Records the shadow's outcome and its comparison.
pub async fn settle(
    manager: &JobManager,
    job_id: &str,
    primary: Option<&JobResult>,
    green_primary_seconds: Option<f64>,
    shadow_side: Side,
    outcome: Outcome,
    shadow_elapsed: Duration,
) {
    let shadow_is_green = shadow_side == Side::Green;
    match outcome {
        Outcome::Finished(shadow) => {
            let comparison = match primary {
                Some(primary) => {
                    let (blue, green) = if shadow_is_green {
                        (primary, &shadow)
                    } else {
                        (&shadow, primary)
                    };
                    compare(manager, job_id, blue, green).await
                }
                None => None,
            };
            let engine = shadow.engine.clone();
            let change = |r: &mut JobRecord| {
                r.shadow_engine.clone_from(&engine);
                match &comparison {
                    Some(reply) => {
                        r.validation = if reply.matched {
                            ValidationOutcome::Matched
                        } else {
                            ValidationOutcome::Mismatched
                        } as i32;
                        r.validation_max_relative_difference = reply.max_relative_difference;
                        r.validation_mismatches = reply.mismatches.len() as u32;
                    }
                    // Nothing to compare with (the primary failed) or the validator failed.
                    None => r.validation = ValidationOutcome::Unspecified as i32,
                }
            };
            let seconds = if shadow_is_green {
                Some(shadow_elapsed.as_secs_f64())
            } else {
                green_primary_seconds.filter(|_| primary.is_some())
            };
            // The window first, so that whoever sees the job settled sees its sample counted.
            if let Some(seconds) = seconds {
                manager.cutover.record_green(GreenSample {
                    seconds,
                    failed: false,
                    comparison: comparison.clone(),
                });
            }
            manager.annotate(job_id, &change);
        }
        Outcome::Failed { code, message } => {
            tracing::warn!(
                job_id,
                side = side_name(shadow_side),
                code,
                error = message,
                "the shadow run failed (the client was not affected)"
            );
            let change = |r: &mut JobRecord| {
                r.validation = ValidationOutcome::ShadowFailed as i32;
            };
            if shadow_is_green && is_green_fault(&code) {
                manager.cutover.record_green(GreenSample {
                    seconds: shadow_elapsed.as_secs_f64(),
                    failed: true,
                    comparison: None,
                });
            } else if let (Some(seconds), Some(_)) = (green_primary_seconds, primary) {
                manager.cutover.record_green(GreenSample {
                    seconds,
                    failed: false,
                    comparison: None,
                });
            }
            manager.annotate(job_id, &change);
        }
        Outcome::Gone => {}
    }
}

/// Asks the validator to compare; `None` (logged) when there is none or it failed.
async fn compare(
    manager: &JobManager,
    job_id: &str,
    blue: &JobResult,
    green: &JobResult,
) -> Option<hop_proto::v1::CompareReply> {
    let mut client = manager.validator.clone()?;
    let request = CompareRequest {
        job_id: job_id.to_owned(),
        blue: Some(blue.clone()),
        green: Some(green.clone()),
        tolerance: None,
    };
    match client.compare(request).await {
        Ok(reply) => {
            let reply = reply.into_inner();
            if !reply.matched {
                tracing::warn!(
                    job_id,
                    mismatches = reply.mismatches.len(),
                    max_relative_difference = reply.max_relative_difference,
                    "blue and green disagree"
                );
            }
            Some(reply)
        }
        Err(status) => {
            tracing::error!(job_id, error = %status.message(), "the validator could not compare");
            None
        }
    }
}
