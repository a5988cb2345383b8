//! ERP actions and status sends (SQLite).

use crate::codec::{from_ts, id, json, to_json, ts};
use crate::jobs::{finish_in, insert_jobs};
use crate::orders::{decode as decode_order, COLUMNS as ORDER_COLUMNS};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::action::{decide, Decision, Fulfilment};
use ponte_core::order::OrderData;
use ponte_core::{ChannelId, OrderId, SendId, TenantId};
use ponte_store::*;
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::BTreeSet;

pub(crate) const SEND_COLUMNS: &str =
    "tenant_id, id, channel_id, order_id, external_id, seq, kind, \
     action, state, attempts_used, max_attempts, error_code, error_message, created_at, updated_at";

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::Invalid(format!("stored {what} {v:?}"))
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// Decodes a `status_sends` row (without attempts).
pub(crate) fn decode_send(r: &SqliteRow) -> StoreResult<StatusSend> {
    let state: &str = r.get("state");
    let code: Option<String> = r.get("error_code");
    Ok(StatusSend {
        id: id(r.get("id"))?,
        tenant_id: id(r.get("tenant_id"))?,
        channel_id: id(r.get("channel_id"))?,
        order_id: id(r.get("order_id"))?,
        external_id: r.get("external_id"),
        seq: r.get("seq"),
        action: json(r.get("action"))?,
        state: SendState::parse(state).ok_or_else(|| bad("send state", state))?,
        attempts_used: u32_of(r.get("attempts_used")),
        max_attempts: u32_of(r.get("max_attempts")),
        last_error: code.map(|code| SendError {
            code,
            message: r
                .get::<Option<String>, _>("error_message")
                .unwrap_or_default(),
        }),
        created_at: from_ts(r.get("created_at"))?,
        updated_at: from_ts(r.get("updated_at"))?,
        attempts: vec![],
    })
}

/// Decodes a `send_attempts` row.
pub(crate) fn decode_attempt(r: &SqliteRow) -> StoreResult<SendAttempt> {
    let outcome: &str = r.get("outcome");
    Ok(SendAttempt {
        n: u32_of(r.get("n")),
        started_at: from_ts(r.get("started_at"))?,
        outcome: AttemptOutcome::parse(outcome).ok_or_else(|| bad("attempt outcome", outcome))?,
        request: r.get("request"),
        http_status: r
            .get::<Option<i64>, _>("http_status")
            .and_then(|s| u16::try_from(s).ok()),
        response: r.get("response"),
        duration_ms: r
            .get::<Option<i64>, _>("duration_ms")
            .and_then(|d| u64::try_from(d).ok()),
        error_code: r.get("error_code"),
        error: r.get("error"),
    })
}

/// The tenant of a job whose lease `lease` still holds.
async fn lease_tenant(
    conn: &mut SqliteConnection,
    lease: &JobLease,
) -> StoreResult<Option<String>> {
    sqlx::query_scalar(
        "SELECT tenant_id FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?",
    )
    .bind(lease.job_id.to_string())
    .bind(&lease.owner)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)
}

