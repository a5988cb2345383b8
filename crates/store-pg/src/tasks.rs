//! Scheduled tasks and their runs (the rules are `ponte_store::task_runs`'s).
//!
//! Several instances share the tables: a due time fires by compare-and-set on
//! `next_run_at`, and the partial unique index `task_runs_one_active` keeps at most one
//! queued or running run per task, whoever asks (a run now racing another run now or a
//! due time gets `Busy`).

use crate::codec::in_table;
use crate::codec::{col, fetch_opt, fetch_rows, from_json, newest_first};
use crate::jobs::insert_jobs;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, RunId, TaskId, TenantId};
use ponte_store::rows::parse_stored;
use ponte_store::task_runs::{self, RunStartTx};
use ponte_store::{
    JobLease, NewJob, NewTask, Page, PageRequest, RunCounts, RunEnd, RunRequest, RunStart,
    RunState, RunTrigger, ScheduledTask, StoreResult, TaskKind, TaskPatch, TaskRun, TaskStore,
};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

const RUN_COLUMNS: &str = "tenant_id, id, task_id, kind, channel_id, trigger, since, state, \
                           due_at, created_at, started_at, finished_at, counts, error, until_at";

/// Tasks (rows of `from`, aliased `t`) with their latest run (run columns prefixed `r_`).
fn task_select(from: &str) -> String {
    format!(
        "SELECT t.tenant_id, t.id, t.kind, t.channel_id, t.interval_secs, t.enabled, \
         t.next_run_at, t.cursor, r.id AS r_id, r.trigger AS r_trigger, r.since AS r_since, r.until_at AS r_until_at, \
         r.state AS r_state, r.due_at AS r_due_at, r.created_at AS r_created_at, r.started_at AS r_started_at, \
         r.finished_at AS r_finished_at, r.counts AS r_counts, r.error AS r_error \
         FROM {from} t LEFT JOIN LATERAL ( \
           SELECT x.id, x.trigger, x.since, x.until_at, x.state, x.due_at, x.created_at, x.started_at, x.finished_at, \
                  x.counts, x.error \
           FROM task_runs x WHERE x.tenant_id = t.tenant_id AND x.task_id = t.id \
           ORDER BY x.id DESC LIMIT 1) r ON true"
    )
}

fn kind(s: &str) -> StoreResult<TaskKind> {
    parse_stored("task kind", s, TaskKind::parse)
}

/// The run columns of a row, prefixed `p`, of the given task.
fn run_of(
    r: &PgRow,
    p: &str,
    tenant_id: TenantId,
    task_id: TaskId,
    kind: TaskKind,
    channel_id: Option<ChannelId>,
) -> StoreResult<TaskRun> {
    let trigger: String = col(r, &format!("{p}trigger"))?;
    let state: String = col(r, &format!("{p}state"))?;
    Ok(TaskRun {
        tenant_id,
        id: RunId(col(r, &format!("{p}id"))?),
        task_id,
        kind,
        channel_id,
        trigger: parse_stored("run trigger", &trigger, RunTrigger::parse)?,
        since: col(r, &format!("{p}since"))?,
        until: col(r, &format!("{p}until_at"))?,
        state: parse_stored("run state", &state, RunState::parse)?,
        created_at: col(r, &format!("{p}created_at"))?,
        due_at: col(r, &format!("{p}due_at"))?,
        started_at: col(r, &format!("{p}started_at"))?,
        finished_at: col(r, &format!("{p}finished_at"))?,
        counts: from_json(col(r, &format!("{p}counts"))?)?,
        error: col(r, &format!("{p}error"))?,
    })
}

/// Decodes a run selected with [`RUN_COLUMNS`].
fn decode_run(r: &PgRow) -> StoreResult<TaskRun> {
    in_table("task_runs", || {
        run_of(
            r,
            "",
            TenantId(col(r, "tenant_id")?),
            TaskId(col(r, "task_id")?),
            kind(&col::<String>(r, "kind")?)?,
            col::<Option<Uuid>>(r, "channel_id")?.map(ChannelId),
        )
    })
}

