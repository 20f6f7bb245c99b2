//! The exact, order-independent fitness (SPEC 2.3 and 2.4).
//!
//! Every cross-strategy sum is an integer sum. Each daily P&L value is quantized once to a fixed
//! point `q = round(r * 2^vshift)` (an `i64`), and each standardized column `z` (the unit-norm,
//! zero-mean column used for Pearson correlation) to `round(z * 2^zshift)`. The shifts are chosen
//! from the data so that the sum of any `k_cap` members cannot overflow, and the quantization step
//! is far below the 1e-12 the references need (about 1e-11 of a currency unit per value for the
//! production data, 6e-17 for `z`). Integer sums are exact and associative, so a portfolio's
//! accumulators are the same bits whether built from scratch, updated by a single swap, or reduced
//! on a GPU in any order. Everything after that — the day-by-day equity, drawdown and the
//! correlation norm — is a fixed sequential sequence of IEEE operations without fused
//! multiply-add, which the GPU kernels replay operation for operation.
//!
//! The correlation penalty uses the identity
//! `sum over pairs i<j of <z_i, z_j> = (|sum_j z_j|^2 - sum_j |z_j|^2) / 2`,
//! so a portfolio needs only the per-day sum of its `z` columns and the sum of its members' norms:
//! O(T) per single-swap update instead of O(k T).

use rayon::prelude::*;

use crate::error::CoreError;
use crate::matrix::PnlMatrix;
use crate::metrics::{MDD_EPSILON, WorstValues, cdar_days, floored_ratio, ratio};
use crate::types::{Aggregation, JobOptions, Metric};

/// What the fitness is made of (the job options that change a portfolio's fitness).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitnessSpec {
    pub metric: Metric,
    pub penalty_weight: f64,
    pub aggregation: Aggregation,
}

impl From<&JobOptions> for FitnessSpec {
    fn from(o: &JobOptions) -> Self {
        Self {
            metric: o.metric,
            penalty_weight: o.penalty_weight,
            aggregation: o.aggregation,
        }
    }
}

/// The quantized matrix and everything needed to score portfolios exactly.
#[derive(Debug, Clone)]
pub struct Problem {
    n: usize,
    t: usize,
    /// Per strategy, its quantized P&L (scale `2^-vshift`) then its quantized standardized column
    /// (scale `2^-zshift`): one contiguous block of `2 T` values, so that reading a strategy is
    /// one memory stream.
    qz: Vec<i64>,
    /// Quantized squared norm of each quantized `z` column, scale `2^-zshift`.
    norm: Vec<i64>,
    vshift: i32,
    zshift: i32,
    k_cap: usize,
    spec: FitnessSpec,
    singles: std::sync::OnceLock<Vec<f64>>,
    singles_order: std::sync::OnceLock<Vec<u32>>,
}

/// `2^e` as an exact `f64` (for |e| < 1000).
pub fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}

/// Smallest `b` with `2^b >= n`.
fn ceil_log2(n: usize) -> i32 {
    n.next_power_of_two().trailing_zeros() as i32
}

/// Smallest `e` with `|x| < 2^e` for every value (0 when all are zero).
fn magnitude_exponent(values: &[f64]) -> i32 {
    let max = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if max == 0.0 {
        return 0;
    }
    let mut e = (max.log2().floor() as i32) + 1;
    while pow2(e - 1) > max {
        e -= 1;
    }
    while pow2(e) <= max {
        e += 1;
    }
    e
}

/// Writes the quantized standardized column (zero mean, unit norm, times `zscale`) of `col` into
/// `z` and returns its quantized squared norm. A constant column stays all zero: it correlates 0
/// with everything.
fn standardize(col: &[f64], zscale: f64, z: &mut [i64]) -> i64 {
    if col.iter().all(|&v| v == col[0]) {
        return 0;
    }
    let mean = col.iter().sum::<f64>() / col.len() as f64;
    let sd = col
        .iter()
        .fold(0.0, |acc, &v| acc + (v - mean) * (v - mean))
        .sqrt();
    let mut n2 = 0.0;
    for (o, &v) in z.iter_mut().zip(col) {
        *o = ((v - mean) / sd * zscale).round() as i64;
        let zf = *o as f64 / zscale;
        n2 += zf * zf;
    }
    (n2 * zscale).round() as i64
}

