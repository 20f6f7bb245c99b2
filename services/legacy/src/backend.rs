//! The blue backend of the shared engine server (`hop_engine`): the legacy workflow over SQL.
//!
//! A job's data path is independent of green's: the CSV is read and parsed by this service
//! (never fetched from ingest), ULTA is applied, the matrix is loaded into the job's SQL tables,
//! the per-strategy metrics are computed **in SQL** (`hop_sql::metrics_sql`: window functions
//! for equity and running peak), the matrix is read back with SQL, and the tables are dropped.
//! The search then runs on the matrix that went through the database, with the SQL metrics in
//! the result.

use hop_core::JobOptions;
use hop_core::run::{Prepared, ulta};
use hop_engine::{EngineBackend, JobError, Loaded};
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobSpec, Side};
use hop_sql::{SqlError, SqliteBackend};

use crate::config::LegacyConfig;

/// The engine name of the embedded SQL backend.
pub const EMBEDDED_SQL: &str = "embedded-sql";

/// The blue engine.
#[derive(Debug, Clone)]
pub struct LegacyBackend {
    config: LegacyConfig,
}

impl LegacyBackend {
    pub fn new(config: LegacyConfig) -> Self {
        Self { config }
    }

    /// Opens the job's database: a private in-memory one, or the configured file.
    fn open(&self) -> Result<SqliteBackend, SqlError> {
        match &self.config.database {
            None => SqliteBackend::in_memory(),
            Some(path) => SqliteBackend::open(path),
        }
    }

    /// The SQL part of a job (blocking).
    fn prepare(
        &self,
        job_id: &str,
        matrix: hop_core::PnlMatrix,
        options: &JobOptions,
    ) -> Result<Prepared, JobError> {
        let (matrix, inversions) = ulta(matrix, options)?;
        let sql_error = |e: SqlError| {
            JobError::internal(format!(
                "the legacy SQL workflow failed for job {job_id}: {e}"
            ))
        };
        let database = self.open().map_err(sql_error)?;
        let out = hop_sql::run(database, job_id, &matrix).map_err(sql_error)?;
        Ok(Prepared::assemble(
            out.matrix,
            inversions,
            Some(out.metrics),
            options,
        )?)
    }
}

#[tonic::async_trait]
impl EngineBackend for LegacyBackend {
    fn side(&self) -> Side {
        Side::Blue
    }

    fn engine(&self) -> Result<&'static str, JobError> {
        Ok(EMBEDDED_SQL)
    }

    fn device(&self) -> String {
        let database = match &self.config.database {
            None => "a private in-memory database per job".to_owned(),
            Some(path) => format!("database file {}", path.display()),
        };
        format!(
            "embedded SQLite {} ({database})",
            SqliteBackend::library_version()
        )
    }

    async fn load(&self, spec: &JobSpec, options: &JobOptions) -> Result<Loaded, JobError> {
        let path = match &spec.input {
            Some(Input::CsvPath(path)) => path,
            Some(Input::DatasetId(id)) => {
                return Err(JobError::invalid_input(format!(
                    "the legacy engine reads the job's CSV file itself and cannot use dataset \
                     {id}: submit the job with csv_path"
                )));
            }
            None => {
                return Err(JobError::invalid_input(
                    "the job names no input: set csv_path",
                ));
            }
        };
        let matrix = hop_engine::read_csv_blocking(path).await?;
        let backend = self.clone();
        let job_id = spec.job_id.clone();
        let options = options.clone();
        tokio::task::spawn_blocking(move || backend.prepare(&job_id, matrix, &options))
            .await
            .map_err(|e| JobError::internal(format!("the SQL workflow stopped: {e}")))?
    }
}
