//! Two [`Cutover`]s as two router replicas on one real PostgreSQL database: the latch, its
//! release and the health window are shared (skipped with a `skipped:` line where PostgreSQL is
//! not installed, unless `HOP_REQUIRE_EXTERNAL=1`).

use std::time::Duration;

use hop_runtime::Shutdown;
use hop_runtime::testing::or_skip;
use hop_runtime::testing::postgres::Postgres;

use super::super::*;
use super::{eventually, failed, ok};
use crate::store::PgStore;

/// A replica on `server`'s database, refreshing every 20 ms.
async fn replica(server: &Postgres) -> Arc<Cutover> {
    let config = CutoverConfig {
        refresh: Duration::from_millis(20),
        ..CutoverConfig::default()
    };
    let store = PgStore::connect(&server.url, None).await.unwrap();
    Cutover::open(&config, Arc::new(store), 50).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_latch_and_its_release_reach_every_replica() {
    let Some(server) = or_skip(Postgres::start()) else {
        return;
    };
    let (a, b) = (replica(&server).await, replica(&server).await);
    let shutdown = Shutdown::new();
    let followers = [a.follow(shutdown.clone()), b.follow(shutdown.clone())];

    // An operator's rollback on one replica, released on the other.
    assert!(a.rollback("drill").await.latched);
    eventually("b latched", || b.status().latched).await;
    assert_eq!(b.status().latch_reason, "manual rollback: drill");
    assert_eq!(b.status().effective_green_percent, 0);
    assert_eq!(b.route("job_1").primary, Side::Blue);
    assert!(!b.resume(true).await.unwrap().latched);
    eventually("a released", || !a.status().latched).await;
    assert_eq!(a.status().effective_green_percent, 50);

    // Green failures recorded on both replicas: neither one's own runs reach min_samples (5),
    // the shared window does.
    for _ in 0..3 {
        a.record_green(failed()).await;
    }
    b.record_green(failed()).await;
    assert!(!a.status().latched && !b.status().latched, "4 runs: hold");
    b.record_green(ok()).await;
    let status = b.status();
    assert_eq!(
        status.latch_reason,
        "automatic rollback: green error rate 0.8 over the last 5 jobs exceeds 0.05"
    );
    eventually("a latched automatically", || a.status().latched).await;
    assert_eq!(a.status().latch_reason, status.latch_reason);
    assert_eq!(a.status().window_samples, 5);

    // Resuming empties the window everywhere.
    a.resume(true).await.unwrap();
    eventually("b released", || !b.status().latched).await;
    assert_eq!(b.status().window_samples, 0);

    shutdown.trigger();
    for follower in followers {
        tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .expect("the refresh stops at shutdown")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_latching_at_once_end_with_one_latch() {
    let Some(server) = or_skip(Postgres::start()) else {
        return;
    };
    let (a, b) = (replica(&server).await, replica(&server).await);
    for round in 0..5 {
        let (reason_a, reason_b) = (format!("a {round}"), format!("b {round}"));
        let (from_a, from_b) = tokio::join!(a.rollback(&reason_a), b.rollback(&reason_b));
        assert!(from_a.latched);
        assert_eq!(
            (&from_a.latch_reason, from_a.latched_at),
            (&from_b.latch_reason, from_b.latched_at),
            "both replicas hold the one latch"
        );
        b.refresh().await.unwrap();
        assert_eq!(b.status().latch_reason, from_a.latch_reason);
        let (released_a, released_b) = tokio::join!(a.resume(true), b.resume(true));
        assert!(!released_a.unwrap().latched && !released_b.unwrap().latched);
    }
    // Automatic latches from both replicas' failures at once: one reason, on both.
    let fail = |cutover: Arc<Cutover>| async move {
        for _ in 0..5 {
            cutover.record_green(failed()).await;
        }
    };
    tokio::join!(fail(a.clone()), fail(b.clone()));
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    let (a, b) = (a.status(), b.status());
    assert!(
        a.latched
            && a.latch_reason
                .starts_with("automatic rollback: green error rate 1")
    );
    assert_eq!(
        (a.latch_reason, a.latched_at),
        (b.latch_reason, b.latched_at)
    );
}
