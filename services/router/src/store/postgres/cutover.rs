//! [`PgStore`] as the [`CutoverStore`] of router replicas that share one database.
//!
//! `hop_cutover` is one row (`id = 1`, created with the tables) holding the persisted state as
//! JSON (`''` before the first write). Every update is one transaction that starts with
//! `SELECT ... FOR UPDATE` of that row, so updates from all replicas run one after another:
//! two replicas latching at once end with one latch (the second finds it set and keeps it), and a
//! green run, the breach it causes and the latch it sets are one step. `hop_cutover_samples`
//! holds green runs in the order they were recorded (`ordinal`); the window is the last
//! `cutover.window` of them, older rows are deleted, and releasing the latch deletes them all.

use async_trait::async_trait;
use tokio_postgres::GenericClient;

use super::PgStore;
use crate::cutover::state::Persisted;
use crate::cutover::store::{Change, CutoverStore, Snapshot, Stored, differs, releases};
use crate::cutover::window::{HealthWindow, Sample};
use crate::error::RouterError;

const SELECT_STATE: &str = "SELECT state FROM hop_cutover WHERE id = 1";

fn decode(text: &str) -> Stored {
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn encode(state: &Persisted) -> String {
    serde_json::to_string(state).expect("the state serializes")
}

fn limit(window: usize) -> i64 {
    i64::try_from(window).unwrap_or(i64::MAX)
}

impl PgStore {
    /// The last `window` green runs, oldest first.
    async fn window(
        &self,
        client: &impl GenericClient,
        window: usize,
    ) -> Result<HealthWindow, RouterError> {
        let rows = client
            .query(
                "SELECT seconds, failed, matched, difference FROM hop_cutover_samples
                 ORDER BY ordinal DESC LIMIT $1",
                &[&limit(window)],
            )
            .await
            .map_err(|e| self.failed(e))?;
        let mut runs = HealthWindow::new(window);
        for row in rows.iter().rev() {
            let matched: Option<bool> = row.get(2);
            let difference: Option<f64> = row.get(3);
            runs.push(Sample {
                seconds: row.get(0),
                failed: row.get(1),
                comparison: matched.zip(difference),
            });
        }
        Ok(runs)
    }
}

#[async_trait]
impl CutoverStore for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn location(&self) -> String {
        self.target().to_owned()
    }

    async fn load(&self, window: usize) -> Result<(Stored, HealthWindow), RouterError> {
        let mut client = self.client().await?;
        let client = client.as_mut().expect("connected");
        let failed = |e| self.failed(e);
        let tx = client.transaction().await.map_err(failed)?;
        let row = tx.query_one(SELECT_STATE, &[]).await.map_err(failed)?;
        let runs = self.window(&tx, window).await?;
        tx.commit().await.map_err(failed)?;
        Ok((decode(row.get(0)), runs))
    }

    async fn update(
        &self,
        window: usize,
        sample: Option<Sample>,
        change: Change<'_>,
    ) -> Result<Snapshot, RouterError> {
        let mut client = self.client().await?;
        let client = client.as_mut().expect("connected");
        let failed = |e| self.failed(e);
        let tx = client.transaction().await.map_err(failed)?;
        let row = tx
            .query_one(&format!("{SELECT_STATE} FOR UPDATE"), &[])
            .await
            .map_err(failed)?;
        let stored = decode(row.get(0));
        if let Some(sample) = sample {
            let (matched, difference) = sample.comparison.unzip();
            tx.execute(
                "INSERT INTO hop_cutover_samples (seconds, failed, matched, difference)
                 VALUES ($1, $2, $3, $4)",
                &[&sample.seconds, &sample.failed, &matched, &difference],
            )
            .await
            .map_err(failed)?;
            tx.execute(
                "DELETE FROM hop_cutover_samples WHERE ordinal <=
                 (SELECT MAX(ordinal) FROM hop_cutover_samples) - $1",
                &[&limit(window)],
            )
            .await
            .map_err(failed)?;
        }
        let mut runs = self.window(&tx, window).await?;
        let next = change(stored.clone(), &runs)?;
        let written = differs(&stored, &next);
        if written {
            tx.execute(
                "UPDATE hop_cutover SET state = $1 WHERE id = 1",
                &[&encode(&next)],
            )
            .await
            .map_err(failed)?;
            if releases(&stored, &next) {
                tx.execute("DELETE FROM hop_cutover_samples", &[])
                    .await
                    .map_err(failed)?;
                runs.clear();
            }
        }
        tx.commit().await.map_err(failed)?;
        Ok(Snapshot {
            state: next,
            window: runs,
            written,
        })
    }
}
