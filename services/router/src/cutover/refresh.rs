//! [`Cutover::refresh`]: how a replica sees what the other replicas sharing its store wrote (a
//! latch, a release, a new weight or desired file, their green runs), within `cutover.refresh`.
//! Every step this replica takes in the store returns the shared state too; the refresh covers
//! the time between them.

use std::sync::Arc;

use tokio::time::MissedTickBehavior;

use super::state::Persisted;
use super::{Cutover, telemetry};
use crate::error::RouterError;

impl Cutover {
    /// Spawns the refresh from a shared store: every `cutover.refresh` the state and window are
    /// reloaded and applied. Ends at `shutdown`, or at once when the store is not shared.
    pub fn follow(
        self: &Arc<Self>,
        shutdown: hop_runtime::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            if !this.store.shared() {
                return;
            }
            let mut ticker = tokio::time::interval(this.config.refresh);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.wait() => return,
                    _ = ticker.tick() => {
                        if let Err(error) = this.refresh().await {
                            metrics::counter!(telemetry::REFRESH_FAILURES_TOTAL).increment(1);
                            tracing::warn!(%error, "cannot reload the shared cutover state; \
                                keeping the last one read");
                        }
                    }
                }
            }
        })
    }

    /// Reloads the state and window from the store once, applies them, and logs what changed.
    pub async fn refresh(&self) -> Result<(), RouterError> {
        let _writing = self.writes.lock().await;
        let (stored, window) = self.store.load(self.config.window).await?;
        let state = super::existing(stored)?;
        let mut inner = self.lock();
        let before = inner.adopt(state, window);
        report_change(&before, &inner.state);
        Ok(())
    }
}

/// Logs a change another replica made, as this one logs its own.
fn report_change(before: &Persisted, after: &Persisted) {
    match (&before.latch, &after.latch) {
        (None, Some(latch)) => tracing::error!(
            reason = latch.reason,
            desired_percent = after.desired.green_percent,
            "rollback latched by another replica: every new job goes to blue until an operator \
             resumes"
        ),
        (Some(latch), None) => tracing::warn!(
            released = latch.reason,
            green_percent = after.desired.green_percent,
            stage = after.desired.stage.as_str(),
            "rollback released by another replica"
        ),
        _ => {}
    }
    if before.desired != after.desired {
        tracing::info!(
            from_stage = before.desired.stage.as_str(),
            from_percent = before.desired.green_percent,
            stage = after.desired.stage.as_str(),
            green_percent = after.desired.green_percent,
            overridden = after.overridden,
            "desired state changed by another replica"
        );
    }
}
