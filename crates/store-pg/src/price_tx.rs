//! The price primitives inside a transaction ([`PgTx`], for the sequences of
//! `ponte_store::price_writes`): the tenant's price lock, and loading and writing
//! prices, scheduled prices, settings and targets.

use crate::codec::col;
use crate::db_err;
use crate::stock::fetch;
use crate::stock_marks::PgTx;
use crate::target_push::load_feeds;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ScheduledPriceId, TenantId};
use ponte_store::price_writes::{PriceFeed, PriceTx};
use ponte_store::{ChannelPrices, ScheduleState, ScheduledPrice, StoreResult};
use sqlx::postgres::PgRow;
use std::collections::{BTreeMap, BTreeSet};

/// The price columns of `prices` and `scheduled_prices`.
pub(crate) fn decode_price(r: &PgRow) -> StoreResult<PriceValue> {
    Ok(PriceValue {
        price: col(r, "price")?,
        promotional_price: col(r, "promotional_price")?,
        promotional_from: col(r, "promotional_from")?,
        promotional_until: col(r, "promotional_until")?,
    })
}

pub(crate) const SCHEDULED_COLUMNS: &str = "id, sku, price, promotional_price, promotional_from, \
     promotional_until, effective_at, state, created_at, settled_at";

pub(crate) fn decode_scheduled(r: &PgRow) -> StoreResult<ScheduledPrice> {
    crate::codec::in_table("scheduled_prices", || {
        Ok(ScheduledPrice {
            id: ScheduledPriceId(col(r, "id")?),
            sku: col(r, "sku")?,
            value: decode_price(r)?,
            effective_at: col(r, "effective_at")?,
            state: ScheduleState::parse(&col::<String>(r, "state")?)?,
            created_at: col(r, "created_at")?,
            settled_at: col(r, "settled_at")?,
        })
    })
}

#[async_trait]
impl PriceTx for PgTx<'_> {
    async fn write_prices(
        &mut self,
        tenant: TenantId,
        rows: &BTreeMap<&str, &PriceValue>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO prices (tenant_id, sku, price, promotional_price, promotional_from, \
             promotional_until, updated_at) \
             SELECT $1, sku, p, pp, pf, pu, $7 \
             FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[]) \
               AS u (sku, p, pp, pf, pu) \
             ON CONFLICT (tenant_id, sku) DO UPDATE SET price = EXCLUDED.price, \
               promotional_price = EXCLUDED.promotional_price, \
               promotional_from = EXCLUDED.promotional_from, \
               promotional_until = EXCLUDED.promotional_until, updated_at = EXCLUDED.updated_at",
        )
        .bind(tenant.0)
        .bind(rows.keys().copied().collect::<Vec<_>>())
        .bind(rows.values().map(|v| v.price).collect::<Vec<_>>())
        .bind(rows.values().map(|v| v.promotional_price).collect::<Vec<_>>())
        .bind(rows.values().map(|v| v.promotional_from).collect::<Vec<_>>())
        .bind(rows.values().map(|v| v.promotional_until).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_scheduled(
        &mut self,
        tenant: TenantId,
        rows: &[ScheduledPrice],
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO scheduled_prices (tenant_id, id, sku, price, promotional_price, \
             promotional_from, promotional_until, effective_at, state, created_at) \
             SELECT $1, id, sku, p, pp, pf, pu, at, st, ca \
             FROM UNNEST($2::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::timestamptz[], \
               $7::timestamptz[], $8::timestamptz[], $9::text[], $10::timestamptz[]) \
               AS u (id, sku, p, pp, pf, pu, at, st, ca)",
        )
        .bind(tenant.0)
        .bind(rows.iter().map(|s| s.id.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.sku.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.value.price).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|s| s.value.promotional_price)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|s| s.value.promotional_from)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|s| s.value.promotional_until)
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|s| s.effective_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.state.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.created_at).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn waiting_scheduled(
        &mut self,
        tenant: TenantId,
        id: ScheduledPriceId,
    ) -> StoreResult<Option<ScheduledPrice>> {
        let q = format!(
            "SELECT {SCHEDULED_COLUMNS} FROM scheduled_prices \
             WHERE tenant_id = $1 AND id = $2 AND state = 'waiting' FOR UPDATE"
        );
        let q = sqlx::query(&q).bind(tenant.0).bind(id.0);
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
            "UPDATE scheduled_prices SET state = $1, settled_at = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(tenant.0)
        .bind(id.0)
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
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, channel_id) DO UPDATE SET \
             send_prices = EXCLUDED.send_prices, markup_bp = EXCLUDED.markup_bp, \
             window_edges = EXCLUDED.window_edges, updated_at = EXCLUDED.updated_at",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(s.send_prices)
        .bind(s.markup_bp)
        .bind(s.window_edges)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn edge_skus(&mut self, tenant: TenantId, at: DateTime<Utc>) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT sku FROM prices WHERE tenant_id = $1 AND promotional_price IS NOT NULL \
             AND promotional_from = $2 UNION SELECT sku FROM prices WHERE tenant_id = $1 \
             AND promotional_price IS NOT NULL AND promotional_until = $2",
        )
        .bind(tenant.0)
        .bind(at)
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
             AND cp.channel_id = l.channel_id AND cp.send_prices \
             JOIN prices p ON p.tenant_id = l.tenant_id AND p.sku = l.sku";
        let decode = |listing, r: &PgRow| {
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
        sqlx::query(
            "UPDATE price_targets pt SET last_error = n.note \
             FROM UNNEST($3::text[], $4::text[]) AS n (sku, note) \
             WHERE pt.tenant_id = $1 AND pt.channel_id = $2 AND pt.sku = n.sku",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(notes.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>())
        .bind(notes.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
