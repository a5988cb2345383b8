//! Group commit for ERP actions: concurrent actions queue up while the previous batch
//! commits, and the next batch applies all of them in one transaction (on a single
//! writer, starting the status sends they queue).

use crate::batch::{next_batch, Item};
use crate::channels::Cache;
use crate::direct_sends::DirectSends;
use crate::gate::WriteGate;
use crate::EngineError;
use ponte_core::Clock;
use ponte_store::claim::StartSends;
use ponte_store::{ActionApplied, ActionCommit, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most actions applied in one transaction.
const MAX_BATCH: usize = 256;

type Reply = Result<ActionApplied, StoreError>;

/// The queue in front of `apply_actions`.
pub(crate) struct ActionCommitter {
    tx: mpsc::Sender<Item<ActionCommit, Reply>>,
}

/// What the committer shares with the engine.
pub(crate) struct CommitterParts {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Wakes a claim loop.
    pub(crate) wake: Arc<Notify>,
    pub(crate) gate: Arc<WriteGate>,
    /// The loop that runs the sends a batch starts (see `crate::direct_sends`).
    pub(crate) direct: Arc<DirectSends>,
    /// The channels' budgets.
    pub(crate) channels: Arc<Cache>,
    /// Lease length.
    pub(crate) lease: Duration,
}

impl ActionCommitter {
    /// Starts the committer (one batch at a time: measured, two or three in flight on
    /// PostgreSQL made smaller batches and slower sends).
    pub(crate) fn start(p: CommitterParts) -> Self {
        let (tx, mut rx) = mpsc::channel::<Item<ActionCommit, Reply>>(MAX_BATCH * 8);
        tokio::spawn(async move {
            while let Some(batch) = next_batch(&mut rx, MAX_BATCH).await {
                commit(&p, batch).await;
            }
        });
        Self { tx }
    }

    /// Applies one action in the next batch; answers once it is durable.
    pub(crate) async fn apply(&self, c: ActionCommit) -> Result<ActionApplied, EngineError> {
        let (otx, orx) = oneshot::channel();
        self.tx
            .send((c, otx))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        orx.await
            .map_err(|_| EngineError::ShuttingDown)?
            .map_err(EngineError::Store)
    }
}

/// Applies one batch and answers its callers; hands the sends it started to the
/// direct-sends loop.
async fn commit(p: &CommitterParts, batch: Vec<Item<ActionCommit, Reply>>) {
    let _turn = p.gate.inbox_turn();
    let (commits, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    // With the direct-sends loop running (single-writer stores only), the batch starts
    // its sends itself (see `crate::direct_sends`).
    let runner = p.direct.runner();
    let budgets = match runner {
        Some(_) => p.channels.budgets(),
        None => Default::default(),
    };
    let start = runner.as_ref().map(|r| StartSends {
        owner: &r.owner,
        lease: p.lease,
        budgets: &budgets,
    });
    let done = p
        .store
        .apply_actions_and_start(&commits, p.clock.now(), start.as_ref())
        .await;
    match done {
        Ok(out) => {
            let queued = (out.applied.iter())
                .filter(|a| matches!(a, ActionApplied::Applied { send: Some(_), .. }))
                .count();
            let started = out.started.sends.len() + out.started.jobs.len();
            if queued > started {
                // Sends left pending: one claim loop; it wakes another when it finds a
                // full batch.
                p.wake.notify_one();
            }
            for (r, a) in replies.into_iter().zip(out.applied) {
                let _ = r.send(Ok(a));
            }
            if let Some(r) = runner.filter(|_| started > 0) {
                // Closed only when the loop stopped: its leases are given back.
                let _ = r.tx.send(out.started).await;
            }
        }
        Err(e) => {
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
        }
    }
}
