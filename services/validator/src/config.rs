//! The service's own configuration section (`[validator]` in the TOML file, `HOP_VALIDATOR_<KEY>`
//! in the environment, `--set key=value` on the command line).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ValidatorError;
use crate::difference::{DEFAULT_TOLERANCE, Tolerance};

/// `[validator]` keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Relative tolerance of a request that sets none (SPEC 5: 0.001 %).
    pub tolerance: f64,
    /// The SQLite file of the comparison history; `<data_dir>/validator/comparisons.sqlite`
    /// when unset.
    pub store: Option<PathBuf>,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
            store: None,
        }
    }
}

impl ValidatorConfig {
    /// The store's path for the given `data_dir`.
    pub fn store_path(&self, data_dir: &Path) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| data_dir.join("validator").join("comparisons.sqlite"))
    }

    /// The default tolerance, checked (a finite number >= 0).
    pub fn default_tolerance(&self) -> Result<Tolerance, ValidatorError> {
        Tolerance::new(self.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_env_and_flags() {
        let loaded =
            load::<ValidatorConfig>("validator", &CommonArgs::default(), &MapSource::new())
                .unwrap();
        assert_eq!(loaded.own, ValidatorConfig::default());
        assert_eq!(loaded.own.tolerance, 1e-5);
        assert_eq!(
            loaded.own.store_path(&loaded.common.data_dir),
            Path::new("data/validator/comparisons.sqlite")
        );

        let source = MapSource::new().with_env("HOP_VALIDATOR_TOLERANCE", "1e-9");
        let args = CommonArgs {
            set: vec!["store=/var/lib/hop/comparisons.sqlite".into()],
            ..CommonArgs::default()
        };
        let own = load::<ValidatorConfig>("validator", &args, &source)
            .unwrap()
            .own;
        assert_eq!(own.tolerance, 1e-9);
        assert_eq!(
            own.store_path(Path::new("data")),
            Path::new("/var/lib/hop/comparisons.sqlite")
        );

        let typo = CommonArgs {
            set: vec!["tolerence=0.1".into()],
            ..CommonArgs::default()
        };
        assert!(load::<ValidatorConfig>("validator", &typo, &MapSource::new()).is_err());
    }

    #[test]
    fn the_default_tolerance_is_checked() {
        assert!(ValidatorConfig::default().default_tolerance().is_ok());
        let negative = ValidatorConfig {
            tolerance: -1e-5,
            ..ValidatorConfig::default()
        };
        assert!(negative.default_tolerance().is_err());
    }
}
