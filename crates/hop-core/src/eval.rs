//! Evaluators: the one thing an engine supplies to the shared search.
//!
//! The search logic runs on the host with one seeded RNG; an evaluator only scores batches of
//! candidate portfolios. Every evaluator must return the same bits as [`Problem::fitness`] — the
//! CPU one below is the reference, a GPU one replays the same operations.

use crate::fitness::{Accum, Problem};

/// A portfolio under local search: its members, accumulators and fitness.
#[derive(Debug, Clone)]
pub struct Chain {
    pub members: Vec<u32>,
    pub acc: Accum,
    pub fitness: f64,
}

impl Chain {
    pub fn new(problem: &Problem, members: Vec<u32>, fitness: f64) -> Self {
        let mut acc = Accum::new(problem.n_days());
        problem.accumulate(&members, &mut acc);
        Self {
            members,
            acc,
            fitness,
        }
    }

    /// The chain of `members`, derived from `parent` (cheap when they share most members).
    pub fn derived(problem: &Problem, parent: &Chain, members: Vec<u32>, fitness: f64) -> Self {
        let mut acc = Accum::default();
        derive_accumulators(problem, parent, &members, &mut acc);
        Self {
            members,
            acc,
            fitness,
        }
    }

    /// Applies a move whose fitness is already known.
    pub fn apply(&mut self, problem: &Problem, out_pos: usize, incoming: u32, fitness: f64) {
        let out = self.members[out_pos];
        self.acc.swap(problem, out as usize, incoming as usize);
        self.members[out_pos] = incoming;
        self.fitness = fitness;
    }
}

/// Sets `acc` to the accumulators of `members` (a portfolio of the parent's size): the parent's
/// accumulators with the differing members swapped, or a fresh sum when most members differ.
/// Exact integers, so both ways give the same bits.
pub fn derive_accumulators(problem: &Problem, parent: &Chain, members: &[u32], acc: &mut Accum) {
    let outgoing: Vec<u32> = parent
        .members
        .iter()
        .copied()
        .filter(|j| !members.contains(j))
        .collect();
    if outgoing.len() * 2 > members.len() {
        problem.accumulate(members, acc);
        return;
    }
    let incoming: Vec<u32> = members
        .iter()
        .copied()
        .filter(|j| !parent.members.contains(j))
        .collect();
    debug_assert_eq!(
        outgoing.len(),
        incoming.len(),
        "same size, distinct members"
    );
    problem.touch(&incoming);
    acc.clone_from(&parent.acc);
    for (&out, &inc) in outgoing.iter().zip(&incoming) {
        acc.swap(problem, out as usize, inc as usize);
    }
}

/// The portfolio's daily series p[t], from the same exact accumulators the fitness used.
pub fn daily_series(problem: &Problem, members: &[u32]) -> Vec<f64> {
    let mut acc = Accum::new(problem.n_days());
    problem.accumulate(members, &mut acc);
    problem.daily(&acc, members.len())
}

/// A single-swap move: in chain `chain`, the member at `out_pos` is replaced by `incoming`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swap {
    pub chain: u32,
    pub out_pos: u32,
    pub incoming: u32,
}

pub trait Evaluator: Send + Sync {
    /// `cpu`, `gpu`, ...: reported in results.
    fn name(&self) -> &'static str;

    fn problem(&self) -> &Problem;

    /// Fitness of `out.len()` portfolios of `k` members each, `members` holding them back to back.
    fn evaluate(&self, k: usize, members: &[u32], out: &mut [f64]);

    /// Fitness of each single-swap move against its chain's current state.
    fn evaluate_swaps(&self, chains: &[Chain], moves: &[Swap], out: &mut [f64]);

    /// Like [`Evaluator::evaluate`], with a hint: portfolio `i` was derived from
    /// `chains[parents[i]]` and usually differs from it in a few members. The result must be the
    /// same bits as a full evaluation (it is, by exactness); an evaluator may ignore the hint.
    fn evaluate_near(
        &self,
        k: usize,
        members: &[u32],
        chains: &[Chain],
        parents: &[u32],
        out: &mut [f64],
    ) {
        let _ = (chains, parents);
        self.evaluate(k, members, out);
    }

    /// Whether whoever asked for the search went away: the search then ends after the batch in
    /// hand, as if its budget were spent (checked after every batch; never, by default).
    fn stopped(&self) -> bool {
        false
    }
}

/// The reference evaluator: full recompute for batches, O(T) incremental for swaps. Single-threaded
/// per call: a job runs its algorithms in parallel, which keeps every core busy already.
#[derive(Debug)]
pub struct CpuEvaluator<'a> {
    problem: &'a Problem,
}

impl<'a> CpuEvaluator<'a> {
    pub fn new(problem: &'a Problem) -> Self {
        Self { problem }
    }
}

impl CpuEvaluator<'_> {
    /// Scores portfolio `i` of `members` (`k` each) into `out[i]` after `build` has set the
    /// accumulators for it.
    fn score_each(
        &self,
        k: usize,
        members: &[u32],
        out: &mut [f64],
        mut build: impl FnMut(usize, &[u32], &mut Accum),
    ) {
        assert_eq!(
            members.len(),
            k * out.len(),
            "members must hold k per portfolio"
        );
        let mut acc = Accum::new(self.problem.n_days());
        for (i, (portfolio, slot)) in members.chunks(k).zip(out.iter_mut()).enumerate() {
            build(i, portfolio, &mut acc);
            *slot = self.problem.fitness(&acc, k);
        }
    }
}

impl Evaluator for CpuEvaluator<'_> {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn problem(&self) -> &Problem {
        self.problem
    }

    fn evaluate(&self, k: usize, members: &[u32], out: &mut [f64]) {
        self.score_each(k, members, out, |_, portfolio, acc| {
            self.problem.accumulate(portfolio, acc)
        });
    }

    fn evaluate_near(
        &self,
        k: usize,
        members: &[u32],
        chains: &[Chain],
        parents: &[u32],
        out: &mut [f64],
    ) {
        assert_eq!(parents.len(), out.len(), "one parent per portfolio");
        self.score_each(k, members, out, |i, portfolio, acc| {
            derive_accumulators(self.problem, &chains[parents[i] as usize], portfolio, acc)
        });
    }

    fn evaluate_swaps(&self, chains: &[Chain], moves: &[Swap], out: &mut [f64]) {
        assert_eq!(moves.len(), out.len());
        let p = self.problem;
        let incoming: Vec<u32> = moves.iter().map(|m| m.incoming).collect();
        p.touch(&incoming);
        for (m, slot) in moves.iter().zip(out.iter_mut()) {
            let chain = &chains[m.chain as usize];
            let outgoing = chain.members[m.out_pos as usize] as usize;
            *slot = p.swap_fitness(
                &chain.acc,
                chain.members.len(),
                outgoing,
                m.incoming as usize,
            );
        }
    }
}
