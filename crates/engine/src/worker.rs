//! The workers: claim loops that run jobs in batches, a heartbeat that keeps this
//! instance's leases alive, and a reaper that returns expired leases to the queue.

use crate::ingest::IMPORT_ORDER;
use crate::Engine;
use futures_util::future::join_all;
use ponte_store::{
    ImportApplied, Job, JobLease, JobOutcome, SEND_JOB_KIND, STOCK_JOB_KIND, TASK_JOB_KIND,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Running worker tasks; [`Workers::stop`] ends them and gives back their leases.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    engine: Arc<Engine>,
}

impl Workers {
    /// Starts the claim loops, the heartbeat and the reaper.
    pub fn start(engine: Arc<Engine>) -> Self {
        let (stop, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for _ in 0..engine.config.workers {
            tasks.spawn(claim_loop(engine.clone(), rx.clone()));
        }
        for _ in 0..engine.config.task_workers {
            tasks.spawn(long_job_loop(engine.clone(), rx.clone(), TASK_JOB_KIND));
        }
        for _ in 0..engine.config.stock_workers {
            tasks.spawn(long_job_loop(engine.clone(), rx.clone(), STOCK_JOB_KIND));
        }
        tasks.spawn(scheduler(engine.clone(), rx.clone()));
        tasks.spawn(housekeeping(engine.clone(), rx));
        Self {
            stop,
            tasks,
            engine,
        }
    }

    /// Stops after the batches in hand are stored, then releases this instance's leases.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        self.engine.wake.notify_waiters();
        while self.tasks.join_next().await.is_some() {}
        if let Err(e) = self
            .engine
            .store
            .release_leases(Some(&self.engine.config.instance_id))
            .await
        {
            tracing::warn!(error = %e, "releasing leases at shutdown");
        }
    }
}

async fn claim_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let owner = engine.config.instance_id.clone();
    while !*stop.borrow() {
        let notified = engine.wake.notified();
        engine.gate.background_turn().await;
        let now = engine.clock.now();
        let jobs = match engine
            .store
            .claim_jobs(
                &owner,
                &[IMPORT_ORDER, SEND_JOB_KIND],
                engine.config.claim_batch,
                now,
                engine.config.lease,
            )
            .await
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs");
                sleep_or_stop(&mut stop, Duration::from_secs(1)).await;
                continue;
            }
        };
        let jobs = if jobs.is_empty() {
            jobs
        } else {
            engine.within_budget(jobs).await
        };
        if jobs.is_empty() {
            let idle = idle_for(&engine, Duration::from_millis(5)).await;
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let (sends, imports): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.kind == SEND_JOB_KIND);
        tokio::join!(run_imports(&engine, imports), async {
            if !sends.is_empty() {
                engine.run_sends(sends).await;
            }
        });
    }
}

/// Runs long jobs of one kind (task runs, stock pushes: minutes under a platform's rate
/// limit) one at a time, in loops of their own so that imports and sends never wait
/// behind them.
async fn long_job_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>, kind: &'static str) {
    let owner = engine.config.instance_id.clone();
    while !*stop.borrow() {
        let notified = engine.wake.notified();
        let jobs = engine
            .store
            .claim_jobs(&owner, &[kind], 1, engine.clock.now(), engine.config.lease)
            .await;
        match jobs {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    if kind == STOCK_JOB_KIND {
                        engine.run_stock_job(job, &stop).await;
                    } else {
                        engine.run_task_job(job, &stop).await;
                    }
                }
            }
            Ok(_) => {
                let idle = idle_for(&engine, Duration::from_millis(100)).await;
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(idle) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, kind, "claiming jobs");
                sleep_or_stop(&mut stop, Duration::from_secs(1)).await;
            }
        }
    }
}

/// How long an idle loop may sleep: until the next job (of any kind) is due, at most
/// a second, at least `floor` (a due job of another kind must not make it spin).
async fn idle_for(engine: &Engine, floor: Duration) -> Duration {
    let idle = match engine.store.next_run_at().await {
        Ok(Some(at)) => (at - engine.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(1)),
        _ => Duration::from_secs(1),
    };
    idle.max(floor)
}

/// Starts the runs of due tasks, every second.
async fn scheduler(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if let Err(e) = engine.fire_due_tasks().await {
            tracing::warn!(error = %e, "firing due tasks");
        }
        sleep_or_stop(&mut stop, Duration::from_secs(1)).await;
    }
}

/// Fetches a batch of orders and stores the results in one transaction.
async fn run_imports(engine: &Arc<Engine>, jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    // Each result with its job's enqueue time (for the latency metric); jobs that
    // could not name their order were failed on the spot and have no result.
    let (commits, created): (Vec<_>, Vec<_>) = join_all(jobs.iter().map(|j| {
        let engine = &engine;
        async move { engine.run_import(j).await.map(|c| (c, j.created_at)) }
    }))
    .await
    .into_iter()
    .flatten()
    .unzip();
    let leases: Vec<JobLease> = commits.iter().filter_map(|c| c.lease.clone()).collect();
    engine.gate.background_turn().await;
    match engine
        .store
        .apply_imports(commits, engine.clock.now())
        .await
    {
        Ok(applied) => {
            let now = engine.clock.now();
            for (a, created_at) in applied.iter().zip(created) {
                let latency = (now - created_at).to_std().ok().map(|d| d.as_secs_f64());
                engine.metrics.import(
                    result_name(a),
                    matches!(
                        a,
                        ImportApplied::Created(_)
                            | ImportApplied::Updated(_)
                            | ImportApplied::Unchanged(_)
                    )
                    .then_some(latency)
                    .flatten(),
                );
            }
        }
        // Nothing of the batch was stored: give the jobs back now (our heartbeat would
        // otherwise keep their leases alive) without using an attempt.
        Err(e) => {
            tracing::error!(error = %e, "storing import results; the jobs go back to the queue");
            let retry = JobOutcome::Retry {
                run_at: engine.clock.now(),
                count_attempt: false,
                error: format!("storing the result failed: {e}"),
            };
            for j in &leases {
                if let Err(e) = engine.store.finish_job(j, &retry, engine.clock.now()).await {
                    tracing::warn!(error = %e, "returning a job to the queue");
                }
            }
        }
    }
}

fn result_name(a: &ImportApplied) -> &'static str {
    match a {
        ImportApplied::LeaseLost => "lease_lost",
        ImportApplied::Created(_) => "created",
        ImportApplied::Updated(_) => "updated",
        ImportApplied::Unchanged(_) => "unchanged",
        ImportApplied::Stale => "stale",
        ImportApplied::Skipped(_) => "skipped",
        ImportApplied::Retrying => "retrying",
        ImportApplied::Failed => "failed",
    }
}

async fn housekeeping(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let every = (engine.config.lease / 3).max(Duration::from_millis(100));
    while !*stop.borrow() {
        sleep_or_stop(&mut stop, every).await;
        let now = engine.clock.now();
        let until = ponte_core::wait::after(now, engine.config.lease);
        if let Err(e) = engine
            .store
            .heartbeat(&engine.config.instance_id, until)
            .await
        {
            tracing::warn!(error = %e, "lease heartbeat");
        }
        match engine.store.reap_expired(now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(jobs = n, "took back expired leases");
                engine.wake.notify_waiters();
            }
            Err(e) => tracing::warn!(error = %e, "reaping leases"),
        }
    }
}

async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}
