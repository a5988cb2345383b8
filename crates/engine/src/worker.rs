//! The workers: claim loops that run jobs in batches, a heartbeat that keeps the
//! running loops' leases alive, and a reaper that returns expired leases to the
//! queue. Every loop runs supervised: each claims jobs as its own lease owner
//! (`{instance}/{loop}`), so that a loop that panics gives back exactly its jobs.

use crate::catalog_push::CatalogPush;
use crate::ingest::IMPORT_ORDER;
use crate::price_push::PricePush;
use crate::stock_push::StockPush;
use crate::supervise::{caught, supervise};
use crate::Engine;
use futures_util::future::join_all;
use ponte_store::catalog::CATALOG_JOB_KIND;
use ponte_store::claim::{ClaimRequest, Claimed};
use ponte_store::{
    ImportApplied, Job, JobLease, JobOutcome, PRICE_EDGE_JOB_KIND, PRICE_JOB_KIND,
    PRICE_SCHEDULE_JOB_KIND, SEND_JOB_KIND, STOCK_JOB_KIND, TASK_JOB_KIND, TICKET_IMPORT_JOB_KIND,
    TICKET_SEND_JOB_KIND,
};
use std::future::Future;
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
    /// Starts the claim loops, the heartbeat and the reaper, the refresh of the
    /// database figures and the retention sweep.
    pub fn start(engine: Arc<Engine>) -> Self {
        let (stop, rx) = watch::channel(false);
        let mut w = Self {
            stop,
            tasks: JoinSet::new(),
            engine,
        };
        for i in 0..w.engine.config.workers {
            w.spawn(format!("claim-{i}"), true, &rx, claim_loop);
        }
        if w.engine.store.single_writer() {
            w.spawn("direct-sends".into(), true, &rx, |e, stop, owner| {
                crate::direct_sends::direct_sends_loop(e, stop, owner)
            });
        }
        for i in 0..w.engine.config.task_workers {
            w.spawn(format!("task-{i}"), true, &rx, |e, stop, owner| {
                long_job_loop(e, stop, owner, &[TASK_JOB_KIND])
            });
        }
        for i in 0..w.engine.config.stock_workers {
            w.spawn(format!("stock-{i}"), true, &rx, |e, stop, owner| {
                long_job_loop(e, stop, owner, &[STOCK_JOB_KIND])
            });
        }
        // Price timers (scheduled prices, promotional window edges): short jobs, due
        // at their time (the loop sleeps until its next timer is due, so a timer fires
        // within its idle floor).
        w.spawn("price-timers".into(), true, &rx, |e, stop, owner| {
            long_job_loop(e, stop, owner, PRICE_TIMER_KINDS)
        });
        // Price and product data pushes: the stock flusher's design, in a loop of their
        // own.
        w.spawn("price-push".into(), true, &rx, |e, stop, owner| {
            long_job_loop(e, stop, owner, &[PRICE_JOB_KIND, CATALOG_JOB_KIND])
        });
        // SAC tickets: imports and answers, one at a time (few, and never urgent
        // enough to share the order imports' batches).
        w.spawn("tickets".into(), true, &rx, |e, stop, owner| {
            long_job_loop(e, stop, owner, TICKET_KINDS)
        });
        w.spawn("webhooks".into(), false, &rx, |e, stop, owner| {
            crate::webhook_delivery::webhook_loop(e, stop, owner)
        });
        w.spawn("scheduler".into(), false, &rx, |e, stop, _| {
            scheduler(e, stop)
        });
        w.spawn("housekeeping".into(), false, &rx, |e, stop, _| {
            housekeeping(e, stop)
        });
        w.spawn("figures".into(), false, &rx, |e, stop, _| {
            refresh_figures(e, stop)
        });
        w.spawn("statistics".into(), false, &rx, |e, stop, _| {
            refresh_statistics(e, stop)
        });
        w.spawn("retention".into(), false, &rx, |e, stop, _| {
            crate::retention::retention_loop(e, stop)
        });
        w
    }

    /// Starts the loop `run` makes, supervised: after a panic its leases are given
    /// back and a new one starts. `claims`: it leases jobs (as `{instance}/{name}`).
    fn spawn<L>(
        &mut self,
        name: String,
        claims: bool,
        stop: &watch::Receiver<bool>,
        run: impl Fn(Arc<Engine>, watch::Receiver<bool>, String) -> L + Send + Sync + 'static,
    ) where
        L: Future<Output = ()> + Send + 'static,
    {
        let owner = format!("{}/{name}", self.engine.config.instance_id);
        let l = self.engine.loops.add(name, claims.then(|| owner.clone()));
        let engine = self.engine.clone();
        let stop = stop.clone();
        self.tasks.spawn(async move {
            let start = || run(engine.clone(), stop.clone(), owner.clone());
            let after_panic = |_| async {
                engine.metrics.panic("worker_loop");
                engine.release_loop_leases(&l).await;
            };
            supervise(&l, stop.clone(), start, after_panic).await;
        });
    }

    /// Stops after the batches in hand are stored, then releases this instance's leases.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        self.engine.wake.notify_waiters();
        while self.tasks.join_next().await.is_some() {}
        for l in self.engine.loops.all() {
            self.engine.release_loop_leases(&l).await;
        }
        self.engine.loops.clear();
    }
}

