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
//! - **Health window** ([`window`]): green's last `cutover.window` runs (primary and shadow).
//!   With at least `cutover.min_samples` of them, an error rate above `max_error_rate`, a p95
//!   runtime above `max_runtime` or a relative difference from blue above
//!   `max_relative_difference` latches a rollback naming the figure and its limit. Fewer
//!   samples: hold. At `decommissioned` there is no blue to go back to, so a breach is only
//!   logged. Resuming clears the window.
//!
//! State changes are written to `state_path` under the lock, synchronously: they are rare and
//! the file is small. Metrics: see [`telemetry`].

pub mod config;
pub mod stage;
pub mod state;
pub mod telemetry;
mod watcher;
pub mod window;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use hop_proto::v1::{CompareReply, CutoverStatus, Side};

pub use config::CutoverConfig;
pub use stage::{Desired, Stage};

use crate::error::RouterError;
use state::{Latch, Persisted};
use watcher::FileRead;
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
    state_path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Persisted,
    window: HealthWindow,
    /// Newest first.
    recent_mismatches: VecDeque<CompareReply>,
    /// What the last read of the desired-state file found ([`FileRead::key`]).
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
    /// Loads the persisted state (latch, override) from `state_path`, reads the desired-state
    /// file if one is configured, writes the resulting state back, and starts nothing yet.
    ///
    /// Never refuses to start over the desired state: an unreadable or invalid file keeps the
    /// persisted desired state (or, on a first start, `initial_green_percent`'s), and an
    /// unreadable state file starts latched to blue with a reason saying so. Fails only on bad
    /// settings and when the state cannot be written.
    pub fn open(
        config: &CutoverConfig,
        state_path: &Path,
        initial_green_percent: u32,
    ) -> Result<Arc<Self>, RouterError> {
        config.validate().map_err(RouterError::InvalidRequest)?;
        if initial_green_percent > 100 {
            return Err(RouterError::InvalidRequest(format!(
                "green_percent is {initial_green_percent}, it must be from 0 to 100"
            )));
        }
        telemetry::describe();
        let now = now_ms();
        let previous = state::load(state_path);
        let (previous, corrupt) = match previous {
            Ok(previous) => (previous, None),
            Err(reason) => {
                tracing::error!(state = %state_path.display(), error = %reason,
                    "cannot read the cutover state: starting latched to blue");
                (None, Some(reason))
            }
        };
        let read = config.file.as_ref().map(|path| {
            let read = FileRead::from_bytes(std::fs::read(path));
            read.report(path);
            read
        });
        let last_seen = read.as_ref().map(FileRead::key);
        let (source, desired) = match read {
            None => (
                format!("config:{initial_green_percent}"),
                Ok(Desired::from_percent(initial_green_percent)),
            ),
            Some(FileRead::Read {
                fingerprint,
                desired,
            }) => (fingerprint, desired),
            Some(FileRead::Unreadable(reason)) => (String::new(), Err(reason)),
        };
        let mut state = match (previous.clone(), desired) {
            (Some(previous), Ok(_)) if previous.overridden && previous.source == source => previous,
            (previous, Ok(desired)) => Persisted {
                desired,
                source,
                overridden: false,
                latch: previous.and_then(|p| p.latch),
                updated_at_ms: 0,
            },
            // The file is bad: keep what was in force, or start where the config says.
            (Some(previous), Err(_)) => previous,
            (None, Err(_)) => Persisted {
                desired: Desired::from_percent(initial_green_percent),
                source: String::new(),
                overridden: false,
                latch: None,
                updated_at_ms: 0,
            },
        };
        if let Some(reason) = corrupt {
            state.latch = Some(Latch {
                reason: format!(
                    "the cutover state file {} could not be read ({reason}): traffic stays on \
                     blue until an operator resumes",
                    state_path.display()
                ),
                at_ms: now,
            });
        }
        state.updated_at_ms = match &previous {
            Some(p) if p.desired == state.desired && p.latch == state.latch => p.updated_at_ms,
            _ => now,
        };
        state::save(state_path, &state)?;
        let inner = Inner {
            state,
            window: HealthWindow::new(config.window),
            recent_mismatches: VecDeque::with_capacity(RECENT_MISMATCHES),
            last_seen,
        };
        inner.publish();
        telemetry::publish_window(&inner.window.figures());
        let desired = inner.state.desired;
        tracing::info!(
            stage = desired.stage.as_str(),
            desired_percent = desired.green_percent,
            effective_percent = inner.effective_percent(),
            latch = inner.state.latch.as_ref().map(|l| l.reason.as_str()),
            overridden = inner.state.overridden,
            "cutover state loaded"
        );
        Ok(Arc::new(Self {
            config: config.clone(),
            state_path: state_path.to_path_buf(),
            inner: Mutex::new(inner),
        }))
    }

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
    pub fn record_green(&self, sample: GreenSample) {
        let mut inner = self.lock();
        if let Some(comparison) = sample.comparison.as_ref().filter(|c| !c.matched) {
            inner.recent_mismatches.truncate(RECENT_MISMATCHES - 1);
            inner.recent_mismatches.push_front(comparison.clone());
        }
        inner.window.push(Sample {
            seconds: sample.seconds,
            failed: sample.failed,
            comparison: sample
                .comparison
                .as_ref()
                .map(|c| (c.matched, c.max_relative_difference)),
        });
        telemetry::publish_window(&inner.window.figures());
        if inner.state.latch.is_some() {
            return;
        }
        let Some(breach) = inner.window.breach(&self.config) else {
            return;
        };
        if inner.state.desired.stage == Stage::Decommissioned {
            tracing::warn!(
                breach,
                "green breaches the health window, but blue is \
                decommissioned: no automatic rollback (scale blue up and roll back by hand)"
            );
            return;
        }
        self.latch(
            &mut inner,
            format!("automatic rollback: {breach}"),
            "automatic",
        );
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
    pub fn set_weight(&self, percent: u32, reason: &str) -> Result<CutoverStatus, RouterError> {
        if percent > 100 {
            return Err(RouterError::InvalidRequest(format!(
                "green_percent is {percent}, it must be from 0 to 100"
            )));
        }
        let mut inner = self.lock();
        if let Some(latch) = &inner.state.latch {
            return Err(RouterError::FailedPrecondition(format!(
                "a rollback is latched ({}): release it with `hop cutover resume --ack` before \
                 changing the weight",
                latch.reason
            )));
        }
        let before = inner.state.desired;
        let mut next = inner.state.clone();
        next.desired = before.with_weight(percent);
        next.overridden = true;
        next.updated_at_ms = now_ms();
        self.commit(&mut inner, next)?;
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
    /// returns. Already latched: the first latch and its reason stay.
    pub fn rollback(&self, reason: &str) -> CutoverStatus {
        let mut inner = self.lock();
        let reason = reason_or_none(reason);
        match &inner.state.latch {
            Some(latch) => tracing::warn!(
                reason,
                latched = latch.reason,
                "manual rollback asked while already latched; the latch stays"
            ),
            None => self.latch(&mut inner, format!("manual rollback: {reason}"), "manual"),
        }
        Self::status_of(&inner)
    }

    /// Releases a latched rollback: traffic returns to the desired weight and the window starts
    /// empty. Refused unless `acknowledge`; not latched: nothing to do.
    pub fn resume(&self, acknowledge: bool) -> Result<CutoverStatus, RouterError> {
        if !acknowledge {
            return Err(RouterError::FailedPrecondition(
                "resuming needs an acknowledgement that the cause of the rollback was dealt \
                 with: `hop cutover resume --ack` (ResumeRequest.acknowledge = true)"
                    .into(),
            ));
        }
        let mut inner = self.lock();
        let Some(latch) = inner.state.latch.clone() else {
            return Ok(Self::status_of(&inner));
        };
        let mut next = inner.state.clone();
        next.latch = None;
        next.updated_at_ms = now_ms();
        self.commit(&mut inner, next)?;
        inner.window.clear();
        telemetry::publish_window(&inner.window.figures());
        tracing::warn!(
            released = latch.reason,
            green_percent = inner.effective_percent(),
            stage = inner.state.desired.stage.as_str(),
            "rollback released by an operator"
        );
        Ok(Self::status_of(&inner))
    }

    /// Persists `next`, then makes it the state; on a write failure nothing changes.
    fn commit(&self, inner: &mut Inner, next: Persisted) -> Result<(), RouterError> {
        state::save(&self.state_path, &next)?;
        inner.state = next;
        inner.publish();
        Ok(())
    }

    /// Makes `next` the state whether or not it can be persisted (a rollback or a new desired
    /// file must act even then); a write failure is logged and counted.
    fn commit_anyway(&self, inner: &mut Inner, next: Persisted) {
        if let Err(error) = state::save(&self.state_path, &next) {
            metrics::counter!(telemetry::STATE_WRITE_FAILURES_TOTAL).increment(1);
            tracing::error!(%error, "the cutover state was changed in memory only: it will \
                not survive a restart");
        }
        inner.state = next;
        inner.publish();
    }

    /// Latches a rollback (`kind` is `automatic` or `manual`).
    fn latch(&self, inner: &mut Inner, reason: String, kind: &'static str) {
        let mut next = inner.state.clone();
        let at_ms = now_ms();
        next.latch = Some(Latch {
            reason: reason.clone(),
            at_ms,
        });
        next.updated_at_ms = at_ms;
        self.commit_anyway(inner, next);
        metrics::counter!(telemetry::ROLLBACKS_TOTAL, "kind" => kind).increment(1);
        tracing::error!(
            kind,
            reason,
            desired_percent = inner.state.desired.green_percent,
            "rollback latched: every new job goes to blue until an operator resumes"
        );
    }
}

fn reason_or_none(reason: &str) -> &str {
    match reason.trim() {
        "" => "no reason given",
        reason => reason,
    }
}

#[cfg(test)]
mod tests;
