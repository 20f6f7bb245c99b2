//! [`FileStore`]: the cut-over of a router that is the only one of its kind: the state in
//! `state_path` (see [`super::state`]), written synchronously (changes are rare and the file is
//! small), and the health window in memory.

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use super::state::{self, Persisted};
use super::store::{Change, CutoverStore, Snapshot, Stored, differs, releases};
use super::window::{HealthWindow, Sample};
use crate::error::RouterError;

/// The state file and an in-memory window.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    memory: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    /// The state last written (this process is the file's only writer).
    state: Option<Persisted>,
    window: Option<HealthWindow>,
}

impl FileStore {
    /// The store at `path` (read on the first call).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            memory: Mutex::default(),
        }
    }
}

impl Memory {
    fn stored(&self, store: &FileStore) -> Stored {
        match &self.state {
            Some(state) => Ok(Some(state.clone())),
            None => state::load(&store.path),
        }
    }
}

#[async_trait]
impl CutoverStore for FileStore {
    fn shared(&self) -> bool {
        false
    }

    fn location(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn load(&self, window: usize) -> Result<(Stored, HealthWindow), RouterError> {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let stored = memory.stored(self);
        let window = memory
            .window
            .get_or_insert_with(|| HealthWindow::new(window));
        Ok((stored, window.clone()))
    }

    async fn update(
        &self,
        window: usize,
        sample: Option<Sample>,
        change: Change<'_>,
    ) -> Result<Snapshot, RouterError> {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let stored = memory.stored(self);
        let runs = memory
            .window
            .get_or_insert_with(|| HealthWindow::new(window));
        if let Some(sample) = sample {
            runs.push(sample);
        }
        let next = change(stored.clone(), runs)?;
        let written = differs(&stored, &next);
        if written {
            state::save(&self.path, &next)?;
            if releases(&stored, &next) {
                runs.clear();
            }
        }
        let window = runs.clone();
        memory.state = Some(next.clone());
        Ok(Snapshot {
            state: next,
            window,
            written,
        })
    }
}
