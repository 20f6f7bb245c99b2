//! The device: probing, the compiled kernels, the problem's buffers and the launches.
//!
//! cudarc is built with `dynamic-loading`: libcuda and libnvrtc are opened at run time. cudarc
//! panics when a library is missing, so [`Gpu::open`] first asks cudarc whether each library can
//! be opened (`is_culib_present`) and then runs every cudarc call inside `catch_unwind`
//! ([`crate::error::guarded`]): a missing driver, device or compiler, or an old driver without a
//! symbol, is an `Err`, never a panic.
//!
//! - [`stats`]: the counters of what the device did.
//! - [`problem`]: a problem's buffers on the device and the launches that score against them.

mod problem;
mod stats;

pub use problem::DeviceProblem;
pub use stats::{GpuStats, StatsSnapshot};

use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg, sys};
use hop_core::PnlMatrix;

use crate::batch;
use crate::error::{GpuError, guarded};
use crate::kernels;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuInfo {
    /// The device used (always the first one today).
    pub ordinal: usize,
    /// Devices the driver reports.
    pub devices: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub total_memory_bytes: usize,
    /// Free memory when probed.
    pub free_memory_bytes: usize,
    /// `cuDriverGetVersion`, e.g. 12080 for 12.8.
    pub driver_version: i32,
    /// NVRTC's (major, minor).
    pub nvrtc_version: (i32, i32),
    /// The virtual architecture the kernels were compiled for (`None`: NVRTC's default, JIT by
    /// the driver).
    pub compiled_arch: Option<(i32, i32)>,
}

impl GpuInfo {
    /// One line for logs and `Describe`, e.g. `NVIDIA H100 80GB HBM3 (compute 9.0, 79.1 GiB,
    /// driver 12.8, NVRTC 12.8)`.
    pub fn describe(&self) -> String {
        format!(
            "{} (compute {}.{}, {:.1} GiB, driver {}.{}, NVRTC {}.{})",
            self.name,
            self.compute_capability.0,
            self.compute_capability.1,
            self.total_memory_bytes as f64 / f64::from(1u32 << 30),
            self.driver_version / 1000,
            (self.driver_version % 1000) / 10,
            self.nvrtc_version.0,
            self.nvrtc_version.1,
        )
    }
}

/// Compiles the kernels with NVRTC (no device needed) and returns the PTX text. `arch` as in
/// [`kernels::compile_options`].
pub fn compile_ptx(arch: Option<(i32, i32)>) -> Result<String, GpuError> {
    Ok(compile(arch)?.to_src())
}

/// NVRTC's version, when libnvrtc can be loaded.
pub fn nvrtc_version() -> Result<(i32, i32), GpuError> {
    guarded("loading NVRTC", || {
        // SAFETY: `is_culib_present` only tries to dlopen the candidate library names.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(GpuError::NoNvrtc);
        }
        let (mut major, mut minor) = (0, 0);
        // SAFETY: libnvrtc is present (checked above); nvrtcVersion writes two ints through valid
        // pointers to locals.
        let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
        if status != cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS {
            return Err(GpuError::Compile(format!(
                "nvrtcVersion failed: {status:?}"
            )));
        }
        Ok((major, minor))
    })
}

fn compile(arch: Option<(i32, i32)>) -> Result<cudarc::nvrtc::Ptx, GpuError> {
    nvrtc_version()?;
    guarded("compiling the kernels", || {
        cudarc::nvrtc::compile_ptx_with_opts(kernels::SOURCE, kernels::compile_options(arch))
            .map_err(|e| match e {
                cudarc::nvrtc::CompileError::CompileError { nvrtc, log, .. } => {
                    GpuError::Compile(format!("{nvrtc:?}: {}", log.to_string_lossy().trim()))
                }
                other => GpuError::Compile(other.to_string()),
            })
    })
}

/// An opened device with the kernels loaded. Cheap to share (`Arc<Gpu>`); every method may be
/// called from any thread.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    eval_portfolios: CudaFunction,
    eval_swaps: CudaFunction,
    strategy_metrics: CudaFunction,
    info: GpuInfo,
    stats: GpuStats,
    broken: Mutex<Option<GpuError>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("info", &self.info).finish()
    }
}

impl Gpu {
    /// Opens device 0, compiles the kernels and returns what was found. The service calls this once
    /// at start; a failure is the reason the GPU is not used.
    pub fn probe() -> Result<GpuInfo, GpuError> {
        Self::open(0).map(|gpu| gpu.info().clone())
    }

