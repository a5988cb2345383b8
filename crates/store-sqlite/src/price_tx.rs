//! The price primitives inside a transaction ([`SqliteTx`], for the sequences of
//! `ponte_store::price_writes`).

use crate::codec::{col, from_opt_ts, from_ts, id, pow2_chunks, to_json, ts};
use crate::db_err;
use crate::stock::fetch;
use crate::stock_marks::SqliteTx;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ScheduledPriceId, TenantId};
use ponte_store::price_writes::{PriceFeed, PriceTx};
use ponte_store::stock_marks::target_upsert;
use ponte_store::stock_push::push_state;
use ponte_store::{ChannelPrices, NewJob, PushState, ScheduleState, ScheduledPrice, StoreResult};
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

fn skus_json(skus: &BTreeSet<&str>) -> StoreResult<String> {
    to_json(&skus.iter().collect::<Vec<_>>())
}

#[async_trait]
impl PriceTx for SqliteTx<'_> {
    /// Nothing to take: the one writer connection runs its transactions one at a time.
    async fn lock_prices(&mut self, _: TenantId) -> StoreResult<()> {
        Ok(())
    }

    async fn unknown_price_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = ? AND p.sku = j.value)",
        )
        .bind(skus_json(skus)?)
        .bind(tenant.to_string())
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

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

    async fn listed_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT sku FROM listings WHERE tenant_id = ? AND channel_id = ?")
            .bind(tenant.to_string())
            .bind(channel.to_string())
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT l.channel_id, l.sku, l.product_id, l.variant_id, cp.markup_bp, cp.window_edges, p.price, \
             p.promotional_price, p.promotional_from, p.promotional_until FROM json_each(",
        );
        q.push_bind(skus_json(skus)?)
            .push(") j JOIN listings l ON l.tenant_id = ")
            .push_bind(tenant.to_string())
            .push(
                " AND l.sku = j.value \
                 JOIN channel_prices cp ON cp.tenant_id = l.tenant_id AND cp.channel_id = l.channel_id \
                 AND cp.send_prices = 1 \
                 JOIN prices p ON p.tenant_id = l.tenant_id AND p.sku = l.sku",
            );
        if let Some(c) = channel {
            q.push(" WHERE l.channel_id = ").push_bind(c.to_string());
        }
        fetch(q.build(), &mut *self.0, |r| {
            Ok(PriceFeed {
                channel: id(col(r, "channel_id")?)?,
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                markup_bp: col(r, "markup_bp")?,
                window_edges: col(r, "window_edges")?,
                price: decode_price(r)?,
            })
        })
        .await
    }

    async fn write_price_targets(
        &mut self,
        tenant: TenantId,
        values: &[(&PriceFeed, String)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(ChannelId, PushState)>> {
        let upsert = target_upsert("price_targets", if force { "1" } else { "0" });
        let mut written = Vec::with_capacity(values.len());
        for chunk in pow2_chunks(values) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO price_targets (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) ",
            );
            q.push_values(chunk, |mut b, (f, v)| {
                b.push_bind(tenant.to_string())
                    .push_bind(f.channel.to_string())
                    .push_bind(&f.sku)
                    .push_bind(&f.product_id)
                    .push_bind(&f.variant_id)
                    .push_bind(v)
                    .push_bind(ts(now))
                    .push_bind("pending");
            });
            q.push(&upsert);
            let rows = fetch(q.build(), &mut *self.0, |r| {
                Ok((id(col(r, "channel_id")?)?, push_state(col(r, "state")?)?))
            })
            .await?;
            written.extend(rows);
        }
        Ok(written)
    }

    async fn insert_price_jobs(&mut self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|j| (tenant, j)).collect();
        crate::jobs::insert_jobs(self.0, &refs).await
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
