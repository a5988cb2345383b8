//! Scheduled tasks and their runs (the rules are `ponte_store::task_runs`'s).

use crate::codec::in_table;
use crate::codec::{
    col, fetch_opt, fetch_rows, from_opt_ts, from_ts, id, json, newest_first, pow2_chunks, to_json,
    ts,
};
use crate::jobs::insert_jobs;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, RunId, TaskId, TenantId};
use ponte_store::rows::parse_stored;
use ponte_store::task_runs::{self, RunStartTx};
use ponte_store::{
    JobLease, NewJob, NewTask, Page, PageRequest, RunCounts, RunEnd, RunRequest, RunStart,
    RunState, RunTrigger, ScheduledTask, StoreResult, TaskKind, TaskPatch, TaskRun, TaskStore,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};

const RUN_COLUMNS: &str = "tenant_id, id, task_id, kind, channel_id, trigger, since, state, \
                           due_at, created_at, started_at, finished_at, counts, error, until_at";

/// Tasks with their latest run (run columns prefixed `r_`).
const TASK_SELECT: &str = "SELECT t.tenant_id, t.id, t.kind, t.channel_id, t.interval_secs, t.enabled, \
     t.next_run_at, t.cursor, r.id AS r_id, r.trigger AS r_trigger, r.since AS r_since, r.until_at AS r_until_at, \
     r.state AS r_state, r.due_at AS r_due_at, r.created_at AS r_created_at, r.started_at AS r_started_at, \
     r.finished_at AS r_finished_at, r.counts AS r_counts, r.error AS r_error \
     FROM scheduled_tasks t LEFT JOIN task_runs r ON r.tenant_id = t.tenant_id AND r.id = \
     (SELECT x.id FROM task_runs x WHERE x.tenant_id = t.tenant_id AND x.task_id = t.id ORDER BY x.id DESC LIMIT 1)";

fn kind(s: &str) -> StoreResult<TaskKind> {
    parse_stored("task kind", s, TaskKind::parse)
}

/// The run columns of a row, prefixed `p`, of the given task.
fn run_of(
    r: &SqliteRow,
    p: &str,
    tenant_id: TenantId,
    task_id: TaskId,
    kind: TaskKind,
    channel_id: Option<ChannelId>,
) -> StoreResult<TaskRun> {
    let trigger: &str = col(r, &format!("{p}trigger"))?;
    let state: &str = col(r, &format!("{p}state"))?;
    Ok(TaskRun {
        tenant_id,
        id: id(col(r, &format!("{p}id"))?)?,
        task_id,
        kind,
        channel_id,
        trigger: parse_stored("run trigger", trigger, RunTrigger::parse)?,
        since: from_opt_ts(col(r, &format!("{p}since"))?)?,
        until: from_opt_ts(col(r, &format!("{p}until_at"))?)?,
        state: parse_stored("run state", state, RunState::parse)?,
        due_at: from_opt_ts(col(r, &format!("{p}due_at"))?)?,
        created_at: from_ts(col(r, &format!("{p}created_at"))?)?,
        started_at: from_opt_ts(col(r, &format!("{p}started_at"))?)?,
        finished_at: from_opt_ts(col(r, &format!("{p}finished_at"))?)?,
        counts: json(col(r, &format!("{p}counts"))?)?,
        error: col(r, &format!("{p}error"))?,
    })
}

/// Decodes a run selected with [`RUN_COLUMNS`].
fn decode_run(r: &SqliteRow) -> StoreResult<TaskRun> {
    in_table("task_runs", || {
        run_of(
            r,
            "",
            id(col(r, "tenant_id")?)?,
            id(col(r, "task_id")?)?,
            kind(col(r, "kind")?)?,
            col::<Option<&str>>(r, "channel_id")?.map(id).transpose()?,
        )
    })
}

/// Decodes a task selected with [`TASK_SELECT`].
fn decode_task(r: &SqliteRow) -> StoreResult<ScheduledTask> {
    in_table("scheduled_tasks", || {
        let tenant_id = id(col(r, "tenant_id")?)?;
        let task_id = id(col(r, "id")?)?;
        let task_kind = kind(col(r, "kind")?)?;
        let channel_id = col::<Option<&str>>(r, "channel_id")?.map(id).transpose()?;
        let last_run = match col::<Option<&str>>(r, "r_id")? {
            Some(_) => Some(run_of(r, "r_", tenant_id, task_id, task_kind, channel_id)?),
            None => None,
        };
        Ok(ScheduledTask {
            tenant_id,
            id: task_id,
            kind: task_kind,
            channel_id,
            interval_secs: col(r, "interval_secs")?,
            enabled: col::<i64>(r, "enabled")? != 0,
            next_run_at: from_ts(col(r, "next_run_at")?)?,
            cursor: from_opt_ts(col(r, "cursor")?)?,
            last_run,
        })
    })
}

