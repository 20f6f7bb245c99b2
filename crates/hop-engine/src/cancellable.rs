//! [`Cancellable`]: the backend's evaluator, stopped when the job's client went away, so that a
//! cancelled job (or one whose router replica died) frees the engine at once instead of searching
//! to the end of its budget for nobody.

use hop_core::eval::{Chain, Evaluator, Swap};
use hop_core::fitness::Problem;

use crate::emitter::Emitter;

pub struct Cancellable<'a> {
    inner: Box<dyn Evaluator + 'a>,
    emitter: &'a Emitter,
}

impl<'a> Cancellable<'a> {
    pub fn new(inner: Box<dyn Evaluator + 'a>, emitter: &'a Emitter) -> Self {
        Self { inner, emitter }
    }
}

impl Evaluator for Cancellable<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn problem(&self) -> &Problem {
        self.inner.problem()
    }

    fn evaluate(&self, k: usize, members: &[u32], out: &mut [f64]) {
        self.inner.evaluate(k, members, out);
    }

    fn evaluate_swaps(&self, chains: &[Chain], moves: &[Swap], out: &mut [f64]) {
        self.inner.evaluate_swaps(chains, moves, out);
    }

    fn evaluate_near(
        &self,
        k: usize,
        members: &[u32],
        chains: &[Chain],
        parents: &[u32],
        out: &mut [f64],
    ) {
        self.inner.evaluate_near(k, members, chains, parents, out);
    }

    fn stopped(&self) -> bool {
        self.emitter.closed() || self.inner.stopped()
    }
}
