//! The device: probing, the compiled kernels, the problem's buffers and the launches.
//!
//! cudarc is built with `dynamic-loading`: libcuda and libnvrtc are opened at run time. cudarc
//! panics when a library is missing, so [`Gpu::open`] first asks cudarc whether each library can
//! be opened (`is_culib_present`) and then runs every cudarc call inside `catch_unwind`
//! ([`crate::error::guarded`]): a missing driver, device or compiler, or an old driver without a
//! symbol, is an `Err`, never a panic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits, sys,
};
use hop_core::PnlMatrix;
use hop_core::eval::{Chain, Swap};
use hop_core::exact::{FitnessSpec, Problem};

use crate::batch::{self, Dispatch};
use crate::error::{GpuError, guarded};
use crate::kernels;
use crate::plan::{Plan, Score};

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

/// Counters of what the GPU did, for metrics and the benchmark.
#[derive(Debug, Default)]
pub struct GpuStats {
    launches: AtomicU64,
    gpu_evaluations: AtomicU64,
    cpu_evaluations: AtomicU64,
    kernel_nanos: AtomicU64,
}

/// A copy of [`GpuStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsSnapshot {
    pub launches: u64,
    /// Portfolios and moves scored on the GPU.
    pub gpu_evaluations: u64,
    /// Scored on the CPU by a GPU evaluator (small batches, or after a GPU failure).
    pub cpu_evaluations: u64,
    /// Kernel time measured with CUDA events (summed over streams: concurrent kernels count once
    /// each).
    pub kernel_seconds: f64,
}

impl StatsSnapshot {
    /// The counters since `earlier`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            launches: self.launches - earlier.launches,
            gpu_evaluations: self.gpu_evaluations - earlier.gpu_evaluations,
            cpu_evaluations: self.cpu_evaluations - earlier.cpu_evaluations,
            kernel_seconds: self.kernel_seconds - earlier.kernel_seconds,
        }
    }

    /// Kernel time over `wall_seconds`, clamped to [0, 1]: the busy fraction the service exports
    /// as `hop_gpu_utilization_ratio` (NVML's utilization is not read: cudarc has no NVML here).
    pub fn busy_fraction(&self, wall_seconds: f64) -> f64 {
        if wall_seconds > 0.0 {
            (self.kernel_seconds / wall_seconds).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl GpuStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            launches: self.launches.load(Ordering::Relaxed),
            gpu_evaluations: self.gpu_evaluations.load(Ordering::Relaxed),
            cpu_evaluations: self.cpu_evaluations.load(Ordering::Relaxed),
            kernel_seconds: self.kernel_nanos.load(Ordering::Relaxed) as f64 * 1e-9,
        }
    }

    pub(crate) fn add_cpu(&self, evaluations: usize) {
        self.cpu_evaluations
            .fetch_add(evaluations as u64, Ordering::Relaxed);
    }

    fn add_launch(&self, evaluations: usize, kernel_ms: f32) {
        self.launches.fetch_add(1, Ordering::Relaxed);
        self.gpu_evaluations
            .fetch_add(evaluations as u64, Ordering::Relaxed);
        self.kernel_nanos
            .fetch_add((f64::from(kernel_ms) * 1e6) as u64, Ordering::Relaxed);
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

/// A device buffer that grows on demand (never shrinks).
struct Grow<T> {
    buf: Option<CudaSlice<T>>,
}

impl<T: DeviceRepr + ValidAsZeroBits> Grow<T> {
    fn new() -> Self {
        Self { buf: None }
    }

    /// The buffer, at least `len` long (`len` rounded up to a power of two when it grows).
    fn at_least(
        &mut self,
        stream: &Arc<CudaStream>,
        len: usize,
    ) -> Result<&mut CudaSlice<T>, GpuError> {
        let len = len.max(1);
        if self.buf.as_ref().is_none_or(|b| b.len() < len) {
            self.buf = None;
            let buf = stream
                .alloc_zeros::<T>(len.next_power_of_two())
                .map_err(|e| GpuError::driver("allocating a batch buffer", e))?;
            self.buf = Some(buf);
        }
        Ok(self.buf.as_mut().expect("allocated above"))
    }

    /// Copies `host` to the start of the buffer (grown as needed).
    fn upload(&mut self, stream: &Arc<CudaStream>, host: &[T]) -> Result<&CudaSlice<T>, GpuError> {
        let buf = self.at_least(stream, host.len())?;
        if !host.is_empty() {
            let mut view = buf.slice_mut(0..host.len());
            stream
                .memcpy_htod(host, &mut view)
                .map_err(|e| GpuError::driver("copying a batch to the GPU", e))?;
        }
        Ok(buf)
    }
}

/// One caller's stream and batch buffers; a pool of them lets the algorithms (which run in
/// parallel) launch concurrently.
struct Workspace {
    stream: Arc<CudaStream>,
    members: Grow<u32>,
    out: Grow<f64>,
    accs: Grow<i64>,
    acc_norms: Grow<i64>,
    moves: Grow<u32>,
}

/// A problem uploaded to the device: the `qz` blocks and norms, and the launches that score
/// portfolios against them.
pub struct DeviceProblem<'a> {
    gpu: Arc<Gpu>,
    plan: Plan<'a>,
    qz: CudaSlice<i64>,
    norms: CudaSlice<i64>,
    pool: Mutex<Vec<Workspace>>,
    max_launch: usize,
}

