//! The blue backend of the shared engine server (`hop_engine`): the legacy workflow over SQL.
//!
//! A job's data path is independent of green's: the CSV is read and parsed by this service
//! (never fetched from ingest), ULTA is applied, the matrix is loaded into the job's SQL tables,
//! the per-strategy metrics are computed **in SQL** (`hop_sql::metrics_sql`: window functions
//! for equity and running peak), the matrix is read back with SQL, and the tables are dropped.
//! The search then runs on the matrix that went through the database, with the SQL metrics in
//! the result.
//!
//! The SQL engine is the embedded SQLite (default) or a HeavyDB server
//! (`hop_heavydb::HeavyDbBackend`), running the same SQL text. HeavyDB connections (each with
//! its session) are kept between jobs and reused, one per job running at a time.

use std::sync::{Arc, Mutex};

use hop_core::JobOptions;
use hop_core::run::{Prepared, ulta};
use hop_engine::{EngineBackend, JobError, Loaded};
use hop_heavydb::HeavyDbBackend;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::{JobSpec, Side};
use hop_runtime::InputFiles;
use hop_sql::{LegacyOutput, SqlError, SqliteBackend};

use crate::config::{EngineChoice, LegacyConfig};

pub use crate::config::EMBEDDED_SQL;

/// The blue engine.
#[derive(Debug, Clone)]
pub struct LegacyBackend {
    engine: EngineChoice,
    /// Where job CSVs may be read from, and their size limit.
    input: InputFiles,
    /// Idle HeavyDB connections, reused by the next jobs.
    idle: Arc<Mutex<Vec<HeavyDbBackend>>>,
}

impl LegacyBackend {
    /// The engine the configuration selects, or why it is not usable (a bad URL, no password,
    /// a missing `input_root`).
    pub fn new(config: &LegacyConfig) -> Result<Self, String> {
        Ok(Self {
            engine: config.engine()?,
            input: InputFiles::new(config.input_root.as_deref(), config.max_csv_bytes)
                .map_err(|e| e.to_string())?,
            idle: Arc::default(),
        })
    }

    /// Where job CSVs may be read from.
    pub fn input(&self) -> &InputFiles {
        &self.input
    }

    /// The engine name reported in job results and metrics.
    pub fn engine_name(&self) -> &'static str {
        match self.engine {
            EngineChoice::Embedded { .. } => EMBEDDED_SQL,
            EngineChoice::HeavyDb(_) => hop_heavydb::NAME,
        }
    }

    /// Runs the SQL workflow on the job's database: a private in-memory one, the configured
    /// file, or an idle (else new) HeavyDB connection, given back after a job that went well.
    fn run_sql(
        &self,
        job_id: &str,
        matrix: &hop_core::PnlMatrix,
    ) -> Result<LegacyOutput, SqlError> {
        match &self.engine {
            EngineChoice::Embedded { database: None } => {
                hop_sql::run(SqliteBackend::in_memory()?, job_id, matrix)
            }
            EngineChoice::Embedded {
                database: Some(path),
            } => hop_sql::run(SqliteBackend::open(path)?, job_id, matrix),
            EngineChoice::HeavyDb(config) => {
                let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let mut heavy = match idle {
                    Some(heavy) => heavy,
                    None => HeavyDbBackend::connect(config.clone())?,
                };
                let out = hop_sql::run(&mut heavy, job_id, matrix)?;
                self.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(heavy);
                Ok(out)
            }
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
        let out = self.run_sql(job_id, &matrix).map_err(|e| {
            JobError::internal(format!(
                "the legacy SQL workflow failed for job {job_id}: {e}"
            ))
        })?;
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
        Ok(self.engine_name())
    }

    fn device(&self) -> String {
        match &self.engine {
            EngineChoice::Embedded { database } => {
                let database = match database {
                    None => "a private in-memory database per job".to_owned(),
                    Some(path) => format!("database file {}", path.display()),
                };
                format!(
                    "embedded SQLite {} ({database})",
                    SqliteBackend::library_version()
                )
            }
            EngineChoice::HeavyDb(config) => {
                format!("HeavyDB at {} (Thrift binary protocol)", config.url())
            }
        }
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
        let matrix = hop_engine::read_csv_blocking(path, &self.input).await?;
        let backend = self.clone();
        let job_id = spec.job_id.clone();
        let options = options.clone();
        tokio::task::spawn_blocking(move || backend.prepare(&job_id, matrix, &options))
            .await
            .map_err(|e| JobError::internal(format!("the SQL workflow stopped: {e}")))?
    }
}
