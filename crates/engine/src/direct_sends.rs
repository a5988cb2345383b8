//! The sends an action batch starts itself, on a single-writer store (SQLite): while
//! the `direct-sends` loop runs, the action committer leases the sends it queues to that
//! loop's owner and begins them in the batch's own transaction
//! (`SendStore::apply_actions_and_start`); the loop makes the platform calls, and how
//! they ended is recorded with the committer's next batch (`SendStore::finish_and_apply`).
//! No claim transaction, and no claim loop woken, for them.
//! Sends left pending (channel not loaded yet, over budget, order busy) go to the claim
//! loops as before. With concurrent writers (PostgreSQL) the claims start every send:
//! there the batch is the serial part, and work moved into it made sends slower.

use crate::Engine;
use ponte_store::claim::Claimed;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Batches the committer may hand over before it waits for the loop.
pub(crate) const QUEUE: usize = 16;

/// Where the committer hands started sends: the running loop's owner and queue.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    /// The loop's lease owner.
    pub(crate) owner: String,
    /// Its queue.
    pub(crate) tx: mpsc::Sender<Claimed>,
}

/// The `direct-sends` loop's slot: `Some` while it runs.
#[derive(Debug, Default)]
pub(crate) struct DirectSends(Mutex<Option<Runner>>);

impl DirectSends {
    /// The running loop, if any.
    pub(crate) fn runner(&self) -> Option<Runner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, runner: Option<Runner>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = runner;
    }
}

/// Runs the batches the committer started, up to `workers` at once. On stop it takes
/// no more, finishes those in hand and leaves: what was handed over but not run is
/// still leased to it, and given back with its leases.
pub(crate) async fn direct_sends_loop(
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
    owner: String,
) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    engine.direct.set(Some(Runner { owner, tx }));
    let mut running = JoinSet::new();
    while !*stop.borrow() {
        tokio::select! {
            got = rx.recv() => {
                let Some(claimed) = got else { break };
                while running.len() >= engine.config.workers.max(1) {
                    running.join_next().await;
                }
                let engine = engine.clone();
                running.spawn(async move { engine.run_claimed(claimed).await });
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = stop.changed() => {}
        }
    }
    engine.direct.set(None);
    while running.join_next().await.is_some() {}
}
