//! The content-addressed dataset cache: `<cache_dir>/<id>.parquet` (the P&L layout of
//! `hop-columnar`) plus `<id>.json`, a small provenance sidecar (source CSV, its size, when it was
//! imported).
//!
//! Shape and dates always come from the Parquet footer (the schema metadata and the row count), so
//! a cache hit never reads the data pages and the sidecar can never disagree with the data. Files
//! are written to a temporary name in the cache directory, synced, renamed into place and the folder synced (`hop_runtime::atomic_file`), so a
//! reader never sees half a file, and two imports of the same bytes racing each other are harmless
//! (both write the same content under the same name).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hop_columnar::{META_DATES, META_DAYS};
use hop_core::PnlMatrix;
use hop_proto::v1::DatasetInfo;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::error::{IngestError, invalid_data};

/// The length of a dataset id: 32 lowercase hex digits (XXH3-128).
pub const ID_LEN: usize = 32;

/// Checks that `id` is a dataset id, so that it can never name a path outside the cache.
pub fn check_id(id: &str) -> Result<(), IngestError> {
    if id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(IngestError::Invalid(format!(
            "{id:?} is not a dataset id (32 lowercase hex digits)"
        )))
    }
}

/// Where a dataset came from (the sidecar `<id>.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The CSV path it was first imported from, or `flight:do_put`.
    pub source_csv: String,
    /// The size of the source CSV (for DoPut: of its canonical CSV rendering).
    pub csv_bytes: u64,
    /// When it was imported, milliseconds since the Unix epoch.
    pub imported_at_unix_ms: u64,
}

impl Provenance {
    /// Provenance stamped now.
    pub fn now(source_csv: impl Into<String>, csv_bytes: u64) -> Self {
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        Self {
            source_csv: source_csv.into(),
            csv_bytes,
            imported_at_unix_ms: u64::try_from(ms).unwrap_or(u64::MAX),
        }
    }
}

/// A cached dataset's shape, read from its Parquet footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Number of strategies (Parquet rows).
    pub strategies: u32,
    /// The trading dates.
    pub dates: Vec<String>,
    /// Size of the Parquet file.
    pub parquet_bytes: u64,
}

/// The cache directory.
#[derive(Debug)]
pub struct DatasetCache {
    dir: PathBuf,
}

