//! The search (SPEC 2.4): host-side logic shared by every engine, over an [`crate::eval::Evaluator`].
//!
//! Each algorithm gets its own RNG stream derived from the job's seed, the algorithm and the
//! portfolio size, and a budget counted in fitness evaluations, so a job's results depend on
//! nothing but its inputs: not on the engine, the thread count or the machine.

mod annealing;
mod ant_colony;
mod context;
mod differential;
mod fenwick;
mod genetic;
mod hill_climb;
mod polish;
mod random_search;
mod subset;
mod surrogate;
mod swarm;

use crate::types::Algorithm;
pub use context::{Outcome, Progress, ProgressFn, det_exp, fill_random, random_outsider};

use crate::eval::Evaluator;
use crate::rng::Rng;
use context::Ctx;

/// Runs one algorithm for portfolios of `k` strategies with `budget` fitness evaluations.
pub fn run(
    algorithm: Algorithm,
    eval: &dyn Evaluator,
    k: usize,
    budget: u64,
    seed: u64,
    progress: ProgressFn,
) -> Outcome {
    let n = eval.problem().n_strategies();
    assert!(
        k >= 1 && k <= n && budget >= 1,
        "validated by JobOptions::validate"
    );
    let rng = Rng::new(seed, algorithm.stream() << 32 | k as u64);
    let mut ctx = Ctx::new(eval, k, budget, rng, progress);
    if k == n {
        // One portfolio exists: evaluate it once.
        let all: Vec<u32> = (0..n as u32).collect();
        ctx.evaluate(&all);
        return ctx.finish();
    }
    // A whole-portfolio algorithm runs its own method on its share, the swap local search on
    // the rest; the others run their own method on the whole budget.
    let share = algorithm.exploration_share();
    if let Some(share) = share {
        ctx.limit_to(share.of(budget));
    }
    match algorithm {
        Algorithm::Ga => genetic::run(&mut ctx),
        Algorithm::Pso => swarm::run(&mut ctx),
        Algorithm::Sa => annealing::run(&mut ctx),
        Algorithm::De => differential::run(&mut ctx),
        Algorithm::Aco => ant_colony::run(&mut ctx),
        Algorithm::Hc => hill_climb::run(&mut ctx),
        Algorithm::Bo => surrogate::run(&mut ctx),
        Algorithm::Rs => random_search::run(&mut ctx),
    }
    if share.is_some() {
        ctx.unlimit();
        polish::climb(&mut ctx);
    }
    ctx.finish()
}
