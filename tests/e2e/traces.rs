//! One job is one trace: with `otlp_endpoint` set on all six services, a job dropped on the share
//! is exported as spans from every service (the bridge's `share.job` root, the router's job and
//! engine runs, both engines, ingest's import and Flight stream, the validator's comparison) that
//! share one trace id and form one tree.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use hop_cli::stack::SERVICES;
use hop_e2e::Cluster;
use hop_runtime::testing::{Collector, ReceivedSpan};

const JOB_ID: &str = "job_trace_20250730_154500";

#[test]
fn a_share_job_is_one_trace_across_the_six_services() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the collector");
    let collector = runtime.block_on(Collector::start());
    let setting = format!("otlp_endpoint={}", collector.endpoint);
    let settings = [("common", setting.as_str())];
    // Weighted at 100 %: green answers, blue shadows, the validator compares — all six on the path.
    let cluster = Cluster::start_with_stage(
        0,
        Some("stage = \"weighted\"\ngreen_percent = 100\n"),
        &settings,
    );
    cluster.put_fixture("sensex_500x82.csv");
    cluster.drop_job(
        JOB_ID,
        &[
            ("input_file", "\"sensex_500x82.csv\""),
            ("portfolio_size", "10"),
            ("job_type", "\"complete_optimization\""),
            ("timestamp", "\"Wed 07/30/2025 15:45:00.12\""),
            ("budget", "2000"),
        ],
    );
    let (outcome, file) = cluster.wait_outcome(JOB_ID, Duration::from_secs(180));
    assert_eq!(outcome, "completed", "{file:#}");

    // Spans are exported in batches every 500 ms; the shadow comparison ends after the answer.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (trace, spans) = loop {
        let spans = collector.spans();
        let trace = job_trace(&spans);
        let services: BTreeSet<&str> = spans
            .iter()
            .filter(|s| Some(&s.trace_id) == trace.as_ref())
            .map(|s| s.service.as_str())
            .collect();
        let compared = spans
            .iter()
            .any(|s| Some(&s.trace_id) == trace.as_ref() && s.name.ends_with("/Compare"));
        // Parents end (and are exported) after their children: wait for the whole tree.
        let orphans = orphans(&spans, trace.as_deref());
        if services.len() == SERVICES.len() && compared && orphans.is_empty() {
            break (trace.expect("a trace"), spans);
        }
        assert!(
            Instant::now() < deadline,
            "the job's trace {trace:?} has spans from {services:?} only (compared: {compared}; \
             spans whose parent never arrived: {orphans:?}); all spans: {:#?}",
            summary(&spans)
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    let in_trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == trace).collect();
    let roots: Vec<&&ReceivedSpan> = in_trace
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    assert_eq!(roots[0].name, "share.job");
    assert_eq!(roots[0].service, "hop-bridge");
    // The hops a job makes, each a child in the same trace.
    for (service, name) in [
        ("hop-router", "/hop.v1.Jobs/Submit"),
        ("hop-router", "router.job"),
        ("hop-compute", "/hop.v1.Engine/Run"),
        ("hop-compute", "engine.search"),
        ("hop-legacy", "/hop.v1.Engine/Run"),
        ("hop-ingest", "/hop.v1.Ingest/Import"),
        ("hop-ingest", "/arrow.flight.protocol.FlightService/DoGet"),
        ("hop-validator", "/hop.v1.Validator/Compare"),
    ] {
        assert!(
            in_trace
                .iter()
                .any(|s| s.service == service && s.name == name),
            "no {name} span from {service} in the job's trace: {:#?}",
            summary(&in_trace.iter().copied().cloned().collect::<Vec<_>>())
        );
    }
    drop(cluster);
}

/// The trace of the bridge's span for the job, once it has arrived.
fn job_trace(spans: &[ReceivedSpan]) -> Option<String> {
    spans
        .iter()
        .find(|s| s.service == "hop-bridge" && s.name == "share.job")
        .map(|s| s.trace_id.clone())
}

/// Spans of `trace` whose parent is not (yet) among the spans received.
fn orphans(spans: &[ReceivedSpan], trace: Option<&str>) -> Vec<String> {
    let in_trace: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| Some(s.trace_id.as_str()) == trace)
        .collect();
    let ids: HashSet<&str> = in_trace.iter().map(|s| s.span_id.as_str()).collect();
    in_trace
        .iter()
        .filter(|s| !s.parent_span_id.is_empty() && !ids.contains(s.parent_span_id.as_str()))
        .map(|s| format!("{} {}", s.service, s.name))
        .collect()
}

fn summary(spans: &[ReceivedSpan]) -> Vec<String> {
    spans
        .iter()
        .map(|s| {
            format!(
                "{} {} trace={} parent={}",
                s.service, s.name, s.trace_id, s.parent_span_id
            )
        })
        .collect()
}
