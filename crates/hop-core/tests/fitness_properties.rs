//! The exact fitness against a naive, textbook implementation on random data (edge cases
//! included), and the incremental swap path against a full recompute, bit for bit.

use hop_core::fitness::{Accum, FitnessSpec, Problem};
use hop_core::metrics::SeriesStats;
use hop_core::rng::Rng;
use hop_core::{Aggregation, Metric, PnlMatrix};
use proptest::prelude::*;

/// Pearson correlation by its definition; a constant column correlates 0 with everything.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    let constant = |c: &[f64]| c.iter().all(|&v| v == c[0]);
    if constant(a) || constant(b) {
        0.0
    } else {
        cov / (va.sqrt() * vb.sqrt())
    }
}

/// SPEC 2.3 written out directly: the portfolio series, its metric, minus the penalty.
fn naive_fitness(m: &PnlMatrix, members: &[u32], spec: FitnessSpec) -> f64 {
    let k = members.len();
    let days = m.n_days();
    let p: Vec<f64> = (0..days)
        .map(|t| {
            let sum: f64 = members.iter().map(|&j| m.column(j as usize)[t]).sum();
            match spec.aggregation {
                Aggregation::Mean => sum / k as f64,
                Aggregation::Sum => sum,
            }
        })
        .collect();
    let s = SeriesStats::of(&p);
    let base = match spec.metric {
        Metric::Ratio => s.roi_drawdown_ratio(),
        Metric::Roi => s.roi,
        Metric::LessMaxDd => -s.max_drawdown,
        Metric::WinPercentage => s.win_percentage(),
        Metric::ProfitFactor => s.profit_factor_fitness(),
        Metric::Expectancy => s.expectancy(),
        Metric::RatioFloor => robust_ratio(s.roi, s.max_drawdown, &p),
        Metric::Cdar => robust_ratio(s.roi, naive_cdar(&p), &p),
    };
    if k < 2 || spec.penalty_weight == 0.0 {
        return base;
    }
    let mut total = 0.0;
    for (i, &a) in members.iter().enumerate() {
        for &b in &members[i + 1..] {
            total += pearson(m.column(a as usize), m.column(b as usize));
        }
    }
    base - spec.penalty_weight * total / (k * (k - 1) / 2) as f64
}

/// The robust metrics' ratio written out: ROI / max(risk, mean |p|), 0 when both are <= 1e-6.
fn robust_ratio(roi: f64, risk: f64, p: &[f64]) -> f64 {
    let mean_move = p.iter().map(|v| v.abs()).sum::<f64>() / p.len() as f64;
    let denominator = risk.max(mean_move);
    if denominator > 1e-6 {
        roi / denominator
    } else {
        0.0
    }
}

/// CDaR by its definition: every day's drawdown from the running peak (which starts at day 1's
/// equity), sorted, the mean of the worst ceil(5 % of the days).
fn naive_cdar(p: &[f64]) -> f64 {
    let mut equity = 0.0;
    let mut peak = f64::NEG_INFINITY;
    let mut drawdowns: Vec<f64> = p
        .iter()
        .map(|v| {
            equity += v;
            peak = peak.max(equity);
            peak - equity
        })
        .collect();
    drawdowns.sort_by(|a, b| b.total_cmp(a));
    let m = (p.len() as f64 * 0.05).ceil() as usize;
    drawdowns[..m].iter().sum::<f64>() / m as f64
}

fn exact_fitness(m: &PnlMatrix, members: &[u32], spec: FitnessSpec) -> f64 {
    let problem = Problem::new(m, spec, members.len()).unwrap();
    let mut acc = Accum::new(m.n_days());
    problem.accumulate(members, &mut acc);
    problem.fitness(&acc, members.len())
}

/// Close within 1e-9 relative, or 1e-9 absolute near zero (the naive sums round differently).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// One cell: realistic P&L decimals, plus the values that make edge cases.
fn cell() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (-5000.0..5000.0f64).prop_map(|v| (v * 100.0).round() / 100.0),
        1 => Just(0.0),
        1 => -50.0..-0.01f64,
        1 => 0.01..50.0f64,
    ]
}

/// A random matrix (some columns constant, all-loss or zero) and a random portfolio of it.
fn case() -> impl Strategy<Value = (PnlMatrix, Vec<u32>)> {
    (1usize..30, 1usize..10)
        .prop_flat_map(|(days, n)| {
            let column = prop_oneof![
                4 => prop::collection::vec(cell(), days),
                1 => cell().prop_map(move |v| vec![v; days]),
                1 => prop::collection::vec(-100.0..-0.5f64, days),
            ];
            (
                prop::collection::vec(column, n),
                Just(days),
                1usize..=n,
                any::<u64>(),
            )
        })
        .prop_map(|(columns, days, k, seed)| {
            let n = columns.len();
            let names = (0..n).map(|j| format!("s{j}")).collect();
            let dates = (0..days)
                .map(|t| format!("2024-01-{:02}", t % 28 + 1))
                .collect();
            let m = PnlMatrix::new(names, dates, columns.concat()).unwrap();
            let mut members = Vec::new();
            hop_core::search::fill_random(&mut Rng::new(seed, 1), n, k, &mut members);
            (m, members)
        })
}

