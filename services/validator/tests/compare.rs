//! `Compare` through the real binary on results of a real job: identical results match, changed
//! metrics, fitness and portfolios are flagged by name, the tolerance is honoured, inf equals inf,
//! NaN equals nothing, and bad requests are refused.

mod common;

use common::{Server, fields, request, results};
use hop_proto::v1::{CompareRequest, JobResult};
use tonic::Code;

const JOB: &str = "job_12345_20250730_154500";

/// 1 strategy count + 500 x 5 strategy metrics + 8 algorithms x 8 fields + 4 summary fields +
/// the walk-forward (5 + 3 folds x 19) + the selection statistics (2 + 2 x 7 + 1).
const FIELDS: u32 = 1 + 500 * 5 + 8 * 8 + 4 + (5 + 3 * 19) + 17;

#[tokio::test(flavor = "multi_thread")]
async fn identical_results_match_with_no_difference() {
    let server = Server::start(&[]);
    let (blue, green) = results();
    assert_eq!(blue.algorithms.len(), 8);
    assert_eq!(blue.strategy_metrics.len(), 500);
    let reply = server
        .compare(request(JOB, blue.clone(), green.clone(), None))
        .await;
    assert_eq!(reply.job_id, JOB);
    assert!(reply.matched, "{:?}", reply.mismatches);
    assert!(reply.mismatches.is_empty());
    assert_eq!(reply.max_relative_difference, 0.0);
    assert_eq!(reply.tolerance, 1e-5);
    assert_eq!(reply.fields_compared, FIELDS);
    assert!(reply.compared_at.is_some());

    // Deterministic engines give equal bits: even a tolerance of 0 is met.
    let exact = server.compare(request(JOB, blue, green, Some(0.0))).await;
    assert!(exact.matched && exact.tolerance == 0.0);
}

