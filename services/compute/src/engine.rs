//! The green backend of the shared engine server (`hop_engine`): the matrix over Arrow Flight (or
//! a local parse, [`crate::source`]), metrics and quantization in Rust, the CPU evaluator.

use hop_core::JobOptions;
use hop_core::run::Prepared;
use hop_engine::{EngineBackend, JobError, Loaded};
use hop_proto::v1::{JobSpec, Side};

use crate::config::{ComputeConfig, EngineChoice};

/// The message of every job and `Describe` while `engine = gpu`.
pub const NO_GPU: &str = "no usable GPU: GPU kernels are not built yet";

/// The engine actually used for a configured choice: `Ok("cpu")`, or the failure for `gpu`.
pub fn resolve(choice: EngineChoice) -> Result<&'static str, JobError> {
    match choice {
        // No GPU kernels exist yet: `auto` always chooses the CPU.
        EngineChoice::Auto | EngineChoice::Cpu => Ok("cpu"),
        EngineChoice::Gpu => Err(JobError::new("ENGINE_UNAVAILABLE", NO_GPU)),
    }
}

/// The green engine.
#[derive(Debug, Clone)]
pub struct ComputeBackend {
    config: ComputeConfig,
}

impl ComputeBackend {
    pub fn new(config: ComputeConfig) -> Self {
        Self { config }
    }
}

#[tonic::async_trait]
impl EngineBackend for ComputeBackend {
    fn side(&self) -> Side {
        Side::Green
    }

    fn engine(&self) -> Result<&'static str, JobError> {
        resolve(self.config.engine)
    }

    fn device(&self) -> String {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut device = format!("cpu: {threads} threads");
        if self.config.engine == EngineChoice::Auto {
            device.push_str(" (engine = auto: GPU kernels are not built yet, so the CPU)");
        }
        device
    }

    async fn load(&self, spec: &JobSpec, options: &JobOptions) -> Result<Loaded, JobError> {
        let matrix =
            crate::source::load_matrix(spec.input.as_ref(), self.config.ingest.as_deref()).await?;
        let options = options.clone();
        tokio::task::spawn_blocking(move || Prepared::new(matrix, &options, None))
            .await
            .map_err(|e| JobError::internal(format!("preparing the data stopped: {e}")))?
            .map_err(JobError::from)
    }
}
