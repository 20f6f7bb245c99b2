//! The service's own configuration section (`[legacy]` in the TOML file, `HOP_LEGACY_<KEY>` in
//! the environment, `--set key=value` on the command line).

use std::fmt;
use std::path::PathBuf;

use hop_heavydb::{HeavyDbConfig, Password};
use hop_runtime::input_file::DEFAULT_MAX_CSV_BYTES;
use serde::Deserialize;

/// The `backend` value of the embedded SQL engine (the default).
pub const EMBEDDED_SQL: &str = "embedded-sql";

/// A secret read from the configuration; `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `[legacy]` keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyConfig {
    /// The SQL engine: `embedded-sql` (the default) or a HeavyDB server as
    /// `heavydb://user@host:6274/database`. Both run the same SQL text.
    pub backend: Option<String>,
    /// The embedded SQL database: unset (the default) gives every job a private in-memory
    /// database; a path gives one database file shared by all jobs, each job in its own
    /// job-tagged tables (as on the legacy HeavyDB), dropped when the job ends.
    pub database: Option<PathBuf>,
    /// The HeavyDB password's file (its content without the trailing line break).
    pub password_file: Option<PathBuf>,
    /// The HeavyDB password itself, meant for the environment
    /// (`HOP_LEGACY_HEAVYDB_PASSWORD`); `password_file` takes precedence. Never logged.
    pub heavydb_password: Option<Secret>,
    /// Where a job's `csv_path` may lie: the share's `input/` folder. Relative paths are taken
    /// under it; anything whose canonical path leaves it is refused.
    pub input_root: Option<PathBuf>,
    /// CSV files bigger than this are refused before they are read.
    pub max_csv_bytes: u64,
}

impl Default for LegacyConfig {
    fn default() -> Self {
        Self {
            backend: None,
            database: None,
            password_file: None,
            heavydb_password: None,
            input_root: None,
            max_csv_bytes: DEFAULT_MAX_CSV_BYTES,
        }
    }
}

/// The engine the configuration selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChoice {
    /// Embedded SQLite: in memory per job, or the database file.
    Embedded { database: Option<PathBuf> },
    /// A HeavyDB server.
    HeavyDb(HeavyDbConfig),
}

impl LegacyConfig {
    /// Checks the keys together and reads the password: the engine jobs will run on.
    pub fn engine(&self) -> Result<EngineChoice, String> {
        let url = match self.backend.as_deref() {
            None | Some(EMBEDDED_SQL) => {
                if self.password_file.is_some() || self.heavydb_password.is_some() {
                    return Err(
                        "legacy.password_file and HOP_LEGACY_HEAVYDB_PASSWORD are for a \
                                heavydb:// backend, but the backend is embedded-sql"
                            .into(),
                    );
                }
                return Ok(EngineChoice::Embedded {
                    database: self.database.clone(),
                });
            }
            Some(url) if url.starts_with("heavydb://") => url,
            Some(other) => {
                return Err(format!(
                    "legacy.backend is {other:?}: give embedded-sql or \
                     heavydb://user@host:6274/database"
                ));
            }
        };
        if self.database.is_some() {
            return Err(
                "legacy.database names an embedded SQL file, but the backend is HeavyDB".into(),
            );
        }
        let password = match (&self.password_file, &self.heavydb_password) {
            (Some(path), _) => Password::from_file(path).map_err(|e| e.to_string())?,
            (None, Some(Secret(password))) => Password::new(password.clone()),
            (None, None) => {
                return Err("legacy.backend is a heavydb:// URL: give its password in \
                            legacy.password_file or HOP_LEGACY_HEAVYDB_PASSWORD"
                    .into());
            }
        };
        HeavyDbConfig::from_url(url, password)
            .map(EngineChoice::HeavyDb)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    fn own(source: &MapSource, set: &[&str]) -> Result<LegacyConfig, String> {
        let args = CommonArgs {
            set: set.iter().map(|s| s.to_string()).collect(),
            ..CommonArgs::default()
        };
        load::<LegacyConfig>("legacy", &args, source)
            .map(|loaded| loaded.own)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_env_and_unknown_keys() {
        let loaded = own(&MapSource::new(), &[]).unwrap();
        assert_eq!(loaded.database, None);
        assert_eq!(
            loaded.engine().unwrap(),
            EngineChoice::Embedded { database: None }
        );
        let source = MapSource::new().with_env("HOP_LEGACY_DATABASE", "/tmp/blue.sqlite");
        let loaded = own(&source, &[]).unwrap();
        assert_eq!(loaded.database, Some(PathBuf::from("/tmp/blue.sqlite")));
        assert!(own(&MapSource::new(), &["engine=heavydb"]).is_err());
    }

    #[test]
    fn heavydb_urls_and_passwords() {
        let url = "backend=heavydb://admin@db.example:6274/prod";
        let source = MapSource::new().with_env("HOP_LEGACY_HEAVYDB_PASSWORD", "env-secret");
        let config = own(&source, &[url]).unwrap();
        assert!(!format!("{config:?}").contains("env-secret"));
        let EngineChoice::HeavyDb(heavy) = config.engine().unwrap() else {
            panic!("not heavydb")
        };
        assert_eq!(heavy.url(), "heavydb://admin@db.example:6274/prod");
        assert!(!format!("{heavy:?}").contains("env-secret"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "file-secret\n").unwrap();
        let set_file = format!("password_file={}", file.display());
        let config = own(&source, &[url, &set_file]).unwrap();
        let EngineChoice::HeavyDb(from_file) = config.engine().unwrap() else {
            panic!("not heavydb")
        };
        assert_ne!(from_file.password, heavy.password);

        let missing = own(&MapSource::new(), &[url])
            .unwrap()
            .engine()
            .unwrap_err();
        assert!(missing.contains("HOP_LEGACY_HEAVYDB_PASSWORD"), "{missing}");
        let bad = own(&MapSource::new(), &["backend=heavydb"])
            .unwrap()
            .engine()
            .unwrap_err();
        assert!(bad.contains("embedded-sql or heavydb://"), "{bad}");
        let in_url = own(&source, &["backend=heavydb://admin:pw-in-url@h/db"]).unwrap();
        let e = in_url.engine().unwrap_err();
        assert!(!e.contains("pw-in-url"), "{e}");
        let gone = format!("password_file={}", dir.path().join("none").display());
        assert!(own(&source, &[url, &gone]).unwrap().engine().is_err());
    }
}
