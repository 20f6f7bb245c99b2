//! The GPU evaluator of the green engine (SPEC 2.3, 2.4, 7).
//!
//! hop-core's fitness is exact up to the day loop: a portfolio's per-day sums are integer sums of
//! quantized values (any order, same bits), and the day loop is one fixed sequence of IEEE
//! operations without fused multiply-add. The kernels here ([`kernels`], `kernels.cu`) do the
//! integer sums in parallel (one warp per portfolio) and replay the day loop on one thread,
//! operation for operation, compiled by NVRTC with `--fmad=false`; the per-strategy metrics kernel
//! replays `hop_core::metrics` the same way. So the GPU returns the CPU's bits, and a job gives the
//! same result on either engine.
//!
//! - [`Gpu`]: probe and open a device ([`Gpu::probe`], [`Gpu::open`]); a missing driver, device or
//!   NVRTC is a [`GpuError`], never a panic. [`Gpu::strategy_metrics`] computes the per-strategy
//!   metrics of a matrix.
//! - [`GpuEvaluator`]: `hop_core::eval::Evaluator` for `hop_core::run::run_search`.
//! - [`plan`], [`batch`], [`reference`](crate::reference): what the kernels are given, how batches are packed and
//!   routed, and a CPU replay of the kernels' arithmetic — all tested without a GPU.
//!
//! The crate allows `unsafe` (the workspace forbids it) for the cudarc kernel launches and two FFI
//! version queries only; each block says why it is sound.

pub mod batch;
pub mod device;
pub mod error;
pub mod evaluator;
pub mod kernels;
pub mod plan;
pub mod reference;

pub use batch::Dispatch;
pub use device::{
    DeviceProblem, Gpu, GpuInfo, GpuStats, StatsSnapshot, compile_ptx, nvrtc_version,
};
pub use error::GpuError;
pub use evaluator::GpuEvaluator;
