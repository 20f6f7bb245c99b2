//! [`CutoverConfig`]: the `[router.cutover]` keys (`--set cutover.KEY=VALUE`,
//! `HOP_ROUTER_CUTOVER__KEY`).

use std::path::PathBuf;
use std::time::Duration;

use hop_runtime::config::duration;
use hop_runtime::security::Token;
use serde::Deserialize;

/// How the router moves traffic from blue to green and when it moves it back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CutoverConfig {
    /// The desired stage and weight (TOML: `stage = "weighted"`, `green_percent = 10`), e.g. the
    /// cut-over ConfigMap mounted by Helm. Watched: a change applies without a restart. Without
    /// it, the desired weight is the router's `green_percent` (and `Admin.SetWeight`).
    pub file: Option<PathBuf>,
    /// How often the file's content is checked.
    #[serde(with = "duration")]
    pub poll: Duration,
    /// With a shared store (the router's `postgres`): how often each replica reloads the
    /// cut-over state and window the replicas share, so a latch or a release written by one
    /// replica reaches every other one within this interval.
    #[serde(with = "duration")]
    pub refresh: Duration,
    /// Green jobs in the sliding health window (shared by all replicas with `postgres`; give
    /// them all the same value).
    pub window: usize,
    /// Green jobs the window needs before it may roll back (fewer: hold).
    pub min_samples: usize,
    /// Largest share of failed green jobs in the window, a fraction in [0, 1].
    pub max_error_rate: f64,
    /// Largest 95th percentile of green job runtimes in the window.
    #[serde(with = "duration")]
    pub max_runtime: Duration,
    /// Largest relative difference between blue and green results in the window.
    pub max_relative_difference: f64,
    /// A file whose trimmed content is the token `hop.v1.Admin` callers must send
    /// (`authorization: Bearer <token>`). Without it every Admin call is refused.
    pub admin_token_file: Option<PathBuf>,
}

impl Default for CutoverConfig {
    fn default() -> Self {
        Self {
            file: None,
            poll: Duration::from_secs(1),
            refresh: Duration::from_secs(1),
            window: 20,
            min_samples: 5,
            max_error_rate: 0.05,
            max_runtime: Duration::from_secs(5),
            max_relative_difference: 0.01,
            admin_token_file: None,
        }
    }
}

impl CutoverConfig {
    /// Checks the values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.poll.is_zero() {
            return Err("cutover.poll must be longer than 0".into());
        }
        if self.refresh.is_zero() {
            return Err("cutover.refresh must be longer than 0".into());
        }
        if self.min_samples < 2 {
            return Err(format!(
                "cutover.min_samples is {}, it must be at least 2 (one job is never enough to \
                 roll back)",
                self.min_samples
            ));
        }
        if self.window < self.min_samples {
            return Err(format!(
                "cutover.window is {}, it must be at least cutover.min_samples ({})",
                self.window, self.min_samples
            ));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            return Err(format!(
                "cutover.max_error_rate is {}, it must be a fraction from 0 to 1",
                self.max_error_rate
            ));
        }
        if self.max_relative_difference.is_nan() || self.max_relative_difference < 0.0 {
            return Err(format!(
                "cutover.max_relative_difference is {}, it must be 0 or more",
                self.max_relative_difference
            ));
        }
        Ok(())
    }

    /// The Admin token of `admin_token_file` (the same as the `admin` file of `tokens_dir`,
    /// kept for existing deployments), or `None` when no file is configured. An unreadable or
    /// empty file is an error (never a service without a token by accident). The token itself is
    /// never part of a message.
    pub fn admin_token(&self) -> Result<Option<Token>, String> {
        self.admin_token_file
            .as_deref()
            .map(|path| Token::read("cutover.admin_token_file", path).map_err(|e| e.to_string()))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_and_checks() {
        let config = CutoverConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.max_runtime, Duration::from_secs(5));
        let bad = |f: fn(&mut CutoverConfig)| {
            let mut config = CutoverConfig::default();
            f(&mut config);
            config.validate().unwrap_err()
        };
        assert!(bad(|c| c.min_samples = 1).contains("min_samples is 1"));
        assert!(bad(|c| c.window = 3).contains("window is 3"));
        assert!(bad(|c| c.max_error_rate = 1.5).contains("max_error_rate is 1.5"));
        assert!(bad(|c| c.max_relative_difference = f64::NAN).contains("NaN"));
        assert!(bad(|c| c.poll = Duration::ZERO).contains("poll"));
        assert!(bad(|c| c.refresh = Duration::ZERO).contains("refresh"));
    }

    #[test]
    fn nested_keys_from_flags_and_env() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct Own {
            cutover: CutoverConfig,
        }
        let args = CommonArgs {
            set: vec![
                "cutover.file=/etc/hop/cutover.toml".into(),
                "cutover.max_runtime=2s".into(),
                "cutover.refresh=250ms".into(),
            ],
            ..CommonArgs::default()
        };
        let source = MapSource::new().with_env("HOP_ROUTER_CUTOVER__POLL", "20ms");
        let own = load::<Own>("router", &args, &source).unwrap().own.cutover;
        assert_eq!(own.file.unwrap(), PathBuf::from("/etc/hop/cutover.toml"));
        assert_eq!(own.max_runtime, Duration::from_secs(2));
        assert_eq!(own.poll, Duration::from_millis(20));
        assert_eq!(own.refresh, Duration::from_millis(250));
        let typo = CommonArgs {
            set: vec!["cutover.windows=3".into()],
            ..CommonArgs::default()
        };
        assert!(load::<Own>("router", &typo, &MapSource::new()).is_err());
    }

    #[test]
    fn admin_token_is_read_trimmed_and_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(CutoverConfig::default().admin_token().unwrap(), None);
        let path = dir.path().join("token");
        let config = CutoverConfig {
            admin_token_file: Some(path.clone()),
            ..CutoverConfig::default()
        };
        assert!(config.admin_token().unwrap_err().contains("cannot read"));
        std::fs::write(&path, " \n").unwrap();
        let empty = config.admin_token().unwrap_err();
        assert!(empty.contains("holds no usable token"), "{empty}");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(config.admin_token().unwrap(), Token::new("s3cret"));
    }
}
