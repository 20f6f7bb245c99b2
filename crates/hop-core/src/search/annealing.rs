//! SA: Metropolis simulated annealing on single-swap moves. Several chains run in lock step; at
//! each step every chain draws a few candidate swaps (incoming strategies biased towards promising
//! ones), the whole set is scored as one batch, and each chain applies the Metropolis rule to its
//! best candidate.
//!
//! The temperature is relative to the chain's own fitness — a worsening of `d` is accepted with
//! probability `exp(-d / (T |f|))` — because fitness values grow by two orders of magnitude during a
//! search and an absolute temperature is either too hot at the start or frozen at the end. `T`
//! cools geometrically from 10 % to 0.001 % over the budget. At each quarter of the budget every
//! chain restarts from the best chain (the others' time is better spent around it).

use super::context::{Ctx, det_exp};
use crate::eval::Swap;

const CHAINS: usize = 4;
/// Candidate swaps drawn per chain and step.
const PROPOSALS: usize = 4;
const INITIAL_TEMPERATURE: f64 = 0.1;
/// ln(final temperature / initial temperature).
const LN_COOLING_SPAN: f64 = -9.210_340_371_976_184; // ln(1e-4)
/// Times the chains regroup on the best one (at even intervals).
const REGROUPS: usize = 3;
/// Floor of |f| in the relative temperature (a fitness of exactly 0 still anneals).
const FITNESS_FLOOR: f64 = 1e-6;

pub fn run(ctx: &mut Ctx) {
    let chain_count = CHAINS.min((ctx.remaining() as usize / 64).max(1));
    let mut chains = ctx.random_chains(chain_count);
    let batch = chains.len() * PROPOSALS;
    let steps = (ctx.remaining() as usize / batch).max(1);
    let cooling = det_exp(LN_COOLING_SPAN / steps as f64);
    let regroup_every = (steps / (REGROUPS + 1)).max(1);
    let mut temperature = INITIAL_TEMPERATURE;
    let mut moves = Vec::with_capacity(batch);
    let mut step = 0;
    while !ctx.done() {
        moves.clear();
        for i in 0..ctx.allow(batch) {
            let c = i % chains.len();
            let out_pos = ctx.rng.below(ctx.k) as u32;
            let incoming = ctx.promising_outsider(&chains[c].members);
            moves.push(Swap {
                chain: c as u32,
                out_pos,
                incoming,
            });
        }
        let fitness = ctx.evaluate_swaps(&chains, &moves);
        // Each chain's best candidate (the first wins a tie).
        let mut best: Vec<Option<usize>> = vec![None; chains.len()];
        for (i, m) in moves.iter().enumerate() {
            let slot = &mut best[m.chain as usize];
            if slot.is_none_or(|b| fitness[i] > fitness[b]) {
                *slot = Some(i);
            }
        }
        for (chain, candidate) in chains.iter_mut().zip(best) {
            let Some(i) = candidate else { continue };
            let delta = fitness[i] - chain.fitness;
            let scale = temperature * chain.fitness.abs().max(FITNESS_FLOOR);
            if delta >= 0.0 || ctx.rng.unit() < det_exp(delta / scale) {
                chain.apply(
                    ctx.problem(),
                    moves[i].out_pos as usize,
                    moves[i].incoming,
                    fitness[i],
                );
                ctx.offer_chain(chain);
            }
        }
        temperature *= cooling;
        step += 1;
        if step % regroup_every == 0 {
            let leader = (1..chains.len()).fold(0, |b, i| {
                if chains[i].fitness > chains[b].fitness {
                    i
                } else {
                    b
                }
            });
            let leader = chains[leader].clone();
            chains.iter_mut().for_each(|c| c.clone_from(&leader));
        }
    }
}
