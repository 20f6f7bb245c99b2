//! The comparison rules on hand-made results.

use hop_proto::v1::{
    AlgorithmSummary, DayWindow, JobResult, SelectionStats, SharpeStats, Side, StrategyMetrics,
    WalkForward, WalkForwardFold, WindowFigures,
};

use super::*;
use crate::difference::{ABS_FLOOR, DEFAULT_TOLERANCE};

const INF: f64 = f64::INFINITY;

fn default() -> Tolerance {
    Tolerance::new(DEFAULT_TOLERANCE).unwrap()
}

fn exact() -> Tolerance {
    Tolerance::new(0.0).unwrap()
}

fn strategy(i: u32) -> StrategyMetrics {
    let x = f64::from(i);
    StrategyMetrics {
        roi: 1000.0 + 17.25 * x,
        max_drawdown: 250.5 + x,
        win_percentage: 0.5 + x / 100.0,
        profit_factor: 1.25 + x / 10.0,
        expectancy: 12.125 - x,
    }
}

fn entry(size: u32, algorithm: &str, portfolio: &[u32], fitness: f64) -> AlgorithmSummary {
    AlgorithmSummary {
        algorithm: algorithm.into(),
        portfolio_size: size,
        portfolio: portfolio.to_vec(),
        fitness,
        evaluations: 500,
        seconds: 0.25,
        roi: 4321.5,
        max_drawdown: 876.25,
        win_percentage: 0.5609756097560976,
        profit_factor: 1.75,
        roi_drawdown_ratio: 4.931811697574893,
    }
}

/// Four strategies, two sizes x two algorithms.
fn result() -> JobResult {
    JobResult {
        job_id: "job_1".into(),
        side: Side::Blue as i32,
        engine: "embedded-sql".into(),
        seed: 42,
        best_fitness: 3.5,
        best_algorithm: "GA".into(),
        best_size: 3,
        algorithms: vec![
            entry(2, "GA", &[0, 1], 2.5),
            entry(2, "PSO", &[1, 3], 2.25),
            entry(3, "GA", &[0, 1, 3], 3.5),
            entry(3, "PSO", &[0, 2, 3], -1.826_047_467_469_97),
        ],
        strategy_metrics: (0..4).map(strategy).collect(),
        result_json: "{}".into(),
        run_folder: "output/run_20250730_154500".into(),
        seconds: 12.5,
        walk_forward: None,
        selection: None,
    }
}

fn fields(comparison: &Comparison) -> Vec<&str> {
    comparison
        .mismatches
        .iter()
        .map(|m| m.field.as_str())
        .collect()
}

/// 1 strategy count + 4 x 5 strategy metrics + 4 entries x 8 + 4 summary fields.
const FIELDS: u32 = 1 + 20 + 32 + 4;

#[test]
fn identical_results_match_exactly() {
    let c = compare(&result(), &result(), default());
    assert!(c.matched);
    assert!(c.mismatches.is_empty());
    assert_eq!(c.max_relative_difference, 0.0);
    assert_eq!(c.fields_compared, FIELDS);
    assert_eq!(c.tolerance, DEFAULT_TOLERANCE);
    assert_eq!(
        compare(&result(), &result(), exact()).fields_compared,
        FIELDS
    );
}

#[test]
fn what_is_not_compared_may_differ() {
    let mut green = result();
    green.job_id = "job_1_shadow".into();
    green.side = Side::Green as i32;
    green.engine = "gpu".into();
    green.result_json = "{\"other\":1}".into();
    green.run_folder = String::new();
    green.seconds = 0.5;
    green.algorithms[2].seconds = 99.0;
    assert!(compare(&result(), &green, exact()).matched);
}

#[test]
fn a_strategy_metric_off_by_a_thousandth_is_flagged() {
    let mut green = result();
    green.strategy_metrics[2].roi *= 1.001;
    let c = compare(&result(), &green, default());
    assert!(!c.matched);
    assert_eq!(fields(&c), ["strategy[2].roi"]);
    let m = &c.mismatches[0];
    assert_eq!(m.blue, "1034.5");
    assert_eq!(m.green.parse::<f64>().unwrap(), 1034.5 * 1.001);
    assert!((m.relative_difference - 0.001 / 1.001).abs() < 1e-12);
    assert_eq!(c.max_relative_difference, m.relative_difference);
    assert_eq!(c.fields_compared, FIELDS);
}