/// Starting a run ([`task_runs::start_run`]) in the one writer's transaction.
struct SqliteRunStart(Transaction<'static, Sqlite>);

#[async_trait]
impl RunStartTx for SqliteRunStart {
    async fn fire(
        &mut self,
        req: &RunRequest,
        expected: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let moved = sqlx::query(
            "UPDATE scheduled_tasks SET next_run_at = ? \
             WHERE tenant_id = ? AND id = ? AND next_run_at = ? AND enabled = 1",
        )
        .bind(ts(next))
        .bind(req.tenant_id.to_string())
        .bind(req.task_id.to_string())
        .bind(ts(expected))
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(moved.rows_affected() == 1)
    }

    async fn insert_run(
        &mut self,
        req: &RunRequest,
        run: RunId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TaskRun>> {
        fetch_opt(
            sqlx::query(&format!(
                "INSERT INTO task_runs (tenant_id, id, task_id, kind, channel_id, trigger, since, \
               state, created_at, due_at, until_at) \
             SELECT t.tenant_id, ?3, t.id, t.kind, t.channel_id, ?4, ?5, 'queued', ?6, ?7, ?8 \
             FROM scheduled_tasks t WHERE t.tenant_id = ?1 AND t.id = ?2 \
             ON CONFLICT (tenant_id, task_id) WHERE state IN ('queued', 'running') DO NOTHING \
             RETURNING {RUN_COLUMNS}"
            ))
            .bind(req.tenant_id.to_string())
            .bind(req.task_id.to_string())
            .bind(run.to_string())
            .bind(req.trigger.as_str())
            .bind(req.since.map(ts))
            .bind(ts(now))
            .bind(req.fire.map(|(due, _)| ts(due)))
            .bind(req.until.map(ts)),
            &mut *self.0,
            decode_run,
        )
        .await
    }

    async fn active_run(&mut self, req: &RunRequest) -> StoreResult<Option<TaskRun>> {
        fetch_opt(
            sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM task_runs \
             WHERE tenant_id = ? AND task_id = ? AND state IN ('queued', 'running')"
            ))
            .bind(req.tenant_id.to_string())
            .bind(req.task_id.to_string()),
            &mut *self.0,
            decode_run,
        )
        .await
    }

    async fn task_exists(&mut self, req: &RunRequest) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM scheduled_tasks WHERE tenant_id = ? AND id = ?)",
        )
        .bind(req.tenant_id.to_string())
        .bind(req.task_id.to_string())
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

