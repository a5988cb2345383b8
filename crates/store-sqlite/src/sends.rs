//! ERP actions and status sends (SQLite).

use crate::codec::in_table;
use crate::codec::{col, from_ts, id, json, ts};
use crate::jobs::insert_jobs;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, JobId, OrderId, SendId, TenantId};
use ponte_store::claim::StartSends;
use ponte_store::send_plan::send_job;
use ponte_store::*;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeSet;

/// The `status_sends` columns [`decode_send`] reads.
pub(crate) const SEND_COLUMNS: &str =
    "tenant_id, id, channel_id, order_id, external_id, seq, kind, \
     action, state, attempts_used, max_attempts, error_code, error_message, created_at, updated_at";

/// A stored value this code does not know.
fn bad(what: &str, v: &str) -> StoreError {
    StoreError::Invalid(format!("stored {what} {v:?}"))
}

/// A stored count as `u32` (0 when out of range).
pub(crate) fn u32_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// Decodes a `status_sends` row (without attempts).
pub(crate) fn decode_send(r: &SqliteRow) -> StoreResult<StatusSend> {
    in_table("status_sends", || {
        let state: &str = col(r, "state")?;
        let code: Option<String> = col(r, "error_code")?;
        Ok(StatusSend {
            id: id(col(r, "id")?)?,
            tenant_id: id(col(r, "tenant_id")?)?,
            channel_id: id(col(r, "channel_id")?)?,
            order_id: id(col(r, "order_id")?)?,
            external_id: col(r, "external_id")?,
            seq: col(r, "seq")?,
            action: json(col(r, "action")?)?,
            state: SendState::parse(state).ok_or_else(|| bad("send state", state))?,
            attempts_used: u32_of(col(r, "attempts_used")?),
            max_attempts: u32_of(col(r, "max_attempts")?),
            last_error: match code {
                Some(code) => Some(SendError {
                    code,
                    message: col::<Option<String>>(r, "error_message")?.unwrap_or_default(),
                }),
                None => None,
            },
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
            attempts: vec![],
        })
    })
}

/// Decodes a `send_attempts` row.
pub(crate) fn decode_attempt(r: &SqliteRow) -> StoreResult<SendAttempt> {
    in_table("send_attempts", || {
        let outcome: &str = col(r, "outcome")?;
        Ok(SendAttempt {
            n: u32_of(col(r, "n")?),
            started_at: from_ts(col(r, "started_at")?)?,
            outcome: AttemptOutcome::parse(outcome)
                .ok_or_else(|| bad("attempt outcome", outcome))?,
            request: col(r, "request")?,
            http_status: col::<Option<i64>>(r, "http_status")?.and_then(|s| u16::try_from(s).ok()),
            response: col(r, "response")?,
            duration_ms: col::<Option<i64>>(r, "duration_ms")?.and_then(|d| u64::try_from(d).ok()),
            error_code: col(r, "error_code")?,
            error: col(r, "error")?,
        })
    })
}

/// Rows for a statement that reads them with `json_each(?)`: one JSON array per row,
/// its fields read as `value->>0`, `value->>1`, ... (one SQL text for any batch size).
pub(crate) fn json_rows(rows: Vec<Value>) -> String {
    Value::Array(rows).to_string()
}

