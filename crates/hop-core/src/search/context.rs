//! What every algorithm shares: the evaluator, the budget, the seeded RNG, the best-so-far and the
//! progress reports.

use crate::eval::{Chain, Evaluator, Swap};
use crate::fitness::Problem;
use crate::rng::Rng;

/// Progress of one algorithm: evaluations spent out of the budget and the best fitness so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub evaluations: u64,
    pub budget: u64,
    pub best: f64,
}

/// A progress sink; called at most about every 5 % of the budget, and once at the end.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

/// The outcome of one algorithm.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Ascending strategy indices.
    pub portfolio: Vec<u32>,
    pub fitness: f64,
    pub evaluations: u64,
}

pub struct Ctx<'a> {
    pub eval: &'a dyn Evaluator,
    pub rng: Rng,
    pub n: usize,
    pub k: usize,
    budget: u64,
    /// Where the current phase ends (the budget, or less while an algorithm explores before the
    /// local search): `remaining`, `done` and `allow` see this limit.
    limit: u64,
    used: u64,
    best: Option<(f64, Vec<u32>)>,
    progress: ProgressFn<'a>,
    next_report: u64,
}

impl<'a> Ctx<'a> {
    pub fn new(
        eval: &'a dyn Evaluator,
        k: usize,
        budget: u64,
        rng: Rng,
        progress: ProgressFn<'a>,
    ) -> Self {
        let n = eval.problem().n_strategies();
        Self {
            eval,
            rng,
            n,
            k,
            budget,
            limit: budget,
            used: 0,
            best: None,
            progress,
            next_report: budget / 20,
        }
    }

    pub fn problem(&self) -> &'a Problem {
        self.eval.problem()
    }

    pub fn remaining(&self) -> u64 {
        self.limit - self.used
    }

    pub fn done(&self) -> bool {
        self.used >= self.limit
    }

    /// Ends the current phase after `evaluations` more (never past the budget); [`Ctx::unlimit`]
    /// gives the rest of the budget back.
    pub fn limit_to(&mut self, evaluations: u64) {
        self.limit = (self.used + evaluations).min(self.budget);
    }

    pub fn unlimit(&mut self) {
        self.limit = self.budget;
    }

    /// How many of `wanted` evaluations the budget still allows.
    pub fn allow(&self, wanted: usize) -> usize {
        wanted.min(self.remaining() as usize)
    }

    fn spend(&mut self, n: usize) {
        self.used += n as u64;
        assert!(self.used <= self.limit, "an algorithm overspent its budget");
        if self.eval.stopped() {
            // What is spent is the whole budget now: every algorithm ends as it does at its end.
            self.budget = self.used;
            self.limit = self.used;
        }
        if self.used >= self.next_report || self.used == self.budget {
            self.next_report = self.used + (self.budget / 20).max(1);
            let best = self.best_fitness();
            (self.progress)(Progress {
                evaluations: self.used,
                budget: self.budget,
                best,
            });
        }
    }

    /// Scores portfolios (`k` members each, back to back) and records the best. The caller must have
    /// checked the budget with [`Ctx::allow`].
    pub fn evaluate(&mut self, members: &[u32]) -> Vec<f64> {
        let mut out = vec![0.0; members.len() / self.k];
        self.eval.evaluate(self.k, members, &mut out);
        self.record(members, out)
    }

    /// Scores portfolios derived from `chains[parents[i]]` (see [`Evaluator::evaluate_near`]) and
    /// records the best, like [`Ctx::evaluate`].
    pub fn evaluate_near(
        &mut self,
        members: &[u32],
        chains: &[Chain],
        parents: &[u32],
    ) -> Vec<f64> {
        let mut out = vec![0.0; members.len() / self.k];
        self.eval
            .evaluate_near(self.k, members, chains, parents, &mut out);
        self.record(members, out)
    }

    /// Offers every scored portfolio and charges the budget.
    fn record(&mut self, members: &[u32], fitness: Vec<f64>) -> Vec<f64> {
        for (portfolio, &f) in members.chunks(self.k).zip(&fitness) {
            self.offer(f, portfolio);
        }
        self.spend(fitness.len());
        fitness
    }

    /// Scores single-swap moves (the caller records accepted moves with [`Ctx::offer_chain`]).
    pub fn evaluate_swaps(&mut self, chains: &[Chain], moves: &[Swap]) -> Vec<f64> {
        let mut out = vec![0.0; moves.len()];
        self.eval.evaluate_swaps(chains, moves, &mut out);
        self.spend(out.len());
        out
    }

    /// Records a candidate; a strictly better fitness replaces the best (ties keep the first).
    pub fn offer(&mut self, fitness: f64, members: &[u32]) {
        if self.best.as_ref().is_none_or(|b| fitness > b.0) {
            let mut sorted = members.to_vec();
            sorted.sort_unstable();
            self.best = Some((fitness, sorted));
        }
    }

    pub fn offer_chain(&mut self, chain: &Chain) {
        self.offer(chain.fitness, &chain.members);
    }

    pub fn best_fitness(&self) -> f64 {
        self.best.as_ref().map_or(f64::NEG_INFINITY, |b| b.0)
    }

    pub fn best_members(&self) -> Option<&[u32]> {
        self.best.as_ref().map(|b| b.1.as_slice())
    }

    pub fn finish(self) -> Outcome {
        let (fitness, portfolio) = self.best.expect("every algorithm evaluates at least once");
        Outcome {
            portfolio,
            fitness,
            evaluations: self.used,
        }
    }

    /// A random strategy that is not in `members`.
    pub fn random_outsider(&mut self, members: &[u32]) -> u32 {
        random_outsider(&mut self.rng, self.n, members)
    }

    /// A strategy outside `members`, drawn with a bias towards strategies that are good on their
    /// own: rank `r` by singleton fitness is drawn as `floor(n * u^3)`, so the top fifth of the
    /// strategies gets about 58 % of the draws while every strategy stays reachable.
    pub fn promising_outsider(&mut self, members: &[u32]) -> u32 {
        let order = self.problem().singleton_order();
        loop {
            let u = self.rng.unit();
            let j = order[((u * u * u) * self.n as f64) as usize];
            if !members.contains(&j) {
                return j;
            }
        }
    }

    /// Starts chains from random portfolios (one full evaluation each).
    pub fn random_chains(&mut self, count: usize) -> Vec<Chain> {
        let count = self.allow(count);
        let mut flat = Vec::with_capacity(count * self.k);
        for _ in 0..count {
            fill_random(&mut self.rng, self.n, self.k, &mut flat);
        }
        let fitness = self.evaluate(&flat);
        let problem = self.problem();
        flat.chunks(self.k)
            .zip(fitness)
            .map(|(m, f)| Chain::new(problem, m.to_vec(), f))
            .collect()
    }
}

