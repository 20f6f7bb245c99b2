//! DE: discrete differential evolution for subsets. For each target, a mutant starts from a random
//! base portfolio `a` and moves towards the difference `b - c` (each strategy `b` has and `c` lacks
//! enters with probability F, replacing a member that `c` has and `b` lacks, or a random one);
//! binomial crossover with the target (rate CR) and repair give the trial, which replaces the
//! target when at least as fit. A trial is scored from its target's accumulators.

use super::context::Ctx;
use super::subset::assemble;
use crate::eval::Chain;

const POPULATION: usize = 32;
const F: f64 = 0.5;
const CR: f64 = 0.7;

pub fn run(ctx: &mut Ctx) {
    let k = ctx.k;
    let size = POPULATION.min((ctx.remaining() as usize / 8).max(4));
    let mut population = ctx.random_chains(size);
    let np = population.len();
    while !ctx.done() {
        let width = ctx.allow(np);
        let mut trials = Vec::with_capacity(width);
        for target in 0..width {
            let pick = |ctx: &mut Ctx, taken: &[usize]| loop {
                let i = ctx.rng.below(np);
                if np < 4 || !taken.contains(&i) {
                    return i;
                }
            };
            let a = pick(ctx, &[target]);
            let b = pick(ctx, &[target, a]);
            let c = pick(ctx, &[target, a, b]);
            let (pa, pb, pc) = (
                &population[a].members,
                &population[b].members,
                &population[c].members,
            );
            let mut mutant = pa.clone();
            let gains: Vec<u32> = pb.iter().copied().filter(|j| !pc.contains(j)).collect();
            let mut losses: Vec<u32> = pc.iter().copied().filter(|j| !pb.contains(j)).collect();
            for j in gains {
                if mutant.contains(&j) || !ctx.rng.chance(F) {
                    continue;
                }
                let out = losses
                    .iter()
                    .position(|l| mutant.contains(l))
                    .map(|i| losses.swap_remove(i))
                    .and_then(|l| mutant.iter().position(|&m| m == l))
                    .unwrap_or_else(|| ctx.rng.below(k));
                mutant[out] = j;
            }
            // Binomial crossover position by position, at least one gene from the mutant.
            let forced = ctx.rng.below(k);
            let mut keep = Vec::with_capacity(k);
            let mut pool = Vec::new();
            let current = &population[target].members;
            for (pos, (&m, &t)) in mutant.iter().zip(current).enumerate() {
                let (take, other) = if pos == forced || ctx.rng.chance(CR) {
                    (m, t)
                } else {
                    (t, m)
                };
                keep.push(take);
                pool.push(other);
            }
            trials.push(assemble(&mut ctx.rng, ctx.n, k, &keep, &mut pool));
        }
        let parents: Vec<u32> = (0..trials.len() as u32).collect();
        let trial_fitness = ctx.evaluate_near(&trials.concat(), &population, &parents);
        for (target, (trial, f)) in trials.into_iter().zip(trial_fitness).enumerate() {
            if f >= population[target].fitness {
                population[target] = Chain::derived(ctx.problem(), &population[target], trial, f);
            }
        }
    }
}
