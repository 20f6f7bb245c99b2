//! GA: generational genetic algorithm for subsets — tournament selection, a crossover that keeps
//! what both parents share and fills up from the rest of their union, random-swap mutation,
//! repair to exactly `k` distinct members, and elitism. A child is scored from its first parent's
//! accumulators (the evaluator's `evaluate_near` hint).

use super::context::Ctx;
use super::subset::{assemble, mutate, ranked, tournament};
use crate::eval::Chain;

const POPULATION: usize = 64;
const ELITES: usize = 2;
const TOURNAMENT: usize = 3;

pub fn run(ctx: &mut Ctx) {
    let k = ctx.k;
    let mut population = ctx.random_chains(POPULATION.min((ctx.remaining() as usize / 8).max(2)));
    let rate = 1.0 / k as f64;
    while !ctx.done() {
        let fitness: Vec<f64> = population.iter().map(|c| c.fitness).collect();
        let wanted = ctx.allow(population.len().saturating_sub(ELITES).max(1));
        let mut children = Vec::with_capacity(wanted * k);
        let mut parents = Vec::with_capacity(wanted);
        for _ in 0..wanted {
            let first = tournament(&mut ctx.rng, &fitness, TOURNAMENT);
            let second = tournament(&mut ctx.rng, &fitness, TOURNAMENT);
            let (a, b) = (&population[first].members, &population[second].members);
            let shared: Vec<u32> = a.iter().copied().filter(|j| b.contains(j)).collect();
            let mut pool: Vec<u32> = a
                .iter()
                .chain(b.iter())
                .copied()
                .filter(|j| !shared.contains(j))
                .collect();
            let mut child = assemble(&mut ctx.rng, ctx.n, k, &shared, &mut pool);
            mutate(&mut ctx.rng, ctx.n, &mut child, rate, 0);
            children.extend_from_slice(&child);
            parents.push(first as u32);
        }
        let child_fitness = ctx.evaluate_near(&children, &population, &parents);
        let problem = ctx.problem();
        let mut next: Vec<Chain> = ranked(&fitness)
            .into_iter()
            .take(ELITES)
            .map(|i| population[i].clone())
            .collect();
        for ((child, &parent), f) in children.chunks(k).zip(&parents).zip(child_fitness) {
            next.push(Chain::derived(
                problem,
                &population[parent as usize],
                child.to_vec(),
                f,
            ));
        }
        population = next;
    }
}
