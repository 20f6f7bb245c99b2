//! A job file's JSON object -> a validated [`JobFile`], or a refusal sentence (SPEC 3).
//!
//! Required: `job_id` (text, equal to the file's name without `.json`), `input_file` (text),
//! `portfolio_size` (a whole number from 10 to 100, also written as text, e.g. `"35"`), `job_type`
//! (text) and `timestamp` (text, kept as written). Optional job options are read by
//! [`crate::job_options`]; every other field is carried along as a label and written back
//! unchanged into the completed or failed file.

use std::collections::HashMap;

use hop_core::JobOptions;
use serde_json::{Map, Value};

use crate::BridgeError;
use crate::decode::kind;
use crate::job_options::{self, MAX_SIZE, MIN_SIZE};
use crate::share::stem;

/// The required fields and what to write in each (for the refusal of a missing one).
const REQUIRED: [(&str, &str); 5] = [
    ("job_id", "the job's id: the file's name without .json"),
    ("input_file", "the CSV's name in the share's input folder"),
    ("portfolio_size", "a whole number from 10 to 100"),
    ("job_type", "for example \"complete_optimization\""),
    ("timestamp", "when the job was written, as text"),
];

/// A job file that passed every check that needs no file system.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFile {
    /// The job id (equal to the file's stem).
    pub job_id: String,
    /// `input_file` as written (resolved later by [`crate::input_path::resolve`]).
    pub input_file: String,
    /// The job options: `portfolio_size` and the optional option fields.
    pub options: JobOptions,
    /// Every other field, flattened (`client_info.username`), for the router's `labels`.
    pub labels: HashMap<String, String>,
}

/// Validates the object of the job file named `file_name` (`<job_id>.json`).
pub fn parse(file_name: &str, fields: &Map<String, Value>) -> Result<JobFile, BridgeError> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| fields.get(*name).is_none_or(Value::is_null))
        .collect();
    match missing.as_slice() {
        [] => {}
        [one] => {
            let hint = REQUIRED
                .iter()
                .find(|(n, _)| n == one)
                .map_or("", |(_, h)| h);
            return Err(BridgeError::Refused(format!(
                "The job file has no {one} field: add \"{one}\" ({hint}) and submit the job again."
            )));
        }
        many => {
            return Err(BridgeError::Refused(format!(
                "The job file lacks the required fields {}: every job file needs job_id, \
                 input_file, portfolio_size, job_type and timestamp.",
                many.join(", ")
            )));
        }
    }
    let job_id = text(fields, "job_id")?;
    let expected = stem(file_name);
    if job_id != expected {
        return Err(BridgeError::Refused(format!(
            "job_id {job_id:?} does not match the job file's name {file_name}: name the file \
             {job_id}.json (or set job_id to {expected:?}) and submit the job again."
        )));
    }
    let input_file = text(fields, "input_file")?;
    text(fields, "job_type")?;
    text(fields, "timestamp")?;
    let size = job_options::whole_number(fields, "portfolio_size", MIN_SIZE, MAX_SIZE)?
        .unwrap_or_default();
    let options = job_options::options(fields, size as usize)?;
    Ok(JobFile {
        job_id,
        input_file,
        options,
        labels: job_options::labels(fields),
    })
}

