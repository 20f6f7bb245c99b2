//! The service's own configuration section (`[ingest]` in the TOML file, `HOP_INGEST_<KEY>` in
//! the environment, `--set key=value` on the command line).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use hop_runtime::input_file::DEFAULT_MAX_CSV_BYTES;

/// `[ingest]` keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Where the Parquet cache lives; `<data_dir>/parquet` when unset.
    pub cache_dir: Option<PathBuf>,
    /// When set, `Import` refuses any CSV whose canonical path is not under this directory, and
    /// relative CSV paths are resolved against it.
    pub input_root: Option<PathBuf>,
    /// CSV files bigger than this are refused.
    pub max_csv_bytes: u64,
    /// Compression of the Arrow IPC buffers that `DoGet` streams: `none` (the default: on
    /// loopback and fast networks it only costs time, P&L doubles barely compress), `lz4` or
    /// `zstd` (for slow links between nodes). Clients decode any of them.
    pub flight_compression: FlightCompression,
}

/// IPC buffer compression of `DoGet` streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlightCompression {
    #[default]
    None,
    Lz4,
    Zstd,
}

impl FlightCompression {
    /// The Arrow IPC compression codec, if any.
    pub fn codec(self) -> Option<arrow::ipc::CompressionType> {
        match self {
            Self::None => None,
            Self::Lz4 => Some(arrow::ipc::CompressionType::LZ4_FRAME),
            Self::Zstd => Some(arrow::ipc::CompressionType::ZSTD),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            input_root: None,
            max_csv_bytes: DEFAULT_MAX_CSV_BYTES,
            flight_compression: FlightCompression::None,
        }
    }
}

impl IngestConfig {
    /// The cache directory for the given `data_dir`.
    pub fn cache_dir(&self, data_dir: &Path) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("parquet"))
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_env_and_flags() {
        let args = CommonArgs::default();
        let loaded = load::<IngestConfig>("ingest", &args, &MapSource::new()).unwrap();
        assert_eq!(loaded.own, IngestConfig::default());
        assert_eq!(
            loaded.own.cache_dir(&loaded.common.data_dir),
            Path::new("data/parquet")
        );

        let source = MapSource::new()
            .with_env("HOP_INGEST_MAX_CSV_BYTES", "1000")
            .with_env("HOP_INGEST_INPUT_ROOT", "/mnt/optimizer_share/input");
        let args = CommonArgs {
            set: vec!["cache_dir=/var/cache/hop".into()],
            ..CommonArgs::default()
        };
        let own = load::<IngestConfig>("ingest", &args, &source).unwrap().own;
        assert_eq!(own.max_csv_bytes, 1000);
        assert_eq!(
            own.input_root.as_deref(),
            Some(Path::new("/mnt/optimizer_share/input"))
        );
        assert_eq!(
            own.cache_dir(Path::new("data")),
            Path::new("/var/cache/hop")
        );

        let typo = CommonArgs {
            set: vec!["cache_dri=/x".into()],
            ..CommonArgs::default()
        };
        assert!(load::<IngestConfig>("ingest", &typo, &MapSource::new()).is_err());
    }
}
