//! Set operations on portfolios used by the population algorithms.

use crate::rng::Rng;

/// Builds a child of exactly `k` distinct members: all of `keep` first (deduplicated), then members
/// drawn at random from `pool`, then random strategies if the pool runs dry (the repair step).
pub fn assemble(rng: &mut Rng, n: usize, k: usize, keep: &[u32], pool: &mut Vec<u32>) -> Vec<u32> {
    let mut child = Vec::with_capacity(k);
    for &j in keep {
        if child.len() == k {
            break;
        }
        if !child.contains(&j) {
            child.push(j);
        }
    }
    while child.len() < k && !pool.is_empty() {
        let j = pool.swap_remove(rng.below(pool.len()));
        if !child.contains(&j) {
            child.push(j);
        }
    }
    while child.len() < k {
        let j = rng.below(n) as u32;
        if !child.contains(&j) {
            child.push(j);
        }
    }
    child
}

/// Replaces each member with probability `rate` by a random outsider (at least `min` replacements).
pub fn mutate(rng: &mut Rng, n: usize, members: &mut [u32], rate: f64, min: usize) {
    let k = members.len();
    if k >= n {
        return;
    }
    let mut changed = 0;
    for pos in 0..k {
        if rng.chance(rate) {
            members[pos] = super::context::random_outsider(rng, n, members);
            changed += 1;
        }
    }
    while changed < min {
        let pos = rng.below(k);
        members[pos] = super::context::random_outsider(rng, n, members);
        changed += 1;
    }
}

/// Index of the best of `size` random entrants (tournament selection).
pub fn tournament(rng: &mut Rng, fitness: &[f64], size: usize) -> usize {
    let mut best = rng.below(fitness.len());
    for _ in 1..size {
        let other = rng.below(fitness.len());
        if fitness[other] > fitness[best] {
            best = other;
        }
    }
    best
}

/// Indices sorted by fitness, best first (stable: ties keep index order).
pub fn ranked(fitness: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fitness.len()).collect();
    order.sort_by(|&a, &b| fitness[b].total_cmp(&fitness[a]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assemble_repairs_to_k_distinct() {
        let mut rng = Rng::new(1, 2);
        let mut pool = vec![3, 3, 4];
        let child = assemble(&mut rng, 20, 6, &[1, 1, 2], &mut pool);
        let mut s = child.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 6);
        assert!(child.starts_with(&[1, 2]));
        assert!(child.contains(&3) && child.contains(&4));
    }

    #[test]
    fn mutate_keeps_members_distinct() {
        let mut rng = Rng::new(5, 5);
        for _ in 0..200 {
            let mut m: Vec<u32> = (0..10).collect();
            mutate(&mut rng, 12, &mut m, 0.3, 1);
            let mut s = m.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 10);
            assert_ne!(m, (0..10).collect::<Vec<u32>>());
        }
    }
}
