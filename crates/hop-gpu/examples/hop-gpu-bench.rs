//! `hop-gpu-bench`: the GPU evaluator on the production shape (25,544 strategies x 82 days,
//! bootstrapped from the 2,500-strategy fixture, k = 35).
//!
//! Prints batched evaluations per second (kernel only, and end to end with the index upload and
//! result download), the per-strategy metrics time, and a whole job's search time on the GPU and
//! CPU evaluators (with a bit-for-bit comparison of the results). Without a usable GPU it prints
//! `skipped: no CUDA device (<reason>)` and exits 0.
//!
//! `cargo run --release -p hop-gpu --example hop-gpu-bench [-- --portfolios N --repeats R
//! --strategies N --no-job]`

use std::time::Instant;

use hop_core::eval::{CpuEvaluator, Evaluator};
use hop_core::fitness::{FitnessSpec, Problem};
use hop_core::rng::Rng;
use hop_core::run::{Prepared, run_search};
use hop_core::{JobOptions, RunResult};
use hop_gpu::plan::random_portfolio;
use hop_gpu::{DeviceProblem, Dispatch, Gpu, GpuEvaluator};

struct Args {
    portfolios: usize,
    repeats: usize,
    strategies: usize,
    job: bool,
}

fn args() -> Args {
    let mut a = Args {
        portfolios: 1 << 20,
        repeats: 10,
        strategies: 25_544,
        job: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match flag.as_str() {
            "--portfolios" => a.portfolios = value("--portfolios"),
            "--repeats" => a.repeats = value("--repeats"),
            "--strategies" => a.strategies = value("--strategies"),
            "--no-job" => a.job = false,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn rate(count: f64, seconds: f64) -> String {
    format!("{:.1} M/s", count / seconds / 1e6)
}

fn main() {
    let args = args();
    let gpu = match Gpu::open(0) {
        Ok(gpu) => gpu,
        Err(e) => {
            println!("skipped: no CUDA device ({e})");
            return;
        }
    };
    println!("device: {}", gpu.info().describe());
    let base = hop_core::fixtures::matrix("sensex_2500x82.csv");
    let matrix = hop_core::synth::bootstrap(&base, args.strategies, 42);
    let k = 35;
    let options = JobOptions::with_size(k);
    let spec = FitnessSpec::from(&options);
    println!(
        "shape: {} strategies x {} days, k = {k}",
        matrix.n_strategies(),
        matrix.n_days()
    );

    // Per-strategy metrics.
    let t = Instant::now();
    let cpu_metrics = hop_core::metrics::all_strategy_metrics(&matrix);
    let cpu_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let gpu_metrics = gpu.strategy_metrics(&matrix).expect("GPU metrics");
    let gpu_s = t.elapsed().as_secs_f64();
    let same = cpu_metrics.len() == gpu_metrics.len()
        && cpu_metrics.iter().zip(&gpu_metrics).all(|(a, b)| {
            [
                a.roi,
                a.max_drawdown,
                a.win_percentage,
                a.profit_factor,
                a.expectancy,
            ]
            .iter()
            .zip([
                b.roi,
                b.max_drawdown,
                b.win_percentage,
                b.profit_factor,
                b.expectancy,
            ])
            .all(|(x, y)| x.to_bits() == y.to_bits())
        });
    println!(
        "metrics: GPU {:.2} ms (upload included), CPU {:.2} ms ({} threads); bit-identical: {same}",
        gpu_s * 1e3,
        cpu_s * 1e3,
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    // Batched evaluation.
    let problem = Problem::new(&matrix, spec, k).expect("quantize");
    let t = Instant::now();
    let device =
        DeviceProblem::upload(gpu.clone(), &problem, spec, &Dispatch::default()).expect("upload");
    println!(
        "upload (self-check, pack, copy): {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut rng = Rng::new(42, 35);
    let count = args.portfolios;
    let members: Vec<u32> = (0..count)
        .flat_map(|_| random_portfolio(&mut rng, problem.n_strategies(), k))
        .collect();
    let (kernel_s, wall_s) = device
        .time_resident(k, &members, args.repeats)
        .expect("timed launches");
    let total = (count * args.repeats) as f64;
    println!(
        "batched evaluations, kernel only ({count} portfolios x {} launches): {} (events), {} (wall)",
        args.repeats,
        rate(total, kernel_s),
        rate(total, wall_s)
    );
    let mut out = vec![0.0; count];
    let t = Instant::now();
    device.evaluate(k, &members, &mut out).expect("evaluate");
    let e2e = t.elapsed().as_secs_f64();
    println!(
        "batched evaluations, end to end (indices up, fitness down): {}",
        rate(count as f64, e2e)
    );
    let sample = 20_000.min(count);
    let cpu = CpuEvaluator::new(&problem);
    let mut want = vec![0.0; sample];
    let t = Instant::now();
    cpu.evaluate(k, &members[..sample * k], &mut want);
    let cpu_s = t.elapsed().as_secs_f64();
    let mismatches = want
        .iter()
        .zip(&out)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    println!(
        "CPU reference, one thread: {}; mismatches in {sample}: {mismatches}",
        rate(sample as f64, cpu_s)
    );
    drop(device);

    if !args.job {
        return;
    }
    // A whole job's search (default budgets, all eight algorithms).
    let prepared = Prepared::new(matrix.clone(), &options, None).expect("prepare");
    let time_job = |eval: &dyn Evaluator| -> (RunResult, f64) {
        let t = Instant::now();
        let r = run_search(&prepared, &options, eval, &|_| {});
        (r, t.elapsed().as_secs_f64())
    };
    let (cpu_run, cpu_s) = time_job(&CpuEvaluator::new(&prepared.problem));
    println!(
        "job search, CPU evaluator: {cpu_s:.3} s, best {:.6}",
        cpu_run.best().fitness
    );
    for (label, dispatch) in [
        ("GPU evaluator, default routing", Dispatch::from_env()),
        (
            "GPU evaluator, every batch on the GPU",
            Dispatch::always_gpu(),
        ),
    ] {
        let eval = GpuEvaluator::with_dispatch(gpu.clone(), &prepared.problem, spec, dispatch)
            .expect("GPU evaluator");
        let (run, s) = time_job(&eval);
        let stats = eval.stats();
        let identical = run.sizes.iter().zip(&cpu_run.sizes).all(|(a, b)| {
            a.algorithms.iter().zip(&b.algorithms).all(|(x, y)| {
                x.portfolio == y.portfolio && x.fitness.to_bits() == y.fitness.to_bits()
            })
        });
        println!(
            "job search, {label}: {s:.3} s; {} GPU / {} CPU evaluations in {} launches; \
             kernel busy {:.1} %; identical to CPU: {identical}",
            stats.gpu_evaluations,
            stats.cpu_evaluations,
            stats.launches,
            stats.busy_fraction(s) * 100.0
        );
    }
    if let Ok((used, total)) = gpu.memory() {
        println!(
            "device memory used: {:.2} / {:.2} GiB",
            used as f64 / f64::from(1u32 << 30),
            total as f64 / f64::from(1u32 << 30)
        );
    }
}