async fn note(
    conn: &mut SqliteConnection,
    send: &StatusSend,
    at: DateTime<Utc>,
    kind: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(send.tenant_id.to_string())
        .bind(send.channel_id.to_string())
        .bind(&send.external_id)
        .bind(ts(at))
        .bind(kind)
        .bind(detail.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn send_job(
    tenant: TenantId,
    channel: ChannelId,
    order: OrderId,
    now: DateTime<Utc>,
) -> (TenantId, NewJob) {
    let payload = SendJob {
        order_id: order,
        channel_id: channel,
    };
    let job = NewJob {
        kind: SEND_JOB_KIND.to_owned(),
        payload: serde_json::to_value(payload).unwrap_or_default(),
        unique_key: Some(send_job_key(channel, order)),
        run_at: now,
    };
    (tenant, job)
}

/// Marks a send failed (counting `used` more attempts) and blocks the order's later ones.
async fn fail_send(
    conn: &mut SqliteConnection,
    send: &StatusSend,
    used: i64,
    error: &SendError,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE status_sends SET state = 'failed', attempts_used = attempts_used + ?, error_code = ?, \
         error_message = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
    )
    .bind(used)
    .bind(&error.code)
    .bind(&error.message)
    .bind(ts(now))
    .bind(send.tenant_id.to_string())
    .bind(send.id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "UPDATE status_sends SET state = 'blocked', updated_at = ? \
         WHERE tenant_id = ? AND order_id = ? AND seq > ? AND state = 'pending'",
    )
    .bind(ts(now))
    .bind(send.tenant_id.to_string())
    .bind(send.order_id.to_string())
    .bind(send.seq)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn send_row(
    conn: &mut SqliteConnection,
    tenant: &str,
    send: SendId,
) -> StoreResult<Option<StatusSend>> {
    sqlx::query(&format!(
        "SELECT {SEND_COLUMNS} FROM status_sends WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(send.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(decode_send)
    .transpose()
}

async fn begin_one(
    conn: &mut SqliteConnection,
    lease: &JobLease,
    job: &SendJob,
    now: DateTime<Utc>,
) -> StoreResult<SendBegin> {
    let Some(tenant) = lease_tenant(conn, lease).await? else {
        return Ok(SendBegin::LeaseLost);
    };
    // A job enqueued while the order's job was running is a twin: the running one
    // picks up the new send when it finishes, so this one just ends.
    let twin_running: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE tenant_id = ? AND unique_key = ? AND state = 'running' AND id != ?)",
    )
    .bind(&tenant)
    .bind(send_job_key(job.channel_id, job.order_id))
    .bind(lease.job_id.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if twin_running {
        finish_in(conn, lease, &JobOutcome::Done).await?;
        return Ok(SendBegin::Idle);
    }
    let head = sqlx::query(&format!(
        "SELECT {SEND_COLUMNS} FROM status_sends WHERE tenant_id = ? AND order_id = ? \
         AND state != 'succeeded' ORDER BY seq LIMIT 1"
    ))
    .bind(&tenant)
    .bind(job.order_id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(decode_send)
    .transpose()?;
    let Some(mut send) = head.filter(|s| s.state == SendState::Pending) else {
        finish_in(conn, lease, &JobOutcome::Done).await?;
        return Ok(SendBegin::Idle);
    };
    let interrupted = SendError {
        code: "interrupted".into(),
        message: "the process stopped during the call; its result is unknown".into(),
    };
    let lost = sqlx::query(
        "UPDATE send_attempts SET outcome = 'interrupted', error_code = ?, error = ? \
         WHERE tenant_id = ? AND send_id = ? AND outcome = 'started' RETURNING n",
    )
    .bind(&interrupted.code)
    .bind(&interrupted.message)
    .bind(&tenant)
    .bind(send.id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    if !lost.is_empty() {
        let k = lost.len() as i64;
        for r in &lost {
            let n: i64 = r.get("n");
            let detail =
                json!({"send_id": send.id, "kind": send.kind(), "n": n, "outcome": "interrupted"});
            note(conn, &send, now, "status_send_attempt", detail).await?;
        }
        send.attempts_used += u32_of(k);
        if send.attempts_used >= send.max_attempts {
            fail_send(conn, &send, k, &interrupted, now).await?;
            finish_in(conn, lease, &JobOutcome::Done).await?;
            return Ok(SendBegin::Idle);
        }
        sqlx::query(
            "UPDATE status_sends SET attempts_used = attempts_used + ?, error_code = ?, error_message = ?, \
             updated_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(k)
        .bind(&interrupted.code)
        .bind(&interrupted.message)
        .bind(ts(now))
        .bind(&tenant)
        .bind(send.id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        send.last_error = Some(interrupted);
    }
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO send_attempts (tenant_id, send_id, n, started_at, outcome) \
         SELECT ?1, ?2, COALESCE(MAX(n), 0) + 1, ?3, 'started' FROM send_attempts WHERE tenant_id = ?1 AND send_id = ?2 \
         RETURNING n",
    )
    .bind(&tenant)
    .bind(send.id.to_string())
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    send.attempts = vec![SendAttempt {
        n: u32_of(n),
        started_at: now,
        outcome: AttemptOutcome::Started,
        request: None,
        http_status: None,
        response: None,
        duration_ms: None,
        error_code: None,
        error: None,
    }];
    Ok(SendBegin::Started(Box::new(send)))
}

async fn finish_one(
    conn: &mut SqliteConnection,
    f: &SendFinish,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let Some(tenant) = lease_tenant(conn, &f.lease).await? else {
        return Ok(false);
    };
    let Some(send) = send_row(conn, &tenant, f.send_id).await? else {
        return Ok(false);
    };
    let outcome = match f.outcome {
        SendOutcome::Succeeded => AttemptOutcome::Succeeded,
        SendOutcome::Retry { .. } => AttemptOutcome::Retrying,
        SendOutcome::RateLimited { .. } => AttemptOutcome::RateLimited,
        SendOutcome::Held { .. } => AttemptOutcome::Held,
        SendOutcome::Failed => AttemptOutcome::Failed,
    };
    sqlx::query(
        "UPDATE send_attempts SET outcome = ?, request = ?, http_status = ?, response = ?, duration_ms = ?, \
         error_code = ?, error = ? WHERE tenant_id = ? AND send_id = ? AND n = ?",
    )
    .bind(outcome.as_str())
    .bind(&f.request)
    .bind(f.http_status.map(i64::from))
    .bind(&f.response)
    .bind(i64::try_from(f.duration_ms).unwrap_or(i64::MAX))
    .bind(f.error.as_ref().map(|e| e.code.as_str()))
    .bind(f.error.as_ref().map(|e| e.message.as_str()))
    .bind(&tenant)
    .bind(f.send_id.to_string())
    .bind(i64::from(f.n))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let counted = i64::from(outcome.counts());
    let retry_at = |run_at: DateTime<Utc>| JobOutcome::Retry {
        run_at,
        count_attempt: false,
        error: f.error.as_ref().map(|e| e.code.clone()).unwrap_or_default(),
    };
    let job = match &f.outcome {
        SendOutcome::Failed => {
            let error = f.error.clone().unwrap_or(SendError {
                code: "failed".into(),
                message: String::new(),
            });
            fail_send(conn, &send, counted, &error, now).await?;
            JobOutcome::Done
        }
        other => {
            let state = if *other == SendOutcome::Succeeded {
                "succeeded"
            } else {
                "pending"
            };
            sqlx::query(
                "UPDATE status_sends SET state = ?, attempts_used = attempts_used + ?, error_code = ?, \
                 error_message = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
            )
            .bind(state)
            .bind(counted)
            .bind(f.error.as_ref().map(|e| e.code.as_str()))
            .bind(f.error.as_ref().map(|e| e.message.as_str()))
            .bind(ts(now))
            .bind(&tenant)
            .bind(f.send_id.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            match other {
                SendOutcome::Retry { run_at }
                | SendOutcome::RateLimited { run_at }
                | SendOutcome::Held { run_at } => retry_at(*run_at),
                _ => {
                    let more: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM status_sends WHERE tenant_id = ? AND order_id = ? AND state = 'pending')",
                    )
                    .bind(&tenant)
                    .bind(send.order_id.to_string())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    if more {
                        retry_at(now)
                    } else {
                        JobOutcome::Done
                    }
                }
            }
        }
    };
    if let JobOutcome::Retry { .. } = job {
        // A twin enqueued meanwhile must not cut the wait short (a 429's Retry-After).
        sqlx::query(
            "DELETE FROM jobs WHERE tenant_id = ? AND unique_key = ? AND state = 'pending'",
        )
        .bind(&tenant)
        .bind(send_job_key(send.channel_id, send.order_id))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    finish_in(conn, &f.lease, &job).await?;
    let detail = json!({
        "send_id": send.id, "kind": send.kind(), "n": f.n, "outcome": outcome,
        "http_status": f.http_status, "error_code": f.error.as_ref().map(|e| &e.code),
    });
    note(conn, &send, now, "status_send_attempt", detail).await?;
    Ok(true)
}

async fn apply_one(
    tx: &mut SqliteConnection,
    c: &ActionCommit,
    now: DateTime<Utc>,
) -> StoreResult<ActionApplied> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS}, external_id FROM orders WHERE tenant_id = ? AND id = ?"
    ))
    .bind(c.tenant_id.to_string())
    .bind(c.order_id.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(ActionApplied::NotFound);
    };
    let mut order = decode_order(&row)?;
    let external_id: String = row.get("external_id");
    let status = match decide(order.data.status, &order.fulfilment, &c.action) {
        Err(e) => return Ok(ActionApplied::Refused(e)),
        Ok(Decision::AlreadyDone) => return Ok(ActionApplied::AlreadyDone(Box::new(order))),
        Ok(Decision::Apply { status }) => status,
    };
    let from = order.data.status;
    order.data.status = status;
    order.fulfilment.record(c.action.clone());
    order.updated_at = now;
    let data: &OrderData = &order.data;
    let facts: &Fulfilment = &order.fulfilment;
    sqlx::query("UPDATE orders SET status = ?, data = ?, fulfilment = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
        .bind(status.as_str())
        .bind(to_json(data)?)
        .bind(to_json(facts)?)
        .bind(ts(now))
        .bind(c.tenant_id.to_string())
        .bind(c.order_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    if let Some(xml) = &c.xml {
        sqlx::query(
            "INSERT INTO order_documents (tenant_id, order_id, kind, content, created_at) VALUES (?, ?, 'nfe_xml', ?, ?) \
             ON CONFLICT (tenant_id, order_id, kind) DO UPDATE SET content = excluded.content, created_at = excluded.created_at",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.order_id.to_string())
        .bind(xml)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    let mut send = StatusSend {
        id: SendId::new(),
        tenant_id: c.tenant_id,
        channel_id: order.channel_id,
        order_id: c.order_id,
        external_id,
        seq: 0,
        action: c.action.clone(),
        state: SendState::Pending,
        attempts_used: 0,
        max_attempts: c.send_max_attempts.unwrap_or(0),
        last_error: None,
        created_at: now,
        updated_at: now,
        attempts: vec![],
    };
    let detail = json!({"action": c.action, "from": from, "to": status});
    note(tx, &send, now, "erp_action", detail).await?;
    let mut queued = None;
    if c.send_max_attempts.is_some() {
        let (seq, blocked): (i64, bool) = sqlx::query_as(
            "SELECT COALESCE(MAX(seq), 0) + 1, COALESCE(MAX(state IN ('failed', 'blocked')), 0) \
             FROM status_sends WHERE tenant_id = ? AND order_id = ?",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.order_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        send.seq = seq;
        if blocked {
            send.state = SendState::Blocked;
        }
        sqlx::query(&format!(
            "INSERT INTO status_sends ({SEND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, NULL, ?, ?)"
        ))
        .bind(c.tenant_id.to_string())
        .bind(send.id.to_string())
        .bind(send.channel_id.to_string())
        .bind(c.order_id.to_string())
        .bind(&send.external_id)
        .bind(seq)
        .bind(send.kind().as_str())
        .bind(to_json(&send.action)?)
        .bind(send.state.as_str())
        .bind(i64::from(send.max_attempts))
        .bind(ts(now))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if !blocked {
            let (t, job) = send_job(c.tenant_id, send.channel_id, c.order_id, now);
            insert_jobs(tx, &[(t, &job)]).await?;
        }
        let detail = json!({"send_id": send.id, "kind": send.kind(), "state": send.state});
        note(tx, &send, now, "status_send_queued", detail).await?;
        queued = Some(send.id);
    }
    Ok(ActionApplied::Applied {
        order: Box::new(order),
        send: queued,
    })
}

#[async_trait]
impl SendStore for SqliteStore {
    async fn apply_actions(
        &self,
        batch: &[ActionCommit],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ActionApplied>> {
        if batch.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut out = Vec::with_capacity(batch.len());
        for c in batch {
            out.push(apply_one(&mut tx, c, now).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn begin_sends(
        &self,
        jobs: &[(JobLease, SendJob)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendBegin>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut out = Vec::with_capacity(jobs.len());
        for (lease, job) in jobs {
            out.push(begin_one(&mut tx, lease, job, now).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn finish_sends(
        &self,
        batch: &[SendFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut out = Vec::with_capacity(batch.len());
        for f in batch {
            out.push(finish_one(&mut tx, f, now).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn status_sends(
        &self,
        tenant: TenantId,
        f: &SendFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StatusSend>> {
        crate::sends_list::list(&self.reader, tenant, f, page).await
    }

    async fn status_send(&self, tenant: TenantId, send: SendId) -> StoreResult<Option<StatusSend>> {
        crate::sends_list::one(&self.reader, tenant, send).await
    }

    async fn resend(
        &self,
        tenant: TenantId,
        sel: &ResendSelector,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendId>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "UPDATE status_sends SET state = 'pending', attempts_used = 0, updated_at = ",
        );
        q.push_bind(ts(now))
            .push(" WHERE tenant_id = ")
            .push_bind(tenant.to_string())
            .push(" AND state = 'failed'");
        match sel {
            ResendSelector::Ids(ids) if ids.is_empty() => return Ok(vec![]),
            ResendSelector::Ids(ids) => {
                q.push(" AND id IN (");
                let mut sep = q.separated(", ");
                for i in ids {
                    sep.push_bind(i.to_string());
                }
                q.push(")");
            }
            ResendSelector::AllFailed(ch) => {
                q.push(" AND channel_id = ").push_bind(ch.to_string());
            }
        }
        q.push(" RETURNING id, order_id, channel_id");
        let rows = q.build().fetch_all(&mut *tx).await.map_err(db_err)?;
        let mut resent = Vec::with_capacity(rows.len());
        let mut orders = BTreeSet::new();
        for r in &rows {
            resent.push(id::<SendId>(r.get("id"))?);
            orders.insert((
                id::<ChannelId>(r.get("channel_id"))?,
                id::<OrderId>(r.get("order_id"))?,
            ));
        }
        let mut jobs = Vec::with_capacity(orders.len());
        for (channel, order) in &orders {
            sqlx::query(
                "UPDATE status_sends SET state = 'pending', updated_at = ? WHERE tenant_id = ? AND order_id = ? AND state = 'blocked'",
            )
            .bind(ts(now))
            .bind(tenant.to_string())
            .bind(order.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            jobs.push(send_job(tenant, *channel, *order, now));
        }
        let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
        insert_jobs(&mut tx, &refs).await?;
        tx.commit().await.map_err(db_err)?;
        resent.sort();
        Ok(resent)
    }

    async fn wake_channel_sends(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET run_at = MIN(run_at, ?) WHERE tenant_id = ? AND state = 'pending' AND kind = ? AND unique_key LIKE ?",
        )
        .bind(ts(now))
        .bind(tenant.to_string())
        .bind(SEND_JOB_KIND)
        .bind(format!("send:{channel}:%"))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }
}
