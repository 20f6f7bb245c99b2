//! [`Cutover::open`]: the state a router starts with, from what its store holds and the desired
//! state of the file or the configured weight.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::state::{Latch, Persisted};
use super::store::{CutoverStore, Stored};
use super::watcher::FileRead;
use super::window::HealthWindow;
use super::{Cutover, CutoverConfig, Desired, Inner, RECENT_MISMATCHES, now_ms, telemetry};
use crate::error::RouterError;

impl Cutover {
    /// Loads the persisted state (latch, override) from `store`, reads the desired-state file
    /// if one is configured, writes the resulting state back, and starts nothing yet.
    ///
    /// Never refuses to start over the desired state: an unreadable or invalid file keeps the
    /// persisted desired state (or, on a first start, `initial_green_percent`'s), and an
    /// unreadable stored state starts latched to blue with a reason saying so. Fails only on bad
    /// settings and when the state cannot be written.
    pub async fn open(
        config: &CutoverConfig,
        store: Arc<dyn CutoverStore>,
        initial_green_percent: u32,
    ) -> Result<Arc<Self>, RouterError> {
        config.validate().map_err(RouterError::InvalidRequest)?;
        if initial_green_percent > 100 {
            return Err(RouterError::InvalidRequest(format!(
                "green_percent is {initial_green_percent}, it must be from 0 to 100"
            )));
        }
        telemetry::describe();
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
        let location = store.location();
        let start = |stored: Stored, _: &HealthWindow| {
            Ok(starting(
                stored,
                &location,
                &source,
                desired.clone(),
                initial_green_percent,
            ))
        };
        let snapshot = store.update(config.window, None, &start).await?;
        let inner = Inner {
            state: snapshot.state,
            window: snapshot.window,
            recent_mismatches: VecDeque::with_capacity(RECENT_MISMATCHES),
            last_seen,
        };
        inner.publish();
        telemetry::publish_window(&inner.window.figures());
        let desired = inner.state.desired;
        tracing::info!(
            store = location,
            stage = desired.stage.as_str(),
            desired_percent = desired.green_percent,
            effective_percent = inner.effective_percent(),
            latch = inner.state.latch.as_ref().map(|l| l.reason.as_str()),
            overridden = inner.state.overridden,
            "cutover state loaded"
        );
        Ok(Arc::new(Self {
            config: config.clone(),
            store,
            inner: Mutex::new(inner),
            writes: tokio::sync::Mutex::new(()),
        }))
    }
}

/// The state a router starts with, from the stored one and the desired state of `source`.
fn starting(
    stored: Stored,
    location: &str,
    source: &str,
    desired: Result<Desired, String>,
    initial_green_percent: u32,
) -> Persisted {
    let now = now_ms();
    let (previous, corrupt) = match stored {
        Ok(previous) => (previous, None),
        Err(reason) => {
            tracing::error!(store = location, error = %reason,
                "cannot read the cutover state: starting latched to blue");
            (None, Some(reason))
        }
    };
    let mut state = match (previous.clone(), desired) {
        (Some(previous), Ok(_)) if previous.overridden && previous.source == source => previous,
        (previous, Ok(desired)) => Persisted {
            desired,
            source: source.to_owned(),
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
                "the cutover state in {location} could not be read ({reason}): traffic stays \
                 on blue until an operator resumes"
            ),
            at_ms: now,
        });
    }
    state.updated_at_ms = match &previous {
        Some(p) if p.desired == state.desired && p.latch == state.latch => p.updated_at_ms,
        _ => now,
    };
    state
}
