//! ACO: ant colony optimisation with a per-strategy pheromone vector. Each ant draws `k` distinct
//! strategies with probability proportional to pheromone x heuristic^2, where the heuristic is the
//! strategy's rank by its own fitness. Pheromone evaporates every iteration and is deposited on the
//! iteration's best and the best-so-far portfolios (elitist ant system).
//!
//! Pheromone is `1 + phi_j`: the constant keeps every strategy reachable, `phi` carries the
//! colony's memory. Draws use two Fenwick trees (the constant part and the `phi` part, the latter
//! under one global evaporation factor), so an ant costs O(k log n), not O(n).

use super::context::Ctx;
use super::fenwick::Fenwick;
use super::subset::ranked;

const ANTS: usize = 32;
const EVAPORATION: f64 = 0.1;
/// Steady-state share of the draw mass on the best portfolio's members.
const MEMORY_SHARE: f64 = 0.5;

pub fn run(ctx: &mut Ctx) {
    let (n, k) = (ctx.n, ctx.k);
    let order = ranked(ctx.problem().singleton_fitness());
    let mut eta2 = vec![0.0; n];
    for (rank, &j) in order.iter().enumerate() {
        let eta = 1.0 - 0.95 * rank as f64 / n as f64;
        eta2[j] = eta * eta;
    }
    let base = Fenwick::new(&eta2);
    let base_total = base.total();
    let mut phi = vec![0.0; n];
    let mut phi_tree = Fenwick::new(&phi);
    let mut scale = 1.0; // true phi = phi * scale
    let deposit = EVAPORATION * MEMORY_SHARE * base_total / k as f64 / 2.0;
    while !ctx.done() {
        let ants = ctx.allow(ANTS);
        let mut flat = Vec::with_capacity(ants * k);
        for _ in 0..ants {
            let start = flat.len();
            let mut misses = 0;
            while flat.len() - start < k {
                let memory = phi_tree.total() * scale;
                let u = ctx.rng.unit() * (base_total + memory);
                let j = if u < base_total || memory <= 0.0 {
                    base.find(ctx.rng.unit() * base_total)
                } else {
                    phi_tree.find(ctx.rng.unit() * phi_tree.total())
                } as u32;
                if !flat[start..].contains(&j) {
                    flat.push(j);
                } else {
                    misses += 1;
                    if misses > 64 {
                        let j = ctx.random_outsider(&flat[start..]);
                        flat.push(j);
                    }
                }
            }
        }
        let fitness = ctx.evaluate(&flat);
        let best_ant = ranked(&fitness)[0];
        scale *= 1.0 - EVAPORATION;
        if scale < 1e-200 {
            phi.iter_mut().for_each(|p| *p *= scale);
            scale = 1.0;
            phi_tree = Fenwick::new(
                &phi.iter()
                    .zip(&eta2)
                    .map(|(p, e)| p * e)
                    .collect::<Vec<_>>(),
            );
        }
        let iteration_best = flat[best_ant * k..(best_ant + 1) * k].to_vec();
        let best_so_far = ctx.best_members().expect("colony evaluated").to_vec();
        for j in iteration_best.into_iter().chain(best_so_far) {
            let j = j as usize;
            phi[j] += deposit / scale;
            phi_tree.add(j, deposit / scale * eta2[j]);
        }
    }
}
