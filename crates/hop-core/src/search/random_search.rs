//! RS: uniformly random portfolios in batches; the best one wins. The baseline every other
//! algorithm must beat.

use super::context::{Ctx, fill_random};

const BATCH: usize = 256;

pub fn run(ctx: &mut Ctx) {
    let mut flat = Vec::with_capacity(BATCH * ctx.k);
    while !ctx.done() {
        let count = ctx.allow(BATCH);
        flat.clear();
        for _ in 0..count {
            fill_random(&mut ctx.rng, ctx.n, ctx.k, &mut flat);
        }
        ctx.evaluate(&flat);
    }
}