impl DatasetCache {
    /// Opens (creating it if needed) the cache directory.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Parquet file of dataset `id` (which must be a checked id).
    pub fn parquet_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.parquet"))
    }

    fn sidecar_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Whether dataset `id` is cached.
    pub fn contains(&self, id: &str) -> bool {
        self.parquet_path(id).is_file()
    }

    /// The ids of every cached dataset, sorted.
    pub fn ids(&self) -> Result<Vec<String>, IngestError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| IngestError::io("cache directory", &self.dir, &e))?;
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let id = name.strip_suffix(".parquet")?;
                check_id(id).ok()?;
                Some(id.to_owned())
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Reads dataset `id`'s shape and dates from its Parquet footer; `NOT_FOUND` when uncached.
    pub fn shape(&self, id: &str) -> Result<Shape, IngestError> {
        check_id(id)?;
        let path = self.parquet_path(id);
        let file = File::open(&path).map_err(|e| not_cached(id, &path, &e))?;
        let parquet_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| IngestError::internal(format!("cached dataset {}", path.display()), e))?;
        let rows = builder.metadata().file_metadata().num_rows();
        let meta = builder.schema().metadata();
        let bad = |what: &str| {
            IngestError::Internal(format!(
                "cached dataset {} has {what} in its metadata",
                path.display()
            ))
        };
        let days: usize = meta
            .get(META_DAYS)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad("no day count"))?;
        let dates: Vec<String> = match meta.get(META_DATES) {
            Some(text) if !text.is_empty() => text.split(',').map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        if dates.len() != days {
            return Err(bad("a date list that does not match the day count"));
        }
        Ok(Shape {
            strategies: u32::try_from(rows).map_err(|_| bad("a bad row count"))?,
            dates,
            parquet_bytes,
        })
    }

    /// Describes dataset `id` (shape from the footer, provenance from the sidecar when present).
    pub fn describe(&self, id: &str) -> Result<DatasetInfo, IngestError> {
        let shape = self.shape(id)?;
        let provenance = std::fs::read(self.sidecar_path(id))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Provenance>(&bytes).ok())
            .unwrap_or_default();
        let imported_at = (provenance.imported_at_unix_ms > 0).then(|| {
            (SystemTime::UNIX_EPOCH + Duration::from_millis(provenance.imported_at_unix_ms)).into()
        });
        Ok(DatasetInfo {
            dataset_id: id.to_owned(),
            strategies: shape.strategies,
            days: u32::try_from(shape.dates.len()).unwrap_or(u32::MAX),
            first_date: shape.dates.first().cloned().unwrap_or_default(),
            last_date: shape.dates.last().cloned().unwrap_or_default(),
            parquet_path: self.parquet_path(id).display().to_string(),
            parquet_bytes: shape.parquet_bytes,
            csv_bytes: provenance.csv_bytes,
            source_csv: provenance.source_csv,
            imported_at,
        })
    }

    /// Loads dataset `id` in full; `NOT_FOUND` when uncached.
    pub fn load(&self, id: &str) -> Result<PnlMatrix, IngestError> {
        check_id(id)?;
        let path = self.parquet_path(id);
        let file = File::open(&path).map_err(|e| not_cached(id, &path, &e))?;
        hop_columnar::read_parquet(file)
            .map_err(|e| IngestError::internal(format!("cached dataset {}", path.display()), e))
    }

    /// Stores `m` as dataset `id` (the sidecar first, then the Parquet file, each renamed into
    /// place atomically). Storing an id that is already cached rewrites identical content.
    pub fn store(
        &self,
        id: &str,
        m: &PnlMatrix,
        provenance: &Provenance,
    ) -> Result<(), IngestError> {
        check_id(id)?;
        let sidecar = serde_json::to_vec_pretty(provenance)
            .map_err(|e| IngestError::internal("provenance sidecar", e))?;
        self.write_atomically(&self.sidecar_path(id), |w| {
            w.write_all(&sidecar).map_err(|e| e.to_string())
        })?;
        self.write_atomically(&self.parquet_path(id), |w| {
            hop_columnar::write_parquet(m, w).map_err(|e| invalid_data(e).to_string())
        })
    }

    fn write_atomically(
        &self,
        target: &Path,
        write: impl FnOnce(&mut BufWriter<&File>) -> Result<(), String>,
    ) -> Result<(), IngestError> {
        hop_runtime::atomic_file::write_atomically_with(target, |w| {
            write(w).map_err(std::io::Error::other)
        })
        .map_err(|e| IngestError::Internal(format!("cannot write {}: {e}", target.display())))
    }
}

fn not_cached(id: &str, path: &Path, e: &std::io::Error) -> IngestError {
    if e.kind() == std::io::ErrorKind::NotFound {
        IngestError::NotFound(format!("dataset {id} is not in the cache"))
    } else {
        IngestError::io("cached dataset", path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_stores_are_atomic() {
        assert!(check_id("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "../x",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef",
        ] {
            assert!(
                matches!(check_id(bad), Err(IngestError::Invalid(_))),
                "{bad:?}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::open(dir.path().join("parquet")).unwrap();
        let id = "00000000000000000000000000000001";
        assert!(matches!(cache.describe(id), Err(IngestError::NotFound(_))));
        let m = PnlMatrix::new(
            vec!["a".into(), "b".into()],
            vec!["2024-01-01".into(), "2024-01-02".into()],
            vec![1.0, 2.0, 3.0, 4.0],
        )
        .unwrap();
        cache.store(id, &m, &Provenance::now("x.csv", 42)).unwrap();
        cache.store(id, &m, &Provenance::now("x.csv", 42)).unwrap();
        assert_eq!(cache.ids().unwrap(), vec![id.to_owned()]);
        let info = cache.describe(id).unwrap();
        assert_eq!((info.strategies, info.days, info.csv_bytes), (2, 2, 42));
        assert_eq!(
            (info.first_date.as_str(), info.last_date.as_str()),
            ("2024-01-01", "2024-01-02")
        );
        assert_eq!(cache.load(id).unwrap(), m);
        // Only the two final files remain: no temporary file is left behind.
        let mut names: Vec<_> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [format!("{id}.json"), format!("{id}.parquet")]);
    }
}
