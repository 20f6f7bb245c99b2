//! Walk-forward validation checked against an independent, textbook implementation written here
//! from the raw `f64` CSV columns: the fold windows, the chosen portfolio (the job's own search on
//! the training days, run as a job of its own), its in-sample and out-of-sample ROI, drawdown,
//! ratio and win rate, the random portfolios' median and percentile rank, equal weight; and
//! determinism.

use hop_core::eval::CpuEvaluator;
use hop_core::rng::Rng;
use hop_core::run::{Prepared, run_search};
use hop_core::search::fill_random;
use hop_core::types::{FoldMode, RANDOM_PORTFOLIOS, WalkForwardOptions};
use hop_core::walk_forward::{FoldPlan, plan};
use hop_core::{Aggregation, JobOptions, PnlMatrix, RunResult};

fn run(m: &PnlMatrix, options: &JobOptions) -> RunResult {
    let prepared = Prepared::new(m.clone(), options, None).unwrap();
    let eval = CpuEvaluator::new(&prepared.problem);
    run_search(&prepared, options, &eval, &|_| {})
}

fn options(aggregation: Aggregation) -> JobOptions {
    JobOptions {
        budget: Some(400),
        aggregation,
        ..JobOptions::with_size(10)
    }
}

/// Textbook figures of a series: (ROI, MDD from the running peak starting at day 1's equity,
/// legacy ratio, win rate).
fn textbook(series: &[f64]) -> (f64, f64, f64, f64) {
    let mut equity = Vec::new();
    let mut total = 0.0;
    for &p in series {
        total += p;
        equity.push(total);
    }
    let mut mdd: f64 = 0.0;
    for t in 0..equity.len() {
        let peak = equity[..=t].iter().cloned().fold(f64::MIN, f64::max);
        mdd = mdd.max(peak - equity[t]);
    }
    let ratio = if mdd > 1e-6 {
        total / mdd
    } else if total > 0.0 {
        100.0 * total
    } else if total < 0.0 {
        10.0 * total
    } else {
        0.0
    };
    let wins = series.iter().filter(|&&p| p > 0.0).count();
    (total, mdd, ratio, wins as f64 / series.len() as f64)
}

/// Portfolio series from the raw columns: the mean (or sum) of the members on each day.
fn portfolio(
    m: &PnlMatrix,
    members: &[u32],
    days: std::ops::Range<usize>,
    agg: Aggregation,
) -> Vec<f64> {
    days.map(|t| {
        let sum: f64 = members.iter().map(|&j| m.column(j as usize)[t]).sum();
        match agg {
            Aggregation::Mean => sum / members.len() as f64,
            Aggregation::Sum => sum,
        }
    })
    .collect()
}

fn close(actual: f64, expected: f64, what: &str) {
    let difference = (actual - expected).abs();
    assert!(
        difference <= 1e-9 || difference <= 1e-9 * expected.abs(),
        "{what}: {actual} vs {expected}"
    );
}

#[test]
fn fold_windows_follow_the_documented_layout() {
    let defaults = WalkForwardOptions::default();
    let windows = |o: &WalkForwardOptions, days| -> Vec<(usize, usize, usize, usize)> {
        plan(o, days)
            .unwrap()
            .into_iter()
            .map(|FoldPlan { train, test }| (train.start, train.end, test.start, test.end))
            .collect()
    };
    assert_eq!(
        windows(&defaults, 82),
        [(0, 46, 46, 58), (0, 58, 58, 70), (0, 70, 70, 82)]
    );
    let rolling = WalkForwardOptions {
        mode: FoldMode::Rolling,
        train_days: Some(30),
        test_days: 10,
        folds: 4,
        ..defaults
    };
    assert_eq!(
        windows(&rolling, 82),
        [
            (12, 42, 42, 52),
            (22, 52, 52, 62),
            (32, 62, 62, 72),
            (42, 72, 72, 82)
        ]
    );
    let rolling_default = WalkForwardOptions {
        train_days: None,
        ..rolling
    };
    assert_eq!(windows(&rolling_default, 82)[3], (30, 72, 72, 82));
    // 3 x 12 test days need 20 training days: 56 days in all.
    assert_eq!(windows(&defaults, 56)[0], (0, 20, 20, 32));
    let short = plan(&defaults, 55).unwrap_err();
    assert!(
        short.contains("55 days") && short.contains("56 days in all"),
        "{short}"
    );
    let off = WalkForwardOptions {
        enabled: false,
        ..defaults
    };
    assert!(plan(&off, 82).unwrap_err().contains("turned off"));
    let too_long = WalkForwardOptions {
        train_days: Some(60),
        ..rolling
    };
    assert!(plan(&too_long, 82).is_err(), "60 + 40 days do not fit 82");
}