#[test]
fn differences_within_the_tolerance_match_but_show_in_the_maximum() {
    let mut green = result();
    green.strategy_metrics[0].expectancy *= 1.0 + 5e-6;
    green.algorithms[1].roi *= 1.0 - 2e-6;
    let c = compare(&result(), &green, default());
    assert!(c.matched, "{:?}", c.mismatches);
    assert!((c.max_relative_difference - 5e-6).abs() < 1e-9);
    // A tighter tolerance flags the larger one only.
    let c = compare(&result(), &green, Tolerance::new(3e-6).unwrap());
    assert_eq!(fields(&c), ["strategy[0].expectancy"]);
    // Zero asks for equal numbers.
    let c = compare(&result(), &green, exact());
    assert_eq!(fields(&c), ["strategy[0].expectancy", "size[2].PSO.roi"]);
}

#[test]
fn zero_tolerance_flags_a_single_ulp_and_drops_the_floor() {
    let mut green = result();
    green.best_fitness = f64::from_bits(green.best_fitness.to_bits() + 1);
    assert_eq!(
        fields(&compare(&result(), &green, exact())),
        ["best_fitness"]
    );
    assert!(compare(&result(), &green, default()).matched);

    let mut blue = result();
    let mut green = result();
    blue.strategy_metrics[1].expectancy = 1e-13;
    green.strategy_metrics[1].expectancy = 0.0;
    let c = compare(&blue, &green, default());
    assert!(c.matched, "1e-13 vs 0 is under the floor of {ABS_FLOOR}");
    assert_eq!(c.max_relative_difference, 0.0);
    let c = compare(&blue, &green, exact());
    assert_eq!(fields(&c), ["strategy[1].expectancy"]);
    assert_eq!(c.mismatches[0].blue, "1e-13");
    assert_eq!(c.mismatches[0].green, "0.0");
    assert_eq!(c.mismatches[0].relative_difference, 1.0);
}

#[test]
fn infinity_equals_infinity_even_bit_for_bit() {
    let mut blue = result();
    blue.strategy_metrics[3].profit_factor = INF;
    blue.algorithms[0].profit_factor = INF;
    let green = blue.clone();
    let c = compare(&blue, &green, exact());
    assert!(c.matched);
    assert_eq!(c.max_relative_difference, 0.0);
}

#[test]
fn infinity_against_a_number_is_flagged_but_keeps_the_maximum_finite() {
    let blue = result();
    let mut green = result();
    green.algorithms[0].profit_factor = INF;
    green.strategy_metrics[0].roi *= 1.0 + 1e-7;
    let c = compare(&blue, &green, default());
    assert_eq!(fields(&c), ["size[2].GA.profit_factor"]);
    let m = &c.mismatches[0];
    assert_eq!((m.blue.as_str(), m.green.as_str()), ("1.75", "inf"));
    assert_eq!(m.relative_difference, INF);
    assert!(c.max_relative_difference > 0.0 && c.max_relative_difference < 1e-6);
}

#[test]
fn nan_never_matches_not_even_nan() {
    let mut blue = result();
    let mut green = result();
    blue.strategy_metrics[1].win_percentage = f64::NAN;
    green.strategy_metrics[1].win_percentage = f64::NAN;
    green.algorithms[3].fitness = f64::NAN;
    let c = compare(&blue, &green, default());
    assert_eq!(
        fields(&c),
        ["strategy[1].win_percentage", "size[3].PSO.fitness"]
    );
    assert_eq!(c.mismatches[0].blue, "NaN");
    assert_eq!(c.mismatches[1].blue, "-1.82604746746997");
    assert_eq!(c.mismatches[1].green, "NaN");
    assert!(c.mismatches.iter().all(|m| m.relative_difference == INF));
    assert_eq!(c.max_relative_difference, 0.0);
}

