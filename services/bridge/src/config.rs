//! The service's own configuration section (`[bridge]` in the TOML file, `HOP_BRIDGE_<KEY>` in
//! the environment, `--set key=value` on the command line).

use std::path::PathBuf;
use std::time::Duration;

use hop_runtime::config::duration;
use serde::Deserialize;

use crate::BridgeError;

/// `[bridge]` keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    /// The share root (`/mnt/optimizer_share`), holding `input/`, `output/` and `jobs/`. Required.
    pub share: Option<PathBuf>,
    /// The router's gRPC URI, e.g. `http://hop-router:50051`. Required.
    pub router: Option<String>,
    /// How often `jobs/queue/` and `jobs/processing/` are listed.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// How long a queue file that is not (yet) a JSON object must stay unchanged (size and
    /// modification time) before it is refused. A file that parses as a JSON object is complete
    /// and is acted on at once.
    #[serde(with = "duration")]
    pub settle: Duration,
    /// Bigger job files are refused (once they have settled).
    pub max_job_file_bytes: u64,
    /// A job that has not finished this long after this bridge started working on it fails.
    #[serde(with = "duration")]
    pub job_timeout: Duration,
    /// UNC roots that mean this share in an `input_file` (`\\server\optimizer_share`), compared
    /// case-insensitively.
    pub unc_prefixes: Vec<String>,
    /// How the engine services see `<share>/input`: a job's `csv_path` is `<csv_root>/<file>`.
    /// Defaults to the canonical local path of `<share>/input`.
    pub csv_root: Option<String>,
    /// Jobs this bridge works on at once (claimed and not yet finished).
    pub max_parallel_jobs: usize,
}

/// The default UNC root of the share.
pub const DEFAULT_UNC_PREFIX: &str = r"\\server\optimizer_share";

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            share: None,
            router: None,
            poll_interval: Duration::from_millis(100),
            settle: Duration::from_secs(10),
            max_job_file_bytes: 64 * 1024,
            job_timeout: Duration::from_secs(600),
            unc_prefixes: vec![DEFAULT_UNC_PREFIX.to_owned()],
            csv_root: None,
            max_parallel_jobs: 4,
        }
    }
}

impl BridgeConfig {
    /// The share root and the router URI, or a [`BridgeError::Config`] saying which key is missing
    /// or unusable.
    pub fn required(&self) -> Result<(PathBuf, String), BridgeError> {
        let share = self.share.clone().ok_or_else(|| {
            BridgeError::Config(
                "no share configured: set `share` to the share's root folder \
                 (--set share=/mnt/optimizer_share or HOP_BRIDGE_SHARE)"
                    .into(),
            )
        })?;
        let router = self
            .router
            .clone()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                BridgeError::Config(
                    "no router configured: set `router` to the router's gRPC URI \
                     (--set router=http://127.0.0.1:50051 or HOP_BRIDGE_ROUTER)"
                        .into(),
                )
            })?;
        if self.poll_interval.is_zero() {
            return Err(BridgeError::Config("poll_interval must be above 0".into()));
        }
        if self.max_parallel_jobs == 0 {
            return Err(BridgeError::Config(
                "max_parallel_jobs must be at least 1".into(),
            ));
        }
        if let Some(bad) = self.unc_prefixes.iter().find(|p| !p.starts_with(r"\\")) {
            return Err(BridgeError::Config(format!(
                r"unc_prefixes entry {bad:?} is not a UNC root like \\server\optimizer_share"
            )));
        }
        Ok((share, router))
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_env_and_flags() {
        let loaded =
            load::<BridgeConfig>("bridge", &CommonArgs::default(), &MapSource::new()).unwrap();
        assert_eq!(loaded.own, BridgeConfig::default());
        let err = loaded.own.required().unwrap_err().to_string();
        assert!(err.contains("no share configured"), "{err}");

        let source = MapSource::new()
            .with_env("HOP_BRIDGE_SHARE", "/mnt/optimizer_share")
            .with_env("HOP_BRIDGE_SETTLE", "300ms");
        let args = CommonArgs {
            set: vec![
                "router=http://127.0.0.1:50051".into(),
                "max_parallel_jobs=2".into(),
                r#"unc_prefixes=["\\\\srv\\share", "\\\\srv.corp\\share"]"#.into(),
            ],
            ..CommonArgs::default()
        };
        let own = load::<BridgeConfig>("bridge", &args, &source).unwrap().own;
        assert_eq!(own.settle, Duration::from_millis(300));
        assert_eq!(own.max_parallel_jobs, 2);
        assert_eq!(own.unc_prefixes, [r"\\srv\share", r"\\srv.corp\share"]);
        let (share, router) = own.required().unwrap();
        assert_eq!(share, PathBuf::from("/mnt/optimizer_share"));
        assert_eq!(router, "http://127.0.0.1:50051");

        let no_router = BridgeConfig {
            share: Some("/x".into()),
            ..BridgeConfig::default()
        };
        let err = no_router.required().unwrap_err().to_string();
        assert!(err.contains("no router configured"), "{err}");

        let typo = CommonArgs {
            set: vec!["shar=/x".into()],
            ..CommonArgs::default()
        };
        assert!(load::<BridgeConfig>("bridge", &typo, &MapSource::new()).is_err());
    }
}
