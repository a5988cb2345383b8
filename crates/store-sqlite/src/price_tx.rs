//! The price primitives inside a transaction ([`SqliteTx`], for the sequences of
//! `ponte_store::price_writes`).

use crate::codec::{col, from_opt_ts, from_ts, id, pow2_chunks, ts};
use crate::db_err;
use crate::stock::fetch;
use crate::stock_marks::SqliteTx;
use crate::target_push::load_feeds;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ScheduledPriceId, TenantId};
use ponte_store::price_writes::{PriceFeed, PriceTx};
use ponte_store::{ChannelPrices, ScheduleState, ScheduledPrice, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};
use std::collections::{BTreeMap, BTreeSet};

/// The price columns of `prices` and `scheduled_prices`.
pub(crate) fn decode_price(r: &SqliteRow) -> StoreResult<PriceValue> {
    Ok(PriceValue {
        price: col(r, "price")?,
        promotional_price: col(r, "promotional_price")?,
        promotional_from: from_opt_ts(col(r, "promotional_from")?)?,
        promotional_until: from_opt_ts(col(r, "promotional_until")?)?,
    })
}

pub(crate) const SCHEDULED_COLUMNS: &str = "id, sku, price, promotional_price, promotional_from, \
     promotional_until, effective_at, state, created_at, settled_at";

pub(crate) fn decode_scheduled(r: &SqliteRow) -> StoreResult<ScheduledPrice> {
    crate::codec::in_table("scheduled_prices", || {
        Ok(ScheduledPrice {
            id: id(col(r, "id")?)?,
            sku: col(r, "sku")?,
            value: decode_price(r)?,
            effective_at: from_ts(col(r, "effective_at")?)?,
            state: ScheduleState::parse(col(r, "state")?)?,
            created_at: from_ts(col(r, "created_at")?)?,
            settled_at: from_opt_ts(col(r, "settled_at")?)?,
        })
    })
}

#[async_trait]
impl PriceTx for SqliteTx<'_> {
    async fn write_prices(
        &mut self,
        tenant: TenantId,
        rows: &BTreeMap<&str, &PriceValue>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let rows: Vec<_> = rows.iter().collect();
        for chunk in pow2_chunks(&rows) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO prices (tenant_id, sku, price, promotional_price, promotional_from, \
                 promotional_until, updated_at) ",
            );
            q.push_values(chunk, |mut b, (sku, v)| {
                b.push_bind(tenant.to_string())
                    .push_bind(**sku)
                    .push_bind(v.price)
                    .push_bind(v.promotional_price)
                    .push_bind(v.promotional_from.map(ts))
                    .push_bind(v.promotional_until.map(ts))
                    .push_bind(ts(now));
            });
            q.push(
                " ON CONFLICT (tenant_id, sku) DO UPDATE SET price = excluded.price, \
                 promotional_price = excluded.promotional_price, \
                 promotional_from = excluded.promotional_from, \
                 promotional_until = excluded.promotional_until, updated_at = excluded.updated_at",
            );
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn insert_scheduled(
        &mut self,
        tenant: TenantId,
        rows: &[ScheduledPrice],
    ) -> StoreResult<()> {
        for chunk in pow2_chunks(rows) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO scheduled_prices (tenant_id, id, sku, price, promotional_price, \
                 promotional_from, promotional_until, effective_at, state, created_at) ",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_bind(tenant.to_string())
                    .push_bind(s.id.to_string())
                    .push_bind(&s.sku)
                    .push_bind(s.value.price)
                    .push_bind(s.value.promotional_price)
                    .push_bind(s.value.promotional_from.map(ts))
                    .push_bind(s.value.promotional_until.map(ts))
                    .push_bind(ts(s.effective_at))
                    .push_bind(s.state.as_str())
                    .push_bind(ts(s.created_at));
            });
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn waiting_scheduled(
        &mut self,
        tenant: TenantId,
        id: ScheduledPriceId,
    ) -> StoreResult<Option<ScheduledPrice>> {
        let q = format!(
            "SELECT {SCHEDULED_COLUMNS} FROM scheduled_prices \
             WHERE tenant_id = ? AND id = ? AND state = 'waiting'"
        );
        let q = sqlx::query(&q)
            .bind(tenant.to_string())
            .bind(id.to_string());
        Ok(fetch(q, &mut *self.0, decode_scheduled).await?.pop())
    }

    async fn settle_scheduled(
        &mut self,
        tenant: TenantId,
        id: ScheduledPriceId,
        state: ScheduleState,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE scheduled_prices SET state = ?, settled_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(state.as_str())
        .bind(ts(now))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn write_channel_prices(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        s: &ChannelPrices,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO channel_prices (tenant_id, channel_id, send_prices, markup_bp, window_edges, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, channel_id) DO UPDATE SET \
             send_prices = excluded.send_prices, markup_bp = excluded.markup_bp, \
             window_edges = excluded.window_edges, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(s.send_prices)
        .bind(s.markup_bp)
        .bind(s.window_edges)
        .bind(ts(now))
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn edge_skus(&mut self, tenant: TenantId, at: DateTime<Utc>) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT sku FROM prices WHERE tenant_id = ?1 AND promotional_price IS NOT NULL \
             AND promotional_from = ?2 UNION SELECT sku FROM prices WHERE tenant_id = ?1 \
             AND promotional_price IS NOT NULL AND promotional_until = ?2",
        )
        .bind(tenant.to_string())
        .bind(ts(at))
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

    async fn load_price_feeds(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<PriceFeed>> {
        let columns = "cp.markup_bp, cp.window_edges, p.price, p.promotional_price, \
             p.promotional_from, p.promotional_until";
        let joins = "JOIN channel_prices cp ON cp.tenant_id = l.tenant_id \
             AND cp.channel_id = l.channel_id AND cp.send_prices = 1 \
             JOIN prices p ON p.tenant_id = l.tenant_id AND p.sku = l.sku";
        let decode = |listing, r: &SqliteRow| {
            let (markup_bp, window_edges) = (col(r, "markup_bp")?, col(r, "window_edges")?);
            let price = decode_price(r)?;
            Ok(PriceFeed {
                listing,
                markup_bp,
                window_edges,
                price,
            })
        };
        load_feeds(self.0, columns, joins, tenant, skus, channel, decode).await
    }

    async fn note_price_targets(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        notes: &[(String, String)],
    ) -> StoreResult<()> {
        for (sku, note) in notes {
            sqlx::query(
                "UPDATE price_targets SET last_error = ? WHERE tenant_id = ? AND channel_id = ? AND sku = ?",
            )
            .bind(note)
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(sku)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }
}