#[test]
fn portfolios_evaluations_and_fitness_are_named_by_size_and_algorithm() {
    let mut green = result();
    green.algorithms[2].portfolio = vec![0, 2, 3];
    green.algorithms[2].evaluations = 499;
    green.algorithms[1].fitness = 2.3;
    let c = compare(&result(), &green, default());
    assert_eq!(
        fields(&c),
        [
            "size[2].PSO.fitness",
            "size[3].GA.portfolio",
            "size[3].GA.evaluations"
        ]
    );
    let portfolio = &c.mismatches[1];
    assert_eq!(portfolio.blue, "[0, 1, 3]");
    assert_eq!(portfolio.green, "[0, 2, 3]");
    assert_eq!(portfolio.relative_difference, INF);
    assert_eq!(c.mismatches[2].blue, "500");
    assert_eq!(c.mismatches[2].green, "499");
    let fitness = &c.mismatches[0];
    assert!((fitness.relative_difference - 0.05 / 2.3).abs() < 1e-15);
    assert_eq!(c.max_relative_difference, fitness.relative_difference);
}

#[test]
fn entries_pair_by_size_and_algorithm_whatever_their_order() {
    let mut green = result();
    green.algorithms.reverse();
    assert!(compare(&result(), &green, exact()).matched);
}

#[test]
fn an_entry_on_one_side_only_is_one_mismatch() {
    let mut green = result();
    green.algorithms.remove(1);
    green.algorithms.push(entry(4, "GA", &[0, 1, 2, 3], 1.5));
    let c = compare(&result(), &green, default());
    assert_eq!(fields(&c), ["size[2].PSO", "size[4].GA"]);
    assert_eq!(c.mismatches[0].blue, "portfolio [1, 3], fitness 2.25");
    assert_eq!(c.mismatches[0].green, "missing");
    assert_eq!(c.mismatches[1].blue, "missing");
    assert_eq!(c.mismatches[1].green, "portfolio [0, 1, 2, 3], fitness 1.5");
    // Three entries paired (8 fields each) and two one-sided (1 each).
    assert_eq!(c.fields_compared, 1 + 20 + 3 * 8 + 2 + 4);
}

#[test]
fn a_different_strategy_count_is_flagged_and_the_common_ones_compared() {
    let mut green = result();
    green.strategy_metrics.pop();
    green.strategy_metrics[0].max_drawdown = 1.0;
    let c = compare(&result(), &green, default());
    assert_eq!(fields(&c), ["strategy_count", "strategy[0].max_drawdown"]);
    assert_eq!(c.mismatches[0].blue, "4");
    assert_eq!(c.mismatches[0].green, "3");
    assert_eq!(c.fields_compared, FIELDS - 5);
}

#[test]
fn summary_fields_come_last_in_a_stable_order() {
    let mut green = result();
    green.seed = 7;
    green.best_size = 2;
    green.best_algorithm = "PSO".into();
    green.best_fitness = 3.0;
    green.algorithms[3].win_percentage = 0.25;
    green.strategy_metrics[3].expectancy = 0.0;
    let c = compare(&result(), &green, default());
    assert_eq!(
        fields(&c),
        [
            "strategy[3].expectancy",
            "size[3].PSO.win_percentage",
            "best_fitness",
            "best_algorithm",
            "best_size",
            "seed"
        ]
    );
    assert_eq!(c.mismatches[3].blue, "GA");
    assert_eq!(c.mismatches[3].green, "PSO");
    assert_eq!(c.mismatches[5].relative_difference, INF);
}

#[test]
fn the_reply_carries_the_comparison() {
    let mut green = result();
    green.best_size = 2;
    let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_753_890_300_123);
    let reply = compare(&result(), &green, default()).into_reply("job_1".into(), at);
    assert_eq!(reply.job_id, "job_1");
    assert!(!reply.matched);
    assert_eq!(reply.mismatches.len(), 1);
    assert_eq!(reply.fields_compared, FIELDS);
    assert_eq!(reply.tolerance, DEFAULT_TOLERANCE);
    let stamp = reply.compared_at.unwrap();
    assert_eq!((stamp.seconds, stamp.nanos), (1_753_890_300, 123_000_000));
}