impl std::fmt::Debug for DeviceProblem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceProblem")
            .field("gpu", &self.gpu.info.name)
            .field("n", &self.plan.n())
            .field("t", &self.plan.t())
            .finish()
    }
}

impl<'a> DeviceProblem<'a> {
    /// Derives the plan (refusing a problem whose arithmetic the kernels would not reproduce:
    /// [`Plan::self_check`]) and uploads the quantized matrix.
    pub fn upload(
        gpu: Arc<Gpu>,
        problem: &'a Problem,
        spec: FitnessSpec,
        dispatch: &Dispatch,
    ) -> Result<Self, GpuError> {
        gpu.check_usable()?;
        let plan = Plan::new(problem, spec)?;
        plan.self_check(&plan.safe_check_sizes(), 4)?;
        let qz_host = plan.pack_qz();
        let norms_host = plan.norms();
        let uploaded = guarded("uploading the problem", || {
            let stream = gpu.new_stream()?;
            let qz = stream
                .clone_htod(&qz_host)
                .map_err(|e| GpuError::driver("copying the quantized matrix", e))?;
            let norms = stream
                .clone_htod(&norms_host)
                .map_err(|e| GpuError::driver("copying the norms", e))?;
            stream
                .synchronize()
                .map_err(|e| GpuError::driver("copying the quantized matrix", e))?;
            Ok((qz, norms))
        });
        let (qz, norms) = uploaded.inspect_err(|e| gpu.note_failure(e))?;
        Ok(Self {
            gpu,
            plan,
            qz,
            norms,
            pool: Mutex::new(Vec::new()),
            max_launch: dispatch.max_launch.max(1),
        })
    }

    pub fn plan(&self) -> &Plan<'a> {
        &self.plan
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// Runs `f` with a workspace from the pool (a new one when all are busy).
    fn with_workspace<T>(
        &self,
        during: &str,
        f: impl FnOnce(&mut Workspace) -> Result<T, GpuError>,
    ) -> Result<T, GpuError> {
        self.gpu.check_usable()?;
        let result = guarded(during, || {
            let taken = self.pool.lock().ok().and_then(|mut p| p.pop());
            let mut ws = match taken {
                Some(ws) => ws,
                None => Workspace {
                    stream: self.gpu.new_stream()?,
                    members: Grow::new(),
                    out: Grow::new(),
                    accs: Grow::new(),
                    acc_norms: Grow::new(),
                    moves: Grow::new(),
                },
            };
            let result = f(&mut ws);
            if result.is_ok()
                && let Ok(mut pool) = self.pool.lock()
            {
                pool.push(ws);
            }
            result
        });
        if let Err(e) = &result {
            self.gpu.note_failure(e);
        }
        result
    }

    /// Scores `out.len()` portfolios of `k` members (`members` back to back) on the GPU.
    pub fn evaluate(&self, k: usize, members: &[u32], out: &mut [f64]) -> Result<(), GpuError> {
        let count = out.len();
        batch::check_portfolios(self.plan.n(), k, self.plan.k_room(), members, count)?;
        let score = self.plan.score(k);
        self.with_workspace("scoring portfolios", |ws| {
            for range in batch::launch_ranges(count, self.max_launch) {
                let slice = &members[range.start * k..range.end * k];
                self.launch_portfolios(ws, &score, slice, &mut out[range])?;
            }
            Ok(())
        })
    }