impl Engine {
    /// Gives back the jobs a worker loop holds.
    async fn release_loop_leases(&self, l: &crate::supervise::WorkerLoop) {
        let Some(owner) = &l.owner else {
            return;
        };
        match self.store.release_leases(Some(owner)).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(worker = %l.name, jobs = n, "gave back a worker loop's jobs");
                self.wake.notify_waiters();
            }
            Err(e) => tracing::warn!(worker = %l.name, error = %e, "releasing leases"),
        }
    }
}

async fn claim_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>, owner: String) {
    while !*stop.borrow() {
        let notified = engine.wake.notified();
        let claim_notified = engine.claim_wake.notified();
        engine.gate.background_turn().await;
        let req = ClaimRequest {
            owner: &owner,
            kinds: CLAIM_KINDS,
            limit: engine.config.claim_batch,
            now: engine.clock.now(),
            lease: engine.config.lease,
        };
        // Claim, tokens and the sends' started attempts in one transaction.
        let budgets = engine.channel_cache.budgets();
        let claimed = match engine.store.claim_work(&req, &budgets).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs");
                sleep_or_stop(&mut stop, Duration::from_secs(1)).await;
                continue;
            }
        };
        let got = claimed.jobs.len()
            + claimed.unbudgeted.len()
            + claimed.sends.len()
            + claimed.deferred as usize;
        let full = got >= engine.config.claim_batch as usize;
        if full {
            // More may be waiting: another loop joins in.
            engine.claim_wake.notify_one();
        }
        if got > 0 {
            engine.run_claimed(claimed).await;
        }
        if full {
            continue;
        }
        // The claim took every due job: wait for a wake-up (work committed since the
        // claim woke a loop or left a permit) or for the next job's time, not to claim
        // again for nothing.
        let idle = idle_for(&engine, CLAIM_KINDS, Duration::from_millis(5)).await;
        tokio::select! {
            _ = notified => {}
            _ = claim_notified => {}
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => {}
        }
    }
}

impl Engine {
    /// Runs what a claim (or an action batch) leased: imports, sends to begin, sends
    /// begun.
    pub(crate) async fn run_claimed(self: &Arc<Self>, claimed: Claimed) {
        for _ in 0..claimed.deferred {
            self.metrics.import("rate_deferred", None);
        }
        // Jobs of channels not loaded yet are budgeted (and begun) on their own.
        let mut jobs = claimed.jobs;
        if !claimed.unbudgeted.is_empty() {
            jobs.extend(self.within_budget(claimed.unbudgeted).await);
        }
        let (sends, imports): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.kind == SEND_JOB_KIND);
        tokio::join!(
            run_imports(self, imports),
            async {
                if !sends.is_empty() {
                    self.run_sends(sends).await;
                }
            },
            self.run_started(claimed.sends)
        );
    }
}

/// The kinds the claim loops run.
pub(crate) const CLAIM_KINDS: &[&str] = &[IMPORT_ORDER, SEND_JOB_KIND];

/// The price timers' kinds: scheduled prices and promotional window edges.
const PRICE_TIMER_KINDS: &[&str] = &[PRICE_SCHEDULE_JOB_KIND, PRICE_EDGE_JOB_KIND];

/// The SAC tickets' job kinds.
const TICKET_KINDS: &[&str] = &[TICKET_IMPORT_JOB_KIND, TICKET_SEND_JOB_KIND];

