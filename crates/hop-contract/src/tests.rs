use hop_core::eval::CpuEvaluator;
use hop_core::run::{JobProgress, Prepared, run_search};
use hop_core::search::Progress;

use hop_core::types::{FoldMode, WalkForwardOptions};

use super::*;

fn sized(min_size: u32) -> pb::JobOptions {
    pb::JobOptions {
        min_size,
        ..pb::JobOptions::default()
    }
}

fn refused(o: &pb::JobOptions) -> ContractError {
    options_from_proto(Some(o)).expect_err("refused")
}

#[test]
fn unset_fields_take_the_documented_defaults() {
    let o = options_from_proto(Some(&sized(10))).unwrap();
    assert_eq!(o.min_size, 10);
    assert_eq!(o.max_size, 10, "max_size 0 means min_size");
    assert_eq!(o.algorithms, Algorithm::ALL.to_vec());
    assert_eq!(o.seed, 42);
    assert_eq!(o.budget, None, "absent budget: per-algorithm defaults");
    assert_eq!(o.penalty_weight, 10.0);
    assert_eq!(o.metric, Metric::Ratio);
    assert_eq!(o.aggregation, Aggregation::Mean);
    assert!(!o.ulta);
    assert_eq!(o, JobOptions::with_size(10));
}

#[test]
fn set_fields_are_taken() {
    let o = options_from_proto(Some(&pb::JobOptions {
        min_size: 10,
        max_size: 12,
        algorithms: vec!["sa".into(), "GA".into(), "SA".into()],
        seed: Some(7),
        budget: Some(500),
        metric: "less_max_dd".into(),
        penalty_weight: Some(0.0),
        aggregation: "SUM".into(),
        ulta: true,
        walk_forward: None,
    }))
    .unwrap();
    assert_eq!((o.min_size, o.max_size), (10, 12));
    assert_eq!(o.algorithms, vec![Algorithm::Sa, Algorithm::Ga]);
    assert_eq!((o.seed, o.budget), (7, Some(500)));
    assert_eq!(o.metric, Metric::LessMaxDd);
    assert_eq!(o.penalty_weight, 0.0);
    assert_eq!(o.aggregation, Aggregation::Sum);
    assert!(o.ulta);
}

#[test]
fn refusals_name_the_field_and_the_value() {
    let cases: Vec<(pb::JobOptions, &str, &str)> = vec![
        (sized(0), "min_size", "0"),
        (
            pb::JobOptions {
                max_size: 5,
                ..sized(10)
            },
            "max_size",
            "5",
        ),
        (
            pb::JobOptions {
                algorithms: vec!["GA".into(), "XYZ".into()],
                ..sized(10)
            },
            "algorithms",
            "\"XYZ\"",
        ),
        (
            pb::JobOptions {
                metric: "sharpe".into(),
                ..sized(10)
            },
            "metric",
            "\"sharpe\"",
        ),
        (
            pb::JobOptions {
                aggregation: "median".into(),
                ..sized(10)
            },
            "aggregation",
            "\"median\"",
        ),
        (
            pb::JobOptions {
                budget: Some(0),
                ..sized(10)
            },
            "budget",
            "0",
        ),
        (
            pb::JobOptions {
                penalty_weight: Some(f64::NAN),
                ..sized(10)
            },
            "penalty_weight",
            "NaN",
        ),
    ];
    for (options, field, value) in cases {
        let e = refused(&options);
        assert_eq!(e.code(), hop_proto::FailureCode::InvalidOptions);
        let ContractError::InvalidOptions { field: f, .. } = &e;
        assert_eq!(*f, field);
        let text = e.to_string();
        assert!(text.contains(field) && text.contains(value), "{text}");
        let status = tonic::Status::from(e);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains(field));
    }
    let none = options_from_proto(None).unwrap_err();
    assert_eq!(none.code(), hop_proto::FailureCode::InvalidOptions);
}

