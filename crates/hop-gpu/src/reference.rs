//! The kernels' arithmetic, replayed on the CPU operation for operation.
//!
//! Each function here is `kernels.cu` line for line: the same integer sums (in the warp's order:
//! lane by lane, chunk by chunk, with two's-complement wrapping like the kernels' `u64`), the same
//! floating-point operations in the same order. The tests prove these give hop-core's bits on the
//! real fixture; what only a GPU can prove is that NVRTC compiled `kernels.cu` into the same
//! operations (`tests/gpu.rs`; `tests/nvrtc.rs` checks the PTX for fused multiply-adds).

use hop_core::fitness::Accum;

use crate::plan::{Plan, Score};

/// `WARP` in kernels.cu.
pub const WARP: usize = 32;
/// `DAYS_PER_LANE` in kernels.cu.
pub const DAYS_PER_LANE: usize = 3;
/// `CHUNK` in kernels.cu: days summed per pass of a warp.
pub const CHUNK: usize = WARP * DAYS_PER_LANE;

/// `select_max` (hop_core::fitness::max).
#[inline(always)]
fn select_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// `struct DayState` and `day_start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayState {
    pub equity: f64,
    pub peak: f64,
    pub mdd: f64,
    pub zz: f64,
    pub gains: f64,
    pub negative: f64,
    pub wins: u32,
    pub losing: u32,
}

impl Default for DayState {
    fn default() -> Self {
        Self {
            equity: 0.0,
            peak: f64::NEG_INFINITY,
            mdd: 0.0,
            zz: 0.0,
            gains: 0.0,
            negative: 0.0,
            wins: 0,
            losing: 0,
        }
    }
}

impl DayState {
    /// `day_step`.
    #[inline(always)]
    pub fn step(&mut self, s: i64, z: i64, sc: &Score, counts: bool) {
        let p = s as f64 * sc.c;
        self.equity += p;
        self.peak = select_max(self.peak, self.equity);
        self.mdd = select_max(self.mdd, self.peak - self.equity);
        if sc.penalized != 0 {
            let zf = z as f64 * sc.zc;
            self.zz += zf * zf;
        }
        if counts {
            self.wins += u32::from(p > 0.0);
            self.losing += u32::from(p < 0.0);
            self.gains += if p > 0.0 { p } else { 0.0 };
            self.negative += if p < 0.0 { p } else { 0.0 };
        }
    }

