//! [`GpuEvaluator`]: hop-core's [`Evaluator`] on the GPU, with the CPU reference for small batches.
//!
//! Routing ([`Dispatch`]): a batch at or above the thresholds goes to the GPU, a smaller one to
//! hop-core's `CpuEvaluator` — the same bits either way (both are exact replays of
//! `Problem::fitness`), so the routing changes only the speed, never a result. The search's
//! batches are small (SA scores 16 swaps per step, HC 4, GA 64 children, RS 256 portfolios): a
//! GPU round trip of tens of microseconds would cost more than the CPU's microsecond per
//! portfolio, so by default only large batches (`evaluate` >= 256 portfolios, `evaluate_swaps` >=
//! 1024 moves) are sent. For the GPU to be busy, the algorithms must submit larger batches (more
//! chains and proposals per step); the evaluator is ready for them.
//!
//! `evaluate_near`'s parent hint is ignored on the GPU (a full evaluation gives the same bits by
//! exactness); on the CPU path it keeps hop-core's incremental derivation.
//!
//! A failed launch or copy never reaches the search: the batch is scored on the CPU, the GPU is
//! marked broken ([`Gpu::failure`]) and every later batch of the job runs on the CPU.

use std::sync::Arc;

use hop_core::eval::{Chain, CpuEvaluator, Evaluator, Swap};
use hop_core::fitness::{FitnessSpec, Problem};

use crate::batch::Dispatch;
use crate::device::{DeviceProblem, Gpu, StatsSnapshot};
use crate::error::GpuError;

/// The GPU evaluator of one job.
#[derive(Debug)]
pub struct GpuEvaluator<'a> {
    device: DeviceProblem<'a>,
    cpu: CpuEvaluator<'a>,
    dispatch: Dispatch,
    started: StatsSnapshot,
}

impl<'a> GpuEvaluator<'a> {
    /// Uploads `problem` (built with `spec`) to `gpu`, with the routing of
    /// [`Dispatch::from_env`].
    pub fn new(gpu: Arc<Gpu>, problem: &'a Problem, spec: FitnessSpec) -> Result<Self, GpuError> {
        Self::with_dispatch(gpu, problem, spec, Dispatch::from_env())
    }

    pub fn with_dispatch(
        gpu: Arc<Gpu>,
        problem: &'a Problem,
        spec: FitnessSpec,
        dispatch: Dispatch,
    ) -> Result<Self, GpuError> {
        let started = gpu.stats().snapshot();
        let device = DeviceProblem::upload(gpu, problem, spec, &dispatch)?;
        Ok(Self {
            device,
            cpu: CpuEvaluator::new(problem),
            dispatch,
            started,
        })
    }

    pub fn device(&self) -> &DeviceProblem<'a> {
        &self.device
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        self.device.gpu()
    }

    pub fn dispatch(&self) -> Dispatch {
        self.dispatch
    }

    /// What the device did since this evaluator was made (all evaluators of the process share the
    /// counters: with jobs running concurrently this includes theirs).
    pub fn stats(&self) -> StatsSnapshot {
        self.gpu().stats().snapshot().since(&self.started)
    }

    /// Scores a batch of `count` evaluations with `launch` when it is `wanted` on the GPU and the
    /// device has not failed; `false` (the batch counted as CPU work) when the caller must score
    /// it on the CPU: too small, the device failed earlier, or this launch failed.
    fn scored_on_gpu(
        &self,
        wanted: bool,
        count: usize,
        launch: impl FnOnce() -> Result<(), GpuError>,
    ) -> bool {
        if wanted && self.gpu().failure().is_none() {
            match launch() {
                Ok(()) => return true,
                // A failure is logged once per device by `Gpu`; a refused plan only here.
                Err(e @ GpuError::Plan(_)) => {
                    tracing::debug!(error = %e, "batch refused by the GPU path; scored on the CPU");
                }
                Err(_) => {}
            }
        }
        self.gpu().stats().add_cpu(count);
        false
    }
}

impl Evaluator for GpuEvaluator<'_> {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn problem(&self) -> &Problem {
        self.device.plan().problem()
    }

    fn evaluate(&self, k: usize, members: &[u32], out: &mut [f64]) {
        let count = out.len();
        let wanted = self.dispatch.portfolios_on_gpu(count);
        if !self.scored_on_gpu(wanted, count, || self.device.evaluate(k, members, out)) {
            self.cpu.evaluate(k, members, out);
        }
    }

    fn evaluate_swaps(&self, chains: &[Chain], moves: &[Swap], out: &mut [f64]) {
        let wanted = self.dispatch.swaps_on_gpu(moves.len());
        if !self.scored_on_gpu(wanted, moves.len(), || {
            self.device.evaluate_swaps(chains, moves, out)
        }) {
            self.cpu.evaluate_swaps(chains, moves, out);
        }
    }

    fn evaluate_near(
        &self,
        k: usize,
        members: &[u32],
        chains: &[Chain],
        parents: &[u32],
        out: &mut [f64],
    ) {
        let count = out.len();
        let wanted = self.dispatch.portfolios_on_gpu(count);
        if !self.scored_on_gpu(wanted, count, || self.device.evaluate(k, members, out)) {
            self.cpu.evaluate_near(k, members, chains, parents, out);
        }
    }
}
