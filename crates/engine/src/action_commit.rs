//! Group commit for ERP actions: concurrent actions queue up while the previous batch
//! commits, and the next batch applies all of them in one transaction; under load it
//! waits a moment for the callers just answered (see [`LOADED`]). On a single writer
//! the batch also starts the status sends it queues and records the sends finished
//! meanwhile: one commit per cycle of actions and sends.

use crate::batch::{ask, next_batch, queued, top_up, Item};
use crate::channels::Cache;
use crate::direct_sends::DirectSends;
use crate::gate::WriteGate;
use crate::EngineError;
use ponte_core::Clock;
use ponte_store::claim::{Claimed, StartSends};
use ponte_store::{ActionApplied, ActionCommit, SendFinish, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Most actions applied in one transaction.
const MAX_BATCH: usize = 256;

/// A batch at least this big means callers are queueing: the next one waits (at most
/// [`LINGER`]) for half as many, not to commit the first one or two to come back alone.
const LOADED: usize = 16;

/// Longest a batch waits for more actions after its first (only under load: a lone
/// action on an idle queue commits at once).
const LINGER: Duration = Duration::from_millis(2);

type Reply = Result<ActionApplied, StoreError>;

/// How a batch of finished sends was recorded (see `SendStore::finish_sends`).
type Finished = Result<Vec<bool>, StoreError>;

/// A batch of finished sends waiting for the next commit.
type Finishes = Item<Vec<SendFinish>, Finished>;

/// The queue in front of `apply_actions` (and, on a single writer, `finish_sends`).
pub(crate) struct ActionCommitter {
    tx: mpsc::Sender<Item<ActionCommit, Reply>>,
    finishes: mpsc::Sender<Finishes>,
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
        let (tx, rx) = mpsc::channel::<Item<ActionCommit, Reply>>(MAX_BATCH * 8);
        let (ftx, frx) = mpsc::channel::<Finishes>(MAX_BATCH);
        tokio::spawn(run(p, rx, frx));
        Self { tx, finishes: ftx }
    }

    /// Applies one action in the next batch; answers once it is durable.
    pub(crate) async fn apply(&self, c: ActionCommit) -> Result<ActionApplied, EngineError> {
        ask(&self.tx, c).await
    }

    /// Records how sends ended with the next batch (single-writer stores); answers once
    /// it is durable.
    pub(crate) async fn finish(&self, batch: Vec<SendFinish>) -> Result<Vec<bool>, EngineError> {
        ask(&self.finishes, batch).await
    }
}

/// The committer's loop: each commit takes the queued actions and finished sends.
async fn run(
    p: CommitterParts,
    mut actions: mpsc::Receiver<Item<ActionCommit, Reply>>,
    mut finishes: mpsc::Receiver<Finishes>,
) {
    let mut last = 0;
    loop {
        let want = if last >= LOADED { last / 2 } else { 1 };
        let (batch, done) = tokio::select! {
            f = finishes.recv() => match f {
                Some(f) => {
                    let mut b = queued(&mut actions, MAX_BATCH);
                    if last >= LOADED {
                        // The callers the last batch answered are on their way back:
                        // their actions and these sends in one commit, not two.
                        top_up(&mut actions, &mut b, MAX_BATCH, want, LINGER).await;
                    }
                    (b, with_queued(f, &mut finishes))
                }
                None => break,
            },
            b = next_batch(&mut actions, MAX_BATCH) => match b {
                Some(mut b) => {
                    top_up(&mut actions, &mut b, MAX_BATCH, want, LINGER).await;
                    (b, queued(&mut finishes, MAX_BATCH))
                }
                None => break,
            },
        };
        last = batch.len();
        if let Some((tx, started)) = commit(&p, batch, done).await {
            hand_over(&p, tx, started, &mut finishes).await;
        }
    }
}

/// `first` and the finished sends queued behind it.
fn with_queued(first: Finishes, rx: &mut mpsc::Receiver<Finishes>) -> Vec<Finishes> {
    let mut out = vec![first];
    out.extend(queued(rx, MAX_BATCH));
    out
}

/// Hands the sends a batch started to the direct-sends loop. While the loop is full,
/// the finished sends still get recorded (its running batches wait on them to end),
/// but no more actions are taken. Dropped when the loop stopped: its leases are given
/// back.
async fn hand_over(
    p: &CommitterParts,
    tx: mpsc::Sender<Claimed>,
    started: Claimed,
    finishes: &mut mpsc::Receiver<Finishes>,
) {
    loop {
        tokio::select! {
            // A free slot first: the finished sends then wait for the next batch (one
            // commit with its actions), unless the loop is full.
            biased;
            permit = tx.reserve() => {
                if let Ok(permit) = permit {
                    permit.send(started);
                }
                return;
            }
            Some(f) = finishes.recv() => {
                commit(p, vec![], with_queued(f, finishes)).await;
            }
        }
    }
}

/// Records the finished sends and applies the actions in one store call, and answers
/// their callers; returns the sends the batch started, for the direct-sends loop.
async fn commit(
    p: &CommitterParts,
    batch: Vec<Item<ActionCommit, Reply>>,
    finishes: Vec<Finishes>,
) -> Option<(mpsc::Sender<Claimed>, Claimed)> {
    let _turn = p.gate.inbox_turn();
    let (commits, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let (lists, finish_replies): (Vec<_>, Vec<_>) = finishes.into_iter().unzip();
    let sizes: Vec<usize> = lists.iter().map(Vec::len).collect();
    let finished: Vec<SendFinish> = lists.into_iter().flatten().collect();
    // With the direct-sends loop running (single-writer stores only), the batch starts
    // its sends itself (see `crate::direct_sends`).
    let runner = p.direct.runner().filter(|_| !commits.is_empty());
    let budgets = match runner {
        Some(_) => p.channels.budgets(),
        None => Default::default(),
    };
    let start = runner.as_ref().map(|r| StartSends {
        owner: &r.owner,
        lease: p.lease,
        budgets: &budgets,
    });
    let now = p.clock.now();
    let start = start.as_ref();
    let (recorded, applied) = match p
        .store
        .finish_and_apply(&finished, &commits, now, start)
        .await
    {
        Ok((recorded, applied)) => (Ok(recorded), Ok(applied)),
        Err(e) if finished.is_empty() || commits.is_empty() => (Err(e.clone()), Err(e)),
        // Apart, so that one side's failure does not fail the other's callers.
        Err(_) => (
            p.store.finish_sends(&finished, now).await,
            p.store.apply_actions_and_start(&commits, now, start).await,
        ),
    };
    match recorded {
        Ok(recorded) => {
            let mut recorded = recorded.into_iter();
            for (r, n) in finish_replies.into_iter().zip(sizes) {
                let _ = r.send(Ok(recorded.by_ref().take(n).collect()));
            }
        }
        Err(e) => {
            for r in finish_replies {
                let _ = r.send(Err(e.clone()));
            }
        }
    }
    match applied {
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
            runner.filter(|_| started > 0).map(|r| (r.tx, out.started))
        }
        Err(e) => {
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
            None
        }
    }
}
