//! `Import`: one CSV file into the cache (blocking; the gRPC handler runs it on a blocking
//! thread).

use hop_proto::v1::ImportReply;

use crate::Ingest;
use crate::cache::Provenance;
use crate::error::IngestError;

impl Ingest {
    /// Imports the CSV at `csv_path` (confined to `input_root` and `max_csv_bytes` by
    /// [`hop_runtime::InputFiles`]): a cache hit when its bytes were imported before, otherwise
    /// parsed strictly and stored as Parquet.
    pub fn import(&self, csv_path: &str) -> Result<ImportReply, IngestError> {
        let (path, bytes) = self.input.read(csv_path).map_err(IngestError::from)?;
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
}