/// Header room: sums of up to `k_cap` values stay below `2^61`.
const SUM_BITS: i32 = 61;

impl Problem {
    /// Quantizes `matrix` for portfolios of at most `k_cap` members.
    pub fn new(matrix: &PnlMatrix, spec: FitnessSpec, k_cap: usize) -> Result<Self, CoreError> {
        let (n, t) = (matrix.n_strategies(), matrix.n_days());
        if k_cap == 0 || k_cap > n {
            return Err(CoreError::Options(format!(
                "portfolio size {k_cap} does not fit {n} strategies"
            )));
        }
        if matrix.values().iter().any(|v| !v.is_finite()) {
            return Err(CoreError::Shape(
                "the matrix holds a non-finite value".into(),
            ));
        }
        let room = SUM_BITS - ceil_log2(k_cap);
        let vshift = (room - magnitude_exponent(matrix.values())).clamp(-900, 900);
        let zshift = room - 1;
        let vscale = pow2(vshift);
        let zscale = pow2(zshift);
        let mut qz = vec![0i64; n * 2 * t];
        let mut norm = vec![0i64; n];
        qz.par_chunks_mut(2 * t)
            .zip(norm.par_iter_mut())
            .enumerate()
            .with_min_len(64)
            .for_each(|(j, (block, norm))| {
                let col = matrix.column(j);
                let (q, z) = block.split_at_mut(t);
                for (q, &v) in q.iter_mut().zip(col) {
                    *q = (v * vscale).round() as i64;
                }
                *norm = standardize(col, zscale, z);
            });
        Ok(Self {
            n,
            t,
            qz,
            norm,
            vshift,
            zshift,
            k_cap,
            spec,
            singles: Default::default(),
            singles_order: Default::default(),
        })
    }

    pub fn n_strategies(&self) -> usize {
        self.n
    }

    pub fn n_days(&self) -> usize {
        self.t
    }

    /// Quantized P&L of strategy `j`.
    pub fn q(&self, j: usize) -> &[i64] {
        &self.qz[j * 2 * self.t..(j * 2 + 1) * self.t]
    }

    /// Quantized standardized column of strategy `j`.
    pub fn z(&self, j: usize) -> &[i64] {
        &self.qz[(j * 2 + 1) * self.t..(j + 1) * 2 * self.t]
    }

    pub fn norm(&self, j: usize) -> i64 {
        self.norm[j]
    }

    /// Each strategy's fitness on its own (a portfolio of one): the heuristic information that
    /// ACO and BO start from. Computed once, the same on every engine, and not counted as
    /// portfolio evaluations.
    pub fn singleton_fitness(&self) -> &[f64] {
        self.singles.get_or_init(|| {
            (0..self.n as u32)
                .into_par_iter()
                .with_min_len(256)
                .map_init(
                    || Accum::new(self.t),
                    |acc, j| {
                        self.accumulate(&[j], acc);
                        self.fitness(acc, 1)
                    },
                )
                .collect()
        })
    }

    /// Strategies ordered by [`Problem::singleton_fitness`], best first (ties by index).
    pub fn singleton_order(&self) -> &[u32] {
        self.singles_order.get_or_init(|| {
            let singles = self.singleton_fitness();
            let mut order: Vec<u32> = (0..self.n as u32).collect();
            order.sort_by(|&a, &b| singles[b as usize].total_cmp(&singles[a as usize]));
            order
        })
    }

    /// Reads one value per cache line of each strategy's block: independent loads that the CPU
    /// overlaps, so the arithmetic that follows finds the rows in cache. Reading the rows one
    /// after another instead leaves a matrix larger than the cache bound by memory latency.
    pub fn touch(&self, strategies: &[u32]) {
        let stride = 2 * self.t;
        let mut touched = 0i64;
        for &j in strategies {
            let block = &self.qz[j as usize * stride..(j as usize + 1) * stride];
            touched ^= block.iter().step_by(8).fold(0, |a, &v| a ^ v);
        }
        std::hint::black_box(touched);
    }

