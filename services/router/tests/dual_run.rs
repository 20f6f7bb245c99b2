//! Dual runs with a deliberately faulty green (`common::faulty_green`) in front of a real
//! `hop-compute`: the validator flags wrong numbers, automatic rollback fires once the window
//! has its minimum samples, no client ever sees green's failure or slowness, and every job
//! completes exactly once. With a correct green, blue and green agree and nothing rolls back.

mod common;

use std::time::{Duration, Instant};

use common::faulty_green::{self, Fault};
use common::{Backends, Router, run_job};
use hop_proto::v1::{JobState, Side, ValidationOutcome};

const WINDOW: [&str; 2] = ["cutover.window=10", "cutover.min_samples=3"];

#[tokio::test(flavor = "multi_thread")]
async fn dual_stage_with_a_correct_green_matches_and_holds() {
    let backends = Backends::start();
    let router = Router::start(
        &backends,
        &backends.compute.uri(),
        "stage = \"dual\"\n",
        &WINDOW,
    );
    for i in 0..3 {
        let record = run_job(&router, &format!("ok-{i}")).await;
        assert_eq!(record.state(), JobState::Succeeded);
        assert_eq!(record.side(), Side::Blue, "dual: blue is primary");
        assert_eq!(record.shadow_side(), Side::Green);
        assert_eq!(record.shadow_engine, "cpu");
        assert_eq!(
            record.validation(),
            ValidationOutcome::Matched,
            "{record:?}"
        );
        // Portfolios and fitness are bit-identical; only the SQL metrics differ, by <= 1e-12.
        assert!(record.validation_max_relative_difference <= 1e-12);
    }
    let status = router.status().await;
    assert_eq!(status.stage, "dual");
    assert!(!status.latched, "{status:?}");
    assert_eq!(status.window_samples, 3);
    assert_eq!(status.window_mismatches, 0);
    assert_eq!(status.effective_green_percent, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_numbers_are_flagged_and_roll_back() {
    let backends = Backends::start();
    let green = faulty_green::start(backends.compute.uri(), Fault::WrongNumbers).await;
    let router = Router::start(
        &backends,
        &green,
        "stage = \"weighted\"\ngreen_percent = 50\n",
        &WINDOW,
    );
    let mut latched_after = None;
    for i in 0..6 {
        let record = run_job(&router, &format!("wrong-{i}")).await;
        assert_eq!(record.state(), JobState::Succeeded, "the client is served");
        if record.shadow_side() != Side::Unspecified {
            assert_eq!(
                record.validation(),
                ValidationOutcome::Mismatched,
                "{record:?}"
            );
            assert!(record.validation_mismatches > 0);
        }
        if latched_after.is_none() && router.status().await.latched {
            latched_after = Some(i + 1);
        }
    }
    let status = router.status().await;
    assert!(status.latched, "{status:?}");
    assert_eq!(
        latched_after,
        Some(3),
        "rolled back at the minimum sample count"
    );
    assert!(
        status.latch_reason.contains("relative difference"),
        "{}",
        status.latch_reason
    );
    assert_eq!(status.effective_green_percent, 0);
    assert!(!status.recent_mismatches.is_empty());
    // After the rollback every new job is primary on blue.
    let record = run_job(&router, "after-rollback").await;
    assert_eq!(record.side(), Side::Blue);
}

#[tokio::test(flavor = "multi_thread")]
async fn green_errors_and_crashes_fall_back_to_blue() {
    for fault in [Fault::Error, Fault::Crash] {
        let backends = Backends::start();
        let green = faulty_green::start(backends.compute.uri(), fault).await;
        let router = Router::start(
            &backends,
            &green,
            "stage = \"green\"\n",
            &[WINDOW[0], WINDOW[1], "engine_retry=200ms", "max_attempts=2"],
        );
        for i in 0..3 {
            let record = run_job(&router, &format!("fail-{i}")).await;
            assert_eq!(record.state(), JobState::Succeeded, "{fault:?}: {record:?}");
            assert_eq!(record.side(), Side::Blue, "{fault:?}: served by blue");
            assert_eq!(record.result.unwrap().side(), Side::Blue);
        }
        let status = router.status().await;
        assert!(status.latched, "{fault:?}: {status:?}");
        assert!(
            status.latch_reason.contains("error rate"),
            "{}",
            status.latch_reason
        );
        let metrics = hop_runtime::testing::scrape_metrics(router.process.metrics).await;
        assert!(
            metrics.contains("hop_router_fallbacks_total 3"),
            "{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_green_shadow_never_delays_the_client() {
    let backends = Backends::start();
    let green =
        faulty_green::start(backends.compute.uri(), Fault::Slow(Duration::from_secs(2))).await;
    let router = Router::start(
        &backends,
        &green,
        "stage = \"dual\"\n",
        &[WINDOW[0], WINDOW[1], "cutover.max_runtime=1s"],
    );
    for i in 0..3 {
        let started = Instant::now();
        let mut jobs = router.jobs().await;
        jobs.submit(hop_proto::v1::SubmitRequest {
            spec: Some(common::spec(&format!("slow-{i}"))),
        })
        .await
        .unwrap();
        let record = common::settled(&router, &format!("slow-{i}")).await;
        assert_eq!(record.side(), Side::Blue);
        // The primary answer came long before the shadow's 2 s.
        let answered = record.finished_at.unwrap();
        let created = record.created_at.unwrap();
        let primary_seconds = (answered.seconds - created.seconds) as f64
            + f64::from(answered.nanos - created.nanos) * 1e-9;
        assert!(primary_seconds < 1.5, "primary took {primary_seconds} s");
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "the shadow really was slow"
        );
    }
    let status = router.status().await;
    assert!(status.latched, "{status:?}");
    assert!(
        status.latch_reason.contains("runtime"),
        "{}",
        status.latch_reason
    );
}

/// Runs `spec` on an engine to its `Finished` result.
async fn engine_result(
    engine: &hop_runtime::testing::ServiceProcess,
    spec: hop_proto::v1::JobSpec,
) -> hop_proto::v1::JobResult {
    use futures::StreamExt;
    use hop_proto::v1::job_event::Event;
    let mut client = hop_proto::v1::engine_client::EngineClient::new(engine.channel().await)
        .max_decoding_message_size(1 << 28);
    let mut stream = client
        .run(hop_proto::v1::RunRequest { spec: Some(spec) })
        .await
        .expect("run")
        .into_inner();
    while let Some(event) = stream.next().await {
        if let Some(Event::Finished(finished)) = event.expect("no stream error").event {
            return finished.result.expect("a result");
        }
    }
    panic!("no Finished event");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_noise_floor_is_exactly_zero() {
    // The same job twice on the same side, compared with tolerance 0: bit-identical by design.
    let backends = Backends::start();
    let mut validator =
        hop_proto::v1::validator_client::ValidatorClient::new(backends.validator.channel().await)
            .max_encoding_message_size(1 << 28);
    for (side, engine) in [("blue", &backends.legacy), ("green", &backends.compute)] {
        let first = engine_result(engine, common::spec(&format!("{side}-a"))).await;
        let second = engine_result(engine, common::spec(&format!("{side}-a"))).await;
        let reply = validator
            .compare(hop_proto::v1::CompareRequest {
                job_id: format!("noise-{side}-vs-{side}"),
                blue: Some(first),
                green: Some(second),
                tolerance: Some(0.0),
            })
            .await
            .expect("compared")
            .into_inner();
        assert!(reply.matched, "{side} vs {side}: {:?}", reply.mismatches);
        assert_eq!(reply.max_relative_difference, 0.0, "{side} vs {side}");
        assert!(reply.fields_compared > 2500, "{}", reply.fields_compared);
    }
}
