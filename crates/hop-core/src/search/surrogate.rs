//! BO: surrogate-guided optimisation. An additive Bayesian surrogate models a portfolio's fitness as
//! `b + sum of theta_j` over its members, each `theta_j` with a posterior that tightens as the
//! strategy appears in evaluated portfolios (a diagonal Kalman update of the residual). Each round
//! proposes a batch of candidates around the incumbent by maximising an upper-confidence-bound
//! acquisition — swap out the member the surrogate rates lowest, swap in the outsider with the
//! highest optimistic score from a random pool — evaluates them for real (from the incumbent's
//! accumulators), and updates the model.

use super::context::Ctx;
use crate::eval::Chain;
use crate::rng::Rng;

const INITIAL_DESIGN: usize = 32;
const BATCH: usize = 16;
const POOL: usize = 48;
/// Exploration weight of the UCB acquisition.
const KAPPA: f64 = 1.0;

struct Surrogate {
    bias: f64,
    theta: Vec<f64>,
    seen: Vec<u32>,
    prior_sd: f64,
}

impl Surrogate {
    fn predict(&self, members: &[u32]) -> f64 {
        self.bias + members.iter().map(|&j| self.theta[j as usize]).sum::<f64>()
    }

    fn ucb(&self, j: u32) -> f64 {
        let j = j as usize;
        self.theta[j] + KAPPA * self.prior_sd / (1.0 + self.seen[j] as f64).sqrt()
    }

    fn lcb(&self, j: u32) -> f64 {
        let j = j as usize;
        self.theta[j] - KAPPA * self.prior_sd / (1.0 + self.seen[j] as f64).sqrt()
    }

    /// Spreads the residual over the members, each in proportion to its remaining uncertainty.
    fn observe(&mut self, members: &[u32], fitness: f64) {
        let residual = fitness - self.predict(members);
        let k = members.len() as f64;
        self.bias += 0.05 * residual;
        for &j in members {
            let j = j as usize;
            self.seen[j] += 1;
            self.theta[j] += residual / k / self.seen[j] as f64;
        }
    }
}

/// Index of the member with the lowest lower confidence bound among three random picks.
fn weakest(rng: &mut Rng, model: &Surrogate, members: &[u32]) -> usize {
    (0..3)
        .map(|_| rng.below(members.len()))
        .min_by(|&a, &b| model.lcb(members[a]).total_cmp(&model.lcb(members[b])))
        .expect("three picks")
}

pub fn run(ctx: &mut Ctx) {
    let k = ctx.k;
    let design = ctx.random_chains(INITIAL_DESIGN);
    let count = design.len() as f64;
    let mean = design.iter().map(|c| c.fitness).sum::<f64>() / count;
    let var = design
        .iter()
        .map(|c| (c.fitness - mean) * (c.fitness - mean))
        .sum::<f64>()
        / count;
    let mut model = Surrogate {
        bias: mean,
        theta: vec![0.0; ctx.n],
        seen: vec![0; ctx.n],
        prior_sd: (var.sqrt() / (k as f64).sqrt()).max(1e-9),
    };
    for chain in &design {
        model.observe(&chain.members, chain.fitness);
    }
    let mut incumbent = design
        .into_iter()
        .reduce(|best, c| if c.fitness > best.fitness { c } else { best })
        .expect("the design holds at least one portfolio");
    while !ctx.done() {
        let width = ctx.allow(BATCH);
        let mut flat = Vec::with_capacity(width * k);
        for _ in 0..width {
            let mut candidate = incumbent.members.clone();
            let swaps = 1 + ctx.rng.below(3);
            for _ in 0..swaps.min(ctx.n - k) {
                let out = weakest(&mut ctx.rng, &model, &candidate);
                let mut best_in = ctx.random_outsider(&candidate);
                for _ in 1..POOL {
                    let j = ctx.random_outsider(&candidate);
                    if model.ucb(j) > model.ucb(best_in) {
                        best_in = j;
                    }
                }
                candidate[out] = best_in;
            }
            flat.extend_from_slice(&candidate);
        }
        let fitness = ctx.evaluate_near(&flat, std::slice::from_ref(&incumbent), &vec![0; width]);
        let mut best: Option<(usize, f64)> = None;
        for (i, (members, &f)) in flat.chunks(k).zip(&fitness).enumerate() {
            model.observe(members, f);
            if f > best.map_or(incumbent.fitness, |b| b.1) {
                best = Some((i, f));
            }
        }
        if let Some((i, f)) = best {
            let members = flat[i * k..(i + 1) * k].to_vec();
            incumbent = Chain::derived(ctx.problem(), &incumbent, members, f);
        }
    }
}
