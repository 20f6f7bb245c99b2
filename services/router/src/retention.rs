//! Store retention: every `retention_sweep` the router removes the jobs that ended more than
//! `retention` ago (with their events) and exports the store's size on disk
//! (`hop_router_store_bytes`) and what it removed (`hop_router_store_purged_jobs_total`).
//! `retention = "0s"` keeps every job and only exports the size.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::MissedTickBehavior;

use crate::store::JobStore;

/// The store's size on disk, bytes.
pub const STORE_BYTES: &str = "hop_router_store_bytes";
/// Jobs removed by retention.
pub const PURGED_JOBS_TOTAL: &str = "hop_router_store_purged_jobs_total";

/// One sweep: removes what is older than `retention` (unless it is zero) and publishes the size.
pub async fn sweep(store: &dyn JobStore, retention: Duration) {
    if !retention.is_zero() {
        let cutoff = SystemTime::now()
            .checked_sub(retention)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        match store.purge_finished_before(cutoff).await {
            Ok(0) => {}
            Ok(purged) => {
                metrics::counter!(PURGED_JOBS_TOTAL).increment(purged);
                tracing::info!(purged, retention = ?retention, "old jobs removed from the store");
            }
            Err(e) => tracing::warn!(error = %e, "store retention failed; trying again later"),
        }
    }
    match store.size_bytes().await {
        Ok(bytes) => metrics::gauge!(STORE_BYTES).set(bytes as f64),
        Err(e) => tracing::warn!(error = %e, "cannot measure the job store"),
    }
}

/// Sweeps now and then every `every` until `shutdown`.
pub fn start(
    store: Arc<dyn JobStore>,
    retention: Duration,
    every: Duration,
    shutdown: hop_runtime::Shutdown,
) {
    metrics::describe_gauge!(STORE_BYTES, metrics::Unit::Bytes, "Job store size on disk");
    metrics::describe_counter!(PURGED_JOBS_TOTAL, "Jobs removed by store retention");
    metrics::counter!(PURGED_JOBS_TOTAL).increment(0);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.wait() => return,
                _ = ticker.tick() => sweep(store.as_ref(), retention).await,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use hop_proto::v1::job_event::{Event, Queued};
    use hop_proto::v1::job_spec::Input;
    use hop_proto::v1::{JobEvent, JobSpec, JobState, Side};

    use super::*;
    use crate::record::Job;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn zero_keeps_everything_and_a_period_removes_what_ended_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("jobs.sqlite")).unwrap();
        let spec = JobSpec {
            job_id: "old".into(),
            input: Some(Input::CsvPath("x.csv".into())),
            ..JobSpec::default()
        };
        let mut job = Job::accepted(spec, Side::Blue, None);
        let queued = JobEvent::now("old", Event::Queued(Queued {}));
        let owner = crate::store::contract::holder();
        store.insert(&job, &queued, &owner).await.unwrap();
        job.state = JobState::Succeeded;
        job.finished_at = Some(SystemTime::now() - Duration::from_secs(3 * 86_400));
        store.update(&job, None).await.unwrap();
        sweep(&store, Duration::ZERO).await;
        assert!(
            store.get("old").await.unwrap().is_some(),
            "0s keeps every job"
        );
        sweep(&store, Duration::from_secs(7 * 86_400)).await;
        assert!(
            store.get("old").await.unwrap().is_some(),
            "younger than a week"
        );
        sweep(&store, Duration::from_secs(86_400)).await;
        assert!(
            store.get("old").await.unwrap().is_none(),
            "older than a day"
        );
    }
}
