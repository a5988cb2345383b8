//! Pushing stock: claiming a channel's pending values, recording push calls and their
//! effect on the targets (the primitive of `ponte_store::stock_push`), and the push
//! history.

use crate::codec::in_table;
use crate::codec::{col, limit};
use crate::stock::{decode_target, fetch, TARGET_COLUMNS};
use crate::stock_marks::PgTx;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_plan::keyset_page;
use ponte_store::stock_push::{push_cursor, PushHistory, PushRow, PushTx};
use ponte_store::*;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

pub(crate) async fn claim(
    store: &PgStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<StockTarget>>> {
    let mut conn = store.pool.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let me: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT j.tenant_id, EXISTS (SELECT 1 FROM jobs o WHERE o.tenant_id = j.tenant_id \
           AND o.unique_key = j.unique_key AND o.state = 'running' AND o.id < j.id) AS twin \
         FROM jobs j WHERE j.id = $1 AND j.lease_owner = $2 AND j.state = 'running' AND j.unique_key = $3",
    )
    .bind(lease.job_id.0)
    .bind(&lease.owner)
    .bind(stock_job_key(channel))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let tenant = match me {
        Some((tenant, false)) => tenant,
        _ => return Ok(None),
    };
    let q = format!(
        "SELECT {TARGET_COLUMNS} FROM stock_targets \
         WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM stock_targets \
           WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' ORDER BY product_id LIMIT $3) \
         ORDER BY product_id, sku"
    );
    let q = sqlx::query(&q)
        .bind(tenant)
        .bind(channel.0)
        .bind(i64::from(n));
    fetch(q, &mut *conn, decode_target).await.map(Some)
}

#[async_trait]
impl PushTx for PgTx<'_> {
    async fn write_push(
        &mut self,
        tenant: TenantId,
        row: &PushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let set = row.target_set("st", "s.q", "$5", "$11");
        // The call, the SKUs it touched and its effect on their targets, in one statement.
        sqlx::query(&format!(
            "WITH p AS ( \
               INSERT INTO stock_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
               VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11) RETURNING seq), \
             k AS ( \
               INSERT INTO stock_push_skus (tenant_id, push_seq, sku) \
               SELECT $1, p.seq, u.sku FROM p, UNNEST($3::text[]) AS u (sku)) \
             UPDATE stock_targets st SET {set} \
             FROM UNNEST($3::text[], $4::bigint[]) AS s (sku, q) \
             WHERE st.tenant_id = $1 AND st.channel_id = $2 AND st.sku = s.sku"
        ))
        .bind(tenant.0)
        .bind(row.record.channel_id.0)
        .bind(row.sent.keys().copied().collect::<Vec<_>>())
        .bind(row.sent.values().copied().collect::<Vec<_>>())
        .bind(now)
        .bind(&row.record.request)
        .bind(&row.items)
        .bind(row.record.http_status.map(i32::from))
        .bind(row.duration_ms)
        .bind(row.outcome)
        .bind(row.error)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn write_events(&mut self, events: &[ponte_store::NewEvent]) -> StoreResult<()> {
        crate::events::write_events(self.0, events).await
    }
}

/// A page of a push history (stock's or prices').
pub(crate) async fn list(
    history: PushHistory,
    store: &PgStore,
    tenant: TenantId,
    channel: Option<ChannelId>,
    sku: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<StockPush>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT p.seq, p.channel_id, p.at, p.request, p.items, p.http_status, p.duration_ms, p.outcome, p.error FROM ",
    );
    q.push(history.calls_table())
        .push(" p WHERE p.tenant_id = ");
    q.push_bind(tenant.0);
    if let Some(c) = channel {
        q.push(" AND p.channel_id = ").push_bind(c.0);
    }
    if let Some(s) = sku {
        q.push(" AND p.seq IN (SELECT push_seq FROM ")
            .push(history.skus_table())
            .push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND sku = ")
            .push_bind(s.to_owned())
            .push(")");
    }
    if let Some(c) = &page.cursor {
        q.push(" AND p.seq < ").push_bind(push_cursor(c)?);
    }
    let n = limit(page.limit);
    q.push(" ORDER BY p.seq DESC LIMIT ").push_bind(n);
    let items = fetch(q.build(), &store.pool, |r| {
        in_table(history.calls_table(), || {
            Ok(StockPush {
                seq: col(r, "seq")?,
                channel_id: ChannelId(col(r, "channel_id")?),
                at: col(r, "at")?,
                request: col(r, "request")?,
                items: col(r, "items")?,
                http_status: col::<Option<i32>>(r, "http_status")?
                    .and_then(|s| u16::try_from(s).ok()),
                duration_ms: u64::try_from(col::<i64>(r, "duration_ms")?).unwrap_or(0),
                outcome: col(r, "outcome")?,
                error: col(r, "error")?,
            })
        })
    })
    .await?;
    Ok(keyset_page(items, n, |p| p.seq.to_string()))
}
