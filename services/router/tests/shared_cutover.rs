//! Two real `hop-router` processes on one PostgreSQL database share the cut-over: a rollback
//! through one sends the other's jobs to blue within `cutover.refresh`, and a resume through the
//! other releases both (skipped with a `skipped:` line where PostgreSQL is not installed, unless
//! `HOP_REQUIRE_EXTERNAL=1`).

mod common;

use std::time::{Duration, Instant};

use common::{Backends, Router};
use hop_proto::v1::{CutoverStatus, ResumeRequest, RollbackRequest};
use hop_runtime::testing::or_skip;
use hop_runtime::testing::postgres::Postgres;

const STAGE: &str = "stage = \"weighted\"\ngreen_percent = 50\n";

/// Polls `router`'s status until `condition` holds, failing after a generous deadline.
async fn until(what: &str, router: &Router, condition: impl Fn(&CutoverStatus) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition(&router.status().await) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_through_one_router_latches_every_replica() {
    let Some(db) = or_skip(Postgres::start()) else {
        return;
    };
    let backends = Backends::start();
    let green = backends.compute.uri();
    let start = |name: &str| {
        let settings = [
            format!("postgres={}", db.url),
            format!("replica={name}"),
            "cutover.refresh=100ms".to_owned(),
        ];
        let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
        Router::start(&backends, &green, STAGE, &settings)
    };
    let (a, b) = (start("router-a"), start("router-b"));
    assert!(!b.status().await.latched);

    let reason = "drill across replicas";
    let latched = a
        .admin()
        .await
        .rollback(RollbackRequest {
            reason: reason.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(latched.latched && latched.effective_green_percent == 0);
    until("router-b latched", &b, |s| s.latched).await;
    let seen = b.status().await;
    assert_eq!(seen.latch_reason, format!("manual rollback: {reason}"));
    assert_eq!(seen.effective_green_percent, 0);

    b.admin()
        .await
        .resume(ResumeRequest { acknowledge: true })
        .await
        .unwrap();
    until("router-a released", &a, |s| !s.latched).await;
    assert_eq!(a.status().await.effective_green_percent, 50);
}