/// Decodes a task selected with [`task_select`].
fn decode_task(r: &PgRow) -> StoreResult<ScheduledTask> {
    in_table("scheduled_tasks", || {
        let tenant_id = TenantId(col(r, "tenant_id")?);
        let task_id = TaskId(col(r, "id")?);
        let task_kind = kind(&col::<String>(r, "kind")?)?;
        let channel_id = col::<Option<Uuid>>(r, "channel_id")?.map(ChannelId);
        let last_run = match col::<Option<Uuid>>(r, "r_id")? {
            Some(_) => Some(run_of(r, "r_", tenant_id, task_id, task_kind, channel_id)?),
            None => None,
        };
        Ok(ScheduledTask {
            tenant_id,
            id: task_id,
            kind: task_kind,
            channel_id,
            interval_secs: col(r, "interval_secs")?,
            enabled: col(r, "enabled")?,
            next_run_at: col(r, "next_run_at")?,
            cursor: col(r, "cursor")?,
            last_run,
        })
    })
}

/// Starting a run ([`task_runs::start_run`]): the partial unique index refuses a second
/// active run, and a concurrent insert still uncommitted makes an insert wait for its
/// outcome.
struct PgRunStart(Transaction<'static, Postgres>);

#[async_trait]
impl RunStartTx for PgRunStart {
    async fn fire(
        &mut self,
        req: &RunRequest,
        expected: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // The others see the moved value once the winner commits (the row lock makes
        // them wait).
        let moved = sqlx::query(
            "UPDATE scheduled_tasks SET next_run_at = $1 \
             WHERE tenant_id = $2 AND id = $3 AND next_run_at = $4 AND enabled",
        )
        .bind(next)
        .bind(req.tenant_id.0)
        .bind(req.task_id.0)
        .bind(expected)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(moved.rows_affected() == 1)
    }

    async fn insert_run(
        &mut self,
        req: &RunRequest,
        id: RunId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TaskRun>> {
        fetch_opt(
            sqlx::query(&format!(
                "INSERT INTO task_runs (tenant_id, id, task_id, kind, channel_id, trigger, since, \
               state, created_at, due_at, until_at) \
             SELECT t.tenant_id, $3::uuid, t.id, t.kind, t.channel_id, $4::text, $5::timestamptz, \
                    'queued', $6::timestamptz, $7::timestamptz, $8::timestamptz \
             FROM scheduled_tasks t WHERE t.tenant_id = $1 AND t.id = $2 \
             ON CONFLICT (tenant_id, task_id) WHERE state IN ('queued', 'running') DO NOTHING \
             RETURNING {RUN_COLUMNS}"
            ))
            .bind(req.tenant_id.0)
            .bind(req.task_id.0)
            .bind(id.0)
            .bind(req.trigger.as_str())
            .bind(req.since)
            .bind(now)
            .bind(req.fire.map(|(due, _)| due))
            .bind(req.until),
            &mut *self.0,
            decode_run,
        )
        .await
    }

    async fn active_run(&mut self, req: &RunRequest) -> StoreResult<Option<TaskRun>> {
        // A new statement, a new snapshot: a run committed meanwhile is seen.
        fetch_opt(
            sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM task_runs \
             WHERE tenant_id = $1 AND task_id = $2 AND state IN ('queued', 'running')"
            ))
            .bind(req.tenant_id.0)
            .bind(req.task_id.0),
            &mut *self.0,
            decode_run,
        )
        .await
    }

    async fn task_exists(&mut self, req: &RunRequest) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM scheduled_tasks WHERE tenant_id = $1 AND id = $2)",
        )
        .bind(req.tenant_id.0)
        .bind(req.task_id.0)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)
    }

    async fn enqueue(&mut self, tenant: TenantId, job: &NewJob) -> StoreResult<()> {
        insert_jobs(&mut self.0, &[(tenant, job)]).await
    }

    async fn commit(self) -> StoreResult<()> {
        self.0.commit().await.map_err(db_err)
    }
}

