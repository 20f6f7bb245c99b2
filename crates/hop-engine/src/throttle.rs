//! [`Throttle`]: the job's percentage, and which progress events are worth sending.

use std::collections::HashMap;
use std::sync::Mutex;

use hop_core::run::JobProgress;
use hop_core::{Algorithm, JobOptions};

/// Tracks every (size, algorithm)'s evaluations for the job's percentage, and lets through at most
/// one progress event per (size, algorithm) per 5 % of its budget (plus its final one).
pub struct Throttle {
    total: f64,
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    done: HashMap<(usize, Algorithm), u64>,
    done_total: u64,
    last_step: HashMap<(usize, Algorithm), u64>,
}

impl Throttle {
    pub fn new(options: &JobOptions) -> Self {
        let per_size: u64 = options
            .algorithms
            .iter()
            .map(|&a| options.budget_for(a))
            .sum();
        let sizes = options.sizes().count() as u64;
        Self {
            total: (per_size * sizes).max(1) as f64,
            state: Mutex::new(ThrottleState::default()),
        }
    }

    /// Records `p` and, when it should be sent, calls `send` with the job's percentage — under
    /// the lock, so that events from parallel algorithms are queued in percentage order.
    pub fn update(&self, p: &JobProgress, send: impl FnOnce(f64)) {
        let key = (p.portfolio_size, p.algorithm);
        let budget = p.progress.budget.max(1);
        let evaluations = p.progress.evaluations.min(budget);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let previous = state.done.insert(key, evaluations).unwrap_or(0);
        state.done_total = state.done_total + evaluations - previous.min(evaluations);
        let step = evaluations * 20 / budget;
        let last = state.last_step.get(&key).copied();
        if last.is_some_and(|last| step <= last) {
            return;
        }
        state.last_step.insert(key, step);
        send(100.0 * state.done_total as f64 / self.total);
    }
}
