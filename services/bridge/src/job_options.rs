//! A job file's option fields -> [`JobOptions`], and the other fields -> the router's labels.
//!
//! Batch files quote freely, so every number may also be written as text (`"35"`), a whole number
//! as `35.0`, and `ulta` as `true`/`false`, `"yes"`/`"no"`, `"1"`/`"0"` or `"on"`/`"off"`. A
//! `null` option is the same as an absent one.
//!
//! | field | meaning | absent |
//! |---|---|---|
//! | `portfolio_size` | k, 10 to 100 (required) | - |
//! | `min_size`, `max_size` | a sweep `min_size..=max_size`, each 10 to 100 | `portfolio_size` |
//! | `algorithms` | a list or a comma-separated text of GA PSO SA DE ACO HC BO RS | all eight |
//! | `seed` | the search seed | 42 |
//! | `budget` | fitness evaluations per algorithm and size, at least 1 | each algorithm's own |
//! | `metric` | `ratio`, `roi`, `less max dd`, `win percentage`, `profit factor`, `expectancy`, `ratio floor`, `cdar` | `ratio` |
//! | `penalty_weight` | correlation penalty weight, a finite number | 10 |
//! | `aggregation` | `mean` or `sum` | `mean` |
//! | `ulta` | invert losing strategies | false |
//! | `walk_forward` | run the walk-forward validation (a flag like `ulta`) | true |
//! | `walk_forward_mode` | `anchored` or `rolling` | `anchored` |
//! | `walk_forward_train_days` | training days per fold in rolling mode, at least 20 | the days before the first test window |
//! | `walk_forward_test_days` | days per test window, at least 1 | 12 |
//! | `walk_forward_folds` | folds, at least 1 | 3 |

use std::collections::HashMap;

use hop_core::types::{FoldMode, MIN_TRAIN_DAYS, WalkForwardOptions};
use hop_core::{Aggregation, Algorithm, CoreError, JobOptions, Metric};
use serde_json::{Map, Value};

use crate::BridgeError;

/// The smallest portfolio size a job file may ask for (SPEC 3).
pub const MIN_SIZE: u64 = 10;
/// The largest portfolio size a job file may ask for (SPEC 3).
pub const MAX_SIZE: u64 = 100;

/// The fields read as job options (never labels).
const OPTION_FIELDS: [&str; 15] = [
    "portfolio_size",
    "min_size",
    "max_size",
    "algorithms",
    "seed",
    "budget",
    "metric",
    "penalty_weight",
    "aggregation",
    "ulta",
    "walk_forward",
    "walk_forward_mode",
    "walk_forward_train_days",
    "walk_forward_test_days",
    "walk_forward_folds",
];

/// The job options of `fields` for the (already checked) portfolio size `size`.
pub fn options(fields: &Map<String, Value>, size: usize) -> Result<JobOptions, BridgeError> {
    let defaults = JobOptions::with_size(size);
    let min_size = whole_number(fields, "min_size", MIN_SIZE, MAX_SIZE)?.map_or(size, to_usize);
    let max_size = whole_number(fields, "max_size", MIN_SIZE, MAX_SIZE)?.map_or(size, to_usize);
    if min_size > max_size {
        return Err(BridgeError::Refused(format!(
            "min_size ({min_size}) is larger than max_size ({max_size}): a sweep runs every size \
             from min_size to max_size."
        )));
    }
    Ok(JobOptions {
        min_size,
        max_size,
        algorithms: algorithms(option(fields, "algorithms"))?.unwrap_or(defaults.algorithms),
        seed: whole_number(fields, "seed", 0, u64::MAX)?.unwrap_or(defaults.seed),
        budget: whole_number(fields, "budget", 1, u64::MAX)?,
        metric: match option(fields, "metric") {
            None => defaults.metric,
            Some(Value::String(s)) => Metric::parse(s).map_err(|e| core_refusal("metric", e))?,
            Some(other) => return Err(invalid("metric", "the name of a metric in quotes", other)),
        },
        penalty_weight: match option(fields, "penalty_weight") {
            None => defaults.penalty_weight,
            Some(value) => number(value)
                .filter(|w| w.is_finite())
                .ok_or_else(|| invalid("penalty_weight", "a number such as 10 or 0", value))?,
        },
        aggregation: match option(fields, "aggregation") {
            None => defaults.aggregation,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("mean") => Aggregation::Mean,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("sum") => Aggregation::Sum,
            Some(other) => return Err(invalid("aggregation", "\"mean\" or \"sum\"", other)),
        },
        ulta: match option(fields, "ulta") {
            None => defaults.ulta,
            Some(value) => flag(value).ok_or_else(|| invalid("ulta", "true or false", value))?,
        },
        walk_forward: walk_forward(fields, defaults.walk_forward)?,
    })
}

