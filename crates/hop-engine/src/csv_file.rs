//! [`read_csv`]: a job's CSV read and parsed by the engine itself (a blocking call).

use hop_core::PnlMatrix;
use hop_runtime::{InputFiles, RuntimeError};

use crate::JobError;

/// Reads the legacy CSV at `path` within `input` (its root and size limit, checked before any
/// byte is read; refusals never quote the file) and parses it with `hop_core::csv::parse_csv`,
/// the parser every service uses, so the matrix is bit-identical whoever parses it. Errors name
/// the file, and for bad content the line, column and text.
pub fn read_csv(path: &str, input: &InputFiles) -> Result<PnlMatrix, JobError> {
    let (_, bytes) = input.read(path).map_err(|e| match e {
        RuntimeError::InputUnreadable(m) => JobError::internal(m),
        other => JobError::invalid_input(other.to_string()),
    })?;
    hop_core::csv::parse_csv(&bytes).map_err(|e| JobError::invalid_input(format!("{path}: {e}")))
}

/// [`read_csv`] on a blocking thread.
pub async fn read_csv_blocking(path: &str, input: &InputFiles) -> Result<PnlMatrix, JobError> {
    let path = path.to_owned();
    let input = input.clone();
    tokio::task::spawn_blocking(move || read_csv(&path, &input))
        .await
        .map_err(|e| JobError::internal(format!("the CSV parser stopped: {e}")))?
}