fn fold(i: u32) -> WalkForwardFold {
    let window = |start: u32, end: u32| DayWindow {
        start,
        end,
        first_date: format!("2024-01-{:02}", start + 1),
        last_date: format!("2024-01-{end:02}"),
    };
    let figures = |x: f64| WindowFigures {
        roi: 100.0 * x,
        max_drawdown: 10.0 + x,
        ratio: 100.0 * x / (10.0 + x),
        win_rate: 0.5,
    };
    WalkForwardFold {
        train: Some(window(0, 10 + i)),
        test: Some(window(10 + i, 11 + i)),
        algorithm: "SA".into(),
        portfolio_size: 3,
        portfolio: vec![0, 1, i],
        fitness: 12.5,
        zero_drawdown: false,
        evaluations: 4000,
        in_sample: Some(figures(2.0)),
        out_of_sample: Some(figures(-1.0)),
        random_median_roi: 3.25,
        percentile_rank: 42.5,
        equal_weight_roi: 1.5,
    }
}

fn sharpe(x: f64) -> SharpeStats {
    SharpeStats {
        days: 36,
        sharpe: x,
        skewness: 0.25,
        kurtosis: 3.5,
        psr: 0.75,
        sr0: 0.3,
        dsr: 0.4,
    }
}

/// [`result`] with two folds and the selection statistics.
fn validated() -> JobResult {
    JobResult {
        walk_forward: Some(Box::new(WalkForward {
            skipped: String::new(),
            mode: "anchored".into(),
            test_days: 1,
            random_portfolios: 1000,
            folds: vec![fold(0), fold(1)],
        })),
        selection: Some(Box::new(SelectionStats {
            trials: 8000,
            sharpe_variance: 0.01,
            in_sample: Some(sharpe(0.5)),
            out_of_sample: Some(sharpe(-0.1)),
            zero_drawdown: true,
        })),
        ..result()
    }
}

/// Per fold 2 windows + algorithm, size, portfolio, fitness, zero_drawdown, evaluations + 2 x 4
/// figures + 3 baselines = 19; the walk-forward's own 5; selection: trials, variance, 2 x 7,
/// zero_drawdown = 17.
const VALIDATION_FIELDS: u32 = 5 + 2 * 19 + 17;

#[test]
fn walk_forward_and_selection_are_compared_field_by_field() {
    let blue = validated();
    let same = compare(&blue, &validated(), exact());
    assert!(same.matched, "{:?}", same.mismatches);
    assert_eq!(same.fields_compared, FIELDS + VALIDATION_FIELDS);

    let mut green = validated();
    let wf = green.walk_forward.as_mut().unwrap();
    wf.folds[1].out_of_sample.as_mut().unwrap().roi += 1.0;
    wf.folds[0].percentile_rank = 42.6;
    wf.folds[1].portfolio = vec![0, 1, 2];
    wf.folds[0].test.as_mut().unwrap().end = 12;
    let selection = green.selection.as_mut().unwrap();
    selection.zero_drawdown = false;
    selection.out_of_sample.as_mut().unwrap().dsr = 0.41;
    let c = compare(&blue, &green, default());
    assert!(!c.matched);
    assert_eq!(
        fields(&c),
        [
            "walk_forward.fold[0].test",
            "walk_forward.fold[0].percentile_rank",
            "walk_forward.fold[1].portfolio",
            "walk_forward.fold[1].out_of_sample.roi",
            "selection.out_of_sample.dsr",
            "selection.zero_drawdown",
        ]
    );
    assert_eq!(c.mismatches[0].green, "10..12 2024-01-11..2024-01-11");
}

#[test]
fn walk_forward_on_one_side_only_is_one_mismatch() {
    let mut green = validated();
    green.walk_forward = None;
    green.selection.as_mut().unwrap().out_of_sample = None;
    let c = compare(&validated(), &green, default());
    assert_eq!(fields(&c), ["walk_forward", "selection.out_of_sample"]);
    assert_eq!(
        (
            c.mismatches[0].blue.as_str(),
            c.mismatches[0].green.as_str()
        ),
        ("present", "missing")
    );
    let mut fewer = validated();
    fewer.walk_forward.as_mut().unwrap().folds.pop();
    fewer.walk_forward.as_mut().unwrap().skipped = "turned off".into();
    let c = compare(&validated(), &fewer, default());
    assert_eq!(
        fields(&c),
        ["walk_forward.skipped", "walk_forward.fold_count"]
    );
}