/// Completes the last portfolio of `out` (portfolios of `k` back to back) with distinct random
/// strategies, or appends a new one when the last is complete.
pub fn fill_random(rng: &mut Rng, n: usize, k: usize, out: &mut Vec<u32>) {
    let start = out.len() - out.len() % k;
    while out.len() - start < k {
        let j = rng.below(n) as u32;
        if !out[start..].contains(&j) {
            out.push(j);
        }
    }
}

/// A uniformly random strategy outside `members` (which must leave at least one out).
pub fn random_outsider(rng: &mut Rng, n: usize, members: &[u32]) -> u32 {
    debug_assert!(members.len() < n);
    loop {
        let j = rng.below(n) as u32;
        if !members.contains(&j) {
            return j;
        }
    }
}

/// `e^x` from basic IEEE operations only (no platform `libm`), so that acceptance decisions are the
/// same bits on every machine. Accurate to a few ulp, which is plenty for a probability.
pub fn det_exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x < -745.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    // x = m ln2 + r, |r| <= ln2/2 (ln2 in two parts, fdlibm's, so that m * LN2_HI is exact),
    // then e^r by its Taylor series (Horner, 14 terms).
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let m = (x / std::f64::consts::LN_2).round();
    let r = (x - m * LN2_HI) - m * LN2_LO;
    let mut sum = 1.0;
    let mut i = 14.0;
    while i > 0.0 {
        sum = 1.0 + sum * r / i;
        i -= 1.0;
    }
    let m = m as i32;
    // Scale by 2^m in two steps so that subnormal results stay right.
    let half = m / 2;
    sum * crate::fitness::pow2(half) * crate::fitness::pow2(m - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn det_exp_is_close_to_libm() {
        for i in -2000..=2000 {
            let x = i as f64 * 0.173;
            let (a, b) = (det_exp(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-14, "x = {x}: {a} vs {b}");
        }
        assert_eq!(det_exp(0.0), 1.0);
        assert_eq!(det_exp(-1000.0), 0.0);
    }

    #[test]
    fn random_helpers_keep_members_distinct() {
        let mut rng = Rng::new(3, 3);
        let mut out = Vec::new();
        for _ in 0..50 {
            fill_random(&mut rng, 12, 10, &mut out);
        }
        for p in out.chunks(10) {
            let mut s = p.to_vec();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 10);
            let o = random_outsider(&mut rng, 12, p);
            assert!(!p.contains(&o));
        }
    }
}
