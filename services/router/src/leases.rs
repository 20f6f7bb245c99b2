//! [`keep`]: this replica's side of the job leases (see [`crate::store`]) for as long as it
//! runs, beside its gRPC server.
//!
//! Every third of the lease ttl it renews the leases of the jobs it runs or settles (a job whose
//! lease is gone stops here: another replica holds it) and claims the jobs whose lease expired
//! ([`Admission::claim`]). So a replica that is killed, or cut off from the database, has its jobs
//! resumed elsewhere within about `lease_ttl` and a third.
//!
//! When the replica starts stopping (SIGTERM: a rolling update, a node drain) it claims nothing
//! more, gives the jobs it runs up to `handover_after` to finish (renewing their leases), then
//! stops their runs and releases their leases, so that another replica claims them at its next
//! round instead of after the ttl. Watchers of those jobs on this replica end with
//! `REPLICA_STOPPING` and watch again elsewhere; the search is deterministic, so the job's
//! answer is the same.
//!
//! Metrics: `hop_router_jobs_claimed_total` (jobs this replica took over) and
//! `hop_router_jobs_released_total` (jobs it handed over when stopping).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::admission::Admission;
use crate::log::JobLog;

/// Jobs this replica claimed after another replica (or its own earlier run) stopped.
pub const JOBS_CLAIMED_TOTAL: &str = "hop_router_jobs_claimed_total";
/// Jobs this replica handed over when it stopped.
pub const JOBS_RELEASED_TOTAL: &str = "hop_router_jobs_released_total";

/// Renews, claims and, once the replica stops, hands over; returns when the jobs are handed
/// over.
pub async fn keep(
    admission: Arc<Admission>,
    log: Arc<JobLog>,
    handover_after: Duration,
) -> Result<(), String> {
    metrics::describe_counter!(JOBS_CLAIMED_TOTAL, "Jobs taken over from a stopped replica");
    metrics::describe_counter!(JOBS_RELEASED_TOTAL, "Jobs handed over when stopping");
    metrics::counter!(JOBS_CLAIMED_TOTAL).increment(0);
    metrics::counter!(JOBS_RELEASED_TOTAL).increment(0);
    let replica = log.replica().clone();
    let every = replica.owner.ttl / 3;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = replica.stopping.wait() => break,
        }
        renew(&log).await;
        match admission.claim(false).await {
            Ok(0) => {}
            Ok(claimed) => {
                metrics::counter!(JOBS_CLAIMED_TOTAL).increment(claimed as u64);
                tracing::info!(
                    claimed,
                    "took over jobs whose router replica stopped renewing them"
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot claim jobs from the job store"),
        }
    }
    let deadline = Instant::now() + handover_after;
    while !log.wait_idle(deadline.min(Instant::now() + every)).await {
        if Instant::now() >= deadline {
            break;
        }
        renew(&log).await;
    }
    match log.hand_over().await {
        Ok(0) => {}
        Ok(released) => {
            metrics::counter!(JOBS_RELEASED_TOTAL).increment(released);
            tracing::info!(
                released,
                "stopping: handed the unfinished jobs over to the other router replicas"
            );
        }
        Err(e) => tracing::error!(error = %e,
            "stopping: cannot release this replica's jobs; the other replicas take them over \
             when their leases expire"),
    }
    Ok(())
}

async fn renew(log: &JobLog) {
    if let Err(e) = log.renew().await {
        tracing::warn!(error = %e, "cannot renew this replica's job leases");
    }
}