    /// Opens device `ordinal`: loads libcuda, creates the context, compiles the kernels with
    /// NVRTC (for the device's architecture, or NVRTC's default if that fails) and loads them.
    pub fn open(ordinal: usize) -> Result<Arc<Gpu>, GpuError> {
        guarded("opening the GPU", || Self::open_unguarded(ordinal)).map(Arc::new)
    }

    fn open_unguarded(ordinal: usize) -> Result<Gpu, GpuError> {
        // SAFETY: `is_culib_present` only tries to dlopen the candidate library names.
        if !unsafe { sys::is_culib_present() } {
            return Err(GpuError::NoDriver);
        }
        let devices = CudaContext::device_count()
            .map_err(|e| GpuError::NoDevice(crate::error::driver_message(&e)))?;
        let devices = usize::try_from(devices).unwrap_or(0);
        if devices == 0 {
            return Err(GpuError::NoDevice("the driver reports 0 devices".into()));
        }
        if ordinal >= devices {
            return Err(GpuError::NoDevice(format!(
                "device {ordinal} asked for, {devices} present"
            )));
        }
        let ctx =
            CudaContext::new(ordinal).map_err(|e| GpuError::driver("creating a context", e))?;
        let name = ctx
            .name()
            .map_err(|e| GpuError::driver("reading the name", e))?;
        let compute_capability = ctx
            .compute_capability()
            .map_err(|e| GpuError::driver("reading the compute capability", e))?;
        let (free_memory_bytes, total_memory_bytes) = ctx
            .mem_get_info()
            .map_err(|e| GpuError::driver("reading the memory", e))?;
        let mut driver_version = 0;
        // SAFETY: libcuda is loaded (checked above); the call writes one int through a valid
        // pointer to a local.
        let status = unsafe { sys::cuDriverGetVersion(&mut driver_version) };
        if status != sys::CUresult::CUDA_SUCCESS {
            return Err(GpuError::driver(
                "reading the driver version",
                cudarc::driver::DriverError(status),
            ));
        }
        let nvrtc_version = nvrtc_version()?;
        let (ptx, compiled_arch) = match compile(Some(compute_capability)) {
            Ok(ptx) => (ptx, Some(compute_capability)),
            // An NVRTC older than the device does not know its architecture: PTX for NVRTC's
            // default architecture, which the driver JIT-compiles for the device.
            Err(GpuError::Compile(first)) => match compile(None) {
                Ok(ptx) => {
                    tracing::warn!(error = %first, "compiled the kernels for NVRTC's default architecture");
                    (ptx, None)
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let module = match ctx.load_module(ptx.clone()) {
            Ok(module) => module,
            // NVRTC newer than the driver: retry with the driver's PTX ISA version stamp.
            Err(e) if e.0 == sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION => {
                let text = ptx.to_src();
                let lowered = kernels::ptx_isa_for_driver(driver_version)
                    .and_then(|isa| kernels::lower_ptx_version(&text, isa))
                    .ok_or_else(|| GpuError::driver("loading the kernels", e))?;
                tracing::warn!(
                    nvrtc = ?nvrtc_version,
                    driver_version,
                    "NVRTC is newer than the driver: loading the kernels under the driver's PTX version"
                );
                ctx.load_module(cudarc::nvrtc::Ptx::from_src(lowered))
                    .map_err(|e| {
                        GpuError::driver(
                            "loading the kernels (NVRTC is newer than the driver; install an NVRTC \
                             no newer than the driver)",
                            e,
                        )
                    })?
            }
            Err(e) => return Err(GpuError::driver("loading the kernels", e)),
        };
        let function = |name: &str| {
            module
                .load_function(name)
                .map_err(|e| GpuError::driver(&format!("loading kernel {name}"), e))
        };
        let info = GpuInfo {
            ordinal,
            devices,
            name,
            compute_capability,
            total_memory_bytes,
            free_memory_bytes,
            driver_version,
            nvrtc_version,
            compiled_arch,
        };
        Ok(Gpu {
            eval_portfolios: function(kernels::EVAL_PORTFOLIOS)?,
            eval_swaps: function(kernels::EVAL_SWAPS)?,
            strategy_metrics: function(kernels::STRATEGY_METRICS)?,
            ctx,
            info,
            stats: GpuStats::default(),
            broken: Mutex::new(None),
        })
    }

    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    pub fn stats(&self) -> &GpuStats {
        &self.stats
    }

    /// `(used, total)` device memory in bytes now (all processes: `cuMemGetInfo`).
    pub fn memory(&self) -> Result<(usize, usize), GpuError> {
        guarded("reading the memory", || {
            let (free, total) = self
                .ctx
                .mem_get_info()
                .map_err(|e| GpuError::driver("reading the memory", e))?;
            Ok((total.saturating_sub(free), total))
        })
    }

    /// The first failure of a launch or copy, if any: a CUDA context that failed is not trusted
    /// again in this process.
    pub fn failure(&self) -> Option<GpuError> {
        self.broken.lock().map(|b| b.clone()).unwrap_or(None)
    }

    pub(crate) fn mark_broken(&self, error: &GpuError) {
        if let Ok(mut broken) = self.broken.lock()
            && broken.is_none()
        {
            tracing::error!(error = %error, "the GPU failed; it is not used again in this process");
            *broken = Some(error.clone());
        }
    }

    fn check_usable(&self) -> Result<(), GpuError> {
        match self.failure() {
            Some(e) => Err(GpuError::Broken(e.to_string())),
            None => Ok(()),
        }
    }

    fn new_stream(&self) -> Result<Arc<CudaStream>, GpuError> {
        self.ctx
            .new_stream()
            .map_err(|e| GpuError::driver("creating a stream", e))
    }

    /// Per-strategy metrics of the whole matrix on the GPU: the same bits as
    /// `hop_core::metrics::all_strategy_metrics`.
    pub fn strategy_metrics(
        &self,
        matrix: &PnlMatrix,
    ) -> Result<Vec<hop_core::StrategyMetrics>, GpuError> {
        self.check_usable()?;
        let (values, n, t) = crate::plan::metrics_input(matrix)?;
        let result = guarded("computing the strategy metrics", || {
            let stream = self.new_stream()?;
            let d_values = stream
                .clone_htod(values)
                .map_err(|e| GpuError::driver("copying the matrix", e))?;
            let mut d_out = stream
                .alloc_zeros::<f64>(5 * n as usize)
                .map_err(|e| GpuError::driver("allocating the metrics", e))?;
            let cfg = LaunchConfig {
                grid_dim: (batch::metrics_blocks(n as usize), 1, 1),
                block_dim: (kernels::METRICS_BLOCK_THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            let events = {
                let mut launch = stream.launch_builder(&self.strategy_metrics);
                launch.arg(&d_values).arg(&n).arg(&t).arg(&mut d_out);
                launch.record_kernel_launch(sys::CUevent_flags::CU_EVENT_DEFAULT);
                // SAFETY: `strategy_metrics(const double*, unsigned, int, double*)` gets a buffer
                // of n * t doubles, n, t and a buffer of 5 n doubles; each thread j < n reads
                // column j (t values) and writes its 5 outputs, all within those buffers.
                unsafe { launch.launch(cfg) }
                    .map_err(|e| GpuError::driver("launching strategy_metrics", e))?
            };
            let raw = stream
                .clone_dtoh(&d_out)
                .map_err(|e| GpuError::driver("copying the metrics back", e))?;
            stream
                .synchronize()
                .map_err(|e| GpuError::driver("running strategy_metrics", e))?;
            self.record_launch(events, n as usize);
            Ok(batch::unpack_metrics(&raw))
        });
        if let Err(e) = &result {
            self.note_failure(e);
        }
        result
    }

    fn record_launch(
        &self,
        events: Option<(cudarc::driver::CudaEvent, cudarc::driver::CudaEvent)>,
        evaluations: usize,
    ) {
        let ms = events
            .and_then(|(start, end)| start.elapsed_ms(&end).ok())
            .unwrap_or(0.0);
        self.stats.add_launch(evaluations, ms);
    }

    /// Marks the device broken for driver failures (not for refused input).
    pub(crate) fn note_failure(&self, error: &GpuError) {
        if !matches!(error, GpuError::Plan(_) | GpuError::Broken(_)) {
            self.mark_broken(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_reads_well() {
        let info = GpuInfo {
            ordinal: 0,
            devices: 1,
            name: "NVIDIA H100 80GB HBM3".into(),
            compute_capability: (9, 0),
            total_memory_bytes: 85_029_158_912,
            free_memory_bytes: 84_000_000_000,
            driver_version: 12080,
            nvrtc_version: (12, 8),
            compiled_arch: Some((9, 0)),
        };
        assert_eq!(
            info.describe(),
            "NVIDIA H100 80GB HBM3 (compute 9.0, 79.2 GiB, driver 12.8, NVRTC 12.8)"
        );
    }

    /// Without libcuda (this machine) the probe is an error, never a panic; with one it succeeds
    /// or explains itself.
    #[test]
    fn probe_never_panics() {
        match Gpu::probe() {
            Ok(info) => println!("GPU: {}", info.describe()),
            Err(e) => {
                println!("no GPU: {e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
}
