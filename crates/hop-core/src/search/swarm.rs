//! PSO: set-based discrete particle swarm. A particle's position is a portfolio; its "velocity" is
//! the set of changes it makes this step: each member is kept with the inertia probability, members
//! of its personal best and of the swarm's best are pulled in with the cognitive and social
//! probabilities (times fresh random factors), a few random strategies are tried for exploration,
//! and the candidate set is cut or repaired back to exactly `k` members. A particle's new position
//! is scored from its previous one's accumulators.

use super::context::Ctx;
use super::subset::assemble;
use crate::eval::Chain;

const PARTICLES: usize = 32;
const INERTIA: f64 = 0.6;
const COGNITIVE: f64 = 0.9;
const SOCIAL: f64 = 0.9;
/// Expected number of random strategies tried per particle per step.
const EXPLORATION: f64 = 1.0;

pub fn run(ctx: &mut Ctx) {
    let k = ctx.k;
    let mut positions = ctx.random_chains(PARTICLES.min((ctx.remaining() as usize / 8).max(1)));
    let mut personal: Vec<(Vec<u32>, f64)> = positions
        .iter()
        .map(|c| (c.members.clone(), c.fitness))
        .collect();
    while !ctx.done() {
        let global = ctx.best_members().expect("swarm evaluated").to_vec();
        let width = ctx.allow(positions.len());
        let mut moved = Vec::with_capacity(width * k);
        for (chain, (pbest, _)) in positions.iter().zip(&personal).take(width) {
            let pos = &chain.members;
            let (r1, r2) = (ctx.rng.unit(), ctx.rng.unit());
            let mut keep: Vec<u32> = Vec::with_capacity(2 * k);
            let mut pool = Vec::new();
            let mut pull = |ctx: &mut Ctx, j: u32, p: f64| {
                if ctx.rng.chance(p) {
                    keep.push(j)
                } else {
                    pool.push(j)
                }
            };
            for &j in pos.iter() {
                pull(ctx, j, INERTIA);
            }
            for &j in pbest.iter().filter(|j| !pos.contains(j)) {
                pull(ctx, j, COGNITIVE * r1);
            }
            for &j in global
                .iter()
                .filter(|j| !pos.contains(j) && !pbest.contains(j))
            {
                pull(ctx, j, SOCIAL * r2);
            }
            let explore = (EXPLORATION * 2.0 * ctx.rng.unit()).round() as usize;
            for _ in 0..explore.min(ctx.n - k) {
                // With few strategies beyond k, what was pulled in can already be all of them.
                if keep.len() >= ctx.n {
                    break;
                }
                let j = ctx.random_outsider(&keep);
                keep.insert(ctx.rng.below(keep.len() + 1), j);
            }
            // Too many pulled in: drop random ones; too few: refill from what was let go.
            while keep.len() > k {
                keep.swap_remove(ctx.rng.below(keep.len()));
            }
            moved.extend(assemble(&mut ctx.rng, ctx.n, k, &keep, &mut pool));
        }
        let parents: Vec<u32> = (0..width as u32).collect();
        let fitness = ctx.evaluate_near(&moved, &positions, &parents);
        let problem = ctx.problem();
        for (i, (members, f)) in moved.chunks(k).zip(fitness).enumerate() {
            if f > personal[i].1 {
                personal[i] = (members.to_vec(), f);
            }
            positions[i] = Chain::derived(problem, &positions[i], members.to_vec(), f);
        }
    }
}
