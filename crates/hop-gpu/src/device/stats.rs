//! Counters of what the GPU did, shared by every evaluator of the process.

use std::sync::atomic::{AtomicU64, Ordering};

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

    pub(super) fn add_launch(&self, evaluations: usize, kernel_ms: f32) {
        self.launches.fetch_add(1, Ordering::Relaxed);
        self.gpu_evaluations
            .fetch_add(evaluations as u64, Ordering::Relaxed);
        self.kernel_nanos
            .fetch_add((f64::from(kernel_ms) * 1e6) as u64, Ordering::Relaxed);
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
}
