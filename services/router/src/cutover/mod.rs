//! [`Cutover`]: the router's control of the migration from blue to green (SPEC 5).
//!
//! - **Desired state** — a [`Stage`] and a green weight — comes from the desired-state file
//!   (`cutover.file`, e.g. Helm's ConfigMap, watched by content: [`Cutover::watch`]) or, without
//!   one, from the router's `green_percent`. `Admin.SetWeight` overrides it until that source
//!   changes next (a new file content, another configured weight); the override is persisted.
//! - **Effective weight** = min(desired, latch): 0 while a rollback is latched, else the desired
//!   one. A latch is set by an operator ([`Cutover::rollback`]) or by the health window
//!   ([`Cutover::record_green`]), is persisted before anything else happens, survives restarts,
//!   and is released only by [`Cutover::resume`] with an acknowledgement.
//! - **Routing** ([`Cutover::route`]): `legacy` blue only; `dual` blue primary and green shadow;
//!   `weighted` the sticky hash picks the primary at the effective weight and the other side
//!   shadows; `green` and `decommissioned` green only. While latched every job is blue-primary and
//!   green keeps shadowing in every stage but `legacy`, so the window shows whether it recovered
//!   (at `decommissioned` blue must be scaled up again first).
//! - **Health window** ([`window`]): green's last `cutover.window` runs (primary and shadow), of
//!   every replica when they share a store.
//!   With at least `cutover.min_samples` of them, an error rate above `max_error_rate`, a p95
//!   runtime above `max_runtime` or a relative difference from blue above
//!   `max_relative_difference` latches a rollback naming the figure and its limit. Fewer
//!   samples: hold. At `decommissioned` there is no blue to go back to, so a breach is only
//!   logged. Resuming clears the window.
//!
//! **Where it lives** ([`CutoverStore`]): every change — a latch, a release, a weight, a new
//! desired file — and every green run is one atomic step in the store, whose result (the state
//! and the window) becomes the router's; routing reads that copy in memory. A single router keeps
//! the state in `<data_dir>/router/cutover.json` and the window in memory ([`FileStore`]).
//! Router replicas sharing PostgreSQL (the router's `postgres`) keep both in the database
//! (the PostgreSQL job store's `hop_cutover` and `hop_cutover_samples` tables), never in memory alone:
//! each replica adds its own green runs to the one window and judges the breach on it, so
//! failures spread over the replicas roll back as they would on one; two replicas latching at
//! once end with one latch (the first stays), and a resume on any replica releases it for all.
//! [`Cutover::follow`] reloads the shared state every `cutover.refresh` (1 s by default), so a
//! latch or release written by another replica is in force here within that interval: the
//! gauges follow and the change is logged (the rollback counter counts on the replica that
//! latched). If the store cannot be written, a rollback and a
//! new desired file still act on this router (logged and counted: see [`telemetry`]); a weight
//! change or a resume is refused. The recent mismatches in the status are each replica's own.

pub mod config;
pub mod file_store;
mod open;
mod refresh;
pub mod stage;
pub mod state;
pub mod store;
pub mod telemetry;
mod watcher;
pub mod window;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use hop_proto::v1::{CompareReply, CutoverStatus, Side};

pub use config::CutoverConfig;
pub use file_store::FileStore;
pub use stage::{Desired, Stage};
pub use store::CutoverStore;

use crate::error::RouterError;
use state::{Latch, Persisted};
use store::{Change, Stored};
use window::{HealthWindow, Sample};

/// Mismatching comparisons kept for the status.
const RECENT_MISMATCHES: usize = 10;

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The side whose result the client gets.
    pub primary: Side,
    /// The side that runs the job too, to be compared; `None` when only the primary runs.
    pub shadow: Option<Side>,
}

/// One finished green run, primary or shadow.
#[derive(Debug, Clone, PartialEq)]
pub struct GreenSample {
    /// How long green took.
    pub seconds: f64,
    /// Whether green failed (an error, a timeout).
    pub failed: bool,
    /// The validator's comparison with blue's result, when there was one.
    pub comparison: Option<CompareReply>,
}

/// The cut-over control plane; share it as `Arc<Cutover>`.
#[derive(Debug)]
pub struct Cutover {
    config: CutoverConfig,
    store: Arc<dyn CutoverStore>,
    inner: Mutex<Inner>,
    /// Serializes this replica's steps in the store (and refreshes from it), so the states they
    /// return are adopted in the order they were written.
    writes: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Inner {
    state: Persisted,
    window: HealthWindow,
    /// Newest first.
    recent_mismatches: VecDeque<CompareReply>,
    /// What the last read of the desired-state file found ([`watcher::FileRead::key`]).
    last_seen: Option<String>,
}

impl Inner {
    fn effective_percent(&self) -> u32 {
        if self.state.latch.is_some() {
            0
        } else {
            self.state.desired.green_percent
        }
    }

