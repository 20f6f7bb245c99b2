//! [`CutoverStore`]: where the cut-over state and the health window live. One router keeps
//! them in a file and in memory ([`FileStore`](super::file_store::FileStore)); router replicas
//! that share a PostgreSQL database keep them there (the PostgreSQL job store, `PgStore`), so
//! a latch, a release or a green run recorded by any replica counts for all of them.

use async_trait::async_trait;

use super::state::Persisted;
use super::window::{HealthWindow, Sample};
use crate::error::RouterError;

/// What the store holds: `Ok(None)` nothing yet, `Err` (why) something that cannot be read.
pub type Stored = Result<Option<Persisted>, String>;

/// Makes the next state from the stored one and the window (the sample of the same step
/// included); returning the stored state unchanged writes nothing.
pub type Change<'a> =
    &'a (dyn Fn(Stored, &HealthWindow) -> Result<Persisted, RouterError> + Send + Sync);

/// The state and window after one [`CutoverStore::update`].
#[derive(Debug)]
pub struct Snapshot {
    pub state: Persisted,
    pub window: HealthWindow,
    /// Whether this step wrote a new state.
    pub written: bool,
}

/// The cut-over's storage.
#[async_trait]
pub trait CutoverStore: Send + Sync + std::fmt::Debug {
    /// Whether other router replicas write here too (then [`super::Cutover::refresh`] reloads
    /// what they wrote).
    fn shared(&self) -> bool;

    /// Where, for messages (never a password).
    fn location(&self) -> String;

    /// The stored state and the window of the last `window` green runs.
    async fn load(&self, window: usize) -> Result<(Stored, HealthWindow), RouterError>;

    /// One step, atomic against every writer of the store: adds `sample` to the window when
    /// given, lets `change` make the next state, writes it when it differs from the stored one
    /// (a write that releases the latch empties the window), and returns the result. When
    /// `change` fails nothing is written and its error is returned.
    async fn update(
        &self,
        window: usize,
        sample: Option<Sample>,
        change: Change<'_>,
    ) -> Result<Snapshot, RouterError>;
}

/// Whether writing `next` over `stored` releases a latch (then the window starts empty).
pub fn releases(stored: &Stored, next: &Persisted) -> bool {
    matches!(stored, Ok(Some(before)) if before.latch.is_some()) && next.latch.is_none()
}

/// Whether `next` differs from what is stored (then it is written).
pub fn differs(stored: &Stored, next: &Persisted) -> bool {
    stored.as_ref().ok().and_then(Option::as_ref) != Some(next)
}
