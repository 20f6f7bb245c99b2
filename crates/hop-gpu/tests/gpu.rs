//! The GPU against the CPU reference, bit for bit. Needs a CUDA device (driver + libnvrtc): without
//! one every test prints `skipped: no CUDA device (<reason>)` and passes — unless
//! `HOP_REQUIRE_GPU=1`, which turns a missing device into a failure (set it on GPU machines).
//!
//! Run on a GPU machine: `HOP_REQUIRE_GPU=1 cargo test --release -p hop-gpu --test gpu -- --nocapture`.

use std::sync::{Arc, OnceLock};

use hop_core::eval::{Chain, CpuEvaluator, Evaluator, Swap};
use hop_core::fitness::{FitnessSpec, Problem};
use hop_core::rng::Rng;
use hop_core::run::{Prepared, run_search};
use hop_core::{Aggregation, JobOptions, Metric, PnlMatrix, RunResult};
use hop_gpu::plan::{metric_code, random_portfolio};
use hop_gpu::{DeviceProblem, Dispatch, Gpu, GpuError, GpuEvaluator};

/// The device shared by the tests (one context per process).
fn gpu() -> Option<Arc<Gpu>> {
    static GPU: OnceLock<Result<Arc<Gpu>, GpuError>> = OnceLock::new();
    match GPU.get_or_init(|| Gpu::open(0)) {
        Ok(gpu) => Some(gpu.clone()),
        Err(e) => {
            if std::env::var("HOP_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("HOP_REQUIRE_GPU=1 but the GPU is not usable: {e}");
            }
            println!("skipped: no CUDA device ({e})");
            None
        }
    }
}

fn fixture() -> PnlMatrix {
    hop_core::fixtures::matrix("sensex_2500x82.csv")
}

fn random_batch(rng: &mut Rng, n: usize, k: usize, count: usize) -> Vec<u32> {
    (0..count)
        .flat_map(|_| random_portfolio(rng, n, k))
        .collect()
}

/// Scores `count` random portfolios of `k` on both and asserts every bit.
fn assert_same_fitness(
    gpu: &Arc<Gpu>,
    problem: &Problem,
    spec: FitnessSpec,
    k: usize,
    count: usize,
) {
    let device = DeviceProblem::upload(gpu.clone(), problem, spec, &Dispatch::default()).unwrap();
    let cpu = CpuEvaluator::new(problem);
    let mut rng = Rng::new(k as u64, count as u64);
    let chunk = 100_000;
    let mut done = 0;
    while done < count {
        let here = chunk.min(count - done);
        let members = random_batch(&mut rng, problem.n_strategies(), k, here);
        let (mut want, mut got) = (vec![0.0; here], vec![f64::NAN; here]);
        cpu.evaluate(k, &members, &mut want);
        device.evaluate(k, &members, &mut got).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{spec:?} k = {k}, portfolio {:?}: gpu {g:e} cpu {w:e}",
                &members[i * k..(i + 1) * k]
            );
        }
        done += here;
    }
}

#[test]
fn fitness_bits_equal_on_a_million_portfolios() {
    let Some(gpu) = gpu() else { return };
    println!("{}", gpu.info().describe());
    let matrix = fixture();
    let options = JobOptions::with_size(35);
    let spec = FitnessSpec::from(&options);
    let problem = Problem::new(&matrix, spec, 35).unwrap();
    assert_same_fitness(&gpu, &problem, spec, 35, 1_000_000);
    for k in [1, 2, 3, 10, 20, 34] {
        assert_same_fitness(&gpu, &problem, spec, k, 100_000);
    }
    let problem = Problem::new(&matrix, spec, 100).unwrap();
    assert_same_fitness(&gpu, &problem, spec, 100, 100_000);
}

#[test]
fn fitness_bits_equal_for_every_metric_and_aggregation() {
    let Some(gpu) = gpu() else { return };
    let matrix = fixture();
    for metric in Metric::ALL
        .into_iter()
        .filter(|&m| metric_code(m).is_some())
    {
        for aggregation in [Aggregation::Mean, Aggregation::Sum] {
            for penalty_weight in [10.0, 0.0] {
                let spec = FitnessSpec {
                    metric,
                    penalty_weight,
                    aggregation,
                };
                let problem = Problem::new(&matrix, spec, 50).unwrap();
                for k in [2, 35, 50] {
                    assert_same_fitness(&gpu, &problem, spec, k, 20_000);
                }
            }
        }
    }
}

#[test]
fn fitness_bits_equal_on_the_production_shape_and_long_series() {
    let Some(gpu) = gpu() else { return };
    let base = fixture();
    let production = hop_core::synth::bootstrap(&base, 25_544, 42);
    let spec = FitnessSpec::from(&JobOptions::with_size(35));
    let problem = Problem::new(&production, spec, 35).unwrap();
    assert_same_fitness(&gpu, &problem, spec, 35, 200_000);

    // 300 strategies x 246 days: more days than one warp chunk (96).
    let t = base.n_days() * 3;
    let dates: Vec<String> = (0..t).map(|d| format!("2020-01-{d:04}")).collect();
    let mut values = Vec::new();
    for j in 0..300 {
        for rep in 0..3 {
            values.extend(base.column(j).iter().map(|v| v * (1.0 + rep as f64 / 7.0)));
        }
    }
    let long = PnlMatrix::new(base.names()[..300].to_vec(), dates, values).unwrap();
    let problem = Problem::new(&long, spec, 35).unwrap();
    assert_same_fitness(&gpu, &problem, spec, 35, 20_000);
}

