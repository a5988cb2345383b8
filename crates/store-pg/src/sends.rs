//! ERP actions and status sends: the [`SendStore`] implementation (actions and resends in
//! `sends_apply`, attempts in `sends_begin` / `sends_finish`, listings in `sends_list`),
//! waking a channel's sends, and what those modules share. Every transaction that changes
//! an order's sends first takes the order's advisory lock (the one imports take), so an
//! order's action, imports, send attempts and resends never interleave.

use crate::codec::in_table;
use crate::codec::{col, from_json};
use crate::listen::notify_jobs;
use crate::{db_err, sends_apply, sends_begin, sends_finish, sends_list, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::action::{Action, ActionKind};
use ponte_core::{ChannelId, JobId, OrderId, SendId, TenantId};
use ponte_store::send_plan::HeldJob;
use ponte_store::{
    ActionCommit, ActionsApplied, JobLease, Page, PageRequest, ResendSelector, SendBegin,
    SendError, SendFilter, SendFinish, SendJob, SendState, SendStore, StatusSend, StoreError,
    StoreResult, SEND_JOB_KIND,
};
use sqlx::postgres::{PgConnection, PgRow};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The columns [`decode_send`] reads.
pub(crate) const SEND_COLUMNS: &str = "tenant_id, id, channel_id, order_id, external_id, seq, \
     kind, action, state, attempts_used, max_attempts, error_code, error_message, created_at, updated_at";

/// A count or attempt number for an `integer` column (saturating: no real value is near).
pub(crate) fn to_db(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A stored count or attempt number; a negative one is a corrupt record.
pub(crate) fn from_db(v: i32, name: &str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: {v}")))
}

/// Decodes a send row selected with [`SEND_COLUMNS`]; `attempts` is left empty.
pub(crate) fn decode_send(r: &PgRow) -> StoreResult<StatusSend> {
    in_table("status_sends", || {
        let kind: String = col(r, "kind")?;
        let action: Action = from_json(col(r, "action")?)?;
        if ActionKind::parse(&kind) != Some(action.kind()) {
            return Err(StoreError::Corrupt(format!(
                "status send kind {kind:?} does not match its action"
            )));
        }
        let state: String = col(r, "state")?;
        let code: Option<String> = col(r, "error_code")?;
        let message: Option<String> = col(r, "error_message")?;
        Ok(StatusSend {
            id: SendId(col(r, "id")?),
            tenant_id: TenantId(col(r, "tenant_id")?),
            channel_id: ChannelId(col(r, "channel_id")?),
            order_id: OrderId(col(r, "order_id")?),
            external_id: col(r, "external_id")?,
            seq: col(r, "seq")?,
            action,
            state: SendState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("send state {state:?}")))?,
            attempts_used: from_db(col(r, "attempts_used")?, "attempts_used")?,
            max_attempts: from_db(col(r, "max_attempts")?, "max_attempts")?,
            last_error: code.map(|code| SendError {
                code,
                message: message.unwrap_or_default(),
            }),
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
            attempts: Vec::new(),
        })
    })
}

/// Serializes a value for a JSON column or detail.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Takes the advisory locks of these orders (see `orders::lock_orders`), in key order
/// so that transactions locking several orders never deadlock.
pub(crate) async fn lock_keys(conn: &mut PgConnection, mut keys: Vec<i64>) -> StoreResult<()> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock(k) FROM UNNEST($1::bigint[]) AS k")
        .bind(keys)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Takes the advisory locks of these orders that no other transaction holds, without
/// waiting: the keys it took.
pub(crate) async fn try_lock_keys(
    conn: &mut PgConnection,
    mut keys: Vec<i64>,
) -> StoreResult<HashSet<i64>> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let taken: Vec<i64> = sqlx::query_scalar(
        "SELECT k FROM UNNEST($1::bigint[]) AS k WHERE pg_try_advisory_xact_lock(k)",
    )
    .bind(keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(taken.into_iter().collect())
}

/// The advisory-lock keys of the orders in `rows` (columns `tenant_id`, `channel_id`,
/// `external_id`), the same keys imports take.
pub(crate) fn order_keys(rows: &[sqlx::postgres::PgRow]) -> StoreResult<Vec<i64>> {
    rows.iter()
        .map(|r| {
            Ok(crate::codec::order_lock_key(
                crate::codec::col(r, "tenant_id")?,
                crate::codec::col(r, "channel_id")?,
                &crate::codec::col::<String>(r, "external_id")?,
            ))
        })
        .collect()
}

/// The leases still held among `leases`, their job rows locked: each job's tenant and key.
pub(crate) async fn held_leases<'a>(
    conn: &mut PgConnection,
    leases: impl Iterator<Item = &'a JobLease>,
) -> StoreResult<HashMap<JobId, HeldJob>> {
    let (ids, owners): (Vec<Uuid>, Vec<&str>) =
        leases.map(|l| (l.job_id.0, l.owner.as_str())).unzip();
    let rows = sqlx::query(
        "SELECT j.id, j.tenant_id, j.unique_key FROM jobs j \
         JOIN UNNEST($1::uuid[], $2::text[]) AS u (id, owner) ON j.id = u.id AND j.lease_owner = u.owner \
         WHERE j.state = 'running' ORDER BY j.tenant_id, j.id FOR UPDATE OF j",
    )
    .bind(ids)
    .bind(owners)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let job = HeldJob {
                tenant: TenantId(col(r, "tenant_id")?),
                key: col(r, "unique_key")?,
            };
            Ok((JobId(col(r, "id")?), job))
        })
        .collect()
}

