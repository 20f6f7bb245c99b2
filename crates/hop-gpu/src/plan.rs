//! What the kernels need from a [`Problem`], derived through hop-core's public API only.
//!
//! hop-core keeps its quantization shifts private. The plan recovers the two constants the day
//! loop uses without guessing hop-core's formulas:
//! - the day factor `c(k)` (quantized day sum -> p[t]) is `Problem::daily` of a one-day sum of 1:
//!   `1 as f64 * c` is `c` exactly, for the job's aggregation and any `k`;
//! - `zc = 2^-zshift` from a member norm: a non-constant column's quantized squared norm is
//!   `round(|z|^2 * 2^zshift)` with `|z|^2 = 1` within 1e-15, so its nearest power of two is
//!   `2^zshift` (an all-constant matrix has only zero `z` and zero norms, and any `zc` gives 0).
//!
//! [`Plan::self_check`] then scores a few portfolios with the kernels' CPU replay
//! ([`crate::reference`]) and compares the bits with [`Problem::fitness`]: if a future hop-core
//! changes its arithmetic, the GPU evaluator refuses to start instead of returning other bits.

use hop_core::fitness::{Accum, FitnessSpec, Problem};
use hop_core::metrics::MDD_EPSILON;
use hop_core::rng::Rng;
use hop_core::{Metric, PnlMatrix};

use crate::error::GpuError;

/// The launch-uniform scoring constants; the `Score` struct of `kernels.cu` (same field order,
/// 64 bytes, C layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub c: f64,
    pub zc: f64,
    pub days: f64,
    pub pairs: f64,
    pub weight: f64,
    pub mdd_epsilon: f64,
    pub t: i32,
    pub k: i32,
    pub metric: i32,
    pub penalized: i32,
}

// SAFETY: `Score` is `#[repr(C)]`, made of `f64` and `i32` only (no padding, no pointers), and
// matches `struct Score` in kernels.cu field for field; it is passed by value as a kernel argument.
unsafe impl cudarc::driver::DeviceRepr for Score {}

impl Score {
    /// Whether the day loop counts wins and losses (the metrics that need them).
    pub fn counts(&self) -> bool {
        self.metric >= 3
    }
}

/// The metric's code in kernels.cu, or `None` for a metric the kernels do not compute (the robust
/// `ratio floor` and `cdar`: their jobs are scored by the CPU evaluator, which gives the same bits
/// on every engine).
pub fn metric_code(metric: Metric) -> Option<i32> {
    match metric {
        Metric::Ratio => Some(0),
        Metric::Roi => Some(1),
        Metric::LessMaxDd => Some(2),
        Metric::WinPercentage => Some(3),
        Metric::ProfitFactor => Some(4),
        Metric::Expectancy => Some(5),
        Metric::RatioFloor | Metric::Cdar => None,
    }
}

/// A problem as the kernels see it.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    problem: &'a Problem,
    spec: FitnessSpec,
    zc: f64,
    /// The most members whose sums cannot overflow (a power of two, at least the job's k).
    k_room: usize,
}

/// `2^e` as an exact `f64` for `|e| < 1000`.
fn pow2(e: i32) -> f64 {
    hop_core::fitness::pow2(e)
}

impl<'a> Plan<'a> {
    /// Derives the constants (see the module docs). `spec` must be the one the problem was built
    /// with ([`Plan::self_check`] catches a mismatch).
    pub fn new(problem: &'a Problem, spec: FitnessSpec) -> Result<Self, GpuError> {
        let n = problem.n_strategies();
        let t = problem.n_days();
        if metric_code(spec.metric).is_none() {
            return Err(GpuError::Plan(format!(
                "the metric {:?} has no GPU kernel",
                spec.metric.as_str()
            )));
        }
        if n == 0 || t == 0 {
            return Err(GpuError::Plan("an empty problem".into()));
        }
        if n > u32::MAX as usize || t > (i32::MAX as usize) / 2 {
            return Err(GpuError::Plan(format!(
                "{n} strategies x {t} days is beyond the kernels' index range"
            )));
        }
        let zshift = (0..n)
            .map(|j| problem.norm(j))
            .find(|&norm| norm > 0)
            .map(|norm| {
                // round(log2(norm)): norm is within 1e-15 of a power of two.
                let norm = norm as u128;
                (norm + norm / 2).ilog2() as i32
            });
        let (zc, k_room) = match zshift {
            Some(zshift) => {
                // Sums of up to 2^(61 - zshift - 1 + 1) = 2^(60 - zshift) members stay below 2^62
                // for z (|z| <= 2^zshift) and, by hop-core's header room, for q.
                let room_bits = (60 - zshift).clamp(0, 30);
                (pow2(-zshift), 1usize << room_bits)
            }
            // No z at all: any zc gives 0; the q room is still hop-core's to enforce.
            None => (1.0, usize::MAX),
        };
        Ok(Self {
            problem,
            spec,
            zc,
            k_room,
        })
    }