#[test]
fn folds_match_a_textbook_implementation() {
    let m = hop_core::fixtures::matrix("sensex_500x82.csv");
    for aggregation in [Aggregation::Mean, Aggregation::Sum] {
        let options = options(aggregation);
        let result = run(&m, &options);
        let wf = &result.walk_forward;
        assert_eq!(wf.skipped, "");
        assert_eq!(wf.folds.len(), 3);
        for (i, fold) in wf.folds.iter().enumerate() {
            let (train, test) = (
                fold.train.start..fold.train.end,
                fold.test.start..fold.test.end,
            );
            assert_eq!((train.start, train.end), (0, 46 + 12 * i));
            assert_eq!((test.start, test.end), (46 + 12 * i, 58 + 12 * i));
            assert_eq!(fold.train.first_date, m.dates()[0]);
            assert_eq!(fold.test.last_date, m.dates()[test.end - 1]);

            // The same job on the training days alone, with the fold's share of the budget
            // (400 / 3 folds), chooses the same portfolio.
            let window = m.days(train.clone()).unwrap();
            let alone = run(
                &window,
                &JobOptions {
                    budget: Some(133),
                    walk_forward: WalkForwardOptions {
                        enabled: false,
                        ..Default::default()
                    },
                    ..options.clone()
                },
            );
            assert_eq!(fold.portfolio, alone.best().portfolio, "fold {i}");
            assert_eq!(fold.algorithm, alone.best().algorithm);
            assert_eq!(fold.fitness.to_bits(), alone.best().fitness.to_bits());
            let evaluations: u64 = alone.sizes[0]
                .algorithms
                .iter()
                .map(|a| a.evaluations)
                .sum();
            assert_eq!(fold.evaluations, evaluations);

            let is = textbook(&portfolio(&m, &fold.portfolio, train.clone(), aggregation));
            let oos = textbook(&portfolio(&m, &fold.portfolio, test.clone(), aggregation));
            for (got, want) in [(&fold.in_sample, is), (&fold.out_of_sample, oos)] {
                close(got.roi, want.0, "roi");
                close(got.max_drawdown, want.1, "mdd");
                close(got.ratio, want.2, "ratio");
                assert_eq!(got.win_rate, want.3, "win rate");
            }
            assert_eq!(fold.zero_drawdown, is.1 <= 1e-6);

            // Random portfolios: stream 0x5746 << 32 | fold of the job's seed, drawn with the
            // search's own sampler; their ROI, median and rank computed here.
            let mut rng = Rng::new(options.seed, 0x5746 << 32 | i as u64);
            let mut members = Vec::new();
            for _ in 0..RANDOM_PORTFOLIOS {
                fill_random(
                    &mut rng,
                    m.n_strategies(),
                    fold.portfolio_size,
                    &mut members,
                );
            }
            let mut rois: Vec<f64> = members
                .chunks(fold.portfolio_size)
                .map(|p| portfolio(&m, p, test.clone(), aggregation).iter().sum())
                .collect();
            rois.sort_by(|a, b| a.partial_cmp(b).unwrap());
            close(
                fold.random_median_roi,
                (rois[499] + rois[500]) / 2.0,
                "median",
            );
            let below = rois.iter().filter(|&&r| r < oos.0 - 1e-9).count() as f64;
            let at_most = rois.iter().filter(|&&r| r <= oos.0 + 1e-9).count() as f64;
            let rank = fold.percentile_rank;
            assert!(
                100.0 * below / 1000.0 <= rank && rank <= 100.0 * at_most / 1000.0,
                "rank {rank} outside [{below}, {at_most}] / 1000"
            );

            let all: Vec<u32> = (0..m.n_strategies() as u32).collect();
            let equal: f64 = portfolio(&m, &all, test.clone(), aggregation).iter().sum();
            close(fold.equal_weight_roi, equal, "equal weight");
            assert_eq!(fold.daily.len(), test.end);
        }
        let selection = &result.selection;
        let evaluations: u64 = result.sizes[0]
            .algorithms
            .iter()
            .map(|a| a.evaluations)
            .sum();
        assert_eq!(selection.trials, evaluations);
        assert!(selection.sharpe_variance > 0.0);
        assert_eq!(selection.in_sample.days, 82);
        assert_eq!(selection.out_of_sample.unwrap().days, 36);
        assert!(selection.in_sample.dsr <= selection.in_sample.psr);
    }
}

