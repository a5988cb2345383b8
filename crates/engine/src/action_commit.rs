//! Group commit for ERP actions: concurrent actions queue up while the previous batch
//! commits, and the next batch applies all of them in one transaction.

use crate::batch::{next_batch, Item};
use crate::gate::WriteGate;
use crate::EngineError;
use ponte_core::Clock;
use ponte_store::{ActionApplied, ActionCommit, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most actions applied in one transaction.
const MAX_BATCH: usize = 256;

type Reply = Result<ActionApplied, StoreError>;

/// The queue in front of `apply_actions`.
pub(crate) struct ActionCommitter {
    tx: mpsc::Sender<Item<ActionCommit, Reply>>,
}

impl ActionCommitter {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        gate: Arc<WriteGate>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Item<ActionCommit, Reply>>(MAX_BATCH * 8);
        tokio::spawn(async move {
            while let Some(batch) = next_batch(&mut rx, MAX_BATCH).await {
                let _turn = gate.inbox_turn();
                let (commits, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                match store.apply_actions(&commits, clock.now()).await {
                    Ok(applied) => {
                        if commits.iter().any(|c| c.send_max_attempts.is_some()) {
                            // One claim loop; it wakes another when it finds a full batch.
                            wake.notify_one();
                        }
                        for (r, a) in replies.into_iter().zip(applied) {
                            let _ = r.send(Ok(a));
                        }
                    }
                    Err(e) => {
                        for r in replies {
                            let _ = r.send(Err(e.clone()));
                        }
                    }
                }
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