#[test]
fn options_round_trip() {
    let samples = [
        JobOptions::with_size(10),
        JobOptions {
            min_size: 3,
            max_size: 7,
            algorithms: vec![Algorithm::Rs, Algorithm::Bo, Algorithm::De],
            seed: u64::MAX,
            budget: Some(1234),
            metric: Metric::ProfitFactor,
            penalty_weight: 2.5,
            aggregation: Aggregation::Sum,
            ulta: true,
            walk_forward: WalkForwardOptions::default(),
        },
    ];
    for options in samples {
        let wire = options_to_proto(&options);
        assert_eq!(options_from_proto(Some(&wire)).unwrap(), options);
    }
    for metric in Metric::ALL {
        let o = JobOptions {
            metric,
            ..JobOptions::with_size(4)
        };
        assert_eq!(options_from_proto(Some(&options_to_proto(&o))).unwrap(), o);
    }
}

#[test]
fn run_result_to_job_result() {
    let matrix = hop_core::fixtures::matrix("sensex_500x82.csv");
    let options = JobOptions {
        algorithms: vec![Algorithm::Hc, Algorithm::Rs],
        budget: Some(300),
        max_size: 6,
        ..JobOptions::with_size(5)
    };
    let prepared = Prepared::new(matrix, &options, None).unwrap();
    let eval = CpuEvaluator::new(&prepared.problem);
    let run = run_search(&prepared, &options, &eval, &|_| {});
    let result = result_to_proto(
        &run,
        &ResultSource {
            job_id: "job-1",
            side: pb::Side::Green,
            engine: "cpu",
            seconds: 1.5,
            run_folder: "",
        },
    );
    assert_eq!(result.job_id, "job-1");
    assert_eq!(result.side(), pb::Side::Green);
    assert_eq!((result.engine.as_str(), result.seed), ("cpu", 42));
    assert_eq!(result.algorithms.len(), 4);
    let order: Vec<(u32, &str)> = result
        .algorithms
        .iter()
        .map(|a| (a.portfolio_size, a.algorithm.as_str()))
        .collect();
    assert_eq!(order, [(5, "HC"), (5, "RS"), (6, "HC"), (6, "RS")]);
    for (summary, domain) in result
        .algorithms
        .iter()
        .zip(run.sizes.iter().flat_map(|s| &s.algorithms))
    {
        assert_eq!(summary.portfolio, domain.portfolio);
        assert_eq!(summary.fitness.to_bits(), domain.fitness.to_bits());
        assert_eq!(summary.evaluations, domain.evaluations);
        assert_eq!(summary.roi.to_bits(), domain.metrics.total_roi.to_bits());
    }
    let best = run.best();
    assert_eq!(result.best_fitness.to_bits(), best.fitness.to_bits());
    assert_eq!(result.best_algorithm, best.algorithm.as_str());
    assert_eq!(result.best_size as usize, best.portfolio_size);
    assert_eq!(result.strategy_metrics.len(), 500);
    assert_eq!(
        result.strategy_metrics[3].roi.to_bits(),
        run.strategy_metrics[3].roi.to_bits()
    );
    let wf = result.walk_forward.as_ref().expect("walk-forward sent");
    assert_eq!((wf.skipped.as_str(), wf.mode.as_str()), ("", "anchored"));
    assert_eq!(wf.folds.len(), 3);
    for (sent, domain) in wf.folds.iter().zip(&run.walk_forward.folds) {
        let train = sent.train.as_ref().unwrap();
        assert_eq!((train.start, train.end), (0, domain.train.end as u32));
        assert_eq!(
            sent.test.as_ref().unwrap().first_date,
            domain.test.first_date
        );
        assert_eq!(sent.portfolio, domain.portfolio);
        assert_eq!(sent.algorithm, domain.algorithm.as_str());
        assert_eq!(sent.fitness.to_bits(), domain.fitness.to_bits());
        let oos = sent.out_of_sample.unwrap();
        assert_eq!(oos.roi.to_bits(), domain.out_of_sample.roi.to_bits());
        assert_eq!(
            oos.win_rate.to_bits(),
            domain.out_of_sample.win_rate.to_bits()
        );
        assert_eq!(
            sent.percentile_rank.to_bits(),
            domain.percentile_rank.to_bits()
        );
        assert_eq!(
            sent.equal_weight_roi.to_bits(),
            domain.equal_weight_roi.to_bits()
        );
    }
    let selection = result.selection.unwrap();
    assert_eq!(selection.trials, run.selection.trials);
    assert_eq!(
        selection.in_sample.unwrap().dsr.to_bits(),
        run.selection.in_sample.dsr.to_bits()
    );
    assert_eq!(
        selection.out_of_sample.unwrap().psr.to_bits(),
        run.selection.out_of_sample.unwrap().psr.to_bits()
    );
    assert_eq!(selection.zero_drawdown, run.selection.zero_drawdown);
    let back: RunResult = serde_json::from_str(&result.result_json).unwrap();
    assert_eq!(back.walk_forward, run.walk_forward);
    assert_eq!(back.selection, run.selection);
    assert_eq!(back.sizes.len(), 2);
    assert_eq!(back.best().portfolio, best.portfolio);
    assert_eq!(back.best().fitness.to_bits(), best.fitness.to_bits());
}