    /// Builds the accumulators of a portfolio from scratch.
    pub fn accumulate(&self, members: &[u32], acc: &mut Accum) {
        assert!(
            members.len() <= self.k_cap,
            "more members than the quantization allows"
        );
        self.touch(members);
        acc.reset(self.t);
        for &j in members {
            acc.add(self, j as usize);
        }
    }

    /// The multiplier turning a quantized day sum into p[t].
    fn day_factor(&self, k: usize) -> f64 {
        match self.spec.aggregation {
            Aggregation::Mean => pow2(-self.vshift) / k as f64,
            Aggregation::Sum => pow2(-self.vshift),
        }
    }

    /// The portfolio's daily series p[t] from its accumulators.
    pub fn daily(&self, acc: &Accum, k: usize) -> Vec<f64> {
        let c = self.day_factor(k);
        acc.s.iter().map(|&s| s as f64 * c).collect()
    }

    /// Fitness from accumulators.
    pub fn fitness(&self, acc: &Accum, k: usize) -> f64 {
        self.score(
            k,
            acc.norm,
            acc.s.iter().copied().zip(acc.z.iter().copied()),
        )
    }

    /// Fitness of `acc` with member `out` replaced by `incoming`, without changing `acc`.
    #[inline]
    pub fn swap_fitness(&self, acc: &Accum, k: usize, out: usize, incoming: usize) -> f64 {
        let (qo, qi) = (self.q(out), self.q(incoming));
        let (zo, zi) = (self.z(out), self.z(incoming));
        let norm = acc.norm - self.norm[out] + self.norm[incoming];
        let days = (acc.s.iter().zip(&acc.z))
            .zip(qo.iter().zip(qi))
            .zip(zo.iter().zip(zi))
            .map(|(((s, z), (qo, qi)), (zo, zi))| (s - qo + qi, z - zo + zi));
        self.score(k, norm, days)
    }

    /// The canonical scoring sequence. `days` yields the quantized (P&L sum, z sum) per day.
    #[inline(always)]
    fn score(&self, k: usize, norm: i64, days: impl Iterator<Item = (i64, i64)>) -> f64 {
        let penalized = self.spec.penalty_weight != 0.0 && k >= 2;
        match (DayLoop::of(self.spec.metric), penalized) {
            (DayLoop::Plain, true) => self.score_with::<PLAIN, true>(k, norm, days),
            (DayLoop::Plain, false) => self.score_with::<PLAIN, false>(k, norm, days),
            (DayLoop::Counts, true) => self.score_with::<COUNTS, true>(k, norm, days),
            (DayLoop::Counts, false) => self.score_with::<COUNTS, false>(k, norm, days),
            (DayLoop::Tail, true) => self.score_with::<TAIL, true>(k, norm, days),
            (DayLoop::Tail, false) => self.score_with::<TAIL, false>(k, norm, days),
        }
    }