/// Whether `lease` still holds its job.
async fn holds(conn: &mut SqliteConnection, lease: &JobLease) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?",
    )
    .bind(lease.job_id.to_string())
    .bind(&lease.owner)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(n == 1)
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn ensure_tasks(&self, tasks: &[NewTask], now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        for chunk in pow2_chunks(tasks) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO scheduled_tasks (tenant_id, id, key, kind, channel_id, interval_secs, \
                 enabled, next_run_at, cursor, created_at) ",
            );
            q.push_values(chunk, |mut b, t| {
                b.push_bind(t.tenant_id.to_string())
                    .push_bind(TaskId::new().to_string())
                    .push_bind(t.kind.key(t.channel_id))
                    .push_bind(t.kind.as_str())
                    .push_bind(t.channel_id.map(|c| c.to_string()))
                    .push_bind(t.interval_secs)
                    .push_bind(1i64)
                    .push_bind(ts(t.next_run_at))
                    .push_bind(t.cursor.map(ts))
                    .push_bind(ts(now));
            });
            q.push(" ON CONFLICT (tenant_id, key) DO NOTHING");
            q.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn tasks(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<ScheduledTask>> {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("{TASK_SELECT} WHERE t.tenant_id = "));
        q.push_bind(tenant.to_string());
        if let Some(c) = channel {
            q.push(" AND t.channel_id = ").push_bind(c.to_string());
        }
        q.push(" ORDER BY t.channel_id, t.kind");
        fetch_rows(q.build(), &self.reader, decode_task).await
    }

    async fn task(&self, tenant: TenantId, task: TaskId) -> StoreResult<Option<ScheduledTask>> {
        fetch_opt(
            sqlx::query(&format!("{TASK_SELECT} WHERE t.tenant_id = ? AND t.id = ?"))
                .bind(tenant.to_string())
                .bind(task.to_string()),
            &self.writer,
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
        if !patch.is_empty() {
            sqlx::query(
                "UPDATE scheduled_tasks SET interval_secs = COALESCE(?1, interval_secs), \
                 enabled = COALESCE(?2, enabled), \
                 next_run_at = ?3 + COALESCE(?1, interval_secs) * 1000000 \
                 WHERE tenant_id = ?4 AND id = ?5",
            )
            .bind(patch.interval_secs)
            .bind(patch.enabled.map(i64::from))
            .bind(ts(now))
            .bind(tenant.to_string())
            .bind(task.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        }
        self.task(tenant, task).await
    }

    async fn due_tasks(&self, now: DateTime<Utc>, n: u32) -> StoreResult<Vec<ScheduledTask>> {
        let sql = format!(
            "{TASK_SELECT} WHERE t.enabled = 1 AND t.next_run_at <= ? \
             AND EXISTS (SELECT 1 FROM tenants n WHERE n.id = t.tenant_id AND n.enabled = 1) \
             ORDER BY t.next_run_at LIMIT ?"
        );
        let q = sqlx::query(&sql).bind(ts(now)).bind(i64::from(n));
        fetch_rows(q, &self.reader, decode_task).await
    }

    async fn start_run(&self, req: &RunRequest, now: DateTime<Utc>) -> StoreResult<RunStart> {
        let tx = self.writer.begin().await.map_err(db_err)?;
        task_runs::start_run(SqliteRunStart(tx), req, now).await
    }

    async fn begin_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TaskRun>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        if !holds(&mut tx, lease).await? {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "UPDATE task_runs SET state = 'running', started_at = ?, counts = '{{}}', error = NULL \
             WHERE tenant_id = ? AND id = ? AND state IN ('queued', 'running') RETURNING {RUN_COLUMNS}"
        ))
        .bind(ts(now))
        .bind(tenant.to_string())
        .bind(run.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        row.as_ref().map(decode_run).transpose()
    }

    async fn progress_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        counts: &RunCounts,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE task_runs SET counts = ? WHERE tenant_id = ? AND id = ? AND state = 'running' \
             AND EXISTS (SELECT 1 FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?)",
        )
        .bind(to_json(counts)?)
        .bind(tenant.to_string())
        .bind(run.to_string())
        .bind(lease.job_id.to_string())
        .bind(&lease.owner)
        .execute(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let gone =
            sqlx::query("DELETE FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?")
                .bind(lease.job_id.to_string())
                .bind(&lease.owner)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        if gone.rows_affected() != 1 {
            return Ok(false);
        }
        let task: Option<String> = sqlx::query_scalar(
            "UPDATE task_runs SET state = ?, finished_at = ?, counts = ?, error = ? \
             WHERE tenant_id = ? AND id = ? RETURNING task_id",
        )
        .bind(end.state().as_str())
        .bind(ts(now))
        .bind(to_json(&end.counts)?)
        .bind(&end.error)
        .bind(tenant.to_string())
        .bind(run.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let (Some(task), Some(cursor)) = (task, end.new_cursor()) {
            sqlx::query("UPDATE scheduled_tasks SET cursor = ? WHERE tenant_id = ? AND id = ?")
                .bind(ts(cursor))
                .bind(tenant.to_string())
                .bind(task)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let events = ponte_store::task_runs::run_end_events(tenant, run, end, now);
        crate::events::write_events(&mut tx, events.as_slice()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn task_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Option<TaskRun>> {
        fetch_opt(
            sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM task_runs WHERE tenant_id = ? AND id = ?"
            ))
            .bind(tenant.to_string())
            .bind(run.to_string()),
            &self.reader,
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {RUN_COLUMNS} FROM task_runs WHERE tenant_id = "
        ));
        q.push_bind(tenant.to_string())
            .push(" AND task_id = ")
            .push_bind(task.to_string());
        newest_first(q, page, &self.reader, decode_run, |r| r.id.to_string()).await
    }

    async fn poll_gaps(&self, tenant: TenantId, channel: ChannelId) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COALESCE(SUM(json_extract(counts, '$.gaps')), 0) FROM task_runs \
               WHERE tenant_id = ?1 AND channel_id = ?2) \
             + (SELECT COALESCE(SUM(pruned_gaps), 0) FROM scheduled_tasks \
               WHERE tenant_id = ?1 AND channel_id = ?2)",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
