//! Pushing prices: claiming a channel's pending prices and recording push calls (the
//! primitive of `ponte_store::price_push`).

use crate::prices::{decode_price_target, PRICE_TARGET_COLUMNS};
use crate::stock::fetch;
use crate::stock_marks::PgTx;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::price_push::{PricePushRow, PricePushTx};
use ponte_store::*;
use uuid::Uuid;

pub(crate) async fn claim(
    store: &PgStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<PriceTarget>>> {
    let mut conn = store.pool.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let me: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT j.tenant_id, EXISTS (SELECT 1 FROM jobs o WHERE o.tenant_id = j.tenant_id \
           AND o.unique_key = j.unique_key AND o.state = 'running' AND o.id < j.id) AS twin \
         FROM jobs j WHERE j.id = $1 AND j.lease_owner = $2 AND j.state = 'running' AND j.unique_key = $3",
    )
    .bind(lease.job_id.0)
    .bind(&lease.owner)
    .bind(price_job_key(channel))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let tenant = match me {
        Some((tenant, false)) => tenant,
        _ => return Ok(None),
    };
    let q = format!(
        "SELECT {PRICE_TARGET_COLUMNS} FROM price_targets \
         WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM price_targets \
           WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' ORDER BY product_id LIMIT $3) \
         ORDER BY product_id, sku"
    );
    let q = sqlx::query(&q)
        .bind(tenant)
        .bind(channel.0)
        .bind(i64::from(n));
    fetch(q, &mut *conn, decode_price_target).await.map(Some)
}

#[async_trait]
impl PricePushTx for PgTx<'_> {
    async fn write_price_push(
        &mut self,
        tenant: TenantId,
        row: &PricePushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let set = row.target_set("pt", "s.q", "$5", "$11");
        // The call, the SKUs it touched and its effect on their targets, in one statement.
        sqlx::query(&format!(
            "WITH p AS ( \
               INSERT INTO price_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
               VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11) RETURNING seq), \
             k AS ( \
               INSERT INTO price_push_skus (tenant_id, push_seq, sku) \
               SELECT $1, p.seq, u.sku FROM p, UNNEST($3::text[]) AS u (sku)) \
             UPDATE price_targets pt SET {set}, attempted_at = $5 \
             FROM UNNEST($3::text[], $4::text[]) AS s (sku, q) \
             WHERE pt.tenant_id = $1 AND pt.channel_id = $2 AND pt.sku = s.sku"
        ))
        .bind(tenant.0)
        .bind(row.record.channel_id.0)
        .bind(row.sent.keys().copied().collect::<Vec<_>>())
        .bind(row.sent.values().map(String::as_str).collect::<Vec<_>>())
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
}
