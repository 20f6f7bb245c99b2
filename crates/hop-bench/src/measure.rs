//! The measurements, in the order they are printed.

use std::time::Instant;

use hop_core::JobOptions;
use hop_core::eval::{Chain, CpuEvaluator, Evaluator, Swap};
use hop_core::fitness::{FitnessSpec, Problem};
use hop_core::rng::Rng;

use crate::BenchArgs;

pub(crate) type BoxError = Box<dyn std::error::Error>;

/// Best wall time of `repeat` runs of `f`, in seconds, and the last value.
fn best_of<T>(repeat: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut value = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        value = Some(v);
    }
    (best, value.expect("at least one run"))
}

pub(crate) fn line(name: &str, value: impl std::fmt::Display, unit: &str) {
    println!("{name:<38} {value:>14} {unit}");
}

/// Peak resident set size of this process, from /proc (Linux); `None` elsewhere.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

pub fn run(args: &BenchArgs) -> Result<(), BoxError> {
    let fixture = args.fixture.clone().unwrap_or_else(crate::default_fixture);
    let base = hop_core::csv::parse_csv(&std::fs::read(&fixture)?)?;
    let matrix = hop_core::synth::bootstrap(&base, args.strategies, args.seed);
    let (n, t, k) = (matrix.n_strategies(), matrix.n_days(), args.k);
    println!(
        "# hop-bench: {n} strategies x {t} days bootstrapped from {}",
        fixture.display()
    );
    if args.curve {
        return crate::curve::run(args, matrix);
    }
    let csv = hop_core::csv::write_csv(&matrix, true);
    println!(
        "# {} threads, k = {k}, best of {} runs unless noted",
        rayon::current_num_threads(),
        args.repeat
    );
    line("csv size", format!("{:.1}", csv.len() as f64 / 1e6), "MB");

    let (secs, parsed) = best_of(args.repeat, || hop_core::csv::parse_csv(&csv));
    let parsed = parsed?;
    assert_eq!(
        parsed, matrix,
        "the generated CSV parses back to the generated matrix"
    );
    line("csv parse", format!("{:.1}", secs * 1e3), "ms");

    let (secs, parquet) = best_of(args.repeat, || {
        let mut out = Vec::new();
        hop_columnar::write_parquet(&matrix, &mut out).map(|()| out)
    });
    let parquet = parquet?;
    line("parquet write", format!("{:.1}", secs * 1e3), "ms");
    line(
        "parquet size",
        format!("{:.1}", parquet.len() as f64 / 1e6),
        "MB",
    );
    let bytes = hop_columnar::Bytes::from(parquet);
    let (secs, back) = best_of(args.repeat, || hop_columnar::read_parquet(bytes.clone()));
    assert_eq!(back?, matrix, "the Parquet round trip is lossless");
    line("parquet read", format!("{:.1}", secs * 1e3), "ms");

    let (secs, _) = best_of(args.repeat, || {
        hop_core::metrics::all_strategy_metrics(&matrix)
    });
    line(
        "per-strategy metrics (all threads)",
        format!("{:.1}", secs * 1e3),
        "ms",
    );

    let spec = FitnessSpec::from(&JobOptions::default());
    let (secs, problem) = best_of(args.repeat, || Problem::new(&matrix, spec, k));
    let problem = problem?;
    line(
        "quantize (exact fixed point)",
        format!("{:.1}", secs * 1e3),
        "ms",
    );

    let eval = CpuEvaluator::new(&problem);
    let swap_rate = swap_rate(&eval, k, args.swaps, args.seed);
    line(
        "swap evaluations / s / core",
        format!("{:.2}", swap_rate / 1e6),
        "M",
    );
    let batch_rate = batch_rate(&eval, k, args.batch, args.seed);
    line(
        "batch evaluations / s / core",
        format!("{:.2}", batch_rate / 1e6),
        "M",
    );

    job(args, &csv, "production-shape job", true)?;
    let fixture_csv = std::fs::read(&fixture)?;
    job(
        args,
        &fixture_csv,
        &format!(
            "fixture job ({})",
            fixture.file_name().unwrap_or_default().to_string_lossy()
        ),
        false,
    )?;
    if let Some(mib) = peak_rss_mib() {
        line("peak RSS (whole benchmark)", format!("{mib:.0}"), "MiB");
    }
    if args.share {
        crate::share::run(args, &base)?;
    }
    Ok(())
}