    pub fn problem(&self) -> &'a Problem {
        self.problem
    }

    pub fn spec(&self) -> FitnessSpec {
        self.spec
    }

    pub fn n(&self) -> usize {
        self.problem.n_strategies()
    }

    pub fn t(&self) -> usize {
        self.problem.n_days()
    }

    /// `2^-zshift`.
    pub fn zc(&self) -> f64 {
        self.zc
    }

    /// The most members per portfolio whose integer sums are safe.
    pub fn k_room(&self) -> usize {
        self.k_room
    }

    /// `Problem::day_factor(k)`, read back through `Problem::daily`.
    pub fn day_factor(&self, k: usize) -> f64 {
        let one = Accum {
            s: vec![1],
            z: vec![0],
            norm: 0,
        };
        self.problem.daily(&one, k)[0]
    }

    /// The scoring constants for portfolios of `k` members.
    pub fn score(&self, k: usize) -> Score {
        assert!(k >= 1, "a portfolio has at least one member");
        Score {
            c: self.day_factor(k),
            zc: self.zc,
            days: self.t() as f64,
            pairs: (k * k.saturating_sub(1) / 2) as f64,
            weight: self.spec.penalty_weight,
            mdd_epsilon: MDD_EPSILON,
            t: self.t() as i32,
            k: k as i32,
            metric: metric_code(self.spec.metric).expect("checked by Plan::new"),
            penalized: i32::from(self.spec.penalty_weight != 0.0 && k >= 2),
        }
    }

    /// The `qz` buffer the kernels read: per strategy, its `q` then its `z` (hop-core's own
    /// layout, rebuilt from `Problem::q` and `Problem::z`).
    pub fn pack_qz(&self) -> Vec<i64> {
        let mut qz = Vec::with_capacity(self.n() * 2 * self.t());
        for j in 0..self.n() {
            qz.extend_from_slice(self.problem.q(j));
            qz.extend_from_slice(self.problem.z(j));
        }
        qz
    }

    /// Every strategy's norm.
    pub fn norms(&self) -> Vec<i64> {
        (0..self.n()).map(|j| self.problem.norm(j)).collect()
    }

    /// Portfolio sizes that hop-core's `Problem::accumulate` accepts whatever its (private)
    /// `k_cap` is: `k_cap > k_room / 2` since `k_room` is `k_cap` rounded up to a power of two.
    pub fn safe_check_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![1];
        if self.k_room != usize::MAX {
            if self.k_room >= 2 {
                sizes.push(2);
            }
            if self.k_room >= 4 {
                sizes.push(self.k_room / 2 + 1);
            }
        }
        sizes.retain(|&k| k <= self.n());
        sizes
    }

    /// Scores `samples` random portfolios of each size in `sizes` (and the swaps between them) with
    /// the CPU replay of the kernels and compares the bits with hop-core.
    pub fn self_check(&self, sizes: &[usize], samples: usize) -> Result<(), GpuError> {
        let n = self.n();
        let mut rng = Rng::new(0x6E0, 0x5E1F);
        let mut acc = Accum::new(self.t());
        for &k in sizes.iter().filter(|&&k| k >= 1 && k <= n.min(self.k_room)) {
            for _ in 0..samples {
                let members = random_portfolio(&mut rng, n, k);
                self.problem.accumulate(&members, &mut acc);
                let want = self.problem.fitness(&acc, k);
                let got = crate::reference::portfolio_fitness(self, &members);
                if got.to_bits() != want.to_bits() {
                    return Err(GpuError::Plan(format!(
                        "the kernels' arithmetic does not reproduce hop-core's fitness \
                         (k = {k}: {got:e} vs {want:e}); was hop-core's quantization changed, \
                         or the job's options not those of the problem?"
                    )));
                }
                if k < n {
                    let out_pos = rng.below(k);
                    let incoming = loop {
                        let j = rng.below(n) as u32;
                        if !members.contains(&j) {
                            break j;
                        }
                    };
                    let want = self.problem.swap_fitness(
                        &acc,
                        k,
                        members[out_pos] as usize,
                        incoming as usize,
                    );
                    let got =
                        crate::reference::swap_fitness(self, &acc, k, members[out_pos], incoming);
                    if got.to_bits() != want.to_bits() {
                        return Err(GpuError::Plan(format!(
                            "the swap kernel's arithmetic does not reproduce hop-core's \
                             (k = {k}: {got:e} vs {want:e})"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// `k` distinct random strategies of `n` (sorted: the order does not matter to the fitness).
pub fn random_portfolio(rng: &mut Rng, n: usize, k: usize) -> Vec<u32> {
    assert!(k <= n, "{k} members of {n} strategies");
    let mut members: Vec<u32> = Vec::with_capacity(k);
    if k * 2 > n {
        // Dense: a partial shuffle.
        let mut all: Vec<u32> = (0..n as u32).collect();
        for i in 0..k {
            let j = i + rng.below(n - i);
            all.swap(i, j);
        }
        members.extend_from_slice(&all[..k]);
    } else {
        while members.len() < k {
            let j = rng.below(n) as u32;
            if !members.contains(&j) {
                members.push(j);
            }
        }
    }
    members.sort_unstable();
    members
}

/// The matrix values for the metrics kernel (strategy-major, as stored).
pub fn metrics_input(matrix: &PnlMatrix) -> Result<(&[f64], u32, i32), GpuError> {
    let n = u32::try_from(matrix.n_strategies())
        .map_err(|_| GpuError::Plan("too many strategies for the metrics kernel".into()))?;
    let t = i32::try_from(matrix.n_days())
        .map_err(|_| GpuError::Plan("too many days for the metrics kernel".into()))?;
    Ok((matrix.values(), n, t))
}

#[cfg(test)]
mod tests {
    use hop_core::{Aggregation, JobOptions};

    use super::*;

    fn problem(spec: FitnessSpec, k_cap: usize) -> Problem {
        let matrix = hop_core::fixtures::matrix("sensex_2500x82.csv");
        Problem::new(&matrix, spec, k_cap).unwrap()
    }

    #[test]
    fn score_matches_the_kernel_struct() {
        assert_eq!(std::mem::size_of::<Score>(), 64);
        assert_eq!(std::mem::align_of::<Score>(), 8);
    }

    #[test]
    fn derived_constants() {
        let spec = FitnessSpec::from(&JobOptions::with_size(35));
        let p = problem(spec, 35);
        let plan = Plan::new(&p, spec).unwrap();
        // hop-core today: zshift = 61 - ceil_log2(35) - 1 = 54.
        assert_eq!(plan.zc(), pow2(-54));
        assert_eq!(plan.k_room(), 64);
        let c1 = plan.day_factor(1);
        assert_eq!(c1.to_bits() & ((1 << 52) - 1), 0, "c(1) is a power of two");
        assert_eq!(plan.day_factor(35), c1 / 35.0);
        let s = plan.score(35);
        assert_eq!((s.t, s.k, s.metric, s.penalized), (82, 35, 0, 1));
        assert_eq!(s.pairs, 595.0);
        assert_eq!(plan.score(1).penalized, 0);

        let sum = FitnessSpec {
            aggregation: Aggregation::Sum,
            penalty_weight: 0.0,
            ..spec
        };
        let p = problem(sum, 100);
        let plan = Plan::new(&p, sum).unwrap();
        assert_eq!(plan.day_factor(35), plan.day_factor(1));
        assert_eq!(plan.score(35).penalized, 0);
        assert_eq!(plan.k_room(), 128);
    }

    #[test]
    fn packed_layout_is_hop_cores() {
        let spec = FitnessSpec::from(&JobOptions::with_size(10));
        let p = problem(spec, 10);
        let plan = Plan::new(&p, spec).unwrap();
        let qz = plan.pack_qz();
        let t = p.n_days();
        assert_eq!(qz.len(), p.n_strategies() * 2 * t);
        for j in [0, 1, 1234, p.n_strategies() - 1] {
            assert_eq!(&qz[j * 2 * t..j * 2 * t + t], p.q(j));
            assert_eq!(&qz[j * 2 * t + t..(j + 1) * 2 * t], p.z(j));
        }
        assert_eq!(plan.norms()[7], p.norm(7));
    }

    #[test]
    fn self_check_passes_and_catches_a_wrong_spec() {
        let spec = FitnessSpec::from(&JobOptions::with_size(35));
        let p = problem(spec, 35);
        let plan = Plan::new(&p, spec).unwrap();
        assert_eq!(plan.safe_check_sizes(), [1, 2, 33]);
        plan.self_check(&[1, 2, 10, 35], 8).unwrap();
        plan.self_check(&plan.safe_check_sizes(), 8).unwrap();
        let wrong = FitnessSpec {
            metric: Metric::Roi,
            ..spec
        };
        let err = Plan::new(&p, wrong)
            .unwrap()
            .self_check(&[35], 4)
            .unwrap_err();
        assert!(err.to_string().contains("does not reproduce"), "{err}");
        let robust = FitnessSpec {
            metric: Metric::Cdar,
            ..spec
        };
        let err = Plan::new(&p, robust).unwrap_err();
        assert!(
            err.to_string().contains("\"cdar\" has no GPU kernel"),
            "{err}"
        );
    }

    #[test]
    fn random_portfolios_are_distinct_and_in_range() {
        let mut rng = Rng::new(1, 2);
        for (n, k) in [(10, 10), (10, 3), (2500, 35), (40, 35)] {
            let m = random_portfolio(&mut rng, n, k);
            assert_eq!(m.len(), k);
            assert!(m.windows(2).all(|w| w[0] < w[1]));
            assert!(m.iter().all(|&j| (j as usize) < n));
        }
    }
}
