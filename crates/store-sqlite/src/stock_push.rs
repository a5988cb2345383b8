//! Pushing stock: claiming a channel's pending values, recording push calls and their
//! effect on the targets (the primitive of `ponte_store::stock_push`), and the push
//! history.

use crate::codec::in_table;
use crate::codec::{col, from_ts, id, limit, to_json, ts};
use crate::stock::{decode_target, fetch, TARGET_COLUMNS};
use crate::stock_marks::SqliteTx;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_plan::keyset_page;
use ponte_store::stock_push::{push_cursor, PushHistory, PushRow, PushTx};
use ponte_store::*;
use sqlx::{QueryBuilder, Sqlite};

pub(crate) async fn claim(
    store: &SqliteStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<StockTarget>>> {
    let mut conn = store.writer.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let (mine, others): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(id = ?1 AND lease_owner = ?2), 0), COALESCE(SUM(id < ?1), 0) \
         FROM jobs WHERE unique_key = ?3 AND state = 'running'",
    )
    .bind(lease.job_id.to_string())
    .bind(&lease.owner)
    .bind(stock_job_key(channel))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if mine != 1 || others > 0 {
        return Ok(None);
    }
    let q = format!(
        "SELECT {TARGET_COLUMNS} FROM stock_targets WHERE channel_id = ?1 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM stock_targets \
           WHERE channel_id = ?1 AND state = 'pending' ORDER BY product_id LIMIT ?2) \
         ORDER BY product_id, sku"
    );
    let q = sqlx::query(&q).bind(channel.to_string()).bind(i64::from(n));
    fetch(q, &mut *conn, decode_target).await.map(Some)
}

#[async_trait]
impl PushTx for SqliteTx<'_> {
    async fn write_push(
        &mut self,
        tenant: TenantId,
        row: &PushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let p = row.record;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO stock_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
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
        if !row.sent.is_empty() {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR IGNORE INTO stock_push_skus (tenant_id, push_seq, sku) ",
            );
            q.push_values(row.sent.keys(), |mut b, sku| {
                b.push_bind(tenant.to_string())
                    .push_bind(seq)
                    .push_bind(*sku);
            });
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        let set = row.target_set("stock_targets", "s.q", "?", "?");
        let sql = format!(
            "UPDATE stock_targets SET {set} FROM (SELECT json_extract(value, '$[0]') AS sku, \
             json_extract(value, '$[1]') AS q FROM json_each(?)) s \
             WHERE stock_targets.tenant_id = ? AND stock_targets.channel_id = ? AND stock_targets.sku = s.sku"
        );
        let q = sqlx::query(&sql);
        let q = match row.error {
            None => q.bind(ts(now)),
            Some(e) => q.bind(e.to_owned()),
        };
        q.bind(to_json(&row.sent.iter().collect::<Vec<_>>())?)
            .bind(tenant.to_string())
            .bind(p.channel_id.to_string())
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
    store: &SqliteStore,
    tenant: TenantId,
    channel: Option<ChannelId>,
    sku: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<StockPush>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT p.seq, p.channel_id, p.at, p.request, p.items, p.http_status, p.duration_ms, p.outcome, p.error FROM ",
    );
    q.push(history.calls_table())
        .push(" p WHERE p.tenant_id = ");
    q.push_bind(tenant.to_string());
    if let Some(c) = channel {
        q.push(" AND p.channel_id = ").push_bind(c.to_string());
    }
    if let Some(s) = sku {
        q.push(" AND p.seq IN (SELECT push_seq FROM ")
            .push(history.skus_table())
            .push(" WHERE tenant_id = ")
            .push_bind(tenant.to_string())
            .push(" AND sku = ")
            .push_bind(s.to_owned())
            .push(")");
    }
    if let Some(c) = &page.cursor {
        q.push(" AND p.seq < ").push_bind(push_cursor(c)?);
    }
    let n = limit(page.limit);
    q.push(" ORDER BY p.seq DESC LIMIT ").push_bind(n);
    let items = fetch(q.build(), &store.reader, |r| {
        in_table(history.calls_table(), || {
            Ok(StockPush {
                seq: col(r, "seq")?,
                channel_id: id(col(r, "channel_id")?)?,
                at: from_ts(col(r, "at")?)?,
                request: col(r, "request")?,
                items: crate::codec::json(col(r, "items")?)?,
                http_status: col::<Option<i64>>(r, "http_status")?
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
