//! HC: restart hill climbing. Several climbers in lock step each try one single swap per step
//! (incoming strategies biased towards promising ones) and keep it only if it improves; a climber
//! that fails `PATIENCE` times in a row is at a (sampled) local optimum and restarts from a fresh
//! random portfolio.

use super::context::Ctx;
use crate::eval::Swap;

const CLIMBERS: usize = 4;
/// Failed moves in a row after which a climber counts as stuck.
const PATIENCE: u32 = 5000;

pub fn run(ctx: &mut Ctx) {
    let count = CLIMBERS.min((ctx.remaining() as usize / 64).max(1));
    let mut chains = ctx.random_chains(count);
    let mut failures = vec![0u32; chains.len()];
    let mut moves = Vec::with_capacity(chains.len());
    while !ctx.done() {
        let width = ctx.allow(chains.len());
        moves.clear();
        for (c, chain) in chains.iter().enumerate().take(width) {
            let out_pos = ctx.rng.below(ctx.k) as u32;
            let incoming = ctx.promising_outsider(&chain.members);
            moves.push(Swap {
                chain: c as u32,
                out_pos,
                incoming,
            });
        }
        let fitness = ctx.evaluate_swaps(&chains, &moves);
        let mut restarts = Vec::new();
        for (m, &f) in moves.iter().zip(&fitness) {
            let c = m.chain as usize;
            if f > chains[c].fitness {
                chains[c].apply(ctx.problem(), m.out_pos as usize, m.incoming, f);
                ctx.offer_chain(&chains[c]);
                failures[c] = 0;
            } else {
                failures[c] += 1;
                if failures[c] >= PATIENCE {
                    restarts.push(c);
                }
            }
        }
        if !restarts.is_empty() {
            let fresh = ctx.random_chains(restarts.len());
            for (c, chain) in restarts.into_iter().zip(fresh) {
                chains[c] = chain;
                failures[c] = 0;
            }
        }
    }
}
