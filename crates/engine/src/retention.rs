//! The retention sweep: deletes old raw deliveries, send attempts, task runs and stock
//! push records (what is kept is `ponte_store::Prunable`'s rule) in small batches,
//! stepping aside for webhook ingest between them. Every instance sweeps; batches of
//! concurrent sweeps never overlap.

use crate::worker::sleep_or_stop;
use crate::Engine;
use ponte_store::{retention_cutoff, sweep, Prunable, PrunedBatch};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Shortest pause between two batches.
const MIN_PAUSE: Duration = Duration::from_millis(20);
/// The pause after a batch is this many times as long as the batch took, so the sweep
/// holds the database (SQLite's single writer) at most a fifth of the time.
const PAUSE_FACTOR: u32 = 4;
/// The pause after a batch when webhooks were committed since the previous one: the
/// sweep then takes a sliver of the database (about 1,000 records a second) and
/// ingest keeps its pace.
const BUSY_PAUSE: Duration = Duration::from_millis(500);
/// Longest wait before the first sweep after start.
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(60);

impl Engine {
    /// Runs one sweep of records older than the retention period; stops early when
    /// `stop` turns true. Returns the records deleted per kind.
    pub(crate) async fn sweep_retention(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<Vec<(Prunable, u64)>, ponte_store::StoreError> {
        let cutoff = retention_cutoff(self.clock.now(), self.config.retention_days);
        let mut seen = self.gate.inbox_turns();
        sweep(self.store.as_ref(), cutoff, |batch: PrunedBatch| {
            let mut stop = stop.clone();
            let turns = self.gate.inbox_turns();
            let ingesting = std::mem::replace(&mut seen, turns) != turns;
            async move {
                tracing::debug!(
                    record = batch.what.as_str(),
                    deleted = batch.deleted,
                    ms = batch.took.as_secs_f64() * 1e3,
                    ingesting,
                    "retention batch"
                );
                self.metrics
                    .retention_deleted(batch.what.as_str(), batch.deleted);
                if batch.more {
                    let pause = if ingesting {
                        BUSY_PAUSE
                    } else {
                        (batch.took * PAUSE_FACTOR).max(MIN_PAUSE)
                    };
                    sleep_or_stop(&mut stop, pause).await;
                    self.gate.background_turn().await;
                }
                !*stop.borrow()
            }
        })
        .await
    }
}

/// Sweeps every `retention_sweep` (the first time sooner after start), until `stop`.
pub(crate) async fn retention_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let Some(every) = engine.config.retention_sweep else {
        return;
    };
    sleep_or_stop(&mut stop, every.min(FIRST_SWEEP_AFTER)).await;
    while !*stop.borrow() {
        match engine.sweep_retention(&stop).await {
            Ok(totals) => {
                let deleted: u64 = totals.iter().map(|(_, n)| n).sum();
                if deleted > 0 {
                    let per_kind: Vec<_> = totals
                        .iter()
                        .map(|(what, n)| format!("{}={n}", what.as_str()))
                        .collect();
                    tracing::info!(deleted, kinds = %per_kind.join(" "), "retention sweep");
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention sweep"),
        }
        sleep_or_stop(&mut stop, every).await;
    }
}
