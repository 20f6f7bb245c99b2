//! `Import`: one CSV file into the cache (blocking; the gRPC handler runs it on a blocking
//! thread).

use std::io::Read;
use std::path::{Path, PathBuf};

use hop_proto::v1::ImportReply;

use crate::Ingest;
use crate::cache::Provenance;
use crate::error::IngestError;

impl Ingest {
    /// Imports the CSV at `csv_path`: a cache hit when its bytes were imported before, otherwise
    /// parsed strictly and stored as Parquet.
    pub fn import(&self, csv_path: &str) -> Result<ImportReply, IngestError> {
        let path = self.resolve_input(csv_path)?;
        let bytes = self.read_csv(&path)?;
        let id = hop_columnar::dataset_id(&bytes);
        let cache_hit = self.cache.contains(&id);
        if !cache_hit {
            let matrix = hop_core::csv::parse_csv(&bytes).map_err(|e| {
                IngestError::Invalid(format!("{} was refused: {e}", path.display()))
            })?;
            let provenance = Provenance::now(path.display().to_string(), bytes.len() as u64);
            self.cache.store(&id, &matrix, &provenance)?;
            tracing::info!(dataset_id = %id, csv = %path.display(),
                strategies = matrix.n_strategies(), days = matrix.n_days(), "dataset imported");
        }
        let shape = self.cache.shape(&id)?;
        Ok(ImportReply {
            parquet_path: self.cache.parquet_path(&id).display().to_string(),
            dataset_id: id,
            strategies: shape.strategies,
            days: u32::try_from(shape.dates.len()).unwrap_or(u32::MAX),
            cache_hit,
        })
    }

    /// The canonical path of the requested CSV, checked against `input_root` when one is set
    /// (relative paths are taken under `input_root`, else under the working directory).
    fn resolve_input(&self, csv_path: &str) -> Result<PathBuf, IngestError> {
        if csv_path.trim().is_empty() {
            return Err(IngestError::Invalid("csv_path is empty".into()));
        }
        let requested = Path::new(csv_path);
        let joined = match &self.input_root {
            Some(root) if requested.is_relative() => root.join(requested),
            _ => requested.to_path_buf(),
        };
        let canonical = joined
            .canonicalize()
            .map_err(|e| IngestError::io("the CSV file", &joined, &e))?;
        if let Some(root) = &self.input_root
            && !canonical.starts_with(root)
        {
            return Err(IngestError::Invalid(format!(
                "the CSV file {csv_path} ({}) is outside the input root {}",
                canonical.display(),
                root.display()
            )));
        }
        Ok(canonical)
    }

    /// Reads the file, refusing one bigger than `max_csv_bytes` (checked before and while
    /// reading, so a file that grows meanwhile is refused too).
    fn read_csv(&self, path: &Path) -> Result<Vec<u8>, IngestError> {
        let io = |e: std::io::Error| IngestError::io("the CSV file", path, &e);
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(IngestError::Invalid(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let too_big = |size: u64| {
            IngestError::Invalid(format!(
                "the CSV file {} is {size} bytes, over the limit of {} bytes (max_csv_bytes)",
                path.display(),
                self.max_csv_bytes
            ))
        };
        if meta.len() > self.max_csv_bytes {
            return Err(too_big(meta.len()));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(self.max_csv_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > self.max_csv_bytes {
            return Err(too_big(bytes.len() as u64));
        }
        Ok(bytes)
    }
}
