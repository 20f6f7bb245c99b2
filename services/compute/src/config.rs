//! The service's own configuration section (`[compute]` in the TOML file, `HOP_COMPUTE_<KEY>` in
//! the environment, `--set key=value` on the command line).

use serde::Deserialize;

/// Which evaluator runs the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// The GPU when one is usable, else the CPU. GPU kernels are not built yet, so this is the CPU
    /// today (and `Describe` and `Started.engine` say "cpu").
    #[default]
    Auto,
    /// The CPU evaluator (rayon over the algorithms).
    Cpu,
    /// The GPU only: every job fails with `ENGINE_UNAVAILABLE` ("no usable GPU: ...") and
    /// `Describe` with `FAILED_PRECONDITION` until the GPU kernels exist. Never a panic.
    Gpu,
}

/// `[compute]` keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeConfig {
    /// gRPC address of the ingest service, e.g. `http://127.0.0.1:50051`. Needed for jobs that
    /// name a `dataset_id`; when set, jobs that name a `csv_path` are imported through it too.
    /// When unset, a `csv_path` is read and parsed locally by this service.
    pub ingest: Option<String>,
    /// `auto`, `cpu` or `gpu`.
    pub engine: EngineChoice,
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

        let bad = MapSource::new().with_env("HOP_COMPUTE_ENGINE", "tpu");
        assert!(load::<ComputeConfig>("compute", &CommonArgs::default(), &bad).is_err());
    }
}