#[test]
fn folds_share_the_job_budget() {
    assert_eq!(hop_core::walk_forward::fold_budget(200_000, 3), 66_666);
    assert_eq!(hop_core::walk_forward::fold_budget(2, 3), 1);
}

#[test]
fn the_same_job_twice_gives_the_same_bits() {
    let m = hop_core::fixtures::matrix("sensex_500x82.csv");
    let options = options(Aggregation::Mean);
    let (a, b) = (run(&m, &options), run(&m, &options));
    assert_eq!(a.walk_forward, b.walk_forward);
    let json = |r: &RunResult| serde_json::to_string(&(&r.walk_forward, &r.selection)).unwrap();
    assert_eq!(json(&a), json(&b));
}

#[test]
fn short_or_disabled_jobs_say_why() {
    let m = hop_core::fixtures::matrix("sensex_500x82.csv");
    let short = m.days(0..40).unwrap();
    let result = run(&short, &options(Aggregation::Mean));
    assert!(result.walk_forward.folds.is_empty());
    assert!(
        result.walk_forward.skipped.contains("40 days"),
        "{}",
        result.walk_forward.skipped
    );
    assert!(result.selection.out_of_sample.is_none());
    assert!(result.selection.in_sample.days == 40);
}

#[test]
fn a_fitness_from_the_zero_drawdown_rule_is_flagged() {
    // Strategy "up" gains every day: alone it has no drawdown, so its `ratio` fitness is 100 x ROI.
    let days = 60;
    let dates: Vec<String> = (0..days)
        .map(|d| format!("2024-{:02}-{:02}", 1 + d / 28, 1 + d % 28))
        .collect();
    let mut values = vec![1.0; days];
    values.extend((0..days).map(|d| if d % 3 == 0 { -2.0 } else { 1.5 }));
    values.extend((0..days).map(|d| if d % 2 == 0 { -1.0 } else { 0.9 }));
    let m = PnlMatrix::new(vec!["up".into(), "b".into(), "c".into()], dates, values).unwrap();
    let result = run(
        &m,
        &JobOptions {
            budget: Some(50),
            ..JobOptions::with_size(1)
        },
    );
    assert_eq!(result.best().portfolio, [0]);
    assert_eq!(result.best().fitness, 100.0 * days as f64);
    assert!(result.selection.zero_drawdown);
    assert!(result.walk_forward.folds.iter().all(|f| f.zero_drawdown));
    let ratio = JobOptions {
        metric: hop_core::Metric::Roi,
        budget: Some(50),
        ..JobOptions::with_size(1)
    };
    assert!(
        !run(&m, &ratio).selection.zero_drawdown,
        "only the ratio metric has the rule"
    );
}
