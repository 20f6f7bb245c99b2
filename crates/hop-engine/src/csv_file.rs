//! [`read_csv`]: a job's CSV read and parsed by the engine itself (a blocking call).

use hop_core::PnlMatrix;

use crate::JobError;

/// Reads and parses the legacy CSV at `path` (`hop_core::csv::parse_csv`, the parser every
/// service uses, so the matrix is bit-identical whoever parses it). Errors name the file, and for
/// bad content the line, column and text.
pub fn read_csv(path: &str) -> Result<PnlMatrix, JobError> {
    let bytes = std::fs::read(path)
        .map_err(|e| JobError::invalid_input(format!("cannot read the CSV file {path}: {e}")))?;
    hop_core::csv::parse_csv(&bytes).map_err(|e| JobError::invalid_input(format!("{path}: {e}")))
}

/// [`read_csv`] on a blocking thread.
pub async fn read_csv_blocking(path: &str) -> Result<PnlMatrix, JobError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || read_csv(&path))
        .await
        .map_err(|e| JobError::internal(format!("the CSV parser stopped: {e}")))?
}
