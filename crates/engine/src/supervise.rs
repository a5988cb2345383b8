//! Keeping the workers alive: a panic while handling one job retries or fails that
//! job (error `panic: <message>`) and the loop goes on; a worker loop that panics
//! anyway is marked down, gives back its leases and is started again.

use crate::Engine;
use futures_util::FutureExt;
use ponte_core::retry::RetryPolicy;
use ponte_core::wait;
use ponte_store::{Job, JobLease, JobOutcome};
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Runs `fut`; a panic inside it becomes `Err` with the panic's message.
pub(crate) async fn caught<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|p| message(p.as_ref()))
}

fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked without a message".to_owned())
}

/// One worker loop: its name (`claim-0`, `housekeeping`, ...), the lease owner it
/// claims jobs as, and whether it is running.
pub(crate) struct WorkerLoop {
    pub(crate) name: String,
    pub(crate) owner: Option<String>,
    running: AtomicBool,
}

impl WorkerLoop {
    pub(crate) fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

/// The worker loops of this process, as `/ready` and the lease heartbeat see them.
#[derive(Default)]
pub(crate) struct Loops(Mutex<Vec<Arc<WorkerLoop>>>);

impl Loops {
    /// Adds a running loop.
    pub(crate) fn add(&self, name: String, owner: Option<String>) -> Arc<WorkerLoop> {
        let l = Arc::new(WorkerLoop {
            name,
            owner,
            running: AtomicBool::new(true),
        });
        self.lock().push(l.clone());
        l
    }

    /// Forgets every loop (the workers stopped).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Every loop.
    pub(crate) fn all(&self) -> Vec<Arc<WorkerLoop>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<WorkerLoop>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Pause before a panicked loop starts again: 100 ms, doubling up to 30 s.
const RESTART: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(100),
    max: Duration::from_secs(30),
    max_attempts: u32::MAX,
};

/// Runs the loop `start` makes until it returns (it was stopped). When it panics,
/// `l` is marked down, `after_panic` runs (it gives back the loop's leases) and,
/// after a pause that grows with each panic in a row, a new loop is started.
pub(crate) async fn supervise<L, P>(
    l: &WorkerLoop,
    mut stop: watch::Receiver<bool>,
    mut start: impl FnMut() -> L,
    mut after_panic: impl FnMut(String) -> P,
) where
    L: Future<Output = ()>,
    P: Future<Output = ()>,
{
    let mut in_a_row = 0u32;
    loop {
        let began = tokio::time::Instant::now();
        l.running.store(true, Ordering::Release);
        let Err(panic) = caught(start()).await else {
            return;
        };
        l.running.store(false, Ordering::Release);
        tracing::error!(worker = %l.name, panic = %panic, "worker loop panicked; restarting it");
        after_panic(panic).await;
        in_a_row = if began.elapsed() > RESTART.max {
            1
        } else {
            in_a_row.saturating_add(1)
        };
        let pause = RESTART.backoff(in_a_row, 1.0);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

impl Engine {
    /// What a job whose handling panicked becomes: retried later, counting an
    /// attempt, or failed once its attempts are used up.
    pub(crate) fn panic_outcome(&self, attempts: u32, panic: &str) -> JobOutcome {
        let used = attempts.saturating_add(1);
        let policy = self.config.import_retry;
        let error = format!("panic: {panic}");
        if policy.allows_another(used) {
            JobOutcome::Retry {
                run_at: wait::after(
                    self.clock.now(),
                    policy.backoff(used, rand::random::<f64>()),
                ),
                count_attempt: true,
                error,
            }
        } else {
            JobOutcome::Failed { error }
        }
    }

    /// Logs and counts a panic caught while handling a job of `kind`.
    pub(crate) fn job_panicked(&self, kind: &str, panic: &str) {
        tracing::error!(kind, panic, "a job panicked; it is retried or failed");
        self.metrics.panic(kind);
    }

    /// Finishes a job whose handling panicked (see [`Engine::panic_outcome`]).
    pub(crate) async fn finish_panicked(&self, job: &Job, panic: &str) {
        self.job_panicked(&job.kind, panic);
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let outcome = self.panic_outcome(job.attempts, panic);
        if let Err(e) = self
            .store
            .finish_job(&lease, &outcome, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "finishing a job that panicked");
        }
    }
}

#[cfg(test)]
mod tests;