/// The text of the required field `name`.
fn text(fields: &Map<String, Value>, name: &str) -> Result<String, BridgeError> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(BridgeError::Refused(format!(
            "{name} is empty in the job file: write {name} as text and submit the job again."
        ))),
        other => Err(BridgeError::Refused(format!(
            "{name} must be text in quotes; the job file has {} ({}).",
            other.map_or_else(String::new, Value::to_string),
            other.map_or("nothing", kind)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use hop_core::types::{FoldMode, WalkForwardOptions};
    use hop_core::{Aggregation, Algorithm, Metric};

    use super::*;
    use crate::decode::{Decoded, decode};

    fn fields(text: &str) -> Map<String, Value> {
        match decode(text.as_bytes()) {
            Decoded::Object(map) => map,
            other => panic!("{other:?}"),
        }
    }

    fn refusal(name: &str, text: &str) -> String {
        match parse(name, &fields(text)) {
            Err(BridgeError::Refused(m)) => m,
            other => panic!("{text}: {other:?}"),
        }
    }

    const SPEC_EXAMPLE: &str = r#"{"job_id": "job_12345_20250730_154500", "input_file": "Python_Multi_Consolidated_20250726_161921.csv",
 "portfolio_size": 35, "job_type": "complete_optimization", "timestamp": "Wed 07/30/2025 15:45:00.12",
 "client_info": {"computer_name": "DESKTOP-1", "username": "analyst", "drive_letter": "L:"},
 "execution_mode": "server_side_heavydb", "input_format": "csv_only"}"#;

    #[test]
    fn the_spec_example_and_the_legacy_fixture() {
        let job = parse("job_12345_20250730_154500.json", &fields(SPEC_EXAMPLE)).unwrap();
        assert_eq!(job.job_id, "job_12345_20250730_154500");
        assert_eq!(
            job.input_file,
            "Python_Multi_Consolidated_20250726_161921.csv"
        );
        assert_eq!(job.options, JobOptions::with_size(35));
        assert_eq!(job.labels["client_info.username"], "analyst");
        assert_eq!(job.labels["timestamp"], "Wed 07/30/2025 15:45:00.12");
        assert_eq!(job.labels["job_type"], "complete_optimization");
        assert!(!job.labels.contains_key("portfolio_size"));
        assert!(!job.labels.contains_key("job_id"));

        let bytes = hop_core::fixtures::bytes("job_example.json");
        let Decoded::Object(map) = decode(&bytes) else {
            panic!("the fixture is an object")
        };
        let job = parse("opt_python_multi_20250730_154500.json", &map).unwrap();
        assert_eq!(job.options.min_size, 35);
        assert_eq!(job.labels["client_info.drive_letter"], "Z:");
    }

    #[test]
    fn options_from_extra_fields() {
        let job = parse(
            "j.json",
            &fields(
                r#"{"job_id": "j", "input_file": "x.csv", "portfolio_size": "20",
                "job_type": "complete_optimization", "timestamp": "t",
                "min_size": 15, "max_size": "25", "algorithms": "ga, hc", "seed": 7,
                "budget": 500, "metric": "less_max_dd", "penalty_weight": "0",
                "aggregation": "SUM", "ulta": "yes", "walk_forward": "on",
                "walk_forward_mode": "Rolling", "walk_forward_train_days": 30,
                "walk_forward_test_days": "10", "walk_forward_folds": 4}"#,
            ),
        )
        .unwrap();
        let expected = JobOptions {
            min_size: 15,
            max_size: 25,
            algorithms: vec![Algorithm::Ga, Algorithm::Hc],
            seed: 7,
            budget: Some(500),
            metric: Metric::LessMaxDd,
            penalty_weight: 0.0,
            aggregation: Aggregation::Sum,
            ulta: true,
            walk_forward: WalkForwardOptions {
                enabled: true,
                mode: FoldMode::Rolling,
                train_days: Some(30),
                test_days: 10,
                folds: 4,
            },
        };
        assert_eq!(job.options, expected);
        let job = parse(
            "j.json",
            &fields(
                r#"{"job_id": "j", "input_file": "x.csv", "portfolio_size": 30.0,
                "job_type": "t", "timestamp": "t", "algorithms": ["RS", "BO"], "max_size": 40,
                "ulta": false, "seed": null}"#,
            ),
        )
        .unwrap();
        assert_eq!((job.options.min_size, job.options.max_size), (30, 40));
        assert_eq!(job.options.algorithms, [Algorithm::Rs, Algorithm::Bo]);
        assert_eq!(job.options.seed, hop_core::types::DEFAULT_SEED);
        assert_eq!(job.options.walk_forward, WalkForwardOptions::default());
        let off = parse(
            "j.json",
            &fields(
                r#"{"job_id": "j", "input_file": "x.csv", "portfolio_size": 30,
                "job_type": "t", "timestamp": "t", "walk_forward": false}"#,
            ),
        )
        .unwrap();
        assert!(!off.options.walk_forward.enabled);
    }

    #[test]
    fn refusals_name_the_field_and_value() {
        let base = r#""job_id": "j", "input_file": "x.csv", "job_type": "t", "timestamp": "t""#;
        let with = |extra: &str| format!("{{{base}, {extra}}}");
        let cases = [
            (
                with(r#""portfolio_size": 7"#),
                "portfolio_size must be a whole number from 10 to 100; the job file has 7.",
            ),
            (with(r#""portfolio_size": 101"#), "the job file has 101."),
            (with(r#""portfolio_size": 35.5"#), "the job file has 35.5."),
            (
                with(r#""portfolio_size": "abc""#),
                r#"the job file has "abc"."#,
            ),
            (with(r#""portfolio_size": true"#), "the job file has true."),
            (
                with(r#""portfolio_size": 35, "max_size": 200"#),
                "max_size must be a whole number from 10 to 100; the job file has 200.",
            ),
            (
                with(r#""portfolio_size": 35, "min_size": 40, "max_size": 20"#),
                "min_size (40) is larger than max_size (20)",
            ),
            (
                with(r#""portfolio_size": 35, "algorithms": "GA, XX""#),
                r#"unknown algorithm "XX""#,
            ),
            (
                with(r#""portfolio_size": 35, "algorithms": [1]"#),
                "algorithms must be",
            ),
            (
                with(r#""portfolio_size": 35, "metric": "sharpe""#),
                r#"unknown metric "sharpe""#,
            ),
            (
                with(r#""portfolio_size": 35, "aggregation": "max""#),
                r#"aggregation must be "mean" or "sum"; the job file has "max"."#,
            ),
            (
                with(r#""portfolio_size": 35, "budget": 0"#),
                "budget must be a whole number from 1 to",
            ),
            (
                with(r#""portfolio_size": 35, "seed": -1"#),
                "seed must be a whole number from 0 to",
            ),
            (
                with(r#""portfolio_size": 35, "penalty_weight": "lots""#),
                "penalty_weight must be a number",
            ),
            (
                with(r#""portfolio_size": 35, "ulta": "maybe""#),
                "ulta must be true or false",
            ),
            (
                with(r#""portfolio_size": 35, "walk_forward_mode": "expanding""#),
                "\"expanding\"",
            ),
            (
                with(r#""portfolio_size": 35, "walk_forward_train_days": 5"#),
                "walk_forward_train_days must be a whole number from 20 to",
            ),
            (
                with(r#""portfolio_size": 35, "walk_forward_folds": 0"#),
                "walk_forward_folds must be a whole number from 1 to",
            ),
        ];
        for (text, expected) in cases {
            let message = refusal("j.json", &text);
            assert!(message.contains(expected), "{text}\n -> {message}");
        }
        let message = refusal(
            "j.json",
            r#"{"job_id": "j", "input_file": "x.csv", "job_type": "t", "timestamp": "t"}"#,
        );
        assert_eq!(
            message,
            "The job file has no portfolio_size field: add \"portfolio_size\" (a whole number \
             from 10 to 100) and submit the job again."
        );
        let message = refusal("j.json", r#"{"job_id": "j", "portfolio_size": 35}"#);
        assert!(
            message.contains("lacks the required fields input_file, job_type, timestamp"),
            "{message}"
        );
        let message = refusal("other.json", &with(r#""portfolio_size": 35"#));
        assert!(
            message.starts_with("job_id \"j\" does not match the job file's name other.json"),
            "{message}"
        );
        let message = refusal(
            "j.json",
            r#"{"job_id": "j", "input_file": 5, "portfolio_size": 35, "job_type": "t", "timestamp": "t"}"#,
        );
        assert!(
            message.contains("input_file must be text in quotes; the job file has 5 (a number)"),
            "{message}"
        );
    }
}
