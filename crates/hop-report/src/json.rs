//! `results.json`: the whole run, machine-readable, for internal clients.
//!
//! Layout (format_version 1), keys in this order, pretty-printed:
//! `format_version, job_id, run_id, timestamp, input_file, side, engine, seed, options, timings,
//! errors, files, best, result`. `timings` is an object `{step: seconds}` in the order the engine
//! reported the steps; `files` lists the run folder's file names (sorted); `best` repeats the best
//! overall portfolio for convenience; `result` is [`RunResult`] as serde writes it (non-finite
//! metric values as the strings `"inf"`, `"-inf"`, `"nan"`; strategy indices as integers).

use std::borrow::Cow;

use hop_core::{Algorithm, JobOptions, RunResult};
use serde::{Deserialize, Serialize};

/// The current `format_version`.
pub const FORMAT_VERSION: u32 = 1;

/// The document in `results.json`. Written from borrowed data; read back owned with
/// [`read_results_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsDocument<'a> {
    pub format_version: u32,
    pub job_id: Option<Cow<'a, str>>,
    /// `YYYYMMDD_HHMMSS`, the `<ts>` of every file name and of the folder `run_<ts>`.
    pub run_id: Cow<'a, str>,
    /// The run's local time, ISO 8601 without offset (`2025-07-26T16:32:51`, fractional seconds
    /// when the timestamp has them).
    pub timestamp: Cow<'a, str>,
    pub input_file: Cow<'a, str>,
    /// `blue` or `green`, when known.
    pub side: Option<Cow<'a, str>>,
    /// `cpu`, `gpu`, `heavydb`, `embedded-sql`, ...
    pub engine: Cow<'a, str>,
    pub seed: u64,
    pub options: Cow<'a, JobOptions>,
    /// Step name -> seconds, in the engine's order.
    #[serde(with = "timings_map")]
    pub timings: Cow<'a, [(String, f64)]>,
    pub errors: Cow<'a, [String]>,
    /// The file names in the run folder, sorted.
    pub files: Vec<String>,
    pub best: BestSummary,
    pub result: Cow<'a, RunResult>,
}

/// The best overall portfolio, repeated at the top level of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestSummary {
    pub portfolio_size: usize,
    pub algorithm: Algorithm,
    #[serde(with = "hop_core::types::float_text")]
    pub fitness: f64,
    pub portfolio: Vec<u32>,
    pub strategy_names: Vec<String>,
}

impl BestSummary {
    pub fn of(result: &RunResult) -> Self {
        let best = result.best();
        Self {
            portfolio_size: result.best_size().portfolio_size,
            algorithm: best.algorithm,
            fitness: best.fitness,
            portfolio: best.portfolio.clone(),
            strategy_names: best
                .portfolio
                .iter()
                .map(|&i| result.strategy_names[i as usize].clone())
                .collect(),
        }
    }
}

/// Parses a `results.json`.
pub fn read_results_json(bytes: &[u8]) -> Result<ResultsDocument<'static>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Serde of the timings as a JSON object that keeps the steps' order.
mod timings_map {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    struct Seconds(f64);

    impl Serialize for Seconds {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            hop_core::types::float_text::serialize(&self.0, serializer)
        }
    }

    impl<'de> Deserialize<'de> for Seconds {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            hop_core::types::float_text::deserialize(deserializer).map(Seconds)
        }
    }

    pub fn serialize<S: Serializer>(
        timings: &[(String, f64)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(timings.len()))?;
        for (step, seconds) in timings.iter() {
            map.serialize_entry(step, &Seconds(*seconds))?;
        }
        map.end()
    }

    pub fn deserialize<'de, 'a, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Cow<'a, [(String, f64)]>, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Vec<(String, f64)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of step name -> seconds")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((step, Seconds(s))) = map.next_entry::<String, Seconds>()? {
                    out.push((step, s));
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(Ordered).map(Cow::Owned)
    }
}
