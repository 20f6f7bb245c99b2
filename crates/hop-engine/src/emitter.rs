//! [`Emitter`]: numbers and sends one job's events on its `Engine.Run` stream.

use std::sync::Mutex;

use hop_proto::v1::JobEvent;
use hop_proto::v1::job_event::Event;
use tokio::sync::mpsc;
use tonic::Status;

/// The sending end of one job's event stream.
pub struct Emitter {
    job_id: String,
    tx: mpsc::Sender<Result<JobEvent, Status>>,
    sequence: Mutex<u64>,
}

impl Emitter {
    pub fn new(job_id: String, tx: mpsc::Sender<Result<JobEvent, Status>>) -> Self {
        Self {
            job_id,
            tx,
            sequence: Mutex::new(0),
        }
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// An event of this job stamped now (its sequence is set when sent).
    pub fn event(&self, event: Event) -> JobEvent {
        JobEvent::now(self.job_id.clone(), event)
    }

    /// Sends without waiting (from the search thread); a full buffer drops the event. The
    /// sequence only advances for events actually queued, so it has no gaps.
    pub fn try_send(&self, mut event: JobEvent) {
        let mut sequence = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
        event.sequence = *sequence + 1;
        if self.tx.try_send(Ok(event)).is_ok() {
            *sequence += 1;
        }
    }

    /// Sends, waiting for room; false when the client is gone. Only called while no `try_send`
    /// can run (before and after the search).
    pub async fn send(&self, mut event: JobEvent) -> bool {
        event.sequence = {
            let mut sequence = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
            *sequence += 1;
            *sequence
        };
        self.tx.send(Ok(event)).await.is_ok()
    }

    /// True once the client dropped the stream.
    pub fn closed(&self) -> bool {
        self.tx.is_closed()
    }
}