/// Deletes finished send jobs (their leases were checked and locked in this transaction).
pub(crate) async fn delete_jobs(
    conn: &mut PgConnection,
    jobs: &[(TenantId, JobId)],
) -> StoreResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    // By primary key: `id` alone has no index of its own.
    sqlx::query(
        "DELETE FROM jobs j USING UNNEST($1::uuid[], $2::uuid[]) AS u (t, id) \
         WHERE j.tenant_id = u.t AND j.id = u.id AND j.state = 'running'",
    )
    .bind(jobs.iter().map(|j| j.0 .0).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.1 .0).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Blocks the pending sends after each (tenant, order, seq): they wait for that failed
/// one to be resent.
pub(crate) async fn block_after(
    conn: &mut PgConnection,
    failed: &[(TenantId, OrderId, i64)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if failed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE status_sends s SET state = 'blocked', updated_at = $4 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[]) AS u (t, o, seq) \
         WHERE s.tenant_id = u.t AND s.order_id = u.o AND s.seq > u.seq AND s.state = 'pending'",
    )
    .bind(failed.iter().map(|f| f.0 .0).collect::<Vec<_>>())
    .bind(failed.iter().map(|f| f.1 .0).collect::<Vec<_>>())
    .bind(failed.iter().map(|f| f.2).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Writes sends' state, attempts used and last error with one statement.
pub(crate) async fn write_sends(conn: &mut PgConnection, sends: &[StatusSend]) -> StoreResult<()> {
    if sends.is_empty() {
        return Ok(());
    }
    let error = |s: &StatusSend| s.last_error.clone();
    sqlx::query(
        "UPDATE status_sends s SET state = u.state, attempts_used = u.used, error_code = u.code, \
           error_message = u.msg, updated_at = u.at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[], \
           $7::timestamptz[]) AS u (t, id, state, used, code, msg, at) \
         WHERE s.tenant_id = u.t AND s.id = u.id",
    )
    .bind(sends.iter().map(|s| s.tenant_id.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.id.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.state.as_str()).collect::<Vec<_>>())
    .bind(
        sends
            .iter()
            .map(|s| to_db(s.attempts_used))
            .collect::<Vec<_>>(),
    )
    .bind(
        sends
            .iter()
            .map(|s| error(s).map(|e| e.code))
            .collect::<Vec<_>>(),
    )
    .bind(
        sends
            .iter()
            .map(|s| error(s).map(|e| e.message))
            .collect::<Vec<_>>(),
    )
    .bind(sends.iter().map(|s| s.updated_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn wake_channel_sends(
    store: &PgStore,
    tenant: TenantId,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    let woken = sqlx::query(
        "UPDATE jobs SET run_at = LEAST(run_at, $1) \
         WHERE tenant_id = $2 AND state = 'pending' AND kind = $3 AND unique_key LIKE $4",
    )
    .bind(now)
    .bind(tenant.0)
    .bind(SEND_JOB_KIND)
    .bind(format!("send:{channel}:%"))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if woken > 0 {
        notify_jobs(&mut tx, Some(SEND_JOB_KIND)).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(woken)
}

#[async_trait]
impl SendStore for PgStore {
    async fn apply_actions_and_start(
        &self,
        batch: &[ActionCommit],
        now: DateTime<Utc>,
        start: Option<&ponte_store::claim::StartSends<'_>>,
    ) -> StoreResult<ActionsApplied> {
        sends_apply::apply_actions(&self.pool, batch, now, start).await
    }

    async fn claim_work(
        &self,
        req: &ponte_store::claim::ClaimRequest<'_>,
        budgets: &HashMap<ChannelId, ponte_store::claim::Budget>,
    ) -> StoreResult<ponte_store::claim::Claimed> {
        crate::claim::claim(self, req, budgets).await
    }

    async fn begin_sends(
        &self,
        jobs: &[(JobLease, SendJob)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendBegin>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = sends_begin::begin_in(&mut tx, jobs, now, true).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out
            .into_iter()
            .map(|b| b.unwrap_or(SendBegin::LeaseLost))
            .collect())
    }

    async fn finish_sends(
        &self,
        batch: &[SendFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>> {
        sends_finish::finish_sends(&self.pool, batch, now).await
    }

    async fn status_sends(
        &self,
        tenant: TenantId,
        filter: &SendFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StatusSend>> {
        sends_list::status_sends(&self.pool, tenant, filter, page).await
    }

    async fn status_send(&self, tenant: TenantId, id: SendId) -> StoreResult<Option<StatusSend>> {
        sends_list::status_send(&self.pool, tenant, id).await
    }

    async fn invoice_xml(&self, tenant: TenantId, order: OrderId) -> StoreResult<Option<String>> {
        sqlx::query_scalar(
            "SELECT content FROM order_documents WHERE tenant_id = $1 AND order_id = $2 AND kind = 'nfe_xml'",
        )
        .bind(tenant.0)
        .bind(order.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn resend(
        &self,
        tenant: TenantId,
        selector: &ResendSelector,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendId>> {
        sends_apply::resend(&self.pool, tenant, selector, now).await
    }

    async fn wake_channel_sends(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        wake_channel_sends(self, tenant, channel, now).await
    }
}