    /// Makes `state` and `window` this replica's; the state it replaces.
    fn adopt(&mut self, state: Persisted, window: HealthWindow) -> Persisted {
        let before = std::mem::replace(&mut self.state, state);
        self.window = window;
        self.publish();
        telemetry::publish_window(&self.window.figures());
        before
    }

    fn publish(&self) {
        telemetry::publish_state(
            self.state.desired.stage,
            self.state.desired.green_percent,
            self.effective_percent(),
            self.state.latch.is_some(),
        );
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn timestamp(ms: u64) -> prost_types::Timestamp {
    (SystemTime::UNIX_EPOCH + Duration::from_millis(ms)).into()
}

impl Cutover {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a new job goes: the primary side by the sticky hash at the effective weight, and
    /// the shadow side when the stage runs one.
    pub fn route(&self, job_id: &str) -> Route {
        let inner = self.lock();
        inner.state.desired.stage.route(
            job_id,
            inner.effective_percent(),
            inner.state.latch.is_some(),
        )
    }

    /// Records one finished green run (primary or shadow) into the window; latches a rollback
    /// when the window breaches a threshold.
    pub async fn record_green(&self, sample: GreenSample) {
        if let Some(comparison) = sample.comparison.as_ref().filter(|c| !c.matched) {
            let mut inner = self.lock();
            inner.recent_mismatches.truncate(RECENT_MISMATCHES - 1);
            inner.recent_mismatches.push_front(comparison.clone());
        }
        let sample = Sample {
            seconds: sample.seconds,
            failed: sample.failed,
            comparison: sample
                .comparison
                .as_ref()
                .map(|c| (c.matched, c.max_relative_difference)),
        };
        let config = &self.config;
        let judge = |stored: Stored, window: &HealthWindow| {
            let state = existing(stored)?;
            match window.breach(config) {
                Some(breach) if state.desired.stage != Stage::Decommissioned => {
                    Ok(latched(state, &format!("automatic rollback: {breach}")))
                }
                _ => Ok(state),
            }
        };
        if self.update_anyway(Some(sample), &judge).await {
            self.report_latch("automatic");
            return;
        }
        let inner = self.lock();
        let decommissioned =
            inner.state.latch.is_none() && inner.state.desired.stage == Stage::Decommissioned;
        if let Some(breach) = inner.window.breach(config).filter(|_| decommissioned) {
            tracing::warn!(
                breach,
                "green breaches the health window, but blue is decommissioned: no automatic \
                 rollback (scale blue up and roll back by hand)"
            );
        }
    }

    /// The status for `Admin.CutoverStatus` and `hop cutover status`.
    pub fn status(&self) -> CutoverStatus {
        Self::status_of(&self.lock())
    }

    fn status_of(inner: &Inner) -> CutoverStatus {
        let figures = inner.window.figures();
        let latch = inner.state.latch.as_ref();
        CutoverStatus {
            stage: inner.state.desired.stage.as_str().to_owned(),
            desired_green_percent: inner.state.desired.green_percent,
            effective_green_percent: inner.effective_percent(),
            latched: latch.is_some(),
            latch_reason: latch.map(|l| l.reason.clone()).unwrap_or_default(),
            latched_at: latch.map(|l| timestamp(l.at_ms)),
            window_samples: u32::try_from(figures.samples).unwrap_or(u32::MAX),
            window_error_rate: figures.error_rate,
            window_p95_runtime_seconds: figures.p95_seconds,
            window_max_relative_difference: figures.max_relative_difference,
            window_mismatches: u32::try_from(figures.mismatches).unwrap_or(u32::MAX),
            recent_mismatches: inner.recent_mismatches.iter().cloned().collect(),
            updated_at: Some(timestamp(inner.state.updated_at_ms)),
        }
    }

    /// An operator's green weight, 0 to 100 (the stage follows: see [`Desired::with_weight`]).
    /// Refused while a rollback is latched. With a desired-state file it holds until the file
    /// changes next.
    pub async fn set_weight(
        &self,
        percent: u32,
        reason: &str,
    ) -> Result<CutoverStatus, RouterError> {
        if percent > 100 {
            return Err(RouterError::InvalidRequest(format!(
                "green_percent is {percent}, it must be from 0 to 100"
            )));
        }
        let before = self.lock().state.desired;
        let weigh = |stored: Stored, _: &HealthWindow| {
            let mut state = existing(stored)?;
            if let Some(latch) = &state.latch {
                return Err(RouterError::FailedPrecondition(format!(
                    "a rollback is latched ({}): release it with `hop cutover resume --ack` \
                     before changing the weight",
                    latch.reason
                )));
            }
            state.desired = state.desired.with_weight(percent);
            state.overridden = true;
            state.updated_at_ms = now_ms();
            Ok(state)
        };
        self.update(None, &weigh).await?;
        let inner = self.lock();
        tracing::info!(
            reason = reason_or_none(reason),
            from_stage = before.stage.as_str(),
            from_percent = before.green_percent,
            stage = inner.state.desired.stage.as_str(),
            green_percent = percent,
            until = if self.config.file.is_some() {
                "the cutover file changes"
            } else {
                "the configured green_percent changes"
            },
            "green weight set by an operator"
        );
        Ok(Self::status_of(&inner))
    }

    /// Emergency rollback: every new job to blue at once, latched (and persisted) before this
    /// returns. Already latched (by any replica): the first latch and its reason stay.
    pub async fn rollback(&self, reason: &str) -> CutoverStatus {
        let reason = reason_or_none(reason);
        let latch = format!("manual rollback: {reason}");
        let roll_back = |stored: Stored, _: &HealthWindow| Ok(latched(existing(stored)?, &latch));
        if self.update_anyway(None, &roll_back).await {
            self.report_latch("manual");
        } else if let Some(latch) = &self.lock().state.latch {
            tracing::warn!(
                reason,
                latched = latch.reason,
                "manual rollback asked while already latched; the latch stays"
            );
        }
        self.status()
    }

    /// Releases a latched rollback (on every replica sharing the store): traffic returns to the
    /// desired weight and the window starts empty. Refused unless `acknowledge`; not latched:
    /// nothing to do.
    pub async fn resume(&self, acknowledge: bool) -> Result<CutoverStatus, RouterError> {
        if !acknowledge {
            return Err(RouterError::FailedPrecondition(
                "resuming needs an acknowledgement that the cause of the rollback was dealt \
                 with: `hop cutover resume --ack` (ResumeRequest.acknowledge = true)"
                    .into(),
            ));
        }
        let release = |stored: Stored, _: &HealthWindow| {
            let mut state = existing(stored)?;
            if state.latch.take().is_some() {
                state.updated_at_ms = now_ms();
            }
            Ok(state)
        };
        let before = self.lock().state.latch.clone();
        if self.update(None, &release).await? {
            let inner = self.lock();
            tracing::warn!(
                released = before.as_ref().map(|l| l.reason.as_str()),
                green_percent = inner.effective_percent(),
                stage = inner.state.desired.stage.as_str(),
                "rollback released by an operator"
            );
        }
        Ok(self.status())
    }

    /// One step in the store (see [`CutoverStore::update`]) whose result becomes this replica's
    /// state; whether it wrote a new one. On a failure nothing changes.
    async fn update(
        &self,
        sample: Option<Sample>,
        change: Change<'_>,
    ) -> Result<bool, RouterError> {
        let _writing = self.writes.lock().await;
        let snapshot = self
            .store
            .update(self.config.window, sample, change)
            .await?;
        self.lock().adopt(snapshot.state, snapshot.window);
        Ok(snapshot.written)
    }

    /// [`Self::update`], or when the store fails, the same step on this replica's own state and
    /// window (a rollback or a new desired file must act even then); the failure is logged and
    /// counted.
    async fn update_anyway(&self, sample: Option<Sample>, change: Change<'_>) -> bool {
        let error = match self.update(sample, change).await {
            Ok(written) => return written,
            Err(error) => error,
        };
        metrics::counter!(telemetry::STATE_WRITE_FAILURES_TOTAL).increment(1);
        tracing::error!(%error, "the cutover store failed: this step acts on this router's own \
            state and window only (other replicas do not see it, and it will not survive a \
            restart)");
        let mut inner = self.lock();
        let mut window = inner.window.clone();
        if let Some(sample) = sample {
            window.push(sample);
        }
        let state = inner.state.clone();
        let next = change(Ok(Some(state.clone())), &window).unwrap_or_else(|_| state.clone());
        let written = next != state;
        inner.adopt(next, window);
        written
    }

    /// Counts and logs a rollback this replica latched (`kind` is `automatic` or `manual`).
    fn report_latch(&self, kind: &'static str) {
        metrics::counter!(telemetry::ROLLBACKS_TOTAL, "kind" => kind).increment(1);
        let inner = self.lock();
        tracing::error!(
            kind,
            reason = inner.state.latch.as_ref().map(|l| l.reason.as_str()),
            desired_percent = inner.state.desired.green_percent,
            "rollback latched: every new job goes to blue until an operator resumes"
        );
    }
}

/// The stored state, which every step but the first needs.
fn existing(stored: Stored) -> Result<Persisted, RouterError> {
    match stored {
        Ok(Some(state)) => Ok(state),
        Ok(None) => Err(RouterError::FailedPrecondition(
            "the cutover state is missing from its store".into(),
        )),
        Err(reason) => Err(RouterError::FailedPrecondition(format!(
            "the stored cutover state cannot be read: {reason}"
        ))),
    }
}

/// `state` with a latch for `reason`, unless one is set already (the first latch stays).
fn latched(mut state: Persisted, reason: &str) -> Persisted {
    if state.latch.is_none() {
        let at_ms = now_ms();
        state.latch = Some(Latch {
            reason: reason.to_owned(),
            at_ms,
        });
        state.updated_at_ms = at_ms;
    }
    state
}

fn reason_or_none(reason: &str) -> &str {
    match reason.trim() {
        "" => "no reason given",
        reason => reason,
    }
}

#[cfg(test)]
mod tests;
