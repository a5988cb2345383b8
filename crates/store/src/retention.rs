//! Retention: which stored records the periodic sweep deletes and how it deletes them
//! (small batches, each its own short transaction). Orders, their timelines and the
//! stock ledger are never deleted; nothing still to deliver is.

use crate::traits::{MaintenanceStore, StoreResult};
use chrono::{DateTime, Duration as CDuration, Utc};
use std::future::Future;
use std::time::{Duration, Instant};

/// Records deleted per statement (each batch is its own transaction).
pub const RETENTION_BATCH: u32 = 500;

/// The kinds of record the sweep deletes, each with what it keeps whatever its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prunable {
    /// Webhook deliveries (raw bodies) received before the cut-off and no longer
    /// `received`. A delivery still `received` waits for its import and is kept. The
    /// `delivery_received` entry a delivery shows in its order's timeline moves into
    /// the timeline table in the same transaction, so timelines do not change.
    Deliveries,
    /// Attempts (request, answer excerpt) of status sends that `succeeded` and last
    /// changed before the cut-off. The sends are kept, and every attempt of a send
    /// still `pending`, `blocked` or `failed` (the Errors list) stays whatever its age;
    /// each attempt's outcome stays in its order's timeline (`status_send_attempt`).
    SendAttempts,
    /// Task runs `succeeded` or `failed` that finished before the cut-off, except each
    /// task's latest run (shown with the task). Runs queued or running are kept. The
    /// poll gaps of deleted runs are added to their task, so a channel's total stays.
    TaskRuns,
    /// Stock push calls made before the cut-off. What each channel should show and was
    /// last told lives in its stock targets, which are kept.
    StockPushes,
    /// Outbound webhook messages `succeeded` or `failed` that last changed before the
    /// cut-off, with their delivery attempts. A message still `pending` (queued, waiting
    /// for a retry, or being delivered) and its attempts are kept whatever their age.
    WebhookMessages,
    /// Events committed before the cut-off, except those still needed: one an enabled
    /// webhook endpoint has not queued yet, or one some endpoint's message (after
    /// [`Prunable::WebhookMessages`]: a pending one) still refers to. The feed's
    /// cursor is a position, so a reader within the retention window misses nothing; a
    /// reader away longer resumes at the oldest event kept. A disabled endpoint holds
    /// nothing: once enabled, it gets the events still kept.
    Events,
}

impl Prunable {
    /// Every kind, in the order a sweep deletes them.
    pub const ALL: [Prunable; 6] = [
        Self::Deliveries,
        Self::SendAttempts,
        Self::TaskRuns,
        Self::StockPushes,
        Self::WebhookMessages,
        Self::Events,
    ];

    /// Name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deliveries => "deliveries",
            Self::SendAttempts => "send_attempts",
            Self::TaskRuns => "task_runs",
            Self::StockPushes => "stock_pushes",
            Self::WebhookMessages => "webhook_messages",
            Self::Events => "events",
        }
    }
}

/// The instant before which finished records go: `days` before `now` (0 keeps nothing
/// finished).
pub fn retention_cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - CDuration::days(i64::from(days))
}

/// One batch a sweep deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrunedBatch {
    /// Its kind.
    pub what: Prunable,
    /// Records deleted.
    pub deleted: u64,
    /// How long its transaction took.
    pub took: Duration,
    /// Whether the batch was full (more of its kind may follow).
    pub more: bool,
}

/// Deletes everything the rules of [`Prunable`] allow before `cutoff`, kind after
/// kind, [`RETENTION_BATCH`] records per transaction. `after` is awaited after each
/// batch (the caller counts it and, when more follow, yields to other work); the sweep
/// stops early when it answers false. Returns the records deleted per kind.
pub async fn sweep<S, F, Fut>(
    store: &S,
    cutoff: DateTime<Utc>,
    mut after: F,
) -> StoreResult<Vec<(Prunable, u64)>>
where
    S: MaintenanceStore + ?Sized,
    F: FnMut(PrunedBatch) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut totals = Vec::with_capacity(Prunable::ALL.len());
    for what in Prunable::ALL {
        let mut total = 0;
        loop {
            let started = Instant::now();
            let deleted = store.prune(what, cutoff, RETENTION_BATCH).await?;
            total += deleted;
            let more = deleted >= u64::from(RETENTION_BATCH);
            let batch = PrunedBatch {
                what,
                deleted,
                took: started.elapsed(),
                more,
            };
            if !after(batch).await {
                totals.push((what, total));
                return Ok(totals);
            }
            if !more {
                break;
            }
        }
        totals.push((what, total));
    }
    Ok(totals)
}