/// Random single swaps against one chain, scored in batches of 1,024 (one core).
fn swap_rate(eval: &CpuEvaluator, k: usize, count: usize, seed: u64) -> f64 {
    let problem = eval.problem();
    let n = problem.n_strategies();
    let mut rng = Rng::new(seed, 0xB0);
    let mut members = Vec::new();
    hop_core::search::fill_random(&mut rng, n, k, &mut members);
    let chains = [Chain::new(problem, members.clone(), 0.0)];
    let moves: Vec<Swap> = (0..1024)
        .map(|_| Swap {
            chain: 0,
            out_pos: rng.below(k) as u32,
            incoming: hop_core::search::random_outsider(&mut rng, n, &members),
        })
        .collect();
    let mut out = vec![0.0; moves.len()];
    let rounds = count.div_ceil(moves.len());
    let started = Instant::now();
    for _ in 0..rounds {
        eval.evaluate_swaps(&chains, &moves, &mut out);
        std::hint::black_box(&out);
    }
    (rounds * moves.len()) as f64 / started.elapsed().as_secs_f64()
}

/// Random whole portfolios, scored in batches of 1,024 (one core).
fn batch_rate(eval: &CpuEvaluator, k: usize, count: usize, seed: u64) -> f64 {
    let n = eval.problem().n_strategies();
    let mut rng = Rng::new(seed, 0xBA);
    let mut flat = Vec::with_capacity(1024 * k);
    for _ in 0..1024 {
        hop_core::search::fill_random(&mut rng, n, k, &mut flat);
    }
    let mut out = vec![0.0; 1024];
    let rounds = count.div_ceil(1024);
    let started = Instant::now();
    for _ in 0..rounds {
        eval.evaluate(k, &flat, &mut out);
        std::hint::black_box(&out);
    }
    (rounds * 1024) as f64 / started.elapsed().as_secs_f64()
}

/// The whole in-process job (`hop run`) on `csv`: median and best of the repeats, the step
/// breakdown of the median run, and each algorithm's best fitness.
fn job(args: &BenchArgs, csv: &[u8], label: &str, breakdown: bool) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("input.csv");
    std::fs::write(&input, csv)?;
    let options = JobOptions {
        seed: args.seed,
        ..JobOptions::with_size(args.k)
    };
    let mut runs = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let started = Instant::now();
        let output = hop_cli::run_job(&input, &options, &dir.path().join("out"), &|_| {})?;
        runs.push((started.elapsed().as_secs_f64(), output));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, output) = &runs[runs.len() / 2];
    line(
        &format!("{label}: median"),
        format!("{:.1}", median * 1e3),
        "ms",
    );
    line(
        &format!("{label}: best"),
        format!("{:.1}", runs[0].0 * 1e3),
        "ms",
    );
    if breakdown {
        for (step, secs) in &output.timings {
            line(
                &format!("  step {step}"),
                format!("{:.1}", secs * 1e3),
                "ms",
            );
        }
    }
    for a in &output.result.sizes[0].algorithms {
        line(
            &format!("  {label} {} fitness", a.algorithm),
            format!("{:.4}", a.fitness),
            &format!("({} evaluations, {:.0} ms)", a.evaluations, a.seconds * 1e3),
        );
    }
    let best = output.result.best();
    line(
        &format!("{label}: best fitness"),
        format!("{:.4}", best.fitness),
        best.algorithm.as_str(),
    );
    Ok(())
}