#[async_trait]
impl TaskStore for PgStore {
    async fn ensure_tasks(&self, tasks: &[NewTask], now: DateTime<Utc>) -> StoreResult<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        // Concurrent instances insert the same keys in the same order: no deadlock.
        let mut rows: Vec<(&NewTask, String)> = tasks
            .iter()
            .map(|t| (t, t.kind.key(t.channel_id)))
            .collect();
        rows.sort_by(|a, b| (a.0.tenant_id, &a.1).cmp(&(b.0.tenant_id, &b.1)));
        let tenants: Vec<Uuid> = rows.iter().map(|r| r.0.tenant_id.0).collect();
        let ids: Vec<Uuid> = rows.iter().map(|_| TaskId::new().0).collect();
        let keys: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.0.kind.as_str()).collect();
        let channels: Vec<Option<Uuid>> =
            rows.iter().map(|r| r.0.channel_id.map(|c| c.0)).collect();
        let intervals: Vec<i64> = rows.iter().map(|r| r.0.interval_secs).collect();
        let next: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0.next_run_at).collect();
        let cursors: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.0.cursor).collect();
        sqlx::query(
            "INSERT INTO scheduled_tasks (tenant_id, id, key, kind, channel_id, interval_secs, \
               enabled, next_run_at, cursor, created_at) \
             SELECT t, i, k, kd, c, iv, true, n, cur, $9 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::bigint[], \
                         $7::timestamptz[], $8::timestamptz[]) AS u (t, i, k, kd, c, iv, n, cur) \
             ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(tenants)
        .bind(ids)
        .bind(keys)
        .bind(kinds)
        .bind(channels)
        .bind(intervals)
        .bind(next)
        .bind(cursors)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn tasks(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<ScheduledTask>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "{} WHERE t.tenant_id = ",
            task_select("scheduled_tasks")
        ));
        q.push_bind(tenant.0);
        if let Some(c) = channel {
            q.push(" AND t.channel_id = ").push_bind(c.0);
        }
        // Tenant tasks (no channel) first, as SQLite sorts NULLs.
        q.push(" ORDER BY t.channel_id NULLS FIRST, t.kind");
        fetch_rows(q.build(), &self.pool, decode_task).await
    }

    async fn task(&self, tenant: TenantId, task: TaskId) -> StoreResult<Option<ScheduledTask>> {
        fetch_opt(
            sqlx::query(&format!(
                "{} WHERE t.tenant_id = $1 AND t.id = $2",
                task_select("scheduled_tasks")
            ))
            .bind(tenant.0)
            .bind(task.0),
            &self.pool,
            decode_task,
        )
        .await
    }

    async fn update_task(
        &self,
        tenant: TenantId,
        task: TaskId,
        patch: &TaskPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ScheduledTask>> {
        if patch.is_empty() {
            return self.task(tenant, task).await;
        }
        // The outer query reads the updated row from the CTE (it runs on the snapshot
        // taken before the update).
        let updated = "(UPDATE scheduled_tasks SET interval_secs = COALESCE($1::bigint, interval_secs), \
             enabled = COALESCE($2::boolean, enabled), \
             next_run_at = $3::timestamptz + make_interval(secs => COALESCE($1::bigint, interval_secs)) \
             WHERE tenant_id = $4 AND id = $5 RETURNING *)";
        fetch_opt(
            sqlx::query(&format!("WITH u AS {updated} {}", task_select("u")))
                .bind(patch.interval_secs)
                .bind(patch.enabled)
                .bind(now)
                .bind(tenant.0)
                .bind(task.0),
            &self.pool,
            decode_task,
        )
        .await
    }

    async fn due_tasks(&self, now: DateTime<Utc>, n: u32) -> StoreResult<Vec<ScheduledTask>> {
        fetch_rows(
            sqlx::query(&format!(
                "{} WHERE t.enabled AND t.next_run_at <= $1 \
                 AND EXISTS (SELECT 1 FROM tenants n WHERE n.id = t.tenant_id AND n.enabled) \
                 ORDER BY t.next_run_at LIMIT $2",
                task_select("scheduled_tasks")
            ))
            .bind(now)
            .bind(i64::from(n)),
            &self.pool,
            decode_task,
        )
        .await
    }

    async fn start_run(&self, req: &RunRequest, now: DateTime<Utc>) -> StoreResult<RunStart> {
        let tx = self.pool.begin().await.map_err(db_err)?;
        task_runs::start_run(PgRunStart(tx), req, now).await
    }

    async fn begin_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TaskRun>> {
        // The job row stays locked until the statement ends: a reap waits for it.
        let sql = format!(
            "WITH j AS (SELECT 1 FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
                        FOR UPDATE) \
             UPDATE task_runs SET state = 'running', started_at = $3, counts = '{{}}'::jsonb, error = NULL \
             WHERE tenant_id = $4 AND id = $5 AND state IN ('queued', 'running') AND EXISTS (SELECT 1 FROM j) \
             RETURNING {RUN_COLUMNS}"
        );
        let q = sqlx::query(&sql)
            .bind(lease.job_id.0)
            .bind(&lease.owner)
            .bind(now)
            .bind(tenant.0)
            .bind(run.0);
        fetch_opt(q, &self.pool, decode_run).await
    }

    async fn progress_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        counts: &RunCounts,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE task_runs SET counts = $1 WHERE tenant_id = $2 AND id = $3 AND state = 'running' \
             AND EXISTS (SELECT 1 FROM jobs WHERE id = $4 AND state = 'running' AND lease_owner = $5)",
        )
        .bind(Json(counts))
        .bind(tenant.0)
        .bind(run.0)
        .bind(lease.job_id.0)
        .bind(&lease.owner)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn finish_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        end: &RunEnd,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // One statement: removing the job proves the lease; the run and the task's cursor
        // are written only if it did. A failed run's event commits with it.
        let events = ponte_store::task_runs::run_end_events(tenant, run, end, now);
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let gone: i64 = sqlx::query_scalar(
            "WITH j AS (DELETE FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
                        RETURNING 1), \
             r AS (UPDATE task_runs SET state = $3, finished_at = $4, counts = $5, error = $6 \
                   WHERE tenant_id = $7 AND id = $8 AND EXISTS (SELECT 1 FROM j) \
                   RETURNING tenant_id, task_id), \
             c AS (UPDATE scheduled_tasks s SET cursor = $9 FROM r \
                   WHERE $9::timestamptz IS NOT NULL AND s.tenant_id = r.tenant_id AND s.id = r.task_id \
                   RETURNING 1) \
             SELECT COUNT(*) FROM j",
        )
        .bind(lease.job_id.0)
        .bind(&lease.owner)
        .bind(end.state().as_str())
        .bind(now)
        .bind(Json(&end.counts))
        .bind(&end.error)
        .bind(tenant.0)
        .bind(run.0)
        .bind(end.new_cursor())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if gone == 1 {
            crate::events::write_events(&mut tx, events.as_slice()).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(gone == 1)
    }

    async fn task_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Option<TaskRun>> {
        fetch_opt(
            sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM task_runs WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant.0)
            .bind(run.0),
            &self.pool,
            decode_run,
        )
        .await
    }

    async fn task_runs(
        &self,
        tenant: TenantId,
        task: TaskId,
        page: &PageRequest,
    ) -> StoreResult<Page<TaskRun>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {RUN_COLUMNS} FROM task_runs WHERE tenant_id = "
        ));
        q.push_bind(tenant.0)
            .push(" AND task_id = ")
            .push_bind(task.0);
        newest_first(q, page, &self.pool, decode_run, |r| r.id.to_string()).await
    }

    async fn poll_gaps(&self, tenant: TenantId, channel: ChannelId) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT ((SELECT COALESCE(SUM((counts->>'gaps')::bigint), 0) FROM task_runs \
               WHERE tenant_id = $1 AND channel_id = $2) \
             + (SELECT COALESCE(SUM(pruned_gaps), 0) FROM scheduled_tasks \
               WHERE tenant_id = $1 AND channel_id = $2))::bigint",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