    /// The end of every scoring launch: copies `out.len()` results back, waits for the stream and
    /// accounts the launch; `what` names the copy and the run in errors.
    fn collect(
        &self,
        stream: &Arc<CudaStream>,
        d_out: &CudaSlice<f64>,
        out: &mut [f64],
        events: Option<(cudarc::driver::CudaEvent, cudarc::driver::CudaEvent)>,
        what: (&'static str, &'static str),
    ) -> Result<(), GpuError> {
        let count = out.len();
        stream
            .memcpy_dtoh(&d_out.slice(0..count), out)
            .map_err(|e| GpuError::driver(what.0, e))?;
        stream
            .synchronize()
            .map_err(|e| GpuError::driver(what.1, e))?;
        self.gpu.record_launch(events, count);
        Ok(())
    }

    fn launch_portfolios(
        &self,
        ws: &mut Workspace,
        score: &Score,
        members: &[u32],
        out: &mut [f64],
    ) -> Result<(), GpuError> {
        let count = out.len();
        let count32 = count as u32;
        let stream = ws.stream.clone();
        let d_members = ws.members.upload(&stream, members)?;
        let d_out = ws.out.at_least(&stream, count)?;
        let events = {
            let mut launch = stream.launch_builder(&self.gpu.eval_portfolios);
            launch
                .arg(&self.qz)
                .arg(&self.norms)
                .arg(d_members)
                .arg(&count32)
                .arg(score)
                .arg(&mut *d_out);
            launch.record_kernel_launch(sys::CUevent_flags::CU_EVENT_DEFAULT);
            // SAFETY: `eval_portfolios(const i64* qz, const i64* norms, const unsigned* members,
            // unsigned count, Score sc, double* out)`: qz holds n * 2T values and norms n;
            // members holds count * k indices, each checked < n (`check_portfolios`); out holds
            // at least `count` doubles; sc.t and sc.k are T and k. Warp i < count reads members
            // [i k, (i + 1) k), the qz blocks they name, and writes out[i] only.
            unsafe { launch.launch(eval_config(count)) }
                .map_err(|e| GpuError::driver("launching eval_portfolios", e))?
        };
        self.collect(
            &stream,
            d_out,
            out,
            events,
            ("copying fitness values back", "running eval_portfolios"),
        )
    }

    /// Scores single-swap moves on the GPU (the same bits as `Problem::swap_fitness`).
    pub fn evaluate_swaps(
        &self,
        chains: &[Chain],
        moves: &[Swap],
        out: &mut [f64],
    ) -> Result<(), GpuError> {
        if moves.len() != out.len() {
            return Err(GpuError::Plan(format!(
                "{} moves for {} results",
                moves.len(),
                out.len()
            )));
        }
        let groups = batch::pack_swaps(chains, moves, self.plan.n(), self.plan.t())?;
        for group in &groups {
            if group.k == 0 || group.k > self.plan.k_room() {
                return Err(GpuError::Plan(format!(
                    "chains of {} members are outside the quantization's range",
                    group.k
                )));
            }
        }
        self.with_workspace("scoring swaps", |ws| {
            let mut results = Vec::new();
            for group in &groups {
                let score = self.plan.score(group.k);
                results.clear();
                results.resize(group.len(), 0.0);
                for range in batch::launch_ranges(group.len(), self.max_launch) {
                    let moves = &group.moves[range.start * 3..range.end * 3];
                    self.launch_swaps(ws, &score, group, moves, &mut results[range])?;
                }
                batch::scatter(&group.slots, &results, out);
            }
            Ok(())
        })
    }

    fn launch_swaps(
        &self,
        ws: &mut Workspace,
        score: &Score,
        group: &batch::SwapGroup,
        moves: &[u32],
        out: &mut [f64],
    ) -> Result<(), GpuError> {
        let count = out.len();
        let count32 = count as u32;
        let stream = ws.stream.clone();
        let d_accs = ws.accs.upload(&stream, &group.accs)?;
        let d_acc_norms = ws.acc_norms.upload(&stream, &group.acc_norms)?;
        let d_moves = ws.moves.upload(&stream, moves)?;
        let d_out = ws.out.at_least(&stream, count)?;
        let events = {
            let mut launch = stream.launch_builder(&self.gpu.eval_swaps);
            launch
                .arg(&self.qz)
                .arg(&self.norms)
                .arg(d_accs)
                .arg(d_acc_norms)
                .arg(d_moves)
                .arg(&count32)
                .arg(score)
                .arg(&mut *d_out);
            launch.record_kernel_launch(sys::CUevent_flags::CU_EVENT_DEFAULT);
            // SAFETY: `eval_swaps(qz, norms, accs, acc_norms, moves, count, sc, out)`: accs holds
            // 2T values per packed chain and acc_norms one; moves holds 3 count values whose
            // chain is a packed chain and whose strategies are < n (`pack_swaps` checks both);
            // out holds at least `count` doubles. Warp i < count reads its move, its chain's
            // accumulators and two qz blocks, and writes out[i] only.
            unsafe { launch.launch(eval_config(count)) }
                .map_err(|e| GpuError::driver("launching eval_swaps", e))?
        };
        self.collect(
            &stream,
            d_out,
            out,
            events,
            ("copying swap fitness values back", "running eval_swaps"),
        )
    }

