//! PSO: set-based discrete particle swarm. A particle's position is a portfolio; its "velocity" is
//! the set of changes it makes this step: each member is kept with the inertia probability, members
//! of its personal best and of the swarm's best are pulled in with the cognitive and social
//! probabilities (times fresh random factors), a few random strategies are tried for exploration,
//! and the candidate set is cut or repaired back to exactly `k` members.

use super::context::Ctx;
use super::subset::assemble;

const PARTICLES: usize = 32;
const INERTIA: f64 = 0.6;
const COGNITIVE: f64 = 0.9;
const SOCIAL: f64 = 0.9;
/// Expected number of random strategies tried per particle per step.
const EXPLORATION: f64 = 1.0;

pub fn run(ctx: &mut Ctx) {
    let k = ctx.k;
    let count = PARTICLES.min((ctx.remaining() as usize / 8).max(1));
    let mut positions: Vec<Vec<u32>> = (0..ctx.allow(count))
        .map(|_| ctx.random_portfolio())
        .collect();
    let fitness = ctx.evaluate(&positions.concat());
    let mut personal: Vec<(Vec<u32>, f64)> = positions.iter().cloned().zip(fitness).collect();
    while !ctx.done() {
        let global = ctx.best_members().expect("swarm evaluated").to_vec();
        let width = ctx.allow(positions.len());
        for (pos, (pbest, _)) in positions.iter_mut().zip(&personal).take(width) {
            let (r1, r2) = (ctx.rng.unit(), ctx.rng.unit());
            let mut keep: Vec<u32> = Vec::with_capacity(2 * k);
            let mut pool = Vec::new();
            for &j in pos.iter() {
                if ctx.rng.chance(INERTIA) {
                    keep.push(j)
                } else {
                    pool.push(j)
                }
            }
            for &j in pbest.iter().filter(|j| !pos.contains(j)) {
                if ctx.rng.chance(COGNITIVE * r1) {
                    keep.push(j)
                } else {
                    pool.push(j)
                }
            }
            for &j in global
                .iter()
                .filter(|j| !pos.contains(j) && !pbest.contains(j))
            {
                if ctx.rng.chance(SOCIAL * r2) {
                    keep.push(j)
                } else {
                    pool.push(j)
                }
            }
            let explore = (EXPLORATION * 2.0 * ctx.rng.unit()).round() as usize;
            for _ in 0..explore.min(ctx.n - k) {
                let j = ctx.random_outsider(&keep);
                keep.insert(ctx.rng.below(keep.len() + 1), j);
            }
            // Too many pulled in: drop random ones; too few: refill from what was let go.
            while keep.len() > k {
                keep.swap_remove(ctx.rng.below(keep.len()));
            }
            *pos = assemble(&mut ctx.rng, ctx.n, k, &keep, &mut pool);
        }
        let fitness = ctx.evaluate(&positions[..width].concat());
        for ((pos, f), best) in positions.iter().zip(fitness).zip(personal.iter_mut()) {
            if f > best.1 {
                *best = (pos.clone(), f);
            }
        }
    }
}
