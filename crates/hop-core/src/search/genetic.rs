//! GA: generational genetic algorithm for subsets — tournament selection, a crossover that keeps
//! what both parents share and fills up from the rest of their union, random-swap mutation,
//! repair to exactly `k` distinct members, and elitism.

use super::context::Ctx;
use super::subset::{assemble, mutate, ranked, tournament};

const POPULATION: usize = 64;
const ELITES: usize = 2;
const TOURNAMENT: usize = 3;

pub fn run(ctx: &mut Ctx) {
    let k = ctx.k;
    let size = POPULATION.min((ctx.remaining() as usize / 8).max(2));
    let first: Vec<Vec<u32>> = (0..ctx.allow(size))
        .map(|_| ctx.random_portfolio())
        .collect();
    let mut fitness = ctx.evaluate(&first.concat());
    let mut population = first;
    let rate = 1.0 / k as f64;
    while !ctx.done() {
        let order = ranked(&fitness);
        let children_wanted = ctx.allow(population.len().saturating_sub(ELITES).max(1));
        let mut children = Vec::with_capacity(children_wanted);
        for _ in 0..children_wanted {
            let a = &population[tournament(&mut ctx.rng, &fitness, TOURNAMENT)];
            let b = &population[tournament(&mut ctx.rng, &fitness, TOURNAMENT)];
            let shared: Vec<u32> = a.iter().copied().filter(|j| b.contains(j)).collect();
            let mut pool: Vec<u32> = a
                .iter()
                .chain(b.iter())
                .copied()
                .filter(|j| !shared.contains(j))
                .collect();
            let mut child = assemble(&mut ctx.rng, ctx.n, k, &shared, &mut pool);
            mutate(&mut ctx.rng, ctx.n, &mut child, rate, 0);
            children.push(child);
        }
        let child_fitness = ctx.evaluate(&children.concat());
        let mut next: Vec<Vec<u32>> = order
            .iter()
            .take(ELITES)
            .map(|&i| population[i].clone())
            .collect();
        let mut next_fitness: Vec<f64> = order.iter().take(ELITES).map(|&i| fitness[i]).collect();
        next.extend(children);
        next_fitness.extend(child_fitness);
        population = next;
        fitness = next_fitness;
    }
}
