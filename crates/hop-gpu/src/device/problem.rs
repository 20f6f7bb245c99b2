//! A problem uploaded to the device, the per-caller workspaces, and the launches.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use cudarc::driver::{
    CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits, sys,
};
use hop_core::eval::{Chain, Swap};
use hop_core::fitness::{FitnessSpec, Problem};

use crate::batch::{self, Dispatch};
use crate::error::{GpuError, guarded};
use crate::kernels;
use crate::plan::{Plan, Score};

use super::Gpu;

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
    fn launch_shape() {
        let cfg = eval_config(10);
        assert_eq!(cfg.grid_dim, (3, 1, 1));
        assert_eq!(cfg.block_dim, (128, 1, 1));
    }
}