    /// The day loop, specialised on what the metric needs beyond equity and drawdown (`MODE`:
    /// win/loss counts and sums, plus the worst daily drawdowns for CDaR) and on whether the
    /// correlation penalty applies (branch-free inside: a day's sign is unpredictable).
    #[inline(always)]
    fn score_with<const MODE: u8, const PENALTY: bool>(
        &self,
        k: usize,
        norm: i64,
        days: impl Iterator<Item = (i64, i64)>,
    ) -> f64 {
        let c = self.day_factor(k);
        let zc = pow2(-self.zshift);
        let mut equity = 0.0;
        let mut peak = f64::NEG_INFINITY;
        let mut mdd = 0.0;
        let mut zz = 0.0;
        let (mut wins, mut losing) = (0u32, 0u32);
        let (mut gains, mut negative) = (0.0, 0.0);
        let mut tail = (MODE == TAIL).then(|| WorstValues::new(cdar_days(self.t)));
        for (s, z) in days {
            let p = s as f64 * c;
            equity += p;
            peak = max(peak, equity);
            mdd = max(mdd, peak - equity);
            if PENALTY {
                let zf = z as f64 * zc;
                zz += zf * zf;
            }
            if MODE >= COUNTS {
                wins += u32::from(p > 0.0);
                losing += u32::from(p < 0.0);
                gains += if p > 0.0 { p } else { 0.0 };
                negative += if p < 0.0 { p } else { 0.0 };
            }
            if MODE == TAIL
                && let Some(tail) = tail.as_mut()
            {
                tail.offer(peak - equity);
            }
        }
        let days = self.t as f64;
        // One average day's move, the robust metrics' floor under the risk measure.
        let mean_move = || (gains - negative) / days;
        let base = match self.spec.metric {
            Metric::Ratio => ratio(equity, mdd),
            Metric::Roi => equity,
            Metric::LessMaxDd => -mdd,
            Metric::WinPercentage => wins as f64 / days,
            Metric::ProfitFactor => {
                let losses = -negative;
                if losses > MDD_EPSILON {
                    gains / losses
                } else if gains > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Metric::Expectancy => {
                let w = wins as f64 / days;
                let avg_win = if wins > 0 { gains / wins as f64 } else { 0.0 };
                let avg_loss = if losing > 0 {
                    -negative / losing as f64
                } else {
                    0.0
                };
                w * avg_win - (1.0 - w) * avg_loss
            }
            Metric::RatioFloor => floored_ratio(equity, mdd, mean_move()),
            Metric::Cdar => {
                let cdar = tail.as_ref().map_or(0.0, WorstValues::mean);
                floored_ratio(equity, cdar, mean_move())
            }
        };
        if !PENALTY {
            return base;
        }
        let pair_sum = (zz - norm as f64 * zc) * 0.5;
        let pairs = (k * (k - 1) / 2) as f64;
        base - self.spec.penalty_weight * (pair_sum / pairs)
    }
}

/// What the day loop must track for a metric beyond equity and drawdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayLoop {
    /// Nothing more (ratio, ROI, -MDD).
    Plain,
    /// Win/loss counts and sums (win percentage, profit factor, expectancy, ratio floor).
    Counts,
    /// The counts and the worst daily drawdowns (CDaR).
    Tail,
}

const PLAIN: u8 = 0;
const COUNTS: u8 = 1;
const TAIL: u8 = 2;

impl DayLoop {
    fn of(metric: Metric) -> Self {
        match metric {
            Metric::Ratio | Metric::Roi | Metric::LessMaxDd => DayLoop::Plain,
            Metric::WinPercentage
            | Metric::ProfitFactor
            | Metric::Expectancy
            | Metric::RatioFloor => DayLoop::Counts,
            Metric::Cdar => DayLoop::Tail,
        }
    }
}

/// `max` for non-NaN values as one select (the GPU kernels use `fmax`, equal on non-NaN input).
#[inline(always)]
fn max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// A portfolio's accumulators: per-day sums of its quantized P&L and `z` columns, and the sum of
/// its members' norms. Exact integers, so any order of additions gives the same bits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accum {
    pub s: Vec<i64>,
    pub z: Vec<i64>,
    pub norm: i64,
}

impl Accum {
    pub fn new(days: usize) -> Self {
        Self {
            s: vec![0; days],
            z: vec![0; days],
            norm: 0,
        }
    }

    pub fn reset(&mut self, days: usize) {
        self.s.clear();
        self.s.resize(days, 0);
        self.z.clear();
        self.z.resize(days, 0);
        self.norm = 0;
    }

    pub fn add(&mut self, p: &Problem, j: usize) {
        for (a, b) in self.s.iter_mut().zip(p.q(j)) {
            *a += b;
        }
        for (a, b) in self.z.iter_mut().zip(p.z(j)) {
            *a += b;
        }
        self.norm += p.norm(j);
    }

    /// Replaces member `out` by `incoming`.
    pub fn swap(&mut self, p: &Problem, out: usize, incoming: usize) {
        let (qo, qi, zo, zi) = (p.q(out), p.q(incoming), p.z(out), p.z(incoming));
        for t in 0..self.s.len() {
            self.s[t] += qi[t] - qo[t];
            self.z[t] += zi[t] - zo[t];
        }
        self.norm += p.norm(incoming) - p.norm(out);
    }
}
