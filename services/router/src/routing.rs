//! Which side runs a job: a sticky hash of its id against the green weight (SPEC 5).

use hop_proto::v1::Side;

/// The job's bucket, 0 to 99: XXH3-128 of the id, so the same id always lands in the same
/// bucket (retries and resubmissions stay on one side) and ids spread evenly.
pub fn bucket(job_id: &str) -> u32 {
    (twox_hash::XxHash3_128::oneshot(job_id.as_bytes()) % 100) as u32
}

/// Green when the job's bucket is below `green_percent`: at 0 every job is blue, at 100 every
/// job is green, and raising the weight only moves jobs from blue to green.
pub fn side_for(job_id: &str, green_percent: u32) -> Side {
    if bucket(job_id) < green_percent {
        Side::Green
    } else {
        Side::Blue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_stickiness_and_spread() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("job_{i}_20250730")).collect();
        assert!(ids.iter().all(|id| side_for(id, 0) == Side::Blue));
        assert!(ids.iter().all(|id| side_for(id, 100) == Side::Green));
        for percent in [10, 50, 90] {
            let green = ids
                .iter()
                .filter(|id| side_for(id, percent) == Side::Green)
                .count();
            let expected = 100 * percent as usize;
            assert!(
                green.abs_diff(expected) < 300,
                "{percent}%: {green} of 10000 green"
            );
        }
        // Monotone: a job green at 10 % stays green at 50 %.
        for id in &ids {
            if side_for(id, 10) == Side::Green {
                assert_eq!(side_for(id, 50), Side::Green);
            }
        }
        assert_eq!(bucket("job_1"), bucket("job_1"));
    }
}