fn spec() -> impl Strategy<Value = FitnessSpec> {
    (
        prop::sample::select(Metric::ALL.to_vec()),
        prop_oneof![Just(10.0), Just(0.0), Just(1.0), 0.0..20.0f64],
        prop_oneof![Just(Aggregation::Mean), Just(Aggregation::Sum)],
    )
        .prop_map(|(metric, penalty_weight, aggregation)| FitnessSpec {
            metric,
            penalty_weight,
            aggregation,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn exact_fitness_equals_the_naive_formula((m, members) in case(), spec in spec()) {
        let naive = naive_fitness(&m, &members, spec);
        let exact = exact_fitness(&m, &members, spec);
        prop_assert!(close(naive, exact), "naive {naive} exact {exact} for {members:?} {spec:?}");
    }

    #[test]
    fn member_order_does_not_change_a_bit((m, members) in case(), spec in spec()) {
        let mut reversed = members.clone();
        reversed.reverse();
        prop_assert_eq!(exact_fitness(&m, &members, spec).to_bits(), exact_fitness(&m, &reversed, spec).to_bits());
    }
}

#[test]
fn edge_cases_by_hand() {
    let spec = FitnessSpec {
        metric: Metric::Ratio,
        penalty_weight: 10.0,
        aggregation: Aggregation::Mean,
    };
    let m = |cols: Vec<Vec<f64>>| {
        let days = cols[0].len();
        PnlMatrix::new(
            (0..cols.len()).map(|j| format!("s{j}")).collect(),
            (0..days).map(|t| format!("2024-02-{:02}", t + 1)).collect(),
            cols.concat(),
        )
        .unwrap()
    };
    // MDD = 0 with a gain: 100 * ROI; two constant columns correlate 0 (no penalty).
    let up = m(vec![vec![1.0, 2.0], vec![3.0, 3.0], vec![5.0, 5.0]]);
    assert_eq!(exact_fitness(&up, &[1, 2], spec), 100.0 * 8.0);
    // All losses and MDD > 0: ROI / MDD is negative.
    let down = m(vec![vec![-1.0, -2.0, -3.0]]);
    assert_eq!(exact_fitness(&down, &[0], spec), -6.0 / 5.0);
    // One day: no drawdown, a loss gives 10 * ROI.
    let one_day = m(vec![vec![-4.0], vec![2.0]]);
    assert_eq!(exact_fitness(&one_day, &[0], spec), -40.0);
    assert_eq!(exact_fitness(&one_day, &[0, 1], spec), -10.0);
    // Perfectly correlated pair: penalty 10 * 1.
    let twins = m(vec![vec![1.0, -1.0, 2.0], vec![2.0, -2.0, 4.0]]);
    let base = SeriesStats::of(&[1.5, -1.5, 3.0]).roi_drawdown_ratio();
    assert!((exact_fitness(&twins, &[0, 1], spec) - (base - 10.0)).abs() < 1e-12);
}

/// Millions of random single swaps on the real fixture: the incremental score equals a full
/// recompute bit for bit, and the incrementally updated accumulators equal fresh ones exactly.
#[test]
fn incremental_swaps_equal_full_recompute_bit_for_bit() {
    let m = hop_core::fixtures::matrix("sensex_2500x82.csv");
    let k = 35;
    let problem =
        Problem::new(&m, FitnessSpec::from(&hop_core::JobOptions::default()), 100).unwrap();
    let mut rng = Rng::new(2024, 7);
    let mut members = Vec::new();
    hop_core::search::fill_random(&mut rng, m.n_strategies(), k, &mut members);
    let mut acc = Accum::new(m.n_days());
    problem.accumulate(&members, &mut acc);
    let mut fresh = Accum::new(m.n_days());
    let moves = 2_000_000;
    for step in 0..moves {
        let pos = rng.below(k);
        let incoming = hop_core::search::random_outsider(&mut rng, m.n_strategies(), &members);
        let swapped = problem.swap_fitness(&acc, k, members[pos] as usize, incoming as usize);
        let out = std::mem::replace(&mut members[pos], incoming);
        problem.accumulate(&members, &mut fresh);
        let full = problem.fitness(&fresh, k);
        assert_eq!(
            swapped.to_bits(),
            full.to_bits(),
            "move {step}: {swapped} vs {full}"
        );
        if rng.chance(0.3) {
            acc.swap(&problem, out as usize, incoming as usize);
            assert!(acc == fresh, "accumulators drifted at move {step}");
        } else {
            members[pos] = out;
        }
    }
}

/// The "near" path (a child scored from its parent's accumulators) gives the same bits as a full
/// evaluation, for children that differ from their parent in 0 to k members.
#[test]
fn near_evaluation_equals_full_evaluation_bit_for_bit() {
    use hop_core::eval::{Chain, CpuEvaluator, Evaluator};
    let m = hop_core::fixtures::matrix("sensex_2500x82.csv");
    let (n, k) = (m.n_strategies(), 35);
    let problem = Problem::new(&m, FitnessSpec::from(&hop_core::JobOptions::default()), k).unwrap();
    let eval = CpuEvaluator::new(&problem);
    let mut rng = Rng::new(5, 5);
    let parents: Vec<Chain> = (0..8)
        .map(|_| {
            let mut members = Vec::new();
            hop_core::search::fill_random(&mut rng, n, k, &mut members);
            Chain::new(&problem, members, 0.0)
        })
        .collect();
    for round in 0..2_000 {
        let mut children = Vec::new();
        let mut which = Vec::new();
        for c in 0..16 {
            let parent = rng.below(parents.len());
            let mut child = parents[parent].members.clone();
            for _ in 0..(c * round) % (k + 1) {
                let pos = rng.below(k);
                child[pos] = hop_core::search::random_outsider(&mut rng, n, &child);
            }
            children.extend_from_slice(&child);
            which.push(parent as u32);
        }
        let (mut near, mut full) = (vec![0.0; 16], vec![0.0; 16]);
        eval.evaluate_near(k, &children, &parents, &which, &mut near);
        eval.evaluate(k, &children, &mut full);
        for (a, b) in near.iter().zip(&full) {
            assert_eq!(a.to_bits(), b.to_bits(), "round {round}: {a} vs {b}");
        }
    }
}
