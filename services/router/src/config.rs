//! The service's own configuration section (`[router]` in the TOML file, `HOP_ROUTER_<KEY>` in
//! the environment, `--set key=value` on the command line).

use std::path::PathBuf;
use std::time::Duration;

use hop_runtime::config::duration;
use serde::Deserialize;

/// `[router]` keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// gRPC address of the blue engine (`hop-legacy`), e.g. `http://127.0.0.1:50053`. Jobs routed
    /// to blue fail with `ENGINE_UNAVAILABLE` while it is unset. A host name is balanced over
    /// every address it resolves to (the replicas behind a headless Service).
    pub blue: Option<String>,
    /// gRPC address of the green engine (`hop-compute`), balanced the same way.
    pub green: Option<String>,
    /// gRPC address of the validator (`hop-validator`). Without one, no shadow runs: dual and
    /// weighted stages only route.
    pub validator: Option<String>,
    /// The starting green weight, 0 to 100, when no cut-over file is configured
    /// (`cutover.file`); 0 is the legacy stage, 100 the green stage.
    pub green_percent: u32,
    /// How long a shadow run may take before it counts as failed.
    #[serde(with = "duration")]
    pub shadow_timeout: Duration,
    /// Stages, weights, the safety latch, automatic rollback and the admin token (`[router.cutover]`).
    pub cutover: crate::cutover::CutoverConfig,
    /// The job store (SQLite); default `<data_dir>/router/jobs.sqlite`. Unused with `postgres`.
    pub store: Option<PathBuf>,
    /// A PostgreSQL connection string (`postgresql://user@host:5432/db` or libpq's
    /// `host=... user=... dbname=...`) for a job store that several router replicas share;
    /// unset: the embedded SQLite store. The cut-over state, its latch and the health window live
    /// there too, shared by the replicas (each reloads them every `cutover.refresh`); unset:
    /// `<data_dir>/router/cutover.json` and memory. Put no password here: use
    /// `postgres_password_file`.
    pub postgres: Option<String>,
    /// A file holding the PostgreSQL password (e.g. a mounted Kubernetes Secret).
    pub postgres_password_file: Option<PathBuf>,
    /// Jobs run at once; further jobs wait in state `QUEUED`.
    pub max_parallel_jobs: usize,
    /// How long the router keeps trying to reach an engine that does not answer before it fails
    /// the job with `UNAVAILABLE`.
    #[serde(with = "duration")]
    pub engine_retry: Duration,
    /// Times a job is started on its engine when the engine goes away mid-job (its stream breaks
    /// before the final event); the search is deterministic, so a re-run gives the same result.
    pub max_attempts: u32,
    /// Times a router starts a job in all (acceptance and every resume after a restart); a job
    /// still unfinished then fails with `ATTEMPTS_EXHAUSTED` instead of being resumed forever.
    pub max_starts: u32,
    /// How long a finished job (record and events) is kept; `0s` keeps every job.
    #[serde(with = "duration")]
    pub retention: Duration,
    /// How often old jobs are removed and the store's size is measured.
    #[serde(with = "duration")]
    pub retention_sweep: Duration,
    /// This replica's name in the job leases; default: the host name (on Kubernetes, the pod
    /// name). Give every replica sharing a store its own; a replica restarted under the same
    /// name takes its earlier run's jobs back at once instead of after `lease_ttl`.
    pub replica: Option<String>,
    /// How long a job stays leased to a replica that stopped renewing (killed, cut off from the
    /// database) before another replica takes it over; leases are renewed every third of it.
    #[serde(with = "duration")]
    pub lease_ttl: Duration,
    /// On SIGTERM, how long the jobs this replica runs get to finish before they are handed
    /// over to the other replicas (keep it below `shutdown_grace`).
    #[serde(with = "duration")]
    pub handover_after: Duration,
    /// How often a `Watch` of a job another replica runs reads the job store.
    #[serde(with = "duration")]
    pub watch_poll: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            blue: None,
            green: None,
            validator: None,
            green_percent: 0,
            shadow_timeout: Duration::from_secs(300),
            cutover: crate::cutover::CutoverConfig::default(),
            store: None,
            postgres: None,
            postgres_password_file: None,
            max_parallel_jobs: 4,
            engine_retry: Duration::from_secs(60),
            max_attempts: 3,
            max_starts: 3,
            retention: Duration::from_secs(30 * 86_400),
            retention_sweep: Duration::from_secs(3600),
            replica: None,
            lease_ttl: Duration::from_secs(10),
            handover_after: Duration::from_secs(5),
            watch_poll: Duration::from_millis(100),
        }
    }
}

impl RouterConfig {
    /// This replica's name: `replica`, else the host name (`HOSTNAME`, else the kernel's), else
    /// `router`.
    pub fn replica_name(&self) -> String {
        self.replica
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "router".to_owned())
    }

    /// Checks the values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.green_percent > 100 {
            return Err(format!(
                "green_percent is {}, it must be from 0 to 100",
                self.green_percent
            ));
        }
        if self.max_parallel_jobs == 0 {
            return Err("max_parallel_jobs must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        if self.retention_sweep.is_zero() {
            return Err("retention_sweep must be longer than 0s".into());
        }
        if self.max_starts == 0 {
            return Err("max_starts must be at least 1".into());
        }
        if self.lease_ttl < Duration::from_millis(300) {
            return Err(format!(
                "lease_ttl is {:?}: it must be at least 300ms (leases are renewed every third)",
                self.lease_ttl
            ));
        }
        if self.watch_poll.is_zero() {
            return Err("watch_poll must be longer than 0s".into());
        }
        if self.replica.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err(
                "replica is empty: name this replica, or leave it out for the host \
                        name"
                    .into(),
            );
        }
        self.cutover.validate()
    }
}

#[cfg(test)]
mod tests {
    use hop_runtime::config::{CommonArgs, MapSource, load};

    use super::*;

    #[test]
    fn defaults_flags_and_checks() {
        let loaded =
            load::<RouterConfig>("router", &CommonArgs::default(), &MapSource::new()).unwrap();
        assert_eq!(loaded.own, RouterConfig::default());
        assert!(loaded.own.validate().is_ok());
        let args = CommonArgs {
            set: vec![
                "green_percent=50".into(),
                "green=http://127.0.0.1:1".into(),
                "engine_retry=2s".into(),
            ],
            ..CommonArgs::default()
        };
        let own = load::<RouterConfig>("router", &args, &MapSource::new())
            .unwrap()
            .own;
        assert_eq!(own.green_percent, 50);
        assert_eq!(own.green.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(own.engine_retry, Duration::from_secs(2));
        let too_much = RouterConfig {
            green_percent: 101,
            ..RouterConfig::default()
        };
        assert!(too_much.validate().unwrap_err().contains("101"));
    }
}
