//! Executing task runs: a worker claims a run's job, runs it by kind, and ends run and
//! job in one transaction. A run stopped by shutdown is not ended: its job goes back
//! to the queue and the run starts over (an import's cursor only moves at the end).

use crate::supervise::caught;
use crate::Engine;
use ponte_store::{Job, JobLease, JobOutcome, RunCounts, RunEnd, TaskJob, TaskKind, TaskRun};
use tokio::sync::watch;

/// How a run's body ended.
pub(crate) enum Ran {
    /// Finished (maybe with an error): record it.
    Ended(RunEnd),
    /// Stopped by shutdown: leave it to run again.
    Stopped,
}

impl Ran {
    /// A run that failed with `error` after doing `counts`.
    pub(crate) fn failed(counts: RunCounts, error: String) -> Self {
        Self::Ended(RunEnd {
            counts,
            error: Some(error),
            cursor: None,
        })
    }

    /// A run that succeeded.
    pub(crate) fn ok(counts: RunCounts) -> Self {
        Self::Ended(RunEnd {
            counts,
            error: None,
            cursor: None,
        })
    }
}

impl Engine {
    /// Runs one claimed task-run job to its end.
    pub(crate) async fn run_task_job(&self, job: &Job, stop: &watch::Receiver<bool>) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: TaskJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        let begun = self
            .store
            .begin_run(&lease, job.tenant_id, payload.run_id, self.clock.now())
            .await;
        let run = match begun {
            Ok(Some(run)) => run,
            Ok(None) => {
                // The run is over (or gone): the job has nothing left to do.
                let _ = self
                    .store
                    .finish_job(&lease, &JobOutcome::Done, self.clock.now())
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "beginning a task run; it will run again");
                return self
                    .give_back(std::iter::once(&lease), &e.to_string())
                    .await;
            }
        };
        tracing::info!(run = %run.id, kind = run.kind.as_str(), trigger = run.trigger.as_str(), "task run started");
        let body = async {
            match run.kind {
                TaskKind::ImportOrders => self.run_import_orders(&lease, &run, stop).await,
                TaskKind::RefreshPaymentStatus => self.run_refresh_payments(&run).await,
                TaskKind::AutoCancel => self.run_auto_cancel(&run).await,
                TaskKind::RemapOrders => self.run_remap(&lease, &run, stop).await,
                TaskKind::TrackShipments => self.run_track_shipments(&run, stop).await,
                TaskKind::PriceCheck => self.run_price_check(&run, stop).await,
            }
        };
        // A run whose body panicked is recorded as failed; its schedule goes on.
        let ran = caught(body).await.unwrap_or_else(|panic| {
            self.job_panicked(&job.kind, &panic);
            Ran::failed(RunCounts::default(), format!("panic: {panic}"))
        });
        let Ran::Ended(end) = ran else {
            tracing::info!(run = %run.id, "task run stopped by shutdown; it will run again");
            return;
        };
        self.end_run(&lease, &run, &end).await;
    }

    async fn end_run(&self, lease: &JobLease, run: &TaskRun, end: &RunEnd) {
        let result = if end.error.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        self.metrics.task_run(run.kind.as_str(), result);
        // A storage hiccup (a busy pool) must not leave the run's job held, its lease
        // renewed by the heartbeat forever: try again, then give the job back.
        let mut tries = 0;
        loop {
            match self
                .store
                .finish_run(lease, run.tenant_id, run.id, end, self.clock.now())
                .await
            {
                Ok(true) => match &end.error {
                    None => {
                        tracing::info!(run = %run.id, counts = ?end.counts, "task run succeeded")
                    }
                    Some(e) => tracing::warn!(run = %run.id, error = %e, "task run failed"),
                },
                Ok(false) => tracing::warn!(run = %run.id, "task run lease lost; not recorded"),
                Err(e) if tries < 3 => {
                    tries += 1;
                    tracing::warn!(run = %run.id, error = %e, "recording a task run; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(run = %run.id, error = %e, "recording a task run; it will run again");
                    self.give_back(std::iter::once(lease), &e.to_string()).await;
                }
            }
            return;
        }
    }
}
