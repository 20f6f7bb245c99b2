//! [`compare`]: a blue and a green `JobResult`, field by field (pure: no I/O, no clock).
//!
//! Fields, in the order mismatches are reported:
//!
//! 1. **Strategies**: `strategy_count` (exact), then for each strategy both sides have, in index
//!    order, `strategy[i].roi`, `.max_drawdown`, `.win_percentage`, `.profit_factor`,
//!    `.expectancy` (numbers).
//! 2. **Algorithms**, one entry per (portfolio size, algorithm), in blue's order and then the
//!    entries only green has: `size[k].GA.portfolio` (exact, shown as `[1, 5, 9]`),
//!    `.fitness` (number), `.evaluations` (exact: both sides do identical work), then
//!    `.roi_drawdown_ratio`, `.roi`, `.max_drawdown`, `.win_percentage`, `.profit_factor`
//!    (numbers). An entry on one side only is one mismatched field `size[k].GA` (the other side
//!    reads `missing`).
//! 3. **Summary**: `best_fitness` (number), `best_algorithm`, `best_size`, `seed` (exact).
//! 4. **Walk-forward**, then 5. **selection statistics**: every field (see `validation`).
//!
//! Not compared: `job_id`, `side`, `engine`, `result_json` (its numbers are the ones above),
//! `run_folder` and every `seconds`.
//!
//! Numbers follow [`crate::difference`]. An exact field matches when equal and otherwise differs
//! by `+inf`. `max_relative_difference` is the largest **finite** difference over the numeric
//! fields, so it stays a usable gauge: a NaN, an infinity against a finite number and every
//! exact-field mismatch are counted in `mismatches` (with `+inf`) but not in the maximum.

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::time::SystemTime;

use hop_proto::v1::{AlgorithmSummary, CompareReply, JobResult, Mismatch, StrategyMetrics};

use crate::difference::{Tolerance, number_text, relative_difference};

/// The outcome of comparing two results, before it is stamped and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// True when no field mismatched.
    pub matched: bool,
    /// Largest finite relative difference over the numeric fields (0 when identical).
    pub max_relative_difference: f64,
    /// Every mismatched field, in the documented order.
    pub mismatches: Vec<Mismatch>,
    /// The tolerance applied.
    pub tolerance: f64,
    /// Number of fields compared (an entry on one side only counts as one).
    pub fields_compared: u32,
}

impl Comparison {
    /// The reply for `job_id`, stamped `compared_at`.
    pub fn into_reply(self, job_id: String, compared_at: SystemTime) -> CompareReply {
        CompareReply {
            job_id,
            matched: self.matched,
            max_relative_difference: self.max_relative_difference,
            mismatches: self.mismatches,
            tolerance: self.tolerance,
            fields_compared: self.fields_compared,
            compared_at: Some(compared_at.into()),
        }
    }
}

/// Compares `blue` and `green` under `tolerance` (see the module documentation).
pub fn compare(blue: &JobResult, green: &JobResult, tolerance: Tolerance) -> Comparison {
    let mut walk = Walk::new(tolerance);
    walk.strategies(&blue.strategy_metrics, &green.strategy_metrics);
    walk.algorithms(&blue.algorithms, &green.algorithms);
    walk.number(
        || "best_fitness".into(),
        blue.best_fitness,
        green.best_fitness,
    );
    walk.exact(
        || "best_algorithm".into(),
        &blue.best_algorithm,
        &green.best_algorithm,
    );
    walk.exact(|| "best_size".into(), &blue.best_size, &green.best_size);
    walk.exact(|| "seed".into(), &blue.seed, &green.seed);
    walk.walk_forward(blue.walk_forward.as_deref(), green.walk_forward.as_deref());
    walk.selection(blue.selection.as_deref(), green.selection.as_deref());
    Comparison {
        matched: walk.mismatches.is_empty(),
        max_relative_difference: walk.max,
        mismatches: walk.mismatches,
        tolerance: tolerance.relative(),
        fields_compared: walk.fields,
    }
}

