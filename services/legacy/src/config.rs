//! The service's own configuration section (`[legacy]` in the TOML file, `HOP_LEGACY_<KEY>` in
//! the environment, `--set key=value` on the command line).

use std::path::PathBuf;

use serde::Deserialize;

/// `[legacy]` keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyConfig {
    /// The embedded SQL database: unset (the default) gives every job a private in-memory
    /// database; a path gives one database file shared by all jobs, each job in its own
    /// job-tagged tables (as on the legacy HeavyDB), dropped when the job ends.
    pub database: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_env_and_unknown_keys() {
        let loaded =
            load::<LegacyConfig>("legacy", &CommonArgs::default(), &MapSource::new()).unwrap();
        assert_eq!(loaded.own.database, None);
        let source = MapSource::new().with_env("HOP_LEGACY_DATABASE", "/tmp/blue.sqlite");
        let own = load::<LegacyConfig>("legacy", &CommonArgs::default(), &source)
            .unwrap()
            .own;
        assert_eq!(own.database, Some(PathBuf::from("/tmp/blue.sqlite")));
        let args = CommonArgs {
            set: vec!["backend=heavydb".into()],
            ..CommonArgs::default()
        };
        assert!(load::<LegacyConfig>("legacy", &args, &MapSource::new()).is_err());
    }
}