/// Green with strategy 12's ROI off by 0.1 %, algorithm 1's fitness off by 0.01 % and algorithm
/// 0's portfolio holding another strategy.
fn perturbed(blue: &JobResult, green: &mut JobResult) -> [String; 3] {
    assert!(blue.strategy_metrics[12].roi.abs() > 1.0, "a real ROI");
    green.strategy_metrics[12].roi *= 1.001;
    green.algorithms[1].fitness *= 1.0001;
    let portfolio = &mut green.algorithms[0].portfolio;
    let outsider = (0..500).find(|i| !portfolio.contains(i)).unwrap();
    portfolio[0] = outsider;
    let name = |i: usize| {
        let a = &blue.algorithms[i];
        format!("size[{}].{}", a.portfolio_size, a.algorithm)
    };
    [
        "strategy[12].roi".into(),
        format!("{}.portfolio", name(0)),
        format!("{}.fitness", name(1)),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_metrics_fitness_and_portfolios_are_flagged_by_name() {
    let server = Server::start(&[]);
    let (blue, mut green) = results();
    let expected = perturbed(&blue, &mut green);
    assert_eq!(expected[1], "size[10].GA.portfolio");
    let reply = server
        .compare(request(JOB, blue.clone(), green.clone(), None))
        .await;
    assert!(!reply.matched);
    assert_eq!(fields(&reply), expected);
    assert_eq!(reply.fields_compared, FIELDS);

    let roi = &reply.mismatches[0];
    assert_eq!(
        roi.blue.parse::<f64>().unwrap(),
        blue.strategy_metrics[12].roi
    );
    assert_eq!(
        roi.green.parse::<f64>().unwrap(),
        green.strategy_metrics[12].roi
    );
    assert!(
        (roi.relative_difference - 0.001 / 1.001).abs() < 1e-9,
        "{roi:?}"
    );
    let portfolio = &reply.mismatches[1];
    assert_eq!(portfolio.relative_difference, f64::INFINITY);
    assert!(
        portfolio.blue.starts_with('[') && portfolio.blue.contains(", "),
        "{portfolio:?}"
    );
    assert_ne!(portfolio.blue, portfolio.green);
    let fitness = &reply.mismatches[2];
    assert!(
        (fitness.relative_difference - 1e-4 / 1.0001).abs() < 1e-9,
        "{fitness:?}"
    );
    // The largest finite difference is the ROI's; the portfolio's +inf is not a number's.
    assert_eq!(reply.max_relative_difference, roi.relative_difference);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tolerance_of_the_request_or_the_configuration_is_honoured() {
    let server = Server::start(&[]);
    let (blue, mut green) = results();
    let expected = perturbed(&blue, &mut green);

    let loose = server
        .compare(request(JOB, blue.clone(), green.clone(), Some(2e-3)))
        .await;
    assert_eq!(loose.tolerance, 2e-3);
    assert_eq!(
        fields(&loose),
        [expected[1].as_str()],
        "portfolios have no tolerance"
    );
    let middle = server
        .compare(request(JOB, blue.clone(), green.clone(), Some(5e-4)))
        .await;
    assert_eq!(fields(&middle), [expected[0].as_str(), &expected[1]]);

    let configured = Server::start(&["--set", "tolerance=0.01"]);
    let reply = configured.compare(request(JOB, blue, green, None)).await;
    assert_eq!(reply.tolerance, 0.01);
    assert_eq!(fields(&reply), [expected[1].as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn infinity_equals_infinity_and_nan_equals_nothing() {
    let server = Server::start(&[]);
    let (mut blue, mut green) = results();
    for result in [&mut blue, &mut green] {
        result.strategy_metrics[7].profit_factor = f64::INFINITY;
        result.algorithms[3].profit_factor = f64::INFINITY;
    }
    let reply = server
        .compare(request(JOB, blue.clone(), green.clone(), Some(0.0)))
        .await;
    assert!(reply.matched, "{:?}", reply.mismatches);

    blue.algorithms[2].roi = f64::NAN;
    green.algorithms[2].roi = f64::NAN;
    green.strategy_metrics[7].profit_factor = 3.5;
    let reply = server
        .compare(request(JOB, blue.clone(), green, None))
        .await;
    let a = &blue.algorithms[2];
    assert_eq!(
        fields(&reply),
        [
            "strategy[7].profit_factor".to_owned(),
            format!("size[{}].{}.roi", a.portfolio_size, a.algorithm)
        ]
    );
    let (inf, nan) = (&reply.mismatches[0], &reply.mismatches[1]);
    assert_eq!((inf.blue.as_str(), inf.green.as_str()), ("inf", "3.5"));
    assert_eq!((nan.blue.as_str(), nan.green.as_str()), ("NaN", "NaN"));
    assert!(
        reply
            .mismatches
            .iter()
            .all(|m| m.relative_difference == f64::INFINITY)
    );
    assert_eq!(reply.max_relative_difference, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_by_name() {
    let server = Server::start(&[]);
    let mut client = server.validator().await;
    let (blue, green) = results();
    let refusals = [
        (
            CompareRequest {
                green: None,
                ..request(JOB, blue.clone(), green.clone(), None)
            },
            "CompareRequest.green",
        ),
        (
            CompareRequest {
                blue: None,
                ..request(JOB, blue.clone(), green.clone(), None)
            },
            "CompareRequest.blue",
        ),
        (request("", blue.clone(), green.clone(), None), "job_id"),
        (
            request(JOB, blue.clone(), green.clone(), Some(-1e-5)),
            "-1e-5",
        ),
        (
            request(JOB, blue.clone(), green.clone(), Some(f64::NAN)),
            "NaN",
        ),
        (request(JOB, blue, green, Some(f64::INFINITY)), "inf"),
    ];
    for (bad, named) in refusals {
        let status = client.compare(bad).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().contains(named),
            "{named}: {}",
            status.message()
        );
    }
    // Nothing refused was recorded.
    let list = client
        .list_comparisons(hop_proto::v1::ListComparisonsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.comparisons.is_empty());
}