#[test]
fn swap_bits_equal() {
    let Some(gpu) = gpu() else { return };
    let matrix = fixture();
    let n = matrix.n_strategies();
    for metric in [Metric::Ratio, Metric::Expectancy] {
        let spec = FitnessSpec {
            metric,
            ..FitnessSpec::from(&JobOptions::with_size(35))
        };
        let problem = Problem::new(&matrix, spec, 35).unwrap();
        let device =
            DeviceProblem::upload(gpu.clone(), &problem, spec, &Dispatch::default()).unwrap();
        let cpu = CpuEvaluator::new(&problem);
        let mut rng = Rng::new(5, 35);
        for k in [2, 35] {
            let chains: Vec<Chain> = (0..64)
                .map(|_| Chain::new(&problem, random_portfolio(&mut rng, n, k), 0.0))
                .collect();
            let moves: Vec<Swap> = (0..200_000)
                .map(|i| {
                    let chain = i % chains.len();
                    let incoming = loop {
                        let j = rng.below(n) as u32;
                        if !chains[chain].members.contains(&j) {
                            break j;
                        }
                    };
                    Swap {
                        chain: chain as u32,
                        out_pos: rng.below(k) as u32,
                        incoming,
                    }
                })
                .collect();
            let (mut want, mut got) = (vec![0.0; moves.len()], vec![f64::NAN; moves.len()]);
            cpu.evaluate_swaps(&chains, &moves, &mut want);
            device.evaluate_swaps(&chains, &moves, &mut got).unwrap();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "{metric:?} k = {k} move {i}");
            }
        }
    }
}

#[test]
fn strategy_metrics_equal() {
    let Some(gpu) = gpu() else { return };
    let base = fixture();
    for matrix in [base.clone(), hop_core::synth::bootstrap(&base, 25_544, 42)] {
        let want = hop_core::metrics::all_strategy_metrics(&matrix);
        let started = std::time::Instant::now();
        let got = gpu.strategy_metrics(&matrix).unwrap();
        println!(
            "metrics of {} x {}: {:.2} ms on the GPU (upload included)",
            matrix.n_strategies(),
            matrix.n_days(),
            started.elapsed().as_secs_f64() * 1e3
        );
        assert_eq!(got.len(), want.len());
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            let g = [
                g.roi,
                g.max_drawdown,
                g.win_percentage,
                g.profit_factor,
                g.expectancy,
            ];
            let w = [
                w.roi,
                w.max_drawdown,
                w.win_percentage,
                w.profit_factor,
                w.expectancy,
            ];
            for (a, b) in g.iter().zip(&w) {
                assert_eq!(a.to_bits(), b.to_bits(), "strategy {j}: {g:?} vs {w:?}");
            }
        }
    }
}

/// A result with its timings and evaluator name blanked, for comparison.
fn timeless(mut r: RunResult) -> RunResult {
    r.evaluator.clear();
    for size in &mut r.sizes {
        for a in &mut size.algorithms {
            a.seconds = 0.0;
        }
    }
    r
}

#[test]
fn run_search_gives_identical_results() {
    let Some(gpu) = gpu() else { return };
    let matrix = hop_core::fixtures::matrix("sensex_2500x82.csv");
    for options in [
        JobOptions::with_size(35),
        JobOptions {
            min_size: 10,
            max_size: 12,
            budget: Some(3_000),
            seed: 7,
            metric: Metric::ProfitFactor,
            ..JobOptions::with_size(10)
        },
    ] {
        let prepared = Prepared::new(matrix.clone(), &options, None).unwrap();
        let spec = FitnessSpec::from(&options);
        let cpu = run_search(
            &prepared,
            &options,
            &CpuEvaluator::new(&prepared.problem),
            &|_| {},
        );
        for dispatch in [Dispatch::always_gpu(), Dispatch::default()] {
            let eval = GpuEvaluator::with_dispatch(gpu.clone(), &prepared.problem, spec, dispatch)
                .unwrap();
            let started = std::time::Instant::now();
            let result = run_search(&prepared, &options, &eval, &|_| {});
            let stats = eval.stats();
            println!(
                "{dispatch:?}: {:.2} s, {} GPU / {} CPU evaluations, {} launches, {:.3} s kernels",
                started.elapsed().as_secs_f64(),
                stats.gpu_evaluations,
                stats.cpu_evaluations,
                stats.launches,
                stats.kernel_seconds
            );
            assert_eq!(result.evaluator, "gpu");
            if dispatch == Dispatch::always_gpu() {
                assert_eq!(stats.cpu_evaluations, 0, "every batch on the GPU");
            }
            assert!(gpu.failure().is_none());
            for (a, b) in result.sizes.iter().zip(&cpu.sizes) {
                for (x, y) in a.algorithms.iter().zip(&b.algorithms) {
                    assert_eq!(
                        x.fitness.to_bits(),
                        y.fitness.to_bits(),
                        "{:?}",
                        x.algorithm
                    );
                    assert_eq!(x.portfolio, y.portfolio, "{:?}", x.algorithm);
                }
            }
            assert_eq!(timeless(result), timeless(cpu.clone()));
        }
    }
}

#[test]
fn refused_input_is_an_error_and_leaves_the_device_usable() {
    let Some(gpu) = gpu() else { return };
    let matrix = fixture();
    let spec = FitnessSpec::from(&JobOptions::with_size(10));
    let problem = Problem::new(&matrix, spec, 10).unwrap();
    let device = DeviceProblem::upload(gpu.clone(), &problem, spec, &Dispatch::default()).unwrap();
    let mut out = [0.0; 1];
    let err = device.evaluate(2, &[0, 2500], &mut out).unwrap_err();
    assert!(matches!(err, GpuError::Plan(_)), "{err}");
    assert!(gpu.failure().is_none());
    device.evaluate(2, &[0, 2499], &mut out).unwrap();
    let (used, total) = gpu.memory().unwrap();
    assert!(used > 0 && used <= total);
}