/// A numeric field of `T`: its name and how to read it.
type NumberField<T> = (&'static str, fn(&T) -> f64);

/// The five per-strategy metrics, by field name.
const STRATEGY_FIELDS: [NumberField<StrategyMetrics>; 5] = [
    ("roi", |m| m.roi),
    ("max_drawdown", |m| m.max_drawdown),
    ("win_percentage", |m| m.win_percentage),
    ("profit_factor", |m| m.profit_factor),
    ("expectancy", |m| m.expectancy),
];

/// The five portfolio metrics of an algorithm entry, compared after its fitness.
const PORTFOLIO_FIELDS: [NumberField<AlgorithmSummary>; 5] = [
    ("roi_drawdown_ratio", |a| a.roi_drawdown_ratio),
    ("roi", |a| a.roi),
    ("max_drawdown", |a| a.max_drawdown),
    ("win_percentage", |a| a.win_percentage),
    ("profit_factor", |a| a.profit_factor),
];

/// The running state of one comparison.
struct Walk {
    tolerance: Tolerance,
    abs_floor: f64,
    max: f64,
    fields: u32,
    mismatches: Vec<Mismatch>,
}

impl Walk {
    fn new(tolerance: Tolerance) -> Self {
        Self {
            tolerance,
            abs_floor: tolerance.abs_floor(),
            max: 0.0,
            fields: 0,
            mismatches: Vec::new(),
        }
    }

    /// A numeric field (the name is only built for a mismatch).
    fn number(&mut self, field: impl FnOnce() -> String, blue: f64, green: f64) {
        self.fields = self.fields.saturating_add(1);
        let difference = relative_difference(blue, green, self.abs_floor);
        if difference.is_finite() {
            self.max = self.max.max(difference);
        }
        if !self.tolerance.accepts(difference) {
            self.mismatch(field(), number_text(blue), number_text(green), difference);
        }
    }

    /// A field that must be equal (names, counts, sizes, seeds).
    fn exact<T: PartialEq + Display>(
        &mut self,
        field: impl FnOnce() -> String,
        blue: &T,
        green: &T,
    ) {
        self.fields = self.fields.saturating_add(1);
        if blue != green {
            self.mismatch(field(), blue.to_string(), green.to_string(), f64::INFINITY);
        }
    }

    fn mismatch(&mut self, field: String, blue: String, green: String, difference: f64) {
        self.mismatches.push(Mismatch {
            field,
            blue,
            green,
            relative_difference: difference,
        });
    }

    fn strategies(&mut self, blue: &[StrategyMetrics], green: &[StrategyMetrics]) {
        self.exact(|| "strategy_count".into(), &blue.len(), &green.len());
        for (i, (b, g)) in blue.iter().zip(green).enumerate() {
            for (name, get) in STRATEGY_FIELDS {
                self.number(|| format!("strategy[{i}].{name}"), get(b), get(g));
            }
        }
    }

    fn algorithms(&mut self, blue: &[AlgorithmSummary], green: &[AlgorithmSummary]) {
        let mut unmatched_green: HashMap<(u32, &str), VecDeque<usize>> = HashMap::new();
        for (i, g) in green.iter().enumerate() {
            unmatched_green.entry(key(g)).or_default().push_back(i);
        }
        let mut paired = vec![false; green.len()];
        for b in blue {
            match unmatched_green
                .get_mut(&key(b))
                .and_then(VecDeque::pop_front)
            {
                Some(i) => {
                    paired[i] = true;
                    self.entry(b, &green[i]);
                }
                None => self.one_sided(b, entry_text(b), "missing".into()),
            }
        }
        for (g, _) in green.iter().zip(paired).filter(|(_, paired)| !paired) {
            self.one_sided(g, "missing".into(), entry_text(g));
        }
    }

    fn entry(&mut self, blue: &AlgorithmSummary, green: &AlgorithmSummary) {
        let prefix = entry_name(blue);
        self.exact(
            || format!("{prefix}.portfolio"),
            &PortfolioText(&blue.portfolio),
            &PortfolioText(&green.portfolio),
        );
        self.number(|| format!("{prefix}.fitness"), blue.fitness, green.fitness);
        self.exact(
            || format!("{prefix}.evaluations"),
            &blue.evaluations,
            &green.evaluations,
        );
        for (name, get) in PORTFOLIO_FIELDS {
            self.number(|| format!("{prefix}.{name}"), get(blue), get(green));
        }
    }

    fn one_sided(&mut self, entry: &AlgorithmSummary, blue: String, green: String) {
        self.fields = self.fields.saturating_add(1);
        self.mismatch(entry_name(entry), blue, green, f64::INFINITY);
    }
}

/// What identifies an algorithm entry.
fn key(entry: &AlgorithmSummary) -> (u32, &str) {
    (entry.portfolio_size, entry.algorithm.as_str())
}

/// `size[35].GA`.
fn entry_name(entry: &AlgorithmSummary) -> String {
    format!("size[{}].{}", entry.portfolio_size, entry.algorithm)
}

/// An entry present on one side, as text: `portfolio [1, 5, 9], fitness -1.8`.
fn entry_text(entry: &AlgorithmSummary) -> String {
    format!(
        "portfolio {}, fitness {}",
        PortfolioText(&entry.portfolio),
        number_text(entry.fitness)
    )
}

/// A portfolio compared as a whole and shown as `[1, 5, 9]`.
#[derive(PartialEq)]
struct PortfolioText<'a>(&'a [u32]);

impl Display for PortfolioText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

mod validation;

#[cfg(test)]
mod tests;