/// Runs long jobs of some kinds (task runs, stock pushes: minutes under a platform's
/// rate limit) one at a time, in loops of their own so that imports and sends never
/// wait behind them.
async fn long_job_loop(
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
    owner: String,
    kinds: &'static [&'static str],
) {
    while !*stop.borrow() {
        let notified = engine.wake.notified();
        let jobs = engine
            .store
            .claim_jobs(&owner, kinds, 1, engine.clock.now(), engine.config.lease)
            .await;
        match jobs {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    let run = async {
                        let kind = job.kind.as_str();
                        if kind == STOCK_JOB_KIND {
                            engine.run_push_job::<StockPush>(&job, &stop).await;
                        } else if kind == PRICE_SCHEDULE_JOB_KIND {
                            engine.run_price_schedule_job(&job).await;
                        } else if kind == PRICE_EDGE_JOB_KIND {
                            engine.run_price_edge_job(&job).await;
                        } else if kind == PRICE_JOB_KIND {
                            engine.run_push_job::<PricePush>(&job, &stop).await;
                        } else if kind == CATALOG_JOB_KIND {
                            engine.run_push_job::<CatalogPush>(&job, &stop).await;
                        } else if TICKET_KINDS.contains(&kind) {
                            engine.run_ticket_job(&job).await;
                        } else {
                            engine.run_task_job(&job, &stop).await;
                        }
                    };
                    if let Err(panic) = caught(run).await {
                        engine.finish_panicked(&job, &panic).await;
                    }
                }
            }
            Ok(_) => {
                let idle = idle_for(&engine, kinds, Duration::from_millis(100)).await;
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(idle) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ?kinds, "claiming jobs");
                sleep_or_stop(&mut stop, Duration::from_secs(1)).await;
            }
        }
    }
}

/// How long an idle loop may sleep: until the next job of its `kinds` is due, at most
/// a second, at least `floor` (a due job another loop is claiming right now must not
/// make it spin). Jobs of other kinds never wake it: a backlog of sends does not make
/// the task loops poll.
async fn idle_for(engine: &Engine, kinds: &[&str], floor: Duration) -> Duration {
    let idle = match engine.store.next_run_at(kinds).await {
        Ok(Some(at)) => (at - engine.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(1)),
        _ => Duration::from_secs(1),
    };
    idle.max(floor)
}

/// Starts the runs of due tasks, every second (at once again after a full batch: many
/// tasks due together are not spread over seconds).
async fn scheduler(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match engine.fire_due_tasks().await {
            Ok(seen) if seen >= crate::tasks::FIRE_BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "firing due tasks"),
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
        async move {
            let commit = match caught(engine.run_import(j)).await {
                Ok(c) => c,
                Err(panic) => engine.panicked_import(j, &panic).await,
            };
            commit.map(|c| (c, j.created_at))
        }
    }))
    .await
    .into_iter()
    .flatten()
    .unzip();
    let leases: Vec<JobLease> = commits.iter().filter_map(|c| c.lease.clone()).collect();
    let channels: Vec<_> = commits
        .iter()
        .map(|c| (c.tenant_id, c.channel_id))
        .collect();
    engine.gate.background_turn().await;
    match engine
        .store
        .apply_imports(commits, engine.clock.now())
        .await
    {
        Ok(applied) => {
            // Their events may be for webhook endpoints: deliver without waiting for the poll.
            engine.webhook_wake.notify_one();
            let imported = channels.iter().zip(&applied).map(|((t, c), a)| (*t, *c, a));
            engine.order_channels.remember_imported(imported);
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
        // Only running loops: a loop that panicked must not keep its jobs forever.
        for l in engine.loops.all() {
            let Some(owner) = l.owner.as_deref().filter(|_| l.running()) else {
                continue;
            };
            if let Err(e) = engine.store.heartbeat(owner, until).await {
                tracing::warn!(worker = %l.name, error = %e, "lease heartbeat");
            }
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

/// Reads the job counts and database size `/metrics` and `/ready` show.
async fn refresh_figures(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        sleep_or_stop(&mut stop, engine.figures.every()).await;
        if *stop.borrow() {
            return;
        }
        engine
            .figures
            .refresh(engine.store.as_ref(), engine.clock.as_ref())
            .await;
    }
}

/// How often the planner statistics are checked ([`ponte_store::MaintenanceStore::refresh_statistics`]).
const STATISTICS_EVERY: Duration = Duration::from_secs(2);

/// Keeps the database's planner statistics up with bursts.
async fn refresh_statistics(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        sleep_or_stop(&mut stop, STATISTICS_EVERY).await;
        if *stop.borrow() {
            return;
        }
        match engine.store.refresh_statistics().await {
            Ok(t) if t.is_empty() => {}
            Ok(t) => tracing::debug!(tables = ?t, "refreshed planner statistics"),
            Err(e) => tracing::warn!(error = %e, "refreshing planner statistics"),
        }
    }
}

/// Sleeps for `d`, or less when `stop` changes.
pub(crate) async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

#[cfg(test)]
mod tests;
