//! The service's own configuration section (`[compute]` in the TOML file, `HOP_COMPUTE_<KEY>` in
//! the environment, `--set key=value` on the command line).

use std::path::PathBuf;

use hop_runtime::input_file::DEFAULT_MAX_CSV_BYTES;
use serde::Deserialize;

/// Which evaluator runs the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// The GPU when the start-up probe finds one usable (driver, device, NVRTC), else the CPU
    /// (logged with the reason). `Describe` and `Started.engine` say which ("gpu" or "cpu").
    #[default]
    Auto,
    /// The CPU evaluator (rayon over the algorithms); the GPU is not probed.
    Cpu,
    /// The GPU only: without a usable GPU every job fails with `ENGINE_UNAVAILABLE` ("no usable
    /// GPU: <reason>") and `Describe` with `FAILED_PRECONDITION`. Never a panic.
    Gpu,
}

impl std::str::FromStr for EngineChoice {
    type Err = String;

    /// `auto`, `cpu` or `gpu` (any case), as on the command line (`hop run --engine gpu`).
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(format!("unknown engine {other:?}; use auto, cpu or gpu")),
        }
    }
}

/// `[compute]` keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeConfig {
    /// gRPC address of the ingest service, e.g. `http://127.0.0.1:50051`. Needed for jobs that
    /// name a `dataset_id`; when set, jobs that name a `csv_path` are imported through it too.
    /// When unset, a `csv_path` is read and parsed locally by this service.
    pub ingest: Option<String>,
    /// `auto`, `cpu` or `gpu`.
    pub engine: EngineChoice,
    /// Where a `csv_path` read locally (no `ingest`) may lie: the share's `input/` folder.
    /// Relative paths are taken under it; anything whose canonical path leaves it is refused.
    pub input_root: Option<PathBuf>,
    /// Locally read CSV files bigger than this are refused before they are read.
    pub max_csv_bytes: u64,
}

impl Default for ComputeConfig {
    fn default() -> Self {
        Self {
            ingest: None,
            engine: EngineChoice::Auto,
            input_root: None,
            max_csv_bytes: DEFAULT_MAX_CSV_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_env_and_flags() {
        let loaded =
            load::<ComputeConfig>("compute", &CommonArgs::default(), &MapSource::new()).unwrap();
        assert_eq!(loaded.own, ComputeConfig::default());
        assert_eq!(loaded.own.engine, EngineChoice::Auto);

        let source = MapSource::new().with_env("HOP_COMPUTE_ENGINE", "gpu");
        let args = CommonArgs {
            set: vec!["ingest=http://127.0.0.1:50051".into()],
            ..CommonArgs::default()
        };
        let own = load::<ComputeConfig>("compute", &args, &source)
            .unwrap()
            .own;
        assert_eq!(own.engine, EngineChoice::Gpu);
        assert_eq!(own.ingest.as_deref(), Some("http://127.0.0.1:50051"));

        assert_eq!(" GPU ".parse::<EngineChoice>(), Ok(EngineChoice::Gpu));
        assert_eq!("auto".parse::<EngineChoice>(), Ok(EngineChoice::Auto));
        assert!(
            "tpu"
                .parse::<EngineChoice>()
                .unwrap_err()
                .contains("auto, cpu or gpu")
        );

        let bad = MapSource::new().with_env("HOP_COMPUTE_ENGINE", "tpu");
        assert!(load::<ComputeConfig>("compute", &CommonArgs::default(), &bad).is_err());
    }
}
