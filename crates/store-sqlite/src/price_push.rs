//! Pushing prices: claiming a channel's pending prices and recording push calls (the
//! primitive of `ponte_store::price_push`).

use crate::codec::{to_json, ts};
use crate::prices::{decode_price_target, PRICE_TARGET_COLUMNS};
use crate::stock::fetch;
use crate::stock_marks::SqliteTx;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::price_push::{PricePushRow, PricePushTx};
use ponte_store::*;
use sqlx::{QueryBuilder, Sqlite};

pub(crate) async fn claim(
    store: &SqliteStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<PriceTarget>>> {
    let mut conn = store.writer.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let (mine, others): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(id = ?1 AND lease_owner = ?2), 0), COALESCE(SUM(id < ?1), 0) \
         FROM jobs WHERE unique_key = ?3 AND state = 'running'",
    )
    .bind(lease.job_id.to_string())
    .bind(&lease.owner)
    .bind(price_job_key(channel))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if mine != 1 || others > 0 {
        return Ok(None);
    }
    let q = format!(
        "SELECT {PRICE_TARGET_COLUMNS} FROM price_targets WHERE channel_id = ?1 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM price_targets \
           WHERE channel_id = ?1 AND state = 'pending' ORDER BY product_id LIMIT ?2) \
         ORDER BY product_id, sku"
    );
    let q = sqlx::query(&q).bind(channel.to_string()).bind(i64::from(n));
    fetch(q, &mut *conn, decode_price_target).await.map(Some)
}

#[async_trait]
impl PricePushTx for SqliteTx<'_> {
    async fn write_price_push(
        &mut self,
        tenant: TenantId,
        row: &PricePushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let p = row.record;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO price_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(tenant.to_string())
        .bind(p.channel_id.to_string())
        .bind(ts(now))
        .bind(&p.request)
        .bind(to_json(&row.items)?)
        .bind(p.http_status.map(i64::from))
        .bind(row.duration_ms)
        .bind(row.outcome)
        .bind(row.error)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        if row.sent.is_empty() {
            return Ok(());
        }
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT OR IGNORE INTO price_push_skus (tenant_id, push_seq, sku) ");
        q.push_values(row.sent.keys(), |mut b, sku| {
            b.push_bind(tenant.to_string())
                .push_bind(seq)
                .push_bind(*sku);
        });
        q.build().execute(&mut *self.0).await.map_err(db_err)?;
        let set = row.target_set("price_targets", "s.q", "?", "?");
        let sql = format!(
            "UPDATE price_targets SET {set}, attempted_at = ? FROM (SELECT json_extract(value, '$[0]') AS sku, \
             json_extract(value, '$[1]') AS q FROM json_each(?)) s \
             WHERE price_targets.tenant_id = ? AND price_targets.channel_id = ? AND price_targets.sku = s.sku"
        );
        let q = sqlx::query(&sql);
        let q = match row.error {
            None => q.bind(ts(now)),
            Some(e) => q.bind(e.to_owned()),
        };
        q.bind(ts(now))
            .bind(to_json(&row.sent.iter().collect::<Vec<_>>())?)
            .bind(tenant.to_string())
            .bind(p.channel_id.to_string())
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
