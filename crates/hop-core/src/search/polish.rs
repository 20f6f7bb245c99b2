//! The local search that finishes the whole-portfolio algorithms (GA, PSO, DE, ACO, BO): from the
//! best portfolio the algorithm found, single-swap moves scored on the incremental O(T) path
//! (several proposals per step, incoming strategies biased towards promising ones), the best
//! proposal kept when it improves. Population methods locate good regions; they are poor at the
//! last few swaps, which this path makes cheap (`hop-bench --curve` measures both).

use super::context::Ctx;
use crate::eval::{Chain, Swap};

/// Proposals scored per step (one batch).
const PROPOSALS: usize = 8;

/// Climbs from the best portfolio so far until the budget is spent.
pub fn climb(ctx: &mut Ctx) {
    let Some(best) = ctx.best_members().filter(|_| !ctx.done()) else {
        return;
    };
    let mut chain = Chain::new(ctx.problem(), best.to_vec(), ctx.best_fitness());
    let mut moves = Vec::with_capacity(PROPOSALS);
    while !ctx.done() {
        moves.clear();
        for _ in 0..ctx.allow(PROPOSALS) {
            let out_pos = ctx.rng.below(ctx.k) as u32;
            let incoming = ctx.promising_outsider(&chain.members);
            moves.push(Swap {
                chain: 0,
                out_pos,
                incoming,
            });
        }
        let fitness = ctx.evaluate_swaps(std::slice::from_ref(&chain), &moves);
        let best = (0..moves.len()).fold(0, |b, i| if fitness[i] > fitness[b] { i } else { b });
        if fitness[best] > chain.fitness {
            let m = moves[best];
            chain.apply(ctx.problem(), m.out_pos as usize, m.incoming, fitness[best]);
            ctx.offer_chain(&chain);
        }
    }
}