    /// The benchmark's kernel-only measurement: uploads `members` once, then launches
    /// `eval_portfolios` over them `repeats` times back to back and returns the seconds between
    /// the first launch's start and the last one's end (CUDA events) and the wall seconds.
    pub fn time_resident(
        &self,
        k: usize,
        members: &[u32],
        repeats: usize,
    ) -> Result<(f64, f64), GpuError> {
        let count = members.len() / k.max(1);
        batch::check_portfolios(self.plan.n(), k, self.plan.k_room(), members, count)?;
        if count > u32::MAX as usize
            || count.div_ceil(kernels::PORTFOLIOS_PER_BLOCK as usize) > i32::MAX as usize
        {
            return Err(GpuError::Plan("too many portfolios for one launch".into()));
        }
        let score = self.plan.score(k);
        let count32 = count as u32;
        self.with_workspace("timing eval_portfolios", |ws| {
            let stream = ws.stream.clone();
            ws.members.upload(&stream, members)?;
            ws.out.at_least(&stream, count)?;
            let d_members = ws.members.buf.as_ref().expect("uploaded");
            let d_out = ws.out.buf.as_mut().expect("allocated");
            stream
                .synchronize()
                .map_err(|e| GpuError::driver("uploading", e))?;
            let wall = Instant::now();
            let mut first = None;
            let mut last = None;
            for _ in 0..repeats.max(1) {
                let mut launch = stream.launch_builder(&self.gpu.eval_portfolios);
                launch
                    .arg(&self.qz)
                    .arg(&self.norms)
                    .arg(d_members)
                    .arg(&count32)
                    .arg(&score)
                    .arg(&mut *d_out);
                launch.record_kernel_launch(sys::CUevent_flags::CU_EVENT_DEFAULT);
                // SAFETY: as in `launch_portfolios`: members were checked < n, `count` matches
                // the uploaded members and the output buffer holds at least `count` doubles.
                let events = unsafe { launch.launch(eval_config(count)) }
                    .map_err(|e| GpuError::driver("launching eval_portfolios", e))?;
                if let Some((start, end)) = events {
                    if first.is_none() {
                        first = Some(start);
                    }
                    last = Some(end);
                }
            }
            stream
                .synchronize()
                .map_err(|e| GpuError::driver("running eval_portfolios", e))?;
            let wall = wall.elapsed().as_secs_f64();
            let kernel = match (first, last) {
                (Some(first), Some(last)) => first
                    .elapsed_ms(&last)
                    .map_err(|e| GpuError::driver("reading the timing events", e))?,
                _ => 0.0,
            };
            self.gpu.stats.add_launch(count * repeats.max(1), kernel);
            Ok((f64::from(kernel) * 1e-3, wall))
        })
    }
}

/// The launch shape of the two evaluation kernels for `count` portfolios or moves.
fn eval_config(count: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (batch::eval_blocks(count), 1, 1),
        block_dim: (kernels::EVAL_BLOCK_THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_busy_fraction() {
        let stats = GpuStats::default();
        let before = stats.snapshot();
        stats.add_launch(1000, 2.5);
        stats.add_cpu(16);
        let delta = stats.snapshot().since(&before);
        assert_eq!(delta.launches, 1);
        assert_eq!(delta.gpu_evaluations, 1000);
        assert_eq!(delta.cpu_evaluations, 16);
        assert!((delta.kernel_seconds - 0.0025).abs() < 1e-9);
        assert!((delta.busy_fraction(0.01) - 0.25).abs() < 1e-9);
        assert_eq!(delta.busy_fraction(0.0), 0.0);
        assert_eq!(delta.busy_fraction(0.001), 1.0, "clamped");
    }

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

    #[test]
    fn launch_shape() {
        let cfg = eval_config(10);
        assert_eq!(cfg.grid_dim, (3, 1, 1));
        assert_eq!(cfg.block_dim, (128, 1, 1));
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