    /// `day_finish`.
    pub fn finish(&self, norm: i64, sc: &Score) -> f64 {
        let base = match sc.metric {
            0 => ratio(self.equity, self.mdd, sc.mdd_epsilon),
            1 => self.equity,
            2 => -self.mdd,
            3 => self.wins as f64 / sc.days,
            4 => {
                let losses = -self.negative;
                if losses > sc.mdd_epsilon {
                    self.gains / losses
                } else if self.gains > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            _ => {
                let w = self.wins as f64 / sc.days;
                let avg_win = if self.wins > 0 {
                    self.gains / self.wins as f64
                } else {
                    0.0
                };
                let avg_loss = if self.losing > 0 {
                    -self.negative / self.losing as f64
                } else {
                    0.0
                };
                let won = w * avg_win;
                let lost = (1.0 - w) * avg_loss;
                won - lost
            }
        };
        if sc.penalized == 0 {
            return base;
        }
        let norms = norm as f64 * sc.zc;
        let pair_sum = (self.zz - norms) * 0.5;
        let mean = pair_sum / sc.pairs;
        let penalty = sc.weight * mean;
        base - penalty
    }
}

/// `ratio` (hop_core::metrics::ratio).
fn ratio(roi: f64, mdd: f64, eps: f64) -> f64 {
    if mdd > eps {
        roi / mdd
    } else if roi > 0.0 {
        100.0 * roi
    } else if roi < 0.0 {
        10.0 * roi
    } else {
        0.0
    }
}

/// `warp_sum` of the lanes' partial norms: lane `l` sums members `l, l + 32, ...`, then the
/// butterfly (xor 16, 8, 4, 2, 1) adds them up.
fn warp_norm(plan: &Plan, members: &[u32]) -> i64 {
    let mut lanes = [0u64; WARP];
    for (lane, partial) in lanes.iter_mut().enumerate() {
        for &j in members.iter().skip(lane).step_by(WARP) {
            *partial = partial.wrapping_add(plan.problem().norm(j as usize) as u64);
        }
    }
    let mut offset = WARP / 2;
    while offset > 0 {
        let before = lanes;
        for (lane, v) in lanes.iter_mut().enumerate() {
            *v = v.wrapping_add(before[lane ^ offset]);
        }
        offset /= 2;
    }
    lanes[0] as i64
}

/// `eval_portfolios` for one portfolio.
pub fn portfolio_fitness(plan: &Plan, members: &[u32]) -> f64 {
    let sc = plan.score(members.len());
    let t = plan.t();
    let problem = plan.problem();
    let norm = warp_norm(plan, members);
    let counts = sc.counts();
    let mut st = DayState::default();
    let (mut sh_s, mut sh_z) = ([0i64; CHUNK], [0i64; CHUNK]);
    for d0 in (0..t).step_by(CHUNK) {
        for lane in 0..WARP {
            let (mut s, mut z) = ([0u64; DAYS_PER_LANE], [0u64; DAYS_PER_LANE]);
            for &j in members {
                let (q, zj) = (problem.q(j as usize), problem.z(j as usize));
                for r in 0..DAYS_PER_LANE {
                    let d = d0 + lane + r * WARP;
                    if d < t {
                        s[r] = s[r].wrapping_add(q[d] as u64);
                        z[r] = z[r].wrapping_add(zj[d] as u64);
                    }
                }
            }
            for r in 0..DAYS_PER_LANE {
                let d = lane + r * WARP;
                if d0 + d < t {
                    sh_s[d] = s[r] as i64;
                    sh_z[d] = z[r] as i64;
                }
            }
        }
        for d in 0..CHUNK.min(t - d0) {
            st.step(sh_s[d], sh_z[d], &sc, counts);
        }
    }
    st.finish(norm, &sc)
}

/// `eval_swaps` for one move: the portfolio of accumulators `acc` (`k` members) with `outgoing`
/// replaced by `incoming`.
pub fn swap_fitness(plan: &Plan, acc: &Accum, k: usize, outgoing: u32, incoming: u32) -> f64 {
    let sc = plan.score(k);
    let t = plan.t();
    let problem = plan.problem();
    let (qo, qi) = (problem.q(outgoing as usize), problem.q(incoming as usize));
    let (zo, zi) = (problem.z(outgoing as usize), problem.z(incoming as usize));
    let norm = (acc.norm as u64)
        .wrapping_sub(problem.norm(outgoing as usize) as u64)
        .wrapping_add(problem.norm(incoming as usize) as u64) as i64;
    let counts = sc.counts();
    let mut st = DayState::default();
    for d in 0..t {
        let s = (acc.s[d] as u64)
            .wrapping_sub(qo[d] as u64)
            .wrapping_add(qi[d] as u64) as i64;
        let z = (acc.z[d] as u64)
            .wrapping_sub(zo[d] as u64)
            .wrapping_add(zi[d] as u64) as i64;
        st.step(s, z, &sc, counts);
    }
    st.finish(norm, &sc)
}

/// `strategy_metrics` for one strategy: ROI, max drawdown, win percentage, profit factor,
/// expectancy.
pub fn strategy_metrics(col: &[f64]) -> [f64; 5] {
    let mut equity = 0.0;
    let mut peak = f64::NEG_INFINITY;
    let mut max_drawdown: f64 = 0.0;
    let (mut win_days, mut loss_days) = (0u64, 0u64);
    let (mut gains, mut negative_sum) = (0.0, 0.0);
    for &p in col {
        equity += p;
        peak = f64::max(peak, equity);
        max_drawdown = f64::max(max_drawdown, peak - equity);
        if p > 0.0 {
            win_days += 1;
            gains += p;
        } else if p < 0.0 {
            loss_days += 1;
            negative_sum += p;
        }
    }
    let losses = negative_sum.abs();
    let days = col.len() as f64;
    let win_percentage = win_days as f64 / days;
    let profit_factor = if losses == 0.0 {
        f64::INFINITY
    } else {
        gains / losses
    };
    let avg_win = if win_days > 0 {
        gains / win_days as f64
    } else {
        0.0
    };
    let avg_loss = if loss_days > 0 {
        losses / loss_days as f64
    } else {
        0.0
    };
    let won = win_percentage * avg_win;
    let lost = (1.0 - win_percentage) * avg_loss;
    [
        equity,
        max_drawdown,
        win_percentage,
        profit_factor,
        won - lost,
    ]
}

#[cfg(test)]
mod tests {
    use hop_core::eval::{Chain, CpuEvaluator, Evaluator, Swap};
    use hop_core::fitness::{FitnessSpec, Problem};
    use hop_core::rng::Rng;
    use hop_core::{Aggregation, JobOptions, Metric, PnlMatrix};

