//! [`Watcher`]: the bridge's main loop. Every `poll_interval` it polls the share ([`Poller`], on a
//! blocking thread), starts a task per claimed job ([`job::run`]), keeps the health status in line
//! with the share's usability and the depth gauges up to date.
//!
//! Shutdown: no new job is claimed; jobs in flight get `shutdown_grace` to finish. Any job still
//! running then is dropped with its lock: its file stays in `processing/` and the next bridge to
//! start (or another running one) resumes it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::Instrument;

use hop_runtime::Shutdown;
use tokio::task::{Id, JoinSet};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::job::{self, Context};
use crate::poller::Poller;
use crate::sightings::Sightings;
use crate::{BridgeError, metrics};

/// The main loop's state.
#[derive(Debug)]
pub struct Watcher {
    ctx: Arc<Context>,
    health: HealthReporter,
    shutdown: Shutdown,
    grace: Duration,
    poller: Arc<Mutex<Poller>>,
    running: JoinSet<Result<(), BridgeError>>,
    names: HashMap<Id, String>,
    share_usable: bool,
}

impl Watcher {
    /// A watcher over `ctx.share` that reports through `health` and stops on `shutdown`, giving
    /// jobs in flight `grace` to finish.
    pub fn new(
        ctx: Arc<Context>,
        health: HealthReporter,
        shutdown: Shutdown,
        grace: Duration,
    ) -> Self {
        let sightings = Sightings::new(ctx.config.settle, ctx.config.max_job_file_bytes);
        Self {
            ctx,
            health,
            shutdown,
            grace,
            poller: Arc::new(Mutex::new(Poller::new(sightings))),
            running: JoinSet::new(),
            names: HashMap::new(),
            share_usable: true,
        }
    }

    /// Runs until shutdown, then waits for the jobs in flight (at most the grace).
    pub async fn run(mut self) {
        loop {
            while let Some(done) = self.running.try_join_next_with_id() {
                self.reap(done);
            }
            if self.shutdown.is_triggered() {
                break;
            }
            self.poll().await;
            tokio::select! {
                () = tokio::time::sleep(self.ctx.config.poll_interval) => {}
                () = self.shutdown.wait() => {}
            }
        }
        self.drain().await;
    }

    async fn poll(&mut self) {
        let busy: HashSet<String> = self.names.values().cloned().collect();
        let capacity = self
            .ctx
            .config
            .max_parallel_jobs
            .saturating_sub(self.running.len());
        let (poller, ctx) = (self.poller.clone(), self.ctx.clone());
        let polled =
            tokio::task::spawn_blocking(move || lock(&poller).poll(&ctx.share, &busy, capacity))
                .await;
        let poll = match polled {
            Ok(Ok(poll)) => poll,
            Ok(Err(e)) => {
                if self.share_usable {
                    tracing::error!(error = %e,
                        "the share cannot be read; health is NOT_SERVING until it can");
                    self.set_health(false).await;
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "the share poll stopped unexpectedly");
                return;
            }
        };
        if !self.share_usable {
            tracing::info!("the share can be read again");
            self.set_health(true).await;
        }
        metrics::depths(poll.queue_depth, poll.processing_depth);
        for (name, e) in poll.errors {
            tracing::warn!(job_file = name, error = %e, "cannot claim the job; trying again later");
        }
        for claim in poll.claims {
            let name = claim.name.clone();
            // One trace per job: this span is the root the router, engines and validator join.
            let span = tracing::info_span!("share.job", job_file = %name, otel.kind = "consumer");
            let handle = self
                .running
                .spawn(job::run(self.ctx.clone(), claim).instrument(span));
            self.names.insert(handle.id(), name);
        }
    }

    fn reap(&mut self, done: Result<(Id, Result<(), BridgeError>), tokio::task::JoinError>) {
        let (id, outcome) = match done {
            Ok((id, outcome)) => (id, outcome.map_err(|e| e.to_string())),
            Err(e) => (e.id(), Err(format!("the job task stopped: {e}"))),
        };
        let name = self.names.remove(&id).unwrap_or_default();
        if let Err(error) = outcome {
            tracing::warn!(
                job_file = name,
                error,
                "the job stays in processing and is tried again later"
            );
            lock(&self.poller).retry_later(&name);
        }
    }

    async fn drain(mut self) {
        if self.running.is_empty() {
            return;
        }
        tracing::info!(jobs = self.running.len(), grace = ?self.grace,
            "shutting down: waiting for the jobs in flight");
        let finished = tokio::time::timeout(self.grace, async {
            while let Some(done) = self.running.join_next_with_id().await {
                self.reap(done);
            }
        })
        .await;
        if finished.is_err() {
            let left: Vec<&String> = self.names.values().collect();
            tracing::warn!(jobs = ?left,
                "jobs still running after the shutdown grace stay in processing/ and are \
                 resumed by the next bridge");
            self.running.shutdown().await;
        }
    }

    async fn set_health(&mut self, usable: bool) {
        self.share_usable = usable;
        if self.shutdown.is_triggered() {
            return;
        }
        let status = if usable {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.health.set_service_status("", status).await;
    }
}

fn lock(poller: &Mutex<Poller>) -> std::sync::MutexGuard<'_, Poller> {
    poller.lock().unwrap_or_else(PoisonError::into_inner)
}
