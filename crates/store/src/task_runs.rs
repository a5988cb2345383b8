//! Task run rules both backends apply: the job that executes a run, how a run ends (its
//! state, whether its task's cursor moves), a patch that changes nothing, and the steps
//! of starting a run ([`start_run`]) around a backend's own statements
//! ([`RunStartTx`]). A due time fires by compare-and-set on `next_run_at` (the caller
//! whose update moved it starts the run), and a task has at most one queued or running
//! run (the backends' unique index `task_runs_one_active`): whoever asks while one is
//! active gets `Busy`.

use crate::{
    EventNotes, NewJob, RunEnd, RunRequest, RunStart, RunState, StoreError, StoreResult, TaskJob,
    TaskPatch, TaskRun, TASK_JOB_KIND,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{RunId, TenantId};

/// The events of a run's end: `task_run.failed` when it failed (the run's id, error
/// and counts; `GET /api/v1/task-runs/{id}` shows the rest).
pub fn run_end_events(
    tenant: TenantId,
    run: RunId,
    end: &RunEnd,
    now: DateTime<Utc>,
) -> EventNotes {
    let mut events = EventNotes::default();
    if let Some(error) = &end.error {
        let data = serde_json::json!({"id": run, "error": error, "counts": end.counts});
        let kind = ponte_core::event::EventType::TaskRunFailed;
        events.add(tenant, kind, now, None, None, data);
    }
    events
}

/// How many times [`start_run`] tries again when its insert met an active run that
/// ended before it could be read (it then starts a run on the next try).
pub const START_TRIES: usize = 3;

/// The job that executes `run`, due `now`.
pub fn task_job(run: RunId, now: DateTime<Utc>) -> StoreResult<NewJob> {
    Ok(NewJob {
        kind: TASK_JOB_KIND.into(),
        payload: serde_json::to_value(TaskJob { run_id: run })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        unique_key: None,
        run_at: now,
    })
}

impl RunEnd {
    /// The state the run ends in: succeeded without an error, else failed.
    pub fn state(&self) -> RunState {
        match self.error {
            None => RunState::Succeeded,
            Some(_) => RunState::Failed,
        }
    }

    /// The task's new cursor, if it moves: only a run that succeeded moves it.
    pub fn new_cursor(&self) -> Option<DateTime<Utc>> {
        self.cursor.filter(|_| self.error.is_none())
    }
}

impl TaskPatch {
    /// Whether it changes nothing (the task is only read back).
    pub fn is_empty(&self) -> bool {
        self.interval_secs.is_none() && self.enabled.is_none()
    }
}

/// A backend's statements for starting a run, in one open transaction (dropping it
/// rolls back).
#[async_trait]
pub trait RunStartTx: Send + Sized {
    /// Moves the task's due time from `expected` to `next` if it is still `expected`
    /// and the task is enabled; whether this call moved it.
    async fn fire(
        &mut self,
        req: &RunRequest,
        expected: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Inserts the queued run `id` of the task (as `req` asks, created `now`) unless
    /// the task is gone or already has a queued or running run; the run inserted.
    async fn insert_run(
        &mut self,
        req: &RunRequest,
        id: RunId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TaskRun>>;
    /// The task's queued or running run, read afresh (one committed meanwhile is seen).
    async fn active_run(&mut self, req: &RunRequest) -> StoreResult<Option<TaskRun>>;
    /// Whether the task exists.
    async fn task_exists(&mut self, req: &RunRequest) -> StoreResult<bool>;
    /// Enqueues `job` in the transaction.
    async fn enqueue(&mut self, tenant: TenantId, job: &NewJob) -> StoreResult<()>;
    /// Commits the transaction.
    async fn commit(self) -> StoreResult<()>;
}

/// Starts a run as `req` asks: fires its due time first when it is a scheduled one
/// (nothing starts unless this caller moved it), then queues the run with its job, or
/// reports the task's active run.
pub async fn start_run(
    mut tx: impl RunStartTx,
    req: &RunRequest,
    now: DateTime<Utc>,
) -> StoreResult<RunStart> {
    if let Some((expected, next)) = req.fire {
        if !tx.fire(req, expected, next).await? {
            return Ok(RunStart::NotFired);
        }
    }
    for _ in 0..START_TRIES {
        if let Some(run) = tx.insert_run(req, RunId::new(), now).await? {
            tx.enqueue(req.tenant_id, &task_job(run.id, now)?).await?;
            tx.commit().await?;
            return Ok(RunStart::Started(run));
        }
        // Nothing inserted: the task is gone, or it has an active run.
        if let Some(active) = tx.active_run(req).await? {
            // Commit: a fired due time stays moved on.
            tx.commit().await?;
            return Ok(RunStart::Busy(active));
        }
        if !tx.task_exists(req).await? {
            return Ok(RunStart::NotFired);
        }
        // The active run ended between the insert and the read: try again.
    }
    tx.commit().await?;
    Ok(RunStart::NotFired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ready::ready;
    use crate::{RunTrigger, TaskKind};
    use chrono::TimeZone;
    use ponte_core::TaskId;

    /// A task in memory; `log` records the statements and the end of the transaction.
    #[derive(Default)]
    struct Fake {
        exists: bool,
        next_run_at: i64,
        active: Option<TaskRun>,
        /// Active runs that end just before `active_run` reads.
        vanishing: usize,
        log: Vec<String>,
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    fn run(req: &RunRequest, id: RunId, now: DateTime<Utc>) -> TaskRun {
        TaskRun {
            tenant_id: req.tenant_id,
            id,
            task_id: req.task_id,
            kind: TaskKind::ImportOrders,
            channel_id: None,
            trigger: req.trigger,
            since: req.since,
            until: req.until,
            state: RunState::Queued,
            due_at: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            counts: Default::default(),
            error: None,
        }
    }

    #[async_trait]
    impl RunStartTx for &mut Fake {
        async fn fire(
            &mut self,
            _: &RunRequest,
            expected: DateTime<Utc>,
            next: DateTime<Utc>,
        ) -> StoreResult<bool> {
            self.log.push("fire".into());
            let moved = self.exists && self.next_run_at == expected.timestamp();
            if moved {
                self.next_run_at = next.timestamp();
            }
            Ok(moved)
        }

        async fn insert_run(
            &mut self,
            req: &RunRequest,
            id: RunId,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<TaskRun>> {
            self.log.push("insert".into());
            if !self.exists || self.active.is_some() {
                return Ok(None);
            }
            Ok(Some(run(req, id, now)))
        }

        async fn active_run(&mut self, _: &RunRequest) -> StoreResult<Option<TaskRun>> {
            self.log.push("active".into());
            if self.vanishing > 0 {
                self.vanishing -= 1;
                return Ok(None);
            }
            Ok(self.active.clone())
        }

        async fn task_exists(&mut self, _: &RunRequest) -> StoreResult<bool> {
            self.log.push("exists".into());
            Ok(self.exists)
        }

        async fn enqueue(&mut self, _: TenantId, job: &NewJob) -> StoreResult<()> {
            self.log.push(format!("enqueue {}", job.kind));
            Ok(())
        }

        async fn commit(self) -> StoreResult<()> {
            self.log.push("commit".into());
            Ok(())
        }
    }

    fn req(fire: Option<(i64, i64)>) -> RunRequest {
        RunRequest {
            tenant_id: TenantId::new(),
            task_id: TaskId::new(),
            trigger: RunTrigger::Schedule,
            since: None,
            until: None,
            fire: fire.map(|(a, b)| (at(a), at(b))),
        }
    }

    #[test]
    fn a_fired_due_time_starts_a_run_with_its_job() {
        let mut t = Fake {
            exists: true,
            next_run_at: 10,
            ..Fake::default()
        };
        let r = req(Some((10, 70)));
        let started = ready(start_run(&mut t, &r, at(11))).unwrap();
        let RunStart::Started(run) = started else {
            panic!("{started:?}")
        };
        assert_eq!((run.created_at, run.state), (at(11), RunState::Queued));
        assert_eq!(t.next_run_at, 70);
        assert_eq!(t.log, ["fire", "insert", "enqueue task_run", "commit"]);
        let job = task_job(run.id, at(11)).unwrap();
        assert_eq!(job.payload, serde_json::json!({ "run_id": run.id }));
        assert_eq!((job.run_at, job.unique_key), (at(11), None));
    }

    #[test]
    fn a_due_time_another_caller_moved_starts_nothing() {
        let mut t = Fake {
            exists: true,
            next_run_at: 70,
            ..Fake::default()
        };
        let got = ready(start_run(&mut t, &req(Some((10, 70))), at(11))).unwrap();
        assert_eq!(got, RunStart::NotFired);
        assert_eq!(t.log, ["fire"]);
    }

    #[test]
    fn an_active_run_is_reported_and_the_fire_kept() {
        let r = req(None);
        let active = run(&r, RunId::new(), at(1));
        let mut t = Fake {
            exists: true,
            active: Some(active.clone()),
            vanishing: 1,
            ..Fake::default()
        };
        let got = ready(start_run(&mut t, &r, at(11))).unwrap();
        assert_eq!(got, RunStart::Busy(active));
        assert_eq!(
            t.log,
            ["insert", "active", "exists", "insert", "active", "commit"]
        );
    }

    #[test]
    fn a_missing_task_starts_nothing() {
        let mut t = Fake::default();
        let got = ready(start_run(&mut t, &req(None), at(11))).unwrap();
        assert_eq!(got, RunStart::NotFired);
        assert_eq!(t.log, ["insert", "active", "exists"]);
    }

    #[test]
    fn only_a_success_moves_the_cursor() {
        let ok = RunEnd {
            counts: Default::default(),
            error: None,
            cursor: Some(at(5)),
        };
        assert_eq!(
            (ok.state(), ok.new_cursor()),
            (RunState::Succeeded, Some(at(5)))
        );
        let failed = RunEnd {
            error: Some("boom".into()),
            ..ok
        };
        assert_eq!(
            (failed.state(), failed.new_cursor()),
            (RunState::Failed, None)
        );
    }

    #[test]
    fn an_empty_patch_changes_nothing() {
        assert!(TaskPatch::default().is_empty());
        let p = TaskPatch {
            enabled: Some(false),
            ..TaskPatch::default()
        };
        assert!(!p.is_empty());
    }
}