    use super::*;
    use crate::plan::{metric_code, random_portfolio};

    fn fixture() -> PnlMatrix {
        hop_core::fixtures::matrix("sensex_2500x82.csv")
    }

    /// Every fitness spec the options allow, with a few penalty weights.
    fn specs() -> Vec<FitnessSpec> {
        let mut specs = Vec::new();
        for metric in Metric::ALL
            .into_iter()
            .filter(|&m| metric_code(m).is_some())
        {
            for aggregation in [Aggregation::Mean, Aggregation::Sum] {
                for penalty_weight in [10.0, 0.0, 2.5] {
                    specs.push(FitnessSpec {
                        metric,
                        penalty_weight,
                        aggregation,
                    });
                }
            }
        }
        specs
    }

    /// The replay gives the CPU evaluator's bits on random portfolios of the real fixture, for
    /// every metric, aggregation and penalty, and for small and large k.
    #[test]
    fn replay_is_bit_equal_to_the_cpu_evaluator() {
        let matrix = fixture();
        let n = matrix.n_strategies();
        let mut rng = Rng::new(7, 11);
        let mut checked = 0;
        for (s, spec) in specs().into_iter().enumerate() {
            let k_cap = [35, 100, 37][s % 3];
            let problem = Problem::new(&matrix, spec, k_cap).unwrap();
            let plan = Plan::new(&problem, spec).unwrap();
            let cpu = CpuEvaluator::new(&problem);
            for k in [1, 2, 3, 10, 35, k_cap] {
                let count = if k == 35 { 200 } else { 40 };
                let members: Vec<u32> = (0..count)
                    .flat_map(|_| random_portfolio(&mut rng, n, k))
                    .collect();
                let mut want = vec![0.0; count];
                cpu.evaluate(k, &members, &mut want);
                for (portfolio, want) in members.chunks(k).zip(&want) {
                    let got = portfolio_fitness(&plan, portfolio);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{spec:?} k = {k}: {got:e} vs {want:e}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// The production default (ratio, penalty 10, mean, k = 35) on many portfolios, including the
    /// SPEC's reference portfolios.
    #[test]
    fn replay_matches_at_production_defaults_and_the_spec_references() {
        let matrix = fixture();
        let options = JobOptions::with_size(35);
        let spec = FitnessSpec::from(&options);
        let problem = Problem::new(&matrix, spec, 35).unwrap();
        let plan = Plan::new(&problem, spec).unwrap();
        let cpu = CpuEvaluator::new(&problem);
        for (members, reference) in [
            ((0..35).collect::<Vec<u32>>(), -1.82604746746997),
            ((100..110).collect(), -2.64140647561754),
            (vec![0, 1, 2], -1.84874227869528),
        ] {
            let mut want = [0.0];
            cpu.evaluate(members.len(), &members, &mut want);
            let got = portfolio_fitness(&plan, &members);
            assert_eq!(got.to_bits(), want[0].to_bits());
            assert!((got - reference).abs() < 1e-12, "{got} vs {reference}");
        }
        let mut rng = Rng::new(42, 35);
        let count = 5_000;
        let members: Vec<u32> = (0..count)
            .flat_map(|_| random_portfolio(&mut rng, matrix.n_strategies(), 35))
            .collect();
        let mut want = vec![0.0; count];
        cpu.evaluate(35, &members, &mut want);
        for (portfolio, want) in members.chunks(35).zip(&want) {
            assert_eq!(
                portfolio_fitness(&plan, portfolio).to_bits(),
                want.to_bits()
            );
        }
    }

    /// The swap replay equals `CpuEvaluator::evaluate_swaps` (hop-core's incremental path) and the
    /// full evaluation of the swapped portfolio.
    #[test]
    fn swap_replay_is_bit_equal() {
        let matrix = fixture();
        let n = matrix.n_strategies();
        let mut rng = Rng::new(3, 5);
        for spec in specs().into_iter().step_by(2) {
            let problem = Problem::new(&matrix, spec, 40).unwrap();
            let plan = Plan::new(&problem, spec).unwrap();
            let cpu = CpuEvaluator::new(&problem);
            for k in [2, 10, 35, 40] {
                let chains: Vec<Chain> = (0..4)
                    .map(|_| Chain::new(&problem, random_portfolio(&mut rng, n, k), 0.0))
                    .collect();
                let moves: Vec<Swap> = (0..64)
                    .map(|i| {
                        let chain = i % chains.len();
                        let incoming = loop {
                            let j = rng.below(n) as u32;
                            if !chains[chain].members.contains(&j) {
                                break j;
                            }
                        };
                        Swap {
                            chain: chain as u32,
                            out_pos: rng.below(k) as u32,
                            incoming,
                        }
                    })
                    .collect();
                let mut want = vec![0.0; moves.len()];
                cpu.evaluate_swaps(&chains, &moves, &mut want);
                for (m, want) in moves.iter().zip(&want) {
                    let chain = &chains[m.chain as usize];
                    let outgoing = chain.members[m.out_pos as usize];
                    let got = swap_fitness(&plan, &chain.acc, k, outgoing, m.incoming);
                    assert_eq!(got.to_bits(), want.to_bits(), "{spec:?} k = {k}");
                    let mut swapped = chain.members.clone();
                    swapped[m.out_pos as usize] = m.incoming;
                    assert_eq!(portfolio_fitness(&plan, &swapped).to_bits(), want.to_bits());
                }
            }
        }
    }

    /// More days than one chunk: the chunked day loop carries its state across chunks.
    #[test]
    fn long_series_cross_chunks() {
        let base = fixture();
        // 3 x 82 = 246 days: the fixture's days repeated (dates made unique).
        let t = base.n_days() * 3;
        let n = 300;
        let dates: Vec<String> = (0..t).map(|d| format!("2020-01-{d:04}")).collect();
        let names: Vec<String> = base.names()[..n].to_vec();
        let mut values = Vec::with_capacity(n * t);
        for j in 0..n {
            for rep in 0..3 {
                values.extend(base.column(j).iter().map(|v| v * (1.0 + rep as f64 / 7.0)));
            }
        }
        let matrix = PnlMatrix::new(names, dates, values).unwrap();
        assert!(t > 2 * CHUNK);
        let spec = FitnessSpec::from(&JobOptions::with_size(20));
        let problem = Problem::new(&matrix, spec, 20).unwrap();
        let plan = Plan::new(&problem, spec).unwrap();
        let cpu = CpuEvaluator::new(&problem);
        let mut rng = Rng::new(9, 9);
        for k in [1, 2, 20] {
            for _ in 0..50 {
                let members = random_portfolio(&mut rng, n, k);
                let mut want = [0.0];
                cpu.evaluate(k, &members, &mut want);
                assert_eq!(
                    portfolio_fitness(&plan, &members).to_bits(),
                    want[0].to_bits()
                );
            }
        }
    }

    /// The metrics replay equals hop-core's per-strategy metrics on every fixture strategy (and
    /// edge series).
    #[test]
    fn metrics_replay_is_bit_equal() {
        let matrix = fixture();
        let cpu = hop_core::metrics::all_strategy_metrics(&matrix);
        let mut columns: Vec<Vec<f64>> = (0..matrix.n_strategies())
            .map(|j| matrix.column(j).to_vec())
            .collect();
        columns.extend([
            vec![0.0; 5],
            vec![1.0, 2.0],
            vec![-1.0, -2.0],
            vec![-5.0, -3.0, 6.0],
            vec![0.0, -0.0, 1e-300, -1e-300],
        ]);
        for (j, col) in columns.iter().enumerate() {
            let want = match cpu.get(j) {
                Some(m) => *m,
                None => hop_core::metrics::strategy_metrics(col),
            };
            let got = strategy_metrics(col);
            let want = [
                want.roi,
                want.max_drawdown,
                want.win_percentage,
                want.profit_factor,
                want.expectancy,
            ];
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "strategy {j}: {got:?} vs {want:?}"
                );
            }
        }
    }
}
