//! `hop-bench --curve`: fitness against evaluations and against time, per algorithm, on the
//! production shape. Each algorithm runs alone on one thread (as it does in a job, where the
//! algorithms share the cores), at budgets from a sixteenth of its default to four times it.

use std::time::Instant;

use hop_core::eval::CpuEvaluator;
use hop_core::run::Prepared;
use hop_core::{Algorithm, JobOptions, PnlMatrix, search};

use crate::BenchArgs;
use crate::measure::BoxError;

/// Budgets tried, as multiples of each algorithm's default.
const MULTIPLIERS: [f64; 7] = [0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0];

pub fn run(args: &BenchArgs, matrix: PnlMatrix) -> Result<(), BoxError> {
    let options = JobOptions {
        seed: args.seed,
        ..JobOptions::with_size(args.k)
    };
    let prepared = Prepared::new(matrix, &options, None)?;
    let eval = CpuEvaluator::new(&prepared.problem);
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    println!(
        "# fitness vs evaluations and time, one thread per algorithm (k = {})",
        args.k
    );
    println!(
        "{:<5} {:>12} {:>10} {:>14}",
        "alg", "evaluations", "ms", "fitness"
    );
    for algorithm in Algorithm::ALL {
        for multiplier in MULTIPLIERS {
            let budget = ((algorithm.default_budget() as f64 * multiplier) as u64).max(1);
            let started = Instant::now();
            let outcome = single
                .install(|| search::run(algorithm, &eval, args.k, budget, args.seed, &|_| {}));
            let ms = started.elapsed().as_secs_f64() * 1e3;
            println!(
                "{:<5} {:>12} {:>10.1} {:>14.3}",
                algorithm.as_str(),
                outcome.evaluations,
                ms,
                outcome.fitness
            );
        }
    }
    Ok(())
}
