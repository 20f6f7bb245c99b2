//! Where configuration comes from: [`ConfigSource`], with [`OsSource`] (the real process
//! environment and file system) and [`MapSource`] (in-memory, for tests).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The environment and files the configuration loader reads; injectable for tests.
pub trait ConfigSource {
    /// One environment variable, `None` when unset (or not valid UTF-8).
    fn env(&self, name: &str) -> Option<String>;
    /// Every environment variable (name, value) with a UTF-8 name and value.
    fn env_vars(&self) -> Vec<(String, String)>;
    /// The whole text of a file.
    fn read_file(&self, path: &Path) -> io::Result<String>;
}

/// The process environment (`std::env`) and the real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsSource;

impl ConfigSource for OsSource {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn env_vars(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// An in-memory environment and file system, for tests.
#[derive(Debug, Clone, Default)]
pub struct MapSource {
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Files by path.
    pub files: BTreeMap<PathBuf, String>,
}

impl MapSource {
    /// An empty environment with no files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an environment variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Adds a file.
    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl ConfigSource for MapSource {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn env_vars(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} not found", path.display()),
            )
        })
    }
}