/// The `walk_forward*` fields over `defaults`.
fn walk_forward(
    fields: &Map<String, Value>,
    defaults: WalkForwardOptions,
) -> Result<WalkForwardOptions, BridgeError> {
    let days = |name, min| -> Result<Option<usize>, BridgeError> {
        Ok(whole_number(fields, name, min, u32::MAX.into())?.map(to_usize))
    };
    Ok(WalkForwardOptions {
        enabled: match option(fields, "walk_forward") {
            None => defaults.enabled,
            Some(value) => {
                flag(value).ok_or_else(|| invalid("walk_forward", "true or false", value))?
            }
        },
        mode: match option(fields, "walk_forward_mode") {
            None => defaults.mode,
            Some(Value::String(s)) => {
                FoldMode::parse(s).map_err(|e| core_refusal("walk_forward_mode", e))?
            }
            Some(other) => {
                return Err(invalid(
                    "walk_forward_mode",
                    "\"anchored\" or \"rolling\"",
                    other,
                ));
            }
        },
        train_days: days("walk_forward_train_days", MIN_TRAIN_DAYS as u64)?,
        test_days: days("walk_forward_test_days", 1)?.unwrap_or(defaults.test_days),
        folds: days("walk_forward_folds", 1)?.unwrap_or(defaults.folds),
    })
}

/// The whole number in field `name`, from `min` to `max`; `None` when absent or null.
pub fn whole_number(
    fields: &Map<String, Value>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, BridgeError> {
    let Some(value) = option(fields, name) else {
        return Ok(None);
    };
    let whole = match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(whole_f64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(whole_f64))
        }
        _ => None,
    };
    match whole {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(invalid(
            name,
            &format!("a whole number from {min} to {max}"),
            value,
        )),
    }
}

/// Every field that is not `job_id` or an option, as text: nested objects flattened with dots
/// (`client_info.username`), text as is, other values as their JSON.
pub fn labels(fields: &Map<String, Value>) -> HashMap<String, String> {
    fn flatten(prefix: &str, fields: &Map<String, Value>, out: &mut HashMap<String, String>) {
        for (key, value) in fields {
            let key = format!("{prefix}{key}");
            match value {
                Value::Object(inner) => flatten(&format!("{key}."), inner, out),
                Value::String(s) => {
                    out.insert(key, s.clone());
                }
                Value::Null => {
                    out.insert(key, String::new());
                }
                other => {
                    out.insert(key, other.to_string());
                }
            }
        }
    }
    let own: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| *k != "job_id" && !OPTION_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = HashMap::new();
    flatten("", &own, &mut out);
    out
}

fn option<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|v| !v.is_null())
}

const ALGORITHMS_HINT: &str =
    "a list of algorithm names such as [\"GA\", \"SA\"] or the text \"GA,SA\"";

fn algorithms(value: Option<&Value>) -> Result<Option<Vec<Algorithm>>, BridgeError> {
    let names: Vec<&str> = match value {
        None => return Ok(None),
        Some(Value::String(s)) => s
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .collect(),
        Some(list @ Value::Array(items)) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("algorithms", ALGORITHMS_HINT, list))?,
        Some(other) => return Err(invalid("algorithms", ALGORITHMS_HINT, other)),
    };
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| !n.trim().is_empty()) {
        let algorithm = Algorithm::parse(name).map_err(|e| core_refusal("algorithms", e))?;
        if !out.contains(&algorithm) {
            out.push(algorithm);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn whole_f64(f: f64) -> Option<u64> {
    (f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&f)).then_some(f as u64)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// "`name` must be `what`; the job file has `value`."
fn invalid(name: &str, what: &str, value: &Value) -> BridgeError {
    BridgeError::Refused(format!("{name} must be {what}; the job file has {value}."))
}

/// A refusal from hop-core's own message about the option `name`.
fn core_refusal(name: &str, e: CoreError) -> BridgeError {
    let message = match e {
        CoreError::Options(m) => m,
        other => other.to_string(),
    };
    BridgeError::Refused(format!("{name} in the job file: {message}."))
}