#[test]
fn walk_forward_options_round_trip_with_defaults_and_refusals() {
    let absent = options_from_proto(Some(&sized(10))).unwrap();
    assert_eq!(absent.walk_forward, WalkForwardOptions::default());
    let zeros = pb::JobOptions {
        walk_forward: Some(pb::WalkForwardOptions::default()),
        ..sized(10)
    };
    assert_eq!(
        options_from_proto(Some(&zeros)).unwrap().walk_forward,
        WalkForwardOptions::default(),
        "0 and empty fields are the defaults"
    );
    let set = JobOptions {
        walk_forward: WalkForwardOptions {
            enabled: false,
            mode: FoldMode::Rolling,
            train_days: Some(30),
            test_days: 10,
            folds: 4,
        },
        ..JobOptions::with_size(10)
    };
    let wire = options_to_proto(&set);
    assert_eq!(options_from_proto(Some(&wire)).unwrap(), set);
    for (bad, text) in [
        (
            pb::WalkForwardOptions {
                mode: "expanding".into(),
                ..Default::default()
            },
            "\"expanding\"",
        ),
        (
            pb::WalkForwardOptions {
                train_days: 5,
                ..Default::default()
            },
            "at least 20",
        ),
    ] {
        let e = refused(&pb::JobOptions {
            walk_forward: Some(bad),
            ..sized(10)
        });
        let ContractError::InvalidOptions { field, message } = &e;
        assert!(field.starts_with("walk_forward"), "{e}");
        assert!(message.contains(text), "{e}");
    }
}

#[test]
fn progress_events() {
    let p = JobProgress {
        portfolio_size: 10,
        algorithm: Algorithm::Ga,
        progress: Progress {
            evaluations: 50,
            budget: 100,
            best: 1.25,
        },
    };
    let event = progress_event("j", &p, 37.5);
    assert_eq!(event.job_id, "j");
    assert!(event.time.is_some());
    let Some(pb::job_event::Event::Progress(progress)) = event.event else {
        panic!("not a progress event");
    };
    assert_eq!(progress.portfolio_size, 10);
    assert_eq!(progress.algorithm, "GA");
    assert_eq!(progress.percent, 37.5);
    assert_eq!(progress.best_fitness, Some(1.25));
    assert_eq!(progress.evaluations, 50);

    let before = JobProgress {
        progress: Progress {
            evaluations: 0,
            budget: 100,
            best: f64::NEG_INFINITY,
        },
        ..p
    };
    let Some(pb::job_event::Event::Progress(progress)) = progress_event("j", &before, 120.0).event
    else {
        panic!("not a progress event");
    };
    assert_eq!(progress.best_fitness, None);
    assert_eq!(progress.percent, 100.0);
}