/// Writes sends' state, attempts used and last error with one statement.
pub(crate) async fn write_sends(
    conn: &mut SqliteConnection,
    sends: &[StatusSend],
) -> StoreResult<()> {
    if sends.is_empty() {
        return Ok(());
    }
    let rows = sends
        .iter()
        .map(|s| {
            let e = s.last_error.as_ref();
            json!([
                s.tenant_id,
                s.id,
                s.state.as_str(),
                s.attempts_used,
                e.map(|e| &e.code),
                e.map(|e| &e.message),
                ts(s.updated_at)
            ])
        })
        .collect();
    sqlx::query(
        "WITH v(t, i, st, u, c, m, at) AS (SELECT value->>0, value->>1, value->>2, value->>3, value->>4, \
         value->>5, value->>6 FROM json_each(?1)) \
         UPDATE status_sends SET state = v.st, attempts_used = v.u, error_code = v.c, error_message = v.m, \
         updated_at = v.at FROM v WHERE status_sends.tenant_id = v.t AND status_sends.id = v.i",
    )
    .bind(json_rows(rows))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Blocks the pending sends after each (tenant, order, seq): they wait for that failed
/// one to be resent.
pub(crate) async fn block_after(
    conn: &mut SqliteConnection,
    failed: &[(TenantId, OrderId, i64)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if failed.is_empty() {
        return Ok(());
    }
    let rows = failed
        .iter()
        .map(|(t, o, seq)| json!([t, o, seq]))
        .collect();
    sqlx::query(
        "UPDATE status_sends SET state = 'blocked', updated_at = ?2 \
         FROM (SELECT value->>0 AS t, value->>1 AS o, value->>2 AS seq FROM json_each(?1)) AS v \
         WHERE status_sends.tenant_id = v.t AND status_sends.order_id = v.o \
         AND status_sends.seq > v.seq AND status_sends.state = 'pending'",
    )
    .bind(json_rows(rows))
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Deletes jobs with one statement.
pub(crate) async fn delete_jobs(
    conn: &mut SqliteConnection,
    jobs: &[(TenantId, JobId)],
) -> StoreResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let rows = jobs.iter().map(|(t, i)| json!([t, i])).collect();
    sqlx::query(
        "DELETE FROM jobs WHERE (tenant_id, id) IN (SELECT value->>0, value->>1 FROM json_each(?1))",
    )
    .bind(json_rows(rows))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Applies a batch of actions and their effects on stock inside the caller's
/// transaction, starting the sends it queues with `start`.
async fn apply_in(
    conn: &mut SqliteConnection,
    batch: &[ActionCommit],
    now: DateTime<Utc>,
    start: Option<&StartSends<'_>>,
) -> StoreResult<ActionsApplied> {
    let out = crate::sends_apply::apply_actions(&mut *conn, batch, now, start).await?;
    let touched: Vec<_> = out
        .applied
        .iter()
        .filter_map(|a| match a {
            ActionApplied::Applied { order, .. } => Some((order.tenant_id, order.id)),
            _ => None,
        })
        .collect();
    crate::stock_orders::apply_order_effects(conn, &touched, now).await?;
    Ok(out)
}

#[async_trait]
impl SendStore for SqliteStore {
    async fn apply_actions_and_start(
        &self,
        batch: &[ActionCommit],
        now: DateTime<Utc>,
        start: Option<&StartSends<'_>>,
    ) -> StoreResult<ActionsApplied> {
        if batch.is_empty() {
            return Ok(ActionsApplied::default());
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out = apply_in(&mut tx, batch, now, start).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn finish_and_apply(
        &self,
        finishes: &[SendFinish],
        batch: &[ActionCommit],
        now: DateTime<Utc>,
        start: Option<&StartSends<'_>>,
    ) -> StoreResult<(Vec<bool>, ActionsApplied)> {
        if finishes.is_empty() && batch.is_empty() {
            return Ok(Default::default());
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let finished = if finishes.is_empty() {
            vec![]
        } else {
            crate::sends_finish::finish_sends(&mut tx, finishes, now).await?
        };
        let applied = if batch.is_empty() {
            ActionsApplied::default()
        } else {
            apply_in(&mut tx, batch, now, start).await?
        };
        tx.commit().await.map_err(db_err)?;
        Ok((finished, applied))
    }

    async fn claim_work(
        &self,
        req: &ponte_store::claim::ClaimRequest<'_>,
        budgets: &std::collections::HashMap<ChannelId, ponte_store::claim::Budget>,
    ) -> StoreResult<ponte_store::claim::Claimed> {
        crate::claim::claim(self, req, budgets).await
    }

    async fn begin_sends(
        &self,
        jobs: &[(JobLease, SendJob)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendBegin>> {
        if jobs.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out = crate::sends_begin::begin_sends(&mut tx, jobs, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn finish_sends(
        &self,
        batch: &[SendFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>> {
        if batch.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out = crate::sends_finish::finish_sends(&mut tx, batch, now).await?;
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

    async fn invoice_xml(&self, tenant: TenantId, order: OrderId) -> StoreResult<Option<String>> {
        sqlx::query_scalar(
            "SELECT content FROM order_documents WHERE tenant_id = ? AND order_id = ? AND kind = 'nfe_xml'",
        )
        .bind(tenant.to_string())
        .bind(order.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)
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
            resent.push(id::<SendId>(col(r, "id")?)?);
            orders.insert((
                id::<ChannelId>(col(r, "channel_id")?)?,
                id::<OrderId>(col(r, "order_id")?)?,
            ));
        }
        let mut jobs = Vec::with_capacity(orders.len());
        for (channel, order) in &orders {
            sqlx::query(
                "UPDATE status_sends SET state = 'pending', updated_at = ?1 WHERE tenant_id = ?2 AND order_id = ?3 \
                 AND state = 'blocked' AND NOT EXISTS (SELECT 1 FROM status_sends f WHERE f.tenant_id = ?2 \
                 AND f.order_id = ?3 AND f.state = 'failed')",
            )
            .bind(ts(now))
            .bind(tenant.to_string())
            .bind(order.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            jobs.push((tenant, send_job(*channel, *order, now)));
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
